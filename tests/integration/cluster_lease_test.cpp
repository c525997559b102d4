// client_id uniqueness across hosts (host/src/cluster/client_lease.cpp, http_session::upgrade):
// two hosts on one redis-server; a second live socket for a client_id held on the other host gets
// the same 409 CLIENT_ID_IN_USE as on one host; the id is free again after a close, and after the
// holder host was killed (SIGKILL, the real binary) once its lease expired; with Redis gone the
// local check alone decides (fail open).
#include "child_process.hpp"
#include "host_fixture.hpp"
#include "proxy_test_util.hpp"
#include "redis_server.hpp"
#include "test_client.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include <unistd.h>

using namespace apistudio;
using namespace apistudio::testing;
using namespace std::chrono_literals;

namespace {

const std::string host_binary = APISTUDIO_HOST_BINARY;

host_config clustered(const redis_server &server, const std::string &node,
                      std::chrono::milliseconds ttl = 15s) {
  host_config c = test_config();
  c.cluster = cluster_on(server, node);
  c.cluster.lease_ttl = ttl;
  return c;
}

bool refused_409(std::uint16_t port, const std::string &client_id) {
  ws_client c;
  if (c.connect(port, "/api/websocket/connect/" + client_id))
    return false;
  return c.handshake_status == 409 &&
         c.handshake_body.find("CLIENT_ID_IN_USE") != std::string::npos;
}

bool accepted(std::uint16_t port, const std::string &client_id) {
  ws_client c;
  return c.connect(port, "/api/websocket/connect/" + client_id);
}

} // namespace

TEST(ClusterLease, SecondSocketOnAnotherHostIs409UntilTheFirstCloses) {
  redis_server server;
  host_instance a(clustered(server, "node-a"));
  host_instance b(clustered(server, "node-b"));
  proxy_client first(a.port(), "shared-id");
  ASSERT_TRUE(first.ok);
  EXPECT_TRUE(refused_409(b.port(), "shared-id"));
  EXPECT_TRUE(refused_409(a.port(), "shared-id")); // the local answer, unchanged
  // The lease names the holder.
  EXPECT_NE(server.command("GET apistudio:client:shared-id").find("node-a:"), std::string::npos);
  // Another id is not affected.
  EXPECT_TRUE(accepted(b.port(), "other-id"));

  first.ws.close();
  EXPECT_TRUE(eventually([&] { return accepted(b.port(), "shared-id"); }, 10s));
  // Released on close, not left to expire: the key is gone once the socket on b closed too.
  EXPECT_TRUE(eventually(
      [&] { return server.command("EXISTS apistudio:client:shared-id") == ":0\r\n"; }, 10s));
}

TEST(ClusterLease, TheLeaseIsRenewedWhileTheSessionLives) {
  redis_server server;
  host_instance a(clustered(server, "node-a", 1500ms));
  host_instance b(clustered(server, "node-b", 1500ms));
  proxy_client first(a.port(), "long-lived");
  ASSERT_TRUE(first.ok);
  // Well past the ttl, the lease still holds: renewals every ttl/3.
  const auto until = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_TRUE(refused_409(b.port(), "long-lived"));
    std::this_thread::sleep_for(200ms);
  }
}

TEST(ClusterLease, AKilledHolderHostsLeaseExpiresWithinTheTtl) {
  redis_server server;
  static int counter = 0;
  const std::string config_path = ::testing::TempDir() + "apistudio_lease_" +
                                  std::to_string(::getpid()) + "_" + std::to_string(++counter) +
                                  ".yaml";
  std::ofstream(config_path) << "plugins: []\ncluster:\n  backend: redis\n  url: \"" << server.url()
                             << "\"\n  node_id: doomed\n  lease_ttl: 2s\n";
  child_process doomed({host_binary, "--config", config_path, "--listen", "127.0.0.1:0"});
  const std::uint16_t doomed_port = doomed.wait_for_listen_port(20s);
  ASSERT_NE(doomed_port, 0) << doomed.err();
  host_instance b(clustered(server, "node-b"));

  ws_client holder;
  ASSERT_TRUE(holder.connect(doomed_port, "/api/websocket/connect/orphan"));
  EXPECT_TRUE(refused_409(b.port(), "orphan"));

  doomed.send_signal(SIGKILL);
  ASSERT_TRUE(doomed.wait_exit(10s).has_value());
  const auto killed = std::chrono::steady_clock::now();
  // Nobody released it: the host died. It expires on its own.
  EXPECT_TRUE(eventually([&] { return accepted(b.port(), "orphan"); }, 15s));
  // Within the ttl (2 s) plus generous slack for a loaded machine.
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 10s);
}

TEST(ClusterLease, WithRedisGoneTheLocalCheckAloneDecides) {
  auto server = std::make_unique<redis_server>();
  host_instance a(clustered(*server, "node-a"));
  server->stop();
  ASSERT_TRUE(eventually([&] { return !a.server().context().cluster->connected(); }, 10s));
  proxy_client first(a.port(), "offline-id");
  EXPECT_TRUE(first.ok); // fail open
  EXPECT_TRUE(refused_409(a.port(), "offline-id"));
  proxy_client second(a.port(), "offline-id-2");
  EXPECT_TRUE(second.ok);
  // Once per outage, not once per upgrade.
  const std::string log = a.log_text();
  const std::string needle = "checked on this host only";
  const auto at = log.find(needle);
  EXPECT_NE(at, std::string::npos) << log;
  EXPECT_EQ(log.find(needle, at + 1), std::string::npos) << log;
}
