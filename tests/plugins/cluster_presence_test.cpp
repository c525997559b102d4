// Presence across hosts (cluster.backend: redis; host/src/plugin_host/cluster_presence.cpp), end
// to end: real hosts on one real redis-server with the collaboration plugin, real /ws clients. A
// user with sessions on two hosts stays online until the last closes; a host killed with SIGKILL
// has its users announced offline on the other host within presence_ttl + presence_ttl / 4; a
// presence key of the wrong type is refused and counted, not trusted.
// (The join snapshot spanning hosts is in cluster_bus_test.cpp, with every other event.)
#include "child_process.hpp"
#include "plugin_e2e.hpp"
#include "redis_server.hpp"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <regex>
#include <unistd.h>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

host_config clustered(const redis_server &server, const std::string &node,
                      std::chrono::milliseconds presence_ttl = 10s) {
  host_config c = config_with({make_plugin("collaboration")});
  c.cluster = cluster_on(server, node);
  c.cluster.presence_ttl = presence_ttl;
  return c;
}

std::int64_t metric_value(std::uint16_t port, const std::string &pattern) {
  const auto r = http_request(port, "GET", "/metrics");
  std::smatch m;
  if (r.status != 200 || !std::regex_search(r.body, m, std::regex(pattern)))
    return -1;
  return std::stoll(m[1]);
}

// The entries of one member in the scope's sorted set (the key names: cluster.md, "Presence").
std::string entries(const redis_server &server, const std::string &workspace) {
  return server.command("ZRANGE apistudio:presence:13:collaboration:" + workspace + " 0 -1");
}

} // namespace

TEST(ClusterPresence, AUserOnTwoHostsGoesOfflineWithItsLastSession) {
  redis_server server;
  host_instance a(clustered(server, "node-a"));
  host_instance b(clustered(server, "node-b"));
  ASSERT_TRUE(bus_subscribers_are(server, 2));
  ws_client watcher, alice_a, alice_b;
  ASSERT_TRUE(watcher.connect(b.port(), ws_target("watcher", "team")));
  ASSERT_TRUE(alice_a.connect(a.port(), ws_target("alice", "team")));
  expect_presence(alice_a, "watcher", "online"); // snapshot from host b
  expect_presence(watcher, "alice", "online");
  ASSERT_TRUE(alice_b.connect(b.port(), ws_target("alice", "team")));
  expect_presence(alice_b, "watcher", "online"); // not first: no second "online"
  ASSERT_TRUE(
      eventually([&] { return entries(server, "team").find("node-a") != std::string::npos; }, 5s));

  alice_a.close(); // her session on b remains
  alice_b.send_json({{"type", "user_presence"}, {"status", "away"}});
  expect_presence(watcher, "alice", "away"); // and no "offline" before it
  alice_b.close();
  expect_presence(watcher, "alice", "offline");
  expect_nothing_pending(watcher);
  EXPECT_EQ(server.command("HEXISTS apistudio:presence-status:13:collaboration:team alice"),
            ":0\r\n");
}

TEST(ClusterPresence, AKilledHostsUsersGoOfflineWithinTheBound) {
  redis_server server;
  constexpr auto ttl = 2s;
  static int counter = 0;
  const std::string config_path = ::testing::TempDir() + "apistudio_presence_" +
                                  std::to_string(::getpid()) + "_" + std::to_string(++counter) +
                                  ".yaml";
  std::ofstream(config_path) << "plugin_dir: \"" << APISTUDIO_PLUGIN_DIR
                             << "\"\nplugins:\n  - name: collaboration\ncluster:\n  backend: "
                                "redis\n  url: \""
                             << server.url() << "\"\n  node_id: doomed\n  presence_ttl: 2s\n";
  child_process doomed({APISTUDIO_HOST_BINARY, "--config", config_path, "--listen", "127.0.0.1:0"});
  const std::uint16_t doomed_port = doomed.wait_for_listen_port(20s);
  ASSERT_NE(doomed_port, 0) << doomed.err();
  host_instance b(clustered(server, "node-b", ttl));
  ASSERT_TRUE(bus_subscribers_are(server, 2));

  ws_client bob, orphan;
  ASSERT_TRUE(bob.connect(b.port(), ws_target("bob", "team")));
  ASSERT_TRUE(orphan.connect(doomed_port, ws_target("orphan", "team")));
  expect_presence(orphan, "bob", "online");
  expect_presence(bob, "orphan", "online");

  doomed.send_signal(SIGKILL);
  ASSERT_TRUE(doomed.wait_exit(10s).has_value());
  const auto killed = std::chrono::steady_clock::now();
  expect_presence(bob, "orphan", "offline"); // announced by b's sweep
  const auto took = std::chrono::steady_clock::now() - killed;
  // The documented bound is presence_ttl + presence_ttl / 4 (2.5 s here); a loaded machine
  // gets a second of slack for the command round trips and the bus.
  EXPECT_LT(took, ttl + ttl / 4 + 1s);
  expect_nothing_pending(bob);
  std::remove(config_path.c_str());
}

TEST(ClusterPresence, AKeyOfTheWrongTypeIsRefusedAndCounted) {
  redis_server server;
  host_instance a(clustered(server, "node-a"));
  ASSERT_EQ(server.command("SET apistudio:presence:13:collaboration:bad garbage"), "+OK\r\n");
  ws_client alice, bob;
  ASSERT_TRUE(alice.connect(a.port(), ws_target("alice", "bad")));
  // This host's own view decides: alice is announced, and bob's snapshot lists her.
  ASSERT_TRUE(bob.connect(a.port(), ws_target("bob", "bad")));
  expect_presence(bob, "alice", "online");
  expect_presence(alice, "bob", "online");
  EXPECT_TRUE(eventually([&] {
    return metric_value(
               a.port(),
               "apistudio_cluster_presence_errors_total\\{kind=\"wrong_type\"\\} ([0-9]+)") >= 2;
  }));
  EXPECT_EQ(server.command("GET apistudio:presence:13:collaboration:bad"), "$7\r\ngarbage\r\n");
  EXPECT_TRUE(a.log_contains("presence: refused data from Redis"));
  bob.close();
  expect_presence(alice, "bob", "offline"); // decided locally
}
