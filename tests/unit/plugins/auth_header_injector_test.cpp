// Unit tests of the auth_header_injector's pure logic: URL matching (wildcards, ports, path
// prefixes, odd URLs), settings with env/file values and secrets kept out of errors.
#include "auth_header_injector/auth_header_injector_settings.hpp"
#include "auth_header_injector/header_rules.hpp"
#include "common/url_parts.hpp"
#include "plugin_host/plugin_runtime.hpp"
#include "protocol/upstream_target.hpp"

#include <apistudio/plugin.hpp>

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <optional>
#include <utility>

namespace ahi = apistudio::plugins::auth_header_injector;

namespace {

constexpr const char *secret = "s3cr3t-value-never-shown";

// A rule sees the URL as the host's own parser split it (on_upstream_connect's url_parts); a URL
// that parser refuses is never dialled, so no rule can match it.
// (The parts view `parsed_targets`, which keeps every parsed target alive.)
std::deque<apistudio::upstream_target> parsed_targets;

std::optional<apistudio::sdk::url> host_parsed(std::string_view url) {
  apistudio::upstream_target target;
  std::string why;
  if (!apistudio::parse_upstream_url(url, target, why))
    return std::nullopt;
  parsed_targets.push_back(std::move(target));
  return apistudio::sdk::to_url(apistudio::upstream_url_parts(parsed_targets.back()));
}

bool matches(const ahi::url_match &m, std::string_view url) {
  const auto parts = host_parsed(url);
  return parts && ahi::url_matches(m, *parts);
}

ahi::secret_sources fake_sources() {
  ahi::secret_sources s;
  s.env = [](const std::string &name) -> std::optional<std::string> {
    static const std::map<std::string, std::string> vars{
        {"API_TOKEN", secret}, {"EMPTY", ""}, {"BROKEN", std::string(secret) + "\r\nX-Evil: 1"}};
    const auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  s.read_file = [](const std::string &path, std::string &why) -> std::optional<std::string> {
    if (path == "/run/secrets/token")
      return std::string(secret) + "\n";
    if (path == "/run/secrets/crlf")
      return std::string(secret) + "\r\n\r\n";
    if (path == "/run/secrets/empty")
      return std::string("\n");
    why = "No such file or directory";
    return std::nullopt;
  };
  return s;
}

std::string refusal(const std::string &json) {
  try {
    ahi::parse_settings(json, fake_sources());
  } catch (const apistudio::sdk::settings_error &e) {
    return e.what();
  }
  return "accepted";
}

TEST(PluginsAuthHeaderInjector, WildcardMatchesSubdomainsAtAnyDepthButNotTheApex) {
  EXPECT_TRUE(ahi::host_matches("*.example.com", "sub.example.com"));
  EXPECT_TRUE(ahi::host_matches("*.example.com", "a.b.example.com"));
  EXPECT_TRUE(ahi::host_matches("*.example.com", "API.Example.COM"));
  EXPECT_TRUE(ahi::host_matches("*.example.com", "sub.example.com."));
  EXPECT_FALSE(ahi::host_matches("*.example.com", "example.com"));
  EXPECT_FALSE(ahi::host_matches("*.example.com", "badexample.com"));
  EXPECT_FALSE(ahi::host_matches("*.example.com", "example.com.evil.org"));
  EXPECT_TRUE(ahi::host_matches("api.example.com", "API.example.com"));
  EXPECT_FALSE(ahi::host_matches("api.example.com", "xapi.example.com"));
  EXPECT_TRUE(ahi::host_matches("*", "anything"));
}

TEST(PluginsAuthHeaderInjector, PathPrefixMatchesWholeSegments) {
  EXPECT_TRUE(ahi::path_matches("/v1", "/v1"));
  EXPECT_TRUE(ahi::path_matches("/v1", "/v1/"));
  EXPECT_TRUE(ahi::path_matches("/v1", "/v1/stream"));
  EXPECT_FALSE(ahi::path_matches("/v1", "/v10"));
  EXPECT_FALSE(ahi::path_matches("/v1", "/"));
  EXPECT_TRUE(ahi::path_matches("/v1/", "/v1/x"));
  EXPECT_TRUE(ahi::path_matches("/", ""));
}

TEST(PluginsAuthHeaderInjector, UrlMatchingUsesSchemeHostPortAndPath) {
  ahi::url_match m;
  m.scheme = "wss";
  m.host_pattern = "*.example.com";
  m.port = 443;
  m.path_prefix = "/v1";
  EXPECT_TRUE(matches(m, "wss://api.example.com/v1/ws?x=1"));
  EXPECT_TRUE(matches(m, "WSS://api.example.com:443/v1"));
  EXPECT_FALSE(matches(m, "wss://user:pw@api.example.com/v1")); // the host refuses userinfo
  EXPECT_FALSE(matches(m, "ws://api.example.com/v1"));          // scheme
  EXPECT_FALSE(matches(m, "wss://api.example.com:8443/v1"));    // port
  EXPECT_FALSE(matches(m, "wss://api.example.com/v2"));         // path
  EXPECT_FALSE(matches(m, "wss://example.com/v1"));             // apex
  EXPECT_TRUE(matches({}, "ws://localhost:8080/"));
  ahi::url_match ws_default;
  ws_default.port = 80;
  EXPECT_TRUE(matches(ws_default, "ws://h/"));
  EXPECT_FALSE(matches(ws_default, "wss://h/"));
}

// Issue 14: the prefix was matched on the raw path, so "/v1/../admin" got a credential scoped to
// /v1 although the server acts on /admin.
TEST(PluginsAuthHeaderInjector, PathPrefixIsMatchedOnTheNormalisedPath) {
  ahi::url_match m;
  m.path_prefix = "/v1";
  EXPECT_FALSE(matches(m, "wss://api.example.com/v1/../admin"));
  EXPECT_FALSE(matches(m, "wss://api.example.com/v1/%2e%2e/admin"));
  EXPECT_FALSE(matches(m, "wss://api.example.com/v1/%2E%2e/admin?x=/v1"));
  EXPECT_FALSE(matches(m, "wss://api.example.com/v1/.."));
  EXPECT_FALSE(matches(m, "wss://api.example.com/v1/sub/../../admin"));
  EXPECT_FALSE(matches(m, "wss://api.example.com/v1%2f..%2fadmin")); // encoded separator
  EXPECT_FALSE(matches(m, "wss://api.example.com/v1/x%5c..%5c..%5cadmin"));
  EXPECT_TRUE(matches(m, "wss://api.example.com/v1/./stream"));
  EXPECT_TRUE(matches(m, "wss://api.example.com/admin/../v1/stream"));
  EXPECT_TRUE(matches(m, "wss://api.example.com/../v1"));
  EXPECT_TRUE(matches(m, "wss://api.example.com/v1/a/%2e%2e/b"));
}

TEST(PluginsAuthHeaderInjector, NormalisedPathRemovesDotSegments) {
  namespace common = apistudio::plugins::common;
  EXPECT_EQ(common::normalised_path(""), "/");
  EXPECT_EQ(common::normalised_path("/"), "/");
  EXPECT_EQ(common::normalised_path("/a/b/c/./../../g"), "/a/g"); // RFC 3986 5.2.4's example
  EXPECT_EQ(common::normalised_path("/a/b/.."), "/a/");
  EXPECT_EQ(common::normalised_path("/.."), "/");
  EXPECT_EQ(common::normalised_path("/a/%2E/b"), "/a/b");
  EXPECT_EQ(common::normalised_path("/a/..."), "/a/...");     // not a dot segment
  EXPECT_EQ(common::normalised_path("/a%20b/c"), "/a%20b/c"); // other escapes stay as written
  EXPECT_EQ(common::normalised_path("/a\\b"), std::nullopt);
  EXPECT_EQ(common::normalised_path("/a%2Fb"), std::nullopt);
}

TEST(PluginsAuthHeaderInjector, OddUrlsNeverMatch) {
  ahi::url_match any;
  any.host_pattern = "*.example.com";
  EXPECT_FALSE(matches(any, "wss://evil.org\\@a.example.com/"));
  EXPECT_FALSE(matches(any, "wss://a.example.com%2eevil.org/"));
  EXPECT_FALSE(matches(any, "a.example.com/v1"));
  EXPECT_FALSE(matches({}, "wss:///nohost"));
  EXPECT_FALSE(matches({}, "wss://h:99999/"));
  EXPECT_TRUE(matches({}, "wss://[::1]:9000/"));
  ahi::url_match v6;
  v6.host_pattern = "[::1]";
  EXPECT_TRUE(matches(v6, "wss://[::1]:9000/")); // the host's parts carry no brackets
  // The userinfo is not the host: "a.example.com@evil.org" goes to evil.org.
  EXPECT_FALSE(matches(any, "wss://a.example.com@evil.org/"));
}

TEST(PluginsAuthHeaderInjector, ParsesValuesFromLiteralEnvAndFile) {
  const auto s = ahi::parse_settings(R"({"rules":[{
      "name":"api",
      "match":{"host":"*.Example.com","scheme":"WSS"},
      "remove":["X-Debug"],
      "set":{"Authorization":{"env":"API_TOKEN","prefix":"Bearer "},
             "X-Literal":"plain",
             "X-File":{"file":"/run/secrets/token"},
             "X-Crlf":{"file":"/run/secrets/crlf"}},
      "append":{"X-Trace":{"value":"injected"}}}]})",
                                     fake_sources());
  ASSERT_EQ(s.rules.size(), 1u);
  const auto &r = s.rules[0];
  EXPECT_EQ(r.label, "rules[0] (api)");
  EXPECT_EQ(r.match.host_pattern, "*.example.com");
  EXPECT_EQ(r.match.scheme, "wss");
  ASSERT_EQ(r.edits.size(), 6u);
  EXPECT_EQ(r.edits[0].kind, ahi::edit_kind::remove);
  EXPECT_EQ(r.edits[0].name, "X-Debug");
  EXPECT_EQ(r.edits[1].kind, ahi::edit_kind::set);
  EXPECT_EQ(r.edits[1].name, "Authorization");
  EXPECT_EQ(r.edits[1].value, std::string("Bearer ") + secret);
  EXPECT_EQ(r.edits[2].value, "plain");
  EXPECT_EQ(r.edits[3].value, secret); // trailing newline trimmed
  EXPECT_EQ(r.edits[4].value, secret); // trailing CR/LF trimmed
  EXPECT_EQ(r.edits[5].kind, ahi::edit_kind::append);
}

TEST(PluginsAuthHeaderInjector, OverrideClientFalseSetsOnlyWhenAbsent) {
  const auto s = ahi::parse_settings(
      R"({"rules":[{"override_client":false,"set":{"Authorization":"x"}}]})", fake_sources());
  EXPECT_EQ(s.rules.at(0).edits.at(0).kind, ahi::edit_kind::set_if_absent);
}

TEST(PluginsAuthHeaderInjector, PlanAppliesEveryMatchingRuleInOrder) {
  const auto s = ahi::parse_settings(R"({"rules":[
      {"match":{"host":"a.example.com"},"set":{"X-A":"1"}},
      {"match":{"host":"*.example.com"},"set":{"X-B":"2"}},
      {"match":{"host":"other.org"},"set":{"X-C":"3"}}]})",
                                     fake_sources());
  const auto plan = ahi::plan_for(s.rules, *host_parsed("wss://a.example.com/"));
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].edit->name, "X-A");
  EXPECT_EQ(plan[1].edit->name, "X-B");
  EXPECT_EQ(plan[1].rule->label, "rules[1]");
  EXPECT_TRUE(ahi::plan_for(s.rules, *host_parsed("wss://nowhere.net/")).empty());
  EXPECT_TRUE(ahi::parse_settings("{}", fake_sources()).rules.empty());
  EXPECT_TRUE(ahi::parse_settings(R"({"rules":[]})", fake_sources()).rules.empty());
}

TEST(PluginsAuthHeaderInjector, RefusalsNameTheRuleAndSourceButNeverTheSecret) {
  const auto missing = refusal(R"({"rules":[{"set":{"Authorization":{"env":"NOPE"}}}]})");
  EXPECT_NE(missing.find("rules[0].set.Authorization"), std::string::npos) << missing;
  EXPECT_NE(missing.find("NOPE"), std::string::npos);
  EXPECT_NE(refusal(R"({"rules":[{"set":{"A":{"env":"EMPTY"}}}]})").find("empty"),
            std::string::npos);
  const auto file = refusal(R"({"rules":[{"name":"n","set":{"A":{"file":"/nope"}}}]})");
  EXPECT_NE(file.find("rules[0] (n).set.A"), std::string::npos) << file;
  EXPECT_NE(file.find("/nope"), std::string::npos);
  EXPECT_NE(file.find("No such file"), std::string::npos);
  EXPECT_NE(refusal(R"({"rules":[{"set":{"A":{"file":"/run/secrets/empty"}}}]})").find("empty"),
            std::string::npos);
  const auto injected = refusal(R"({"rules":[{"set":{"A":{"env":"BROKEN"}}}]})");
  EXPECT_NE(injected.find("control character"), std::string::npos) << injected;
  EXPECT_EQ(injected.find(secret), std::string::npos);
  const auto literal = refusal(R"({"rules":[{"set":{"A":"s3cr3t-value-never-shown\n"}}]})");
  EXPECT_EQ(literal.find(secret), std::string::npos) << literal;
}

TEST(PluginsAuthHeaderInjector, RefusesMalformedRules) {
  EXPECT_NE(
      refusal(R"({"rules":[{"set":{"A":{"env":"API_TOKEN","value":"x"}}}]})").find("exactly one"),
      std::string::npos);
  EXPECT_NE(refusal(R"({"rules":[{"set":{"Host":"x"}}]})").find("rules[0].set.Host"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"rules":[{"set":{"Sec-WebSocket-Key":"x"}}]})").find("Sec-WebSocket-Key"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"rules":[{"set":{"Bad Name":"x"}}]})").find("header name"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"rules":[{"match":{"scheme":"http"},"set":{"A":"x"}}]})").find("ws or wss"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"rules":[{"match":{"port":0},"set":{"A":"x"}}]})").find("match.port"),
            std::string::npos);
  EXPECT_NE(
      refusal(R"({"rules":[{"match":{"path_prefix":"v1"},"set":{"A":"x"}}]})").find("start with /"),
      std::string::npos);
  EXPECT_NE(
      refusal(R"({"rules":[{"match":{"host":"a.*.com"},"set":{"A":"x"}}]})").find("match.host"),
      std::string::npos);
  EXPECT_NE(refusal(R"({"rules":[{"match":{"hots":"a"},"set":{"A":"x"}}]})").find("hots"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"rules":[{"match":{}}]})").find("none of set"), std::string::npos);
  EXPECT_NE(refusal(R"({"rules":{}})").find("list"), std::string::npos);
}

// The message names the rule as the operator knows it; the pointer lets the host print the
// key's own line.
TEST(PluginsAuthHeaderInjector, RefusalsPointAtTheOffendingKey) {
  using refusal = std::pair<std::string, std::string>;
  const auto refusal_of = [](const std::string &json) -> refusal {
    try {
      ahi::parse_settings(json, fake_sources());
    } catch (const apistudio::sdk::settings_error &e) {
      return {e.what(), e.pointer()};
    }
    return {"accepted", ""};
  };
  EXPECT_EQ(
      refusal_of(
          R"({"rules":[{"set":{"A":"x"}},{"name":"gh","match":{"port":0},"set":{"A":"x"}}]})"),
      refusal("auth_header_injector: rules[1] (gh).match.port: must be an integer from 1 to 65535",
              "/rules/1/match/port"));
  EXPECT_EQ(refusal_of(R"({"rules":[{"set":{"Authorization":{"env":"NOPE"}}}]})"),
            refusal("auth_header_injector: rules[0].set.Authorization: environment variable NOPE "
                    "is not set",
                    "/rules/0/set/Authorization/env"));
  EXPECT_EQ(refusal_of(R"({"rules":[{"append":{"X~a":{"valu":"x"}}}]})"),
            refusal("auth_header_injector: rules[0].append.X~a.valu: unknown key (known: value, "
                    "env, file, prefix)",
                    "/rules/0/append/X~0a/valu"));
  EXPECT_EQ(refusal_of(R"({"rules":[{"remove":["X-Debug","Host"]}]})"),
            refusal("auth_header_injector: rules[0].remove[1]: not a header name this plugin may "
                    "remove",
                    "/rules/0/remove/1"));
  EXPECT_EQ(refusal_of(R"({"rules":[{"name":"gh","sett":{}}]})"),
            refusal("auth_header_injector: rules[0] (gh).sett: unknown key (known: name, match, "
                    "set, append, remove, override_client)",
                    "/rules/0/sett"));
  EXPECT_EQ(refusal_of(R"({"rules":[{"match":{}}]})"),
            refusal("auth_header_injector: rules[0]: has none of set, append, remove", "/rules/0"));
  EXPECT_EQ(refusal_of(R"({"rules":{}})"),
            refusal("auth_header_injector: rules: must be a list, got an object", "/rules"));
}

TEST(PluginsAuthHeaderInjector, HandshakeHeadersAreNotInjectable) {
  EXPECT_TRUE(ahi::valid_injectable_header_name("Authorization"));
  EXPECT_TRUE(ahi::valid_injectable_header_name("X-Api-Key"));
  EXPECT_FALSE(ahi::valid_injectable_header_name("host"));
  EXPECT_FALSE(ahi::valid_injectable_header_name("Upgrade"));
  EXPECT_FALSE(ahi::valid_injectable_header_name("sec-websocket-protocol"));
  EXPECT_FALSE(ahi::valid_injectable_header_name("X:Y"));
  EXPECT_FALSE(ahi::valid_injectable_header_name(""));
}

} // namespace
