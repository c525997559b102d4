// Redis stopped and restarted under load (issue 15): two real apistudio-host processes
// (cluster.backend: redis) on one real redis-server, /ws collaboration clients of one workspace on
// both, and a publisher on host A sending collection_updated events without pause. Redis is
// stopped by PID in the middle and started again on the same port. What must hold:
//   - during the outage the sessions of one host still hear each other, both hosts serve
//     (/healthz 200, /readyz 503 CLUSTER_ENGINE_UNREACHABLE, the proxy path works), the copies
//     for the other host are dropped and counted, and the drop is logged once for the outage;
//   - after it, cross-host delivery resumes within seconds, /readyz is 200 again, and neither
//     host's memory grew with the dropped messages (the bus buffers nothing for a lost Redis).
// Each /ws client is read by a thread of its own (ws_client is single-threaded, and a client
// that stops reading would be cut off as a slow consumer); the main thread only looks at counts.
#include "child_process.hpp"
#include "proxy_test_util.hpp"
#include "redis_server.hpp"
#include "text_count.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <functional>
#include <regex>
#include <thread>
#include <utility>

#include <unistd.h>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string host_binary = APISTUDIO_HOST_BINARY;

std::string config_file(const std::string &node, const redis_server &redis) {
  const std::string path = ::testing::TempDir() + "apistudio_outage_" + std::to_string(::getpid()) +
                           "_" + node + ".yaml";
  std::ofstream(path) << "server:\n  listen: \"127.0.0.1:0\"\n  worker_threads: 2\n"
                      << "plugin_dir: \"" << APISTUDIO_PLUGIN_DIR << "\"\n"
                      << "plugins:\n  - name: collaboration\n    settings:\n      tokens: {}\n"
                      << "cluster:\n  backend: redis\n  url: " << redis.url() << "\n"
                      << "  node_id: " << node << "\n  connect_timeout: 2s\n"
                      << "  start_without_engine: true\n";
  return path;
}

// A host process; its log is its stderr.
struct host_process {
  child_process process;
  std::uint16_t port = 0;
  host_process(const std::string &node, const redis_server &redis)
      : process({host_binary, "--config", config_file(node, redis)}) {
    port = process.wait_for_listen_port(15s);
  }
  bool alive() { return !process.wait_exit(0ms).has_value(); }
  std::size_t rss_kib() const {
    std::ifstream status("/proc/" + std::to_string(process.pid()) + "/status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("VmRSS:", 0) == 0)
        return std::stoul(line.substr(6));
    return 0;
  }
};

std::int64_t dropped(std::uint16_t port) {
  const auto r = http_request(port, "GET", "/metrics");
  const std::regex line("apistudio_cluster_bus_messages_total\\{outcome=\"dropped\"\\} ([0-9]+)");
  std::smatch m;
  if (r.status != 200 || !std::regex_search(r.body, m, line))
    return -1;
  return std::stoll(m[1]);
}

bool ready(std::uint16_t port) { return http_request(port, "GET", "/readyz").status == 200; }

bool unreachable(std::uint16_t port) {
  const auto r = http_request(port, "GET", "/readyz");
  return r.status == 503 && r.body.find("CLUSTER_ENGINE_UNREACHABLE") != std::string::npos;
}

// One proxied round trip through /api/websocket/connect to the echo upstream.
bool proxy_works(std::uint16_t port, const std::string &client_id, const test_upstream &echo) {
  ws_client c;
  if (!c.connect(port, "/api/websocket/connect/" + client_id))
    return false;
  if (open_upstream(c, echo.url()).value("status", "") != "connected")
    return false;
  c.send_json({{"type", "send_message"}, {"content", "ping " + client_id}});
  const auto [sent, got] = read_round_trip(c);
  c.close();
  return got.value("content", "") == "ping " + client_id;
}

// A /ws member that counts the collection_updated events it hears, on a thread of its own until
// its connection ends (the hosts are killed at the end of the test).
struct member {
  ws_client ws;
  std::atomic<int> heard{0};
  std::thread reader;
  bool join(std::uint16_t port, const std::string &user) {
    if (!ws.connect(port, "/ws?user_id=" + user + "&workspace_id=team"))
      return false;
    reader = std::thread([this] {
      while (true) {
        const auto frame = ws.read(60s);
        if (!frame)
          return;
        const json e = json::parse(*frame, nullptr, false);
        if (e.is_object() && e.value("type", "") == "collection_updated")
          ++heard;
      }
    });
    return true;
  }
  ~member() {
    if (reader.joinable())
      reader.join();
  }
};

} // namespace

TEST(ClusterOutage, RedisStoppedAndRestartedUnderLoad) {
  auto redis = std::make_unique<redis_server>();
  const std::uint16_t redis_port = redis->port();
  test_upstream echo;
  host_process a("node-a", *redis);
  host_process b("node-b", *redis);
  ASSERT_NE(a.port, 0) << a.process.err();
  ASSERT_NE(b.port, 0) << b.process.err();
  ASSERT_TRUE(eventually(
      [&] {
        return redis->command("PUBSUB NUMSUB apistudio:bus").find(":2\r\n") != std::string::npos;
      },
      15s));

  member on_a, on_b;
  ws_client publisher;
  std::atomic<bool> publishing{true};
  std::atomic<int> published{0};
  std::thread publish_loop;
  // Runs on every way out (a failed ASSERT too): the publisher stops, and killing the hosts ends
  // the members' connections, so that their readers end before the members are destroyed.
  struct at_exit {
    std::function<void()> run;
    ~at_exit() { run(); }
  } stop_everything{[&, done = false]() mutable {
    if (std::exchange(done, true))
      return;
    publishing = false;
    if (publish_loop.joinable())
      publish_loop.join();
    a.process.send_signal(SIGKILL);
    b.process.send_signal(SIGKILL);
  }};

  ASSERT_TRUE(on_a.join(a.port, "alice"));
  ASSERT_TRUE(on_b.join(b.port, "bob"));
  ASSERT_TRUE(publisher.connect(a.port, "/ws?user_id=pat&workspace_id=team"));
  publish_loop = std::thread([&] {
    // Up to 200 events/s, without a pause for the outage: the load the bus must take.
    for (int n = 0; publishing; ++n) {
      publisher.send_json({{"type", "collection_updated"},
                           {"collection_id", "c-" + std::to_string(n)},
                           {"changes", {{"n", n}}}});
      ++published;
      std::this_thread::sleep_for(5ms);
    }
  });

  // Before: both hosts' members hear the publisher.
  EXPECT_TRUE(eventually([&] { return on_a.heard > 50 && on_b.heard > 50; }, 10s))
      << on_a.heard << " on a, " << on_b.heard << " on b";
  EXPECT_TRUE(proxy_works(a.port, "before-a", echo));
  EXPECT_TRUE(proxy_works(b.port, "before-b", echo));
  const std::size_t rss_a_before = a.rss_kib(), rss_b_before = b.rss_kib();
  EXPECT_EQ(dropped(a.port), 0);

  // Redis gone (SIGTERM by PID; the publisher goes on).
  redis->stop();
  EXPECT_TRUE(eventually([&] { return unreachable(a.port) && unreachable(b.port); }, 10s));
  EXPECT_EQ(http_request(a.port, "GET", "/healthz").status, 200);
  EXPECT_EQ(http_request(b.port, "GET", "/healthz").status, 200);
  // The sessions of host A still hear each other; host B hears nothing from A.
  const int a_at_loss = on_a.heard;
  EXPECT_TRUE(eventually([&] { return on_a.heard > a_at_loss + 100; }, 10s));
  const int b_during = on_b.heard;
  const int a_mid = on_a.heard;
  EXPECT_TRUE(eventually([&] { return on_a.heard > a_mid + 100; }, 10s));
  EXPECT_EQ(on_b.heard, b_during) << "host b heard host a's events without Redis";
  EXPECT_TRUE(proxy_works(a.port, "during-a", echo));
  EXPECT_TRUE(proxy_works(b.port, "during-b", echo));
  // Dropped and counted: each publish of the outage (more than 200 so far) at least.
  EXPECT_GT(dropped(a.port), 200);
  EXPECT_TRUE(a.alive() && b.alive());

  // Redis back on the same port: within seconds the hosts are ready and A's events reach B.
  redis = std::make_unique<redis_server>(redis_port);
  const auto back = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually([&] { return ready(a.port) && ready(b.port); }, 10s));
  const int b_at_return = on_b.heard;
  EXPECT_TRUE(eventually([&] { return on_b.heard > b_at_return + 50; }, 10s))
      << "cross-host delivery did not resume: " << on_b.heard << " heard on b";
  const auto resumed_after = std::chrono::steady_clock::now() - back;
  EXPECT_LT(resumed_after, 10s);
  // Host A's own subscription (B hearing A says only that B's is back).
  EXPECT_TRUE(eventually(
      [&] {
        return count_of(a.process.err(), "cross-host bus: subscribed to apistudio:bus again") == 1;
      },
      10s));
  EXPECT_TRUE(proxy_works(a.port, "after-a", echo));
  EXPECT_TRUE(proxy_works(b.port, "after-b", echo));
  // A few hundred dropped publishes left nothing behind: the bus holds no backlog for Redis.
  EXPECT_LT(a.rss_kib(), rss_a_before + 16 * 1024) << rss_a_before << " KiB before";
  EXPECT_LT(b.rss_kib(), rss_b_before + 16 * 1024) << rss_b_before << " KiB before";
  EXPECT_TRUE(a.alive() && b.alive());

  const auto dropped_in_all = dropped(a.port);
  stop_everything.run();
  // Logged once for the outage, not once per message (nor again while the bus's two Redis
  // connections come back one after the other).
  const std::string log_a = a.process.err();
  EXPECT_EQ(count_of(log_a, "cross-host bus: a publish for the other hosts was dropped"), 1u)
      << log_a.substr(log_a.size() > 6000 ? log_a.size() - 6000 : 0);
  EXPECT_EQ(count_of(log_a, "lost the cluster engine"), 1u);
  std::cout << "[ outage  ] " << published << " events published; cross-host delivery resumed "
            << std::chrono::duration_cast<std::chrono::milliseconds>(resumed_after).count()
            << " ms after Redis was started again; " << dropped_in_all << " dropped\n";
}
