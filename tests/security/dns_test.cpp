// Name lookups cannot be used to stall other clients (issue 14, item 3): with one worker and a
// name server that never answers, one client's slow names do not delay another client's connect
// to an address or to a name that answers at once, and the slow ones end with TIMEOUT at the
// connect timeout, their slots given back. Before the fix, every connect of the worker (IP
// literals included) queued behind getaddrinfo calls nobody cancelled: 29.7 s for a literal.
//
// The name servers are test_dns_server instances on loopback, configured through
// resolver.servers: no network, no system resolver configuration.
#include "host_fixture.hpp"
#include "security_helpers.hpp"
#include "test_client.hpp"
#include "test_dns_server.hpp"
#include "test_upstream.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

double ms_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// One worker (every client and lookup shares it), a short connect timeout, `dns` as the only
// name server.
host_config one_worker_with(const test_dns_server &dns) {
  host_config c = test_config();
  c.worker_threads = 1;
  c.limits.connect_timeout = 2s;
  c.resolver.servers = {{"127.0.0.1", dns.port()}};
  return c;
}

void ask(ws_client &c, const std::string &url, const std::string &cid) {
  c.send_json({{"type", "connect_external"}, {"url", url}, {"connection_id", cid}});
}

// The status that ends a connect_external (connected or error), and how long it took.
struct connect_result {
  json status;
  double ms = 0;
};

// Statuses of the client's other connections on the way are skipped.
connect_result connect_timed(ws_client &c, const std::string &url, const std::string &cid) {
  const auto start = clock_type::now();
  ask(c, url, cid);
  connect_result r;
  for (;;) {
    const json e = c.read_until("connection_status", 10s);
    if (e.is_discarded() || !e.contains("status")) {
      r.status = e;
      break;
    }
    if (e.value("connection_id", "") == cid && e.value("status", "") != "connecting") {
      r.status = e;
      break;
    }
  }
  r.ms = ms_between(start, clock_type::now());
  return r;
}

} // namespace

TEST(DnsIsolation, OneClientsSlowNamesDoNotDelayAnotherClientsConnects) {
  test_dns_server silent;
  test_upstream echo;
  const std::string port = std::to_string(echo.port());
  host_instance host(one_worker_with(silent));

  ws_client slow;
  ASSERT_TRUE(slow.connect(host.port(), "/api/websocket/connect/slow-names"));
  const auto asked = clock_type::now();
  for (int i = 0; i < 10; ++i)
    ask(slow, "ws://slow-" + std::to_string(i) + ".test:" + port + "/", "s" + std::to_string(i));
  // The slow lookups are under way (the others waiting their turn) before anyone else asks.
  ASSERT_TRUE(eventually([&] { return !silent.queries().empty(); }));

  ws_client other;
  ASSERT_TRUE(other.connect(host.port(), "/api/websocket/connect/other"));
  for (const std::string &url : {"ws://127.0.0.1:" + port + "/", "ws://localhost:" + port + "/"}) {
    const bool named = url.find("localhost") != std::string::npos;
    const connect_result r = connect_timed(other, url, named ? "name" : "literal");
    std::printf("[ DNS      ] %s connected in %.1f ms while another client waits on 10 names\n",
                url.c_str(), r.ms);
    RecordProperty(named ? "localhost_ms" : "literal_ms", std::to_string(r.ms));
    EXPECT_EQ(r.status.value("status", ""), "connected") << url << ": " << r.status.dump();
    // The requirement is 100 ms on an idle machine; a loaded one gets ten times that.
    EXPECT_LT(r.ms, 1000.0) << url;
  }

  // Every slow name ends with the connect timeout's TIMEOUT, at the connect timeout.
  for (int i = 0; i < 10; ++i) {
    const json e = slow.read_until("connection_error", 10s);
    EXPECT_EQ(e.value("code", ""), "TIMEOUT") << e.dump();
  }
  const double slow_ms = ms_between(asked, clock_type::now());
  std::printf("[ DNS      ] the 10 slow names ended after %.1f ms (connect_timeout 2 s)\n",
              slow_ms);
  EXPECT_LT(slow_ms, 2000.0 + 1500.0);
}

TEST(DnsIsolation, LookupsAbandonedAtTheConnectTimeoutGiveTheirSlotsBack) {
  test_dns_server silent;
  test_upstream echo;
  const std::string port = std::to_string(echo.port());
  host_config c = one_worker_with(silent);
  c.resolver.max_lookups_per_client = 1;
  host_instance host(c);

  ws_client client;
  ASSERT_TRUE(client.connect(host.port(), "/api/websocket/connect/one-at-a-time"));
  // One lookup runs, the other waits for its slot; the connect timeout ends both.
  ask(client, "ws://slow-1.test:" + port + "/", "s1");
  ask(client, "ws://slow-2.test:" + port + "/", "s2");
  for (int i = 0; i < 2; ++i) {
    const json e = client.read_until("connection_error", 10s);
    EXPECT_EQ(e.value("code", ""), "TIMEOUT") << e.dump();
  }
  // Had either kept its slot, this one would wait for it and time out too.
  const connect_result r = connect_timed(client, "ws://localhost:" + port + "/", "fast");
  EXPECT_EQ(r.status.value("status", ""), "connected") << r.status.dump();
  EXPECT_LT(r.ms, 1000.0);
}

TEST(DnsIsolation, NamesAnsweredByTheConfiguredServerConnectAndUnknownOnesFailAsBefore) {
  test_upstream echo;
  test_dns_server dns(dns_table{{"echo.test", "127.0.0.1"}});
  const std::string port = std::to_string(echo.port());
  host_instance host(one_worker_with(dns));

  ws_client client;
  ASSERT_TRUE(client.connect(host.port(), "/api/websocket/connect/named"));
  const connect_result ok = connect_timed(client, "ws://echo.test:" + port + "/", "named");
  EXPECT_EQ(ok.status.value("status", ""), "connected") << ok.status.dump();
  EXPECT_EQ(echo.accepted(), 1u);

  ask(client, "ws://missing.test:" + port + "/", "missing");
  const json e = client.read_until("connection_error", 10s);
  EXPECT_EQ(e.value("code", ""), "DNS_FAILED") << e.dump();
}
