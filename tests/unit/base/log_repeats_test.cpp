// log_repeats_test.cpp — repeated warnings and errors are written once, then counted, with a
// summary when their window has passed; time is the test's (logger::set_clock).
#include "base/logger.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace apistudio {
namespace {

using namespace std::chrono_literals;

struct repeat_fixture {
  logger log{log_level::debug};
  std::vector<std::string> lines;
  std::chrono::steady_clock::time_point now{};

  repeat_fixture() {
    log.set_sink([this](std::string_view line) { lines.emplace_back(line); });
    log.set_clock([this] { return now; });
    log.set_repeat_window(10s);
  }
  std::size_t count(std::string_view needle) const {
    std::size_t n = 0;
    for (const auto &l : lines)
      n += l.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }
};

TEST(log_repeats, a_flood_is_one_line_then_a_summary_with_the_count) {
  repeat_fixture f;
  for (int i = 0; i < 100; ++i) {
    log_context c;
    c.session_id = static_cast<std::uint64_t>(i + 1);
    f.log.warn("upstream", "client " + std::to_string(i) + " connect failed: CONNECTION_REFUSED",
               c);
    f.now += 10ms;
  }
  ASSERT_EQ(f.lines.size(), 1u);
  EXPECT_NE(f.lines[0].find("client 0 connect failed"), std::string::npos);
  f.now += 10s;
  f.log.write_closed_repeats();
  ASSERT_EQ(f.lines.size(), 2u);
  // The summary carries the first message, the count and the last occurrence's context.
  EXPECT_NE(f.lines[1].find("WARN  [upstream] client 0 connect failed: CONNECTION_REFUSED "
                            "(repeated 99 more times in the last 10s) session_id=100"),
            std::string::npos)
      << f.lines[1];
  f.log.write_closed_repeats();
  EXPECT_EQ(f.lines.size(), 2u); // said once
}

TEST(log_repeats, the_next_line_after_the_window_brings_the_summary_first) {
  repeat_fixture f;
  f.log.error("plugins", "boom");
  f.log.error("plugins", "boom");
  f.now += 11s;
  f.log.error("plugins", "boom");
  ASSERT_EQ(f.lines.size(), 3u);
  EXPECT_NE(f.lines[1].find("boom (repeated 1 more time in the last 10s)"), std::string::npos);
  EXPECT_NE(f.lines[2].find("ERROR [plugins] boom\n"), std::string::npos) << f.lines[2];
}

TEST(log_repeats, distinct_sources_and_levels_are_counted_apart) {
  repeat_fixture f;
  log_context a, b;
  a.plugin = "a";
  b.plugin = "b";
  f.log.warn("plugin:x", "failed", a);
  f.log.warn("plugin:x", "failed", b);
  f.log.warn("other", "failed");
  f.log.error("other", "failed");
  f.log.warn("other", "failed differently");
  EXPECT_EQ(f.lines.size(), 5u);
}

TEST(log_repeats, debug_and_info_lines_are_never_held_back) {
  repeat_fixture f;
  for (int i = 0; i < 5; ++i) {
    f.log.info("plugin:debug_logger", "[session 1] client message");
    f.log.debug("session", "client 1 read: eof");
  }
  EXPECT_EQ(f.lines.size(), 10u);
}

TEST(log_repeats, a_window_without_repeats_closes_silently_and_off_writes_everything) {
  repeat_fixture f;
  f.log.warn("c", "once");
  f.now += 1h;
  f.log.write_closed_repeats();
  f.log.flush_repeats();
  EXPECT_EQ(f.lines.size(), 1u);

  f.log.set_repeat_window(0ms);
  for (int i = 0; i < 3; ++i)
    f.log.warn("c", "again");
  EXPECT_EQ(f.count("again"), 3u);
}

TEST(log_repeats, flush_writes_open_windows_with_the_time_so_far) {
  repeat_fixture f;
  f.log.set_format(log_format::json);
  f.log.warn("http", "refused a request with 403 ORIGIN_DENIED");
  f.now += 2500ms;
  f.log.warn("http", "refused a request with 403 ORIGIN_DENIED");
  f.log.flush_repeats();
  ASSERT_EQ(f.lines.size(), 2u);
  const auto j = nlohmann::json::parse(f.lines[1]);
  EXPECT_EQ(j["repeated"], 1);
  EXPECT_EQ(j["repeat_seconds"], 3);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["message"], "refused a request with 403 ORIGIN_DENIED (repeated 1 more time in the "
                          "last 3s)");
}

TEST(log_repeats, the_table_is_bounded) {
  log_repeats r(10s, 4);
  const auto t0 = std::chrono::steady_clock::time_point{};
  for (int i = 0; i < 8; ++i)
    EXPECT_TRUE(
        r.admit(log_level::warn, "c", "m" + std::string(1, static_cast<char>('a' + i)), {}, t0));
  // The first four keys have windows; later ones pass uncounted.
  EXPECT_FALSE(r.admit(log_level::warn, "c", "ma", {}, t0));
  EXPECT_TRUE(r.admit(log_level::warn, "c", "mh", {}, t0));
}

} // namespace
} // namespace apistudio
