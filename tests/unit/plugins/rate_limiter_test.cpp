// Unit tests of the rate_limiter's pure logic: the sliding log's exact boundaries with an
// injected clock, several limits at once, the shared store, settings and the error event.
#include "rate_limiter/counter_store.hpp"
#include "rate_limiter/rate_limiter_settings.hpp"
#include "rate_limiter/sliding_window_log.hpp"

#include <apistudio/plugin.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <utility>

namespace rl = apistudio::plugins::rate_limiter;

namespace {

// Admits `n` messages at `now`; returns how many were admitted.
int admit_many(rl::sliding_window_log &log, int n, std::uint64_t now) {
  int admitted = 0;
  for (int i = 0; i < n; ++i)
    if (!log.try_admit(now))
      ++admitted;
  return admitted;
}

TEST(PluginsRateLimiter, HundredthMessageInsideTheWindowPassesTheHundredAndFirstDoesNot) {
  rl::sliding_window_log log({{100, 60'000}});
  for (std::uint64_t i = 0; i < 100; ++i)
    ASSERT_FALSE(log.try_admit(1'000 + i * 10)) << i;
  EXPECT_EQ(log.try_admit(1'000 + 59'999), std::optional<std::size_t>(0));
}

TEST(PluginsRateLimiter, AMessageStopsCountingExactlyOneWindowLater) {
  rl::sliding_window_log log({{2, 1'000}});
  EXPECT_FALSE(log.try_admit(5'000));
  EXPECT_FALSE(log.try_admit(5'400));
  EXPECT_TRUE(log.try_admit(5'999));  // the first is still inside (5000, 6000)
  EXPECT_FALSE(log.try_admit(6'000)); // the first expired at exactly 5000 + 1000
  EXPECT_TRUE(log.try_admit(6'399));  // 5400 and 6000 still count
  EXPECT_FALSE(log.try_admit(6'400));
}

TEST(PluginsRateLimiter, NoBurstOfTwiceTheLimitAroundAFixedWindowBoundary) {
  // A fixed window [0,60000) + [60000,120000) would admit 100 at 59999 and 100 more at 60000.
  rl::sliding_window_log log({{100, 60'000}});
  EXPECT_EQ(admit_many(log, 100, 59'999), 100);
  EXPECT_EQ(admit_many(log, 100, 60'000), 0);
  EXPECT_EQ(admit_many(log, 100, 119'998), 0);
  EXPECT_EQ(admit_many(log, 100, 119'999), 100);
}

TEST(PluginsRateLimiter, RefusedMessagesDoNotConsumeBudget) {
  rl::sliding_window_log log({{1, 1'000}});
  EXPECT_FALSE(log.try_admit(0));
  for (std::uint64_t t = 1; t < 1'000; t += 100)
    EXPECT_TRUE(log.try_admit(t));
  EXPECT_FALSE(log.try_admit(1'000)); // only the admitted message at 0 counted
}

TEST(PluginsRateLimiter, EveryLimitAppliesAndTheFirstFullOneIsReported) {
  rl::sliding_window_log log({{3, 1'000}, {5, 10'000}});
  EXPECT_EQ(admit_many(log, 3, 0), 3);
  EXPECT_EQ(log.try_admit(999), std::optional<std::size_t>(0)); // burst limit
  EXPECT_EQ(admit_many(log, 2, 1'000), 2);
  EXPECT_EQ(log.try_admit(2'000), std::optional<std::size_t>(1)); // 5 in the last 10s
  EXPECT_EQ(log.count(1, 2'000), 5u);
  EXPECT_FALSE(log.try_admit(10'000)); // the three at 0 expired
}

TEST(PluginsRateLimiter, ABackwardsClockIsTreatedAsStandingStill) {
  rl::sliding_window_log log({{1, 1'000}});
  EXPECT_FALSE(log.try_admit(10'000));
  EXPECT_TRUE(log.try_admit(5'000)); // would otherwise look like an empty window
  EXPECT_FALSE(log.try_admit(11'000));
}

TEST(PluginsRateLimiter, IdleOnlyWhenNothingCounts) {
  rl::sliding_window_log log({{10, 1'000}});
  EXPECT_TRUE(log.idle(0));
  EXPECT_FALSE(log.try_admit(100));
  EXPECT_FALSE(log.idle(1'099));
  EXPECT_TRUE(log.idle(1'100));
}

TEST(PluginsRateLimiter, SharedStoreKeepsOneBudgetPerKey) {
  rl::in_memory_counter_store store({{2, 1'000}});
  EXPECT_FALSE(store.try_admit("remote_address:10.0.0.1", 0));
  EXPECT_FALSE(store.try_admit("remote_address:10.0.0.1", 1));
  EXPECT_TRUE(store.try_admit("remote_address:10.0.0.1", 2));
  EXPECT_FALSE(store.try_admit("remote_address:10.0.0.2", 2)); // another key, its own budget
  EXPECT_FALSE(store.try_admit("remote_address:10.0.0.1", 1'000));
}

TEST(PluginsRateLimiter, SharedStoreForgetsKeysWhoseMessagesAllExpired) {
  rl::in_memory_counter_store store({{5, 1'000}});
  for (int i = 0; i < 50; ++i)
    store.try_admit("k" + std::to_string(i), 10);
  EXPECT_EQ(store.key_count(), 50u);
  store.try_admit("fresh", 1'500); // first sweep: every k* expired at 1010
  EXPECT_EQ(store.key_count(), 1u);
}

TEST(PluginsRateLimiter, DefaultsAreTheSpecs) {
  const auto s = rl::parse_settings("{}");
  ASSERT_EQ(s.limits.size(), 1u);
  EXPECT_EQ(s.limits[0], (rl::rate_limit{100, 60'000}));
  EXPECT_EQ(s.scope, rl::limit_scope::connection);
  EXPECT_EQ(rl::parse_settings("").limits.size(), 1u);
}

TEST(PluginsRateLimiter, ParsesSeveralLimitsAndScopes) {
  const auto s = rl::parse_settings(
      R"({"limits":[{"messages":10,"window":"1s"},{"messages":"100","window":60},
                    {"messages":5,"window":"500ms"},{"messages":1000,"window":"1h"}],
          "scope":"remote_address"})");
  ASSERT_EQ(s.limits.size(), 4u);
  EXPECT_EQ(s.limits[0], (rl::rate_limit{10, 1'000}));
  EXPECT_EQ(s.limits[1], (rl::rate_limit{100, 60'000}));
  EXPECT_EQ(s.limits[2], (rl::rate_limit{5, 500}));
  EXPECT_EQ(s.limits[3], (rl::rate_limit{1000, 3'600'000}));
  EXPECT_EQ(s.scope, rl::limit_scope::remote_address);
  EXPECT_EQ(rl::parse_settings(R"({"scope":"client_id"})").scope, rl::limit_scope::client_id);
}

TEST(PluginsRateLimiter, RefusesBadSettingsNamingTheKey) {
  const auto message = [](const char *json) -> std::string {
    try {
      rl::parse_settings(json);
    } catch (const apistudio::sdk::settings_error &e) {
      return e.what();
    }
    return "accepted";
  };
  EXPECT_NE(message(R"({"limits":[]})").find("limits"), std::string::npos);
  EXPECT_NE(message(R"({"limits":[{"messages":0,"window":"1s"}]})").find("limits[0].messages"),
            std::string::npos);
  EXPECT_NE(message(R"({"limits":[{"messages":-1,"window":"1s"}]})").find("limits[0].messages"),
            std::string::npos);
  EXPECT_NE(message(R"({"limits":[{"messages":1,"window":"soon"}]})").find("limits[0].window"),
            std::string::npos);
  EXPECT_NE(message(R"({"limits":[{"messages":1,"window":"25h"}]})").find("at most 24h"),
            std::string::npos);
  EXPECT_NE(message(R"({"limits":[{"messages":1}]})").find("limits[0]"), std::string::npos);
  EXPECT_NE(message(R"({"limits":[{"messages":1,"window":"1s","burst":2}]})").find("burst"),
            std::string::npos);
  EXPECT_NE(message(R"({"scope":"planet"})").find("scope"), std::string::npos);
  EXPECT_NE(message(R"({"limit":[]})").find("unknown setting"), std::string::npos);
  EXPECT_NE(message("[1]").find("mapping"), std::string::npos);
  EXPECT_NE(message("{").find("JSON"), std::string::npos);
}

// The message names the key in words; the pointer lets the host print that key's own line.
TEST(PluginsRateLimiter, RefusalsPointAtTheOffendingKey) {
  using refusal = std::pair<std::string, std::string>;
  const auto refusal_of = [](const char *json) -> refusal {
    try {
      rl::parse_settings(json);
    } catch (const apistudio::sdk::settings_error &e) {
      return {e.what(), e.pointer()};
    }
    return {"accepted", ""};
  };
  EXPECT_EQ(refusal_of(R"({"limits":[{"messages":1,"window":"1s"},{"messages":0,"window":"1s"}]})"),
            refusal("rate_limiter: limits[1].messages: must be an integer from 1 to 1000000",
                    "/limits/1/messages"));
  EXPECT_EQ(refusal_of(R"({"limits":[{"messages":1,"window":"soon"}]})"),
            refusal("rate_limiter: limits[0].window: must be a duration such as 1s, 60s, 2m or 1h "
                    "(at most 24h)",
                    "/limits/0/window"));
  EXPECT_EQ(refusal_of(R"({"limits":[{"messages":1,"window":"1s","burst":2}]})"),
            refusal("rate_limiter: limits[0].burst: unknown key (known: messages, window)",
                    "/limits/0/burst"));
  EXPECT_EQ(refusal_of(R"({"limits":[{"messages":1}]})"),
            refusal("rate_limiter: limits[0]: needs both `messages` and `window`", "/limits/0"));
  EXPECT_EQ(refusal_of(R"({"limits":[]})"),
            refusal("rate_limiter: limits: must list at least one limit", "/limits"));
  EXPECT_EQ(refusal_of(R"({"scope":"planet"})"),
            refusal("rate_limiter: scope: must be one of connection, client_id, remote_address",
                    "/scope"));
  EXPECT_EQ(refusal_of("[1]"),
            refusal("rate_limiter: settings: must be a mapping, got an array", ""));
}

TEST(PluginsRateLimiter, ErrorEventHasTheSpecsShape) {
  const auto text = rl::rate_limited_event({100, 60'000}, "2025-01-01T12:00:00.000Z");
  EXPECT_EQ(text, R"({"type":"error","code":"RATE_LIMITED","error":"Rate limit exceeded: 100 )"
                  R"(messages per 60s","timestamp":"2025-01-01T12:00:00.000Z"})");
  EXPECT_EQ((rl::rate_limit{5, 500}).describe(), "5 messages per 500ms");
}

} // namespace
