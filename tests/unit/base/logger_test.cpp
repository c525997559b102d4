// logger_test.cpp — the line format, escaping of forged line breaks, thresholds, whole lines.
#include "base/logger.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace apistudio {
namespace {

// "2025-01-01T12:00:00.000Z": digits where digits belong (no std::regex: GCC 12 warns inside
// it under -O1 with sanitizers, which -Werror turns into a build failure).
bool is_timestamp(std::string_view s) {
  constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (s.size() != shape.size())
    return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const bool ok = shape[i] == 'd' ? (s[i] >= '0' && s[i] <= '9') : s[i] == shape[i];
    if (!ok)
      return false;
  }
  return true;
}

struct captured {
  std::vector<std::string> lines;
  void attach(logger &log) {
    log.set_sink([this](std::string_view line) { lines.emplace_back(line); });
  }
};

TEST(logger, writes_one_timestamped_line_per_event) {
  logger log;
  captured out;
  out.attach(log);
  log.info("listener", "listening on 127.0.0.1:58123");
  ASSERT_EQ(out.lines.size(), 1u);
  const std::string &line = out.lines[0];
  EXPECT_TRUE(is_timestamp(std::string_view(line).substr(0, 24))) << line;
  EXPECT_EQ(line.substr(24), " INFO  [listener] listening on 127.0.0.1:58123\n");
}

TEST(logger, names_every_level) {
  logger log(log_level::debug);
  captured out;
  out.attach(log);
  log.debug("c", "m");
  log.info("c", "m");
  log.warn("c", "m");
  log.error("c", "m");
  ASSERT_EQ(out.lines.size(), 4u);
  EXPECT_NE(out.lines[0].find("Z DEBUG [c] m\n"), std::string::npos);
  EXPECT_NE(out.lines[1].find("Z INFO  [c] m\n"), std::string::npos);
  EXPECT_NE(out.lines[2].find("Z WARN  [c] m\n"), std::string::npos);
  EXPECT_NE(out.lines[3].find("Z ERROR [c] m\n"), std::string::npos);
}

TEST(logger, line_breaks_and_control_bytes_cannot_forge_lines) {
  logger log;
  captured out;
  out.attach(log);
  log.warn("plugin:x\nINFO [host]",
           "bad\r\n2025-01-01T00:00:00.000Z INFO  [host] forged\x1b[2J\tok");
  ASSERT_EQ(out.lines.size(), 1u);
  const std::string &line = out.lines[0];
  EXPECT_EQ(line.find('\n'), line.size() - 1); // only the terminating one
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_EQ(line.find('\x1b'), std::string::npos);
  EXPECT_NE(line.find("[plugin:x\\nINFO [host]] bad\\r\\n2025-01-01T00:00:00.000Z INFO  [host] "
                      "forged\\x1b[2J\tok\n"),
            std::string::npos)
      << line;
}

TEST(logger, threshold_filters_levels) {
  logger log(log_level::warn);
  captured out;
  out.attach(log);
  EXPECT_FALSE(log.enabled(log_level::info));
  EXPECT_TRUE(log.enabled(log_level::error));
  log.info("c", "hidden");
  log.error("c", "shown");
  log.set_threshold(log_level::off);
  log.error("c", "hidden too");
  ASSERT_EQ(out.lines.size(), 1u);
  EXPECT_NE(out.lines[0].find("shown"), std::string::npos);
}

TEST(logger, the_sink_is_never_entered_twice_at_once) {
  logger log;
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  std::atomic<int> count{0};
  log.set_sink([&](std::string_view) {
    if (inside.fetch_add(1) != 0)
      overlapped = true;
    std::this_thread::yield();
    inside.fetch_sub(1);
    count.fetch_add(1);
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i)
        log.info("t", "line");
    });
  for (auto &t : threads)
    t.join();
  EXPECT_EQ(count.load(), 800);
  EXPECT_FALSE(overlapped.load());
}

TEST(logger, text_lines_show_the_context_after_the_message) {
  logger log;
  captured out;
  out.attach(log);
  log_context c;
  c.session_id = 7;
  c.client_id = "tab-1";
  c.connection_id = "c 1";
  c.upstream_host = "example.com:443";
  log.warn("upstream", "connect failed", c);
  ASSERT_EQ(out.lines.size(), 1u);
  EXPECT_EQ(out.lines[0].substr(24),
            " WARN  [upstream] connect failed session_id=7 client_id=tab-1 "
            "connection_id=\"c 1\" upstream_host=example.com:443\n");
}

TEST(logger, json_lines_are_one_object_with_the_fields) {
  logger log(log_level::debug);
  log.set_format(log_format::json);
  captured out;
  out.attach(log);
  log_context c;
  c.session_id = 3;
  c.client_id = "abc";
  c.connection_id = "c1";
  c.upstream_host = "[::1]:9000";
  c.plugin = "debug_logger";
  c.remote_address = "127.0.0.1";
  log.info("plugin:debug_logger", "hello \"quoted\"\nnext", c);
  log.debug("host", "plain");
  ASSERT_EQ(out.lines.size(), 2u);
  ASSERT_EQ(out.lines[0].find('\n'), out.lines[0].size() - 1);
  const auto j = nlohmann::json::parse(out.lines[0]);
  EXPECT_TRUE(is_timestamp(j["time"].get<std::string>())) << j.dump();
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["component"], "plugin:debug_logger");
  EXPECT_EQ(j["message"], "hello \"quoted\"\nnext");
  EXPECT_EQ(j["session_id"], 3);
  EXPECT_EQ(j["client_id"], "abc");
  EXPECT_EQ(j["connection_id"], "c1");
  EXPECT_EQ(j["upstream_host"], "[::1]:9000");
  EXPECT_EQ(j["plugin"], "debug_logger");
  EXPECT_EQ(j["remote_address"], "127.0.0.1");
  const auto plain = nlohmann::json::parse(out.lines[1]);
  EXPECT_EQ(plain["level"], "debug");
  EXPECT_FALSE(plain.contains("session_id")); // unknown fields are left out
  EXPECT_FALSE(plain.contains("plugin"));
}

TEST(logger, json_survives_invalid_utf8_and_control_bytes) {
  logger log;
  log.set_format(log_format::json);
  captured out;
  out.attach(log);
  log_context c;
  c.connection_id = "\xff\xfe";
  log.warn("session", std::string("bad \xc3\x28 bytes \x01\x1b[2J"), c);
  ASSERT_EQ(out.lines.size(), 1u);
  const auto j = nlohmann::json::parse(out.lines[0]); // throws on an invalid line
  EXPECT_EQ(j["message"], "bad \xEF\xBF\xBD( bytes \x01\x1b[2J");
  EXPECT_EQ(j["connection_id"], "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(out.lines[0].find('\x1b'), std::string::npos); // escaped as \u001b
}

TEST(logger, every_message_is_redacted_in_both_formats) {
  for (const log_format format : {log_format::text, log_format::json}) {
    logger log;
    log.set_format(format);
    captured out;
    out.attach(log);
    log.info("plugin:p", "url=wss://u:CANARY1@h/?token=CANARY2 Authorization: Bearer CANARY3");
    ASSERT_EQ(out.lines.size(), 1u);
    for (const char *canary : {"CANARY1", "CANARY2", "CANARY3"})
      EXPECT_EQ(out.lines[0].find(canary), std::string::npos) << out.lines[0];
    EXPECT_NE(out.lines[0].find("wss://[REDACTED]@h/?token=[REDACTED]"), std::string::npos)
        << out.lines[0];
  }
}

} // namespace
} // namespace apistudio
