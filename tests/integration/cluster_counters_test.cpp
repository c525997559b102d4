// The shared counters of backend redis (host/src/plugin_host/cluster_shared_counters.cpp) on a
// real redis-server, two engines standing for two hosts: each host answers from memory at once,
// learns the other's counts within a sync interval, keeps counting on its own while Redis is
// gone, and refuses (and counts) a key of the wrong type or a value that is not a count.
#include "base/clock.hpp"
#include "base/logger.hpp"
#include "base/metrics.hpp"
#include "cluster/cluster_engine.hpp"
#include "plugin_host/shared_counters.hpp"
#include "proxy_test_util.hpp"
#include "redis_server.hpp"

#include <gtest/gtest.h>

#include <mutex>

using namespace apistudio;
using namespace apistudio::testing;
using namespace std::chrono_literals;

namespace {

// A wall clock in the middle of a one-hour window (the tests run well inside it).
class wall_clock final : public clock_source {
public:
  std::int64_t unix_ms() const override { return 1'700'001'800'000; }
  std::uint64_t steady_ms() const override { return 0; }
};
constexpr std::uint64_t hour = 3'600'000;
const std::string window_index = std::to_string(1'700'001'800'000 / hour);

struct test_host {
  test_host(const redis_server &server, const std::string &node) {
    log.set_sink([this](std::string_view line) {
      std::lock_guard lock(mutex);
      text += line;
      text += '\n';
    });
    engine = std::make_unique<cluster::cluster_engine>(cluster_on(server, node), log, &metrics);
    EXPECT_EQ(engine->connect_first(), "");
    counters = make_cluster_shared_counters(*engine, clock, metrics, log, 20ms);
  }
  ~test_host() {
    counters.reset();
    engine->stop();
  }
  std::string log_text() {
    std::lock_guard lock(mutex);
    return text;
  }

  wall_clock clock;
  std::mutex mutex;
  std::string text;
  logger log{log_level::info};
  metrics_registry metrics;
  std::unique_ptr<cluster::cluster_engine> engine;
  std::unique_ptr<shared_counters> counters;
};

std::string redis_key(const std::string &key) {
  return "apistudio:counter:" + key + ":" + std::to_string(hour) + ":" + window_index;
}

} // namespace

TEST(ClusterCounters, EachHostLearnsTheOthersCountsWithinASyncInterval) {
  redis_server server;
  test_host a(server, "node-a");
  test_host b(server, "node-b");
  EXPECT_TRUE(a.counters->cluster_shared());
  // Answered from memory at once: this host's own counts.
  EXPECT_EQ(a.counters->add("p:k", hour, 3), 3u);
  EXPECT_EQ(b.counters->add("p:k", hour, 2), 2u);
  // Then each learns the other's: 5 on both, and in Redis.
  EXPECT_TRUE(eventually([&] { return a.counters->add("p:k", hour, 0) == 5; }, 10s));
  EXPECT_TRUE(eventually([&] { return b.counters->add("p:k", hour, 0) == 5; }, 10s));
  EXPECT_EQ(server.command("GET " + redis_key("p:k")), "$1\r\n5\r\n");
  // Two windows' expiry on the key.
  const std::string ttl = server.command("PTTL " + redis_key("p:k"));
  EXPECT_GT(std::stoll(ttl.substr(1)), static_cast<long long>(hour)) << ttl;
  // More on one host: counted once, never twice (what a host sent is not counted as the other's).
  EXPECT_EQ(a.counters->add("p:k", hour, 1), 6u);
  EXPECT_TRUE(eventually([&] { return b.counters->add("p:k", hour, 0) == 6; }, 10s));
  EXPECT_EQ(a.counters->add("p:k", hour, 0), 6u);
}

TEST(ClusterCounters, WithRedisGoneEachHostCountsOnItsOwnAndSendsLater) {
  auto server = std::make_unique<redis_server>();
  const std::uint16_t port = server->port();
  test_host a(*server, "node-a");
  server->stop();
  ASSERT_TRUE(eventually([&] { return !a.engine->connected(); }, 10s));
  EXPECT_EQ(a.counters->add("p:offline", hour, 4), 4u); // fail open, no wait
  server = std::make_unique<redis_server>(port);
  ASSERT_TRUE(eventually([&] { return a.engine->connected(); }, 15s));
  // The pending counts of a window still current reach Redis once it is back.
  EXPECT_TRUE(eventually(
      [&] { return server->command("GET " + redis_key("p:offline")) == "$1\r\n4\r\n"; }, 10s));
  EXPECT_EQ(a.counters->add("p:offline", hour, 0), 4u);
}

TEST(ClusterCounters, BadInputFromRedisIsRefusedAndCounted) {
  redis_server server;
  server.command("LPUSH " + redis_key("p:listed") + " x");
  server.command("SET " + redis_key("p:garbage") + " abc");
  test_host a(server, "node-a");
  EXPECT_EQ(a.counters->add("p:listed", hour, 2), 2u);
  EXPECT_EQ(a.counters->add("p:garbage", hour, 0), 0u);
  EXPECT_TRUE(eventually([&] { return a.log_text().find("WRONGTYPE") != std::string::npos; }, 10s));
  EXPECT_TRUE(eventually(
      [&] { return a.log_text().find("holds something other than a count") != std::string::npos; },
      10s));
  // Refused, not trusted: the host's own counts stand; the list is untouched.
  EXPECT_EQ(a.counters->add("p:listed", hour, 1), 3u);
  EXPECT_EQ(a.counters->add("p:garbage", hour, 0), 0u);
  EXPECT_EQ(server.command("LLEN " + redis_key("p:listed")), ":1\r\n");
  const auto counted = a.metrics.collect().values;
  EXPECT_GE(counted[static_cast<std::size_t>(metric::cluster_counter_wrong_type)], 1);
  EXPECT_GE(counted[static_cast<std::size_t>(metric::cluster_counter_malformed)], 1);
  // Logged once per kind, not once per batch.
  const std::string log = a.log_text();
  EXPECT_EQ(log.find("WRONGTYPE", log.find("WRONGTYPE") + 1), std::string::npos) << log;
}
