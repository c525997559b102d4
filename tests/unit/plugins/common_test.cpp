// Unit tests of the helpers the shipped plugins share, and the check that every plugin's README
// and docs/plugins.md still contain the settings table rendered from the plugin's code (by the
// SDK's <apistudio/settings.hpp>, tested on its own in tests/unit/sdk/settings_test.cpp).
#include "auth_header_injector/auth_header_injector_settings.hpp"
#include "collaboration/collaboration_settings.hpp"
#include "common/duration.hpp"
#include "common/iso_time.hpp"
#include "common/json.hpp"
#include "common/json_depth.hpp"
#include "common/query_string.hpp"
#include "common/text.hpp"
#include "common/url_parts.hpp"
#include "debug_logger/debug_logger_settings.hpp"
#include "rate_limiter/rate_limiter_settings.hpp"

#include <apistudio/settings.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace cm = apistudio::plugins::common;
namespace cfg = apistudio::sdk::settings;

namespace {

TEST(PluginsCommon, Durations) {
  EXPECT_EQ(cm::parse_duration_ms("500ms"), 500u);
  EXPECT_EQ(cm::parse_duration_ms("1s"), 1'000u);
  EXPECT_EQ(cm::parse_duration_ms("60"), 60'000u);
  EXPECT_EQ(cm::parse_duration_ms("2m"), 120'000u);
  EXPECT_EQ(cm::parse_duration_ms("1h"), 3'600'000u);
  for (const char *bad : {"", "s", "0s", "1d", "1.5s", "-1s", "1 s", "99999999999s"})
    EXPECT_FALSE(cm::parse_duration_ms(bad)) << bad;
  EXPECT_EQ(cm::duration_ms_from_json(cm::json(60)), 60'000u);
  EXPECT_FALSE(cm::duration_ms_from_json(cm::json(-5)));
  EXPECT_FALSE(cm::duration_ms_from_json(cm::json(1.5)));
  EXPECT_EQ(cm::format_duration(60'000), "60s");
  EXPECT_EQ(cm::format_duration(1'500), "1500ms");
}

TEST(PluginsCommon, IsoTimestampsHaveMillisecondsAndZ) {
  EXPECT_EQ(cm::iso8601_utc_ms(1'735'732'800'000), "2025-01-01T12:00:00.000Z");
  EXPECT_EQ(cm::iso8601_utc_ms(1'735'732'800'123), "2025-01-01T12:00:00.123Z");
  EXPECT_EQ(cm::iso8601_utc_ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(cm::iso8601_now().size(), 24u);
}

TEST(PluginsCommon, QueryStrings) {
  const auto params = cm::split_query("a=1&&b&c=x=y");
  ASSERT_EQ(params.size(), 3u);
  EXPECT_EQ(params[0].raw_name, "a");
  EXPECT_FALSE(params[1].has_value);
  EXPECT_EQ(params[2].raw_value, "x=y");
  EXPECT_EQ(cm::percent_decode("a%20b+c"), "a b c");
  EXPECT_EQ(cm::percent_decode("a+b", false), "a+b");
  EXPECT_FALSE(cm::percent_decode("%4"));
  EXPECT_FALSE(cm::percent_decode("%zz"));
  EXPECT_FALSE(cm::percent_decode("%00"));
  EXPECT_EQ(cm::find_query_value("x=1&us%65r=bob&user=eve", "user").value, "bob");
  EXPECT_FALSE(cm::find_query_value("x=1", "user").value);
  EXPECT_TRUE(cm::find_query_value("user=%G0", "user").malformed);
}

TEST(PluginsCommon, UrlSplitting) {
  const auto u = cm::split_url("wss://u:p@[::1]:8443/a/b?x=1#f");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "wss");
  EXPECT_EQ(u->userinfo, "u:p");
  EXPECT_EQ(u->host, "[::1]");
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->path, "/a/b");
  EXPECT_EQ(u->query, "x=1");
  EXPECT_EQ(u->fragment, "f");
  const auto bare = cm::split_url("ws://host");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->host, "host");
  EXPECT_EQ(bare->path, "");
  EXPECT_EQ(cm::effective_port(*bare), 80);
  EXPECT_FALSE(cm::split_url("host/path"));
  EXPECT_FALSE(cm::split_url("ws://h:80x/"));
  EXPECT_TRUE(cm::plausible_host("a-b.example.com"));
  EXPECT_FALSE(cm::plausible_host("a b"));
  EXPECT_FALSE(cm::plausible_host(""));
  EXPECT_TRUE(cm::plausible_userinfo("user:p%40ss"));
  EXPECT_FALSE(cm::plausible_userinfo("evil.org\\"));
}

TEST(PluginsCommon, TextHelpers) {
  EXPECT_TRUE(cm::iequals("Authorization", "AUTHORIZATION"));
  EXPECT_TRUE(cm::icontains("X-Api-KEY", "key"));
  EXPECT_FALSE(cm::icontains("X-Api", "key"));
  EXPECT_EQ(cm::escape_for_log("a\r\n\t\\\x01z"), "a\\r\\n\\t\\\\\\x01z");
  EXPECT_EQ(cm::utf8_prefix("\xE2\x82\xAC", 2), "");
  EXPECT_EQ(cm::to_hex(std::string("\x00\xff", 2)), "00ff");
}

TEST(PluginsCommon, JsonNestingGuardIgnoresBracketsInStrings) {
  EXPECT_FALSE(cm::json_nesting_exceeds(R"({"a":[1,{"b":2}]})", 3));
  EXPECT_TRUE(cm::json_nesting_exceeds(R"({"a":[1,{"b":2}]})", 2));
  EXPECT_FALSE(cm::json_nesting_exceeds(R"({"a":"[[[[[\"[[["})", 1));
}

TEST(PluginsCommon, IntegerReaderAcceptsSignedUnsignedAndDigitStrings) {
  const auto k = cfg::key_path().key("k");
  EXPECT_EQ(cfg::read_uint("p", k, cfg::json(std::int64_t{100}), 1, 1000), 100u);
  EXPECT_EQ(cfg::read_uint("p", k, cfg::json(std::uint64_t{100}), 1, 1000), 100u);
  EXPECT_EQ(cfg::read_uint("p", k, cfg::json("100"), 1, 1000), 100u);
  EXPECT_THROW(cfg::read_uint("p", k, cfg::json(std::int64_t{-1}), 0, 1000),
               apistudio::sdk::settings_error);
  EXPECT_THROW(cfg::read_uint("p", k, cfg::json(1001), 1, 1000), apistudio::sdk::settings_error);
  EXPECT_THROW(cfg::read_uint("p", k, cfg::json("1e3"), 1, 1000), apistudio::sdk::settings_error);
  EXPECT_THROW(cfg::read_uint("p", k, cfg::json(2.5), 1, 1000), apistudio::sdk::settings_error);
}

TEST(PluginsCommon, UnknownSettingsAreRefusedWithTheKnownOnesListed) {
  try {
    apistudio::plugins::rate_limiter::parse_settings(R"({"limts":[]})");
    FAIL() << "accepted";
  } catch (const apistudio::sdk::settings_error &e) {
    EXPECT_STREQ(e.what(), "rate_limiter: limts: unknown setting (known: limits, scope)");
    EXPECT_EQ(e.pointer(), "/limts");
  }
}

std::string read_text(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Docs come from the same table as validation: a setting added to the code but not to the
// README (or docs/plugins.md) fails here.
TEST(PluginsCommon, ReadmesAndDocsContainTheSettingsTablesFromTheCode) {
  namespace ahi = apistudio::plugins::auth_header_injector;
  const std::string root = APISTUDIO_SOURCE_DIR;
  const std::string docs = read_text(root + "/docs/plugins.md");
  const struct {
    const char *readme;
    std::vector<std::span<const cfg::setting_spec>> tables;
  } plugins[] = {
      {"rate_limiter", {apistudio::plugins::rate_limiter::settings_table()}},
      {"auth_header_injector", {ahi::settings_table(), ahi::rule_table(), ahi::value_table()}},
      {"debug_logger", {apistudio::plugins::debug_logger::settings_table()}},
      {"collaboration", {apistudio::plugins::collaboration::settings_table()}},
  };
  for (const auto &p : plugins) {
    const auto readme = read_text(root + "/plugins/" + p.readme + "/README.md");
    ASSERT_FALSE(readme.empty()) << p.readme;
    for (const auto &table : p.tables) {
      const auto rendered = cfg::settings_markdown_table(table);
      EXPECT_NE(readme.find(rendered), std::string::npos)
          << p.readme << "/README.md lacks this table:\n"
          << rendered;
      EXPECT_NE(docs.find(rendered), std::string::npos)
          << "docs/plugins.md lacks this table of " << p.readme << ":\n"
          << rendered;
    }
  }
}

} // namespace
