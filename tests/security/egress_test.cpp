// Where the host may connect (issue 5, egress policy), through connect_external and
// test-connection alike. Names resolve through an injected resolver and every dial is recorded:
// a denied destination must give DESTINATION_DENIED with nothing dialled — no real traffic ever
// goes to a metadata, multicast or private address from these tests.
#include "host_fixture.hpp"
#include "security_helpers.hpp"
#include "test_client.hpp"
#include "test_upstream.hpp"

#include <gtest/gtest.h>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

// Names a hostile client (or a rebinding DNS server) could point at forbidden addresses.
std::map<std::string, std::vector<std::string>> hostile_table() {
  return {
      {"metadata.test", {"169.254.169.254"}},
      {"mapped-metadata.test", {"::ffff:169.254.169.254"}},
      {"nat64-metadata.test", {"64:ff9b::a9fe:a9fe"}},
      {"6to4-metadata.test", {"2002:a9fe:a9fe::1"}},
      {"compat-metadata.test", {"::169.254.169.254"}},
      {"aws6-metadata.test", {"fd00:ec2::254"}},
      {"alibaba-metadata.test", {"100.100.100.200"}},
      {"linklocal.test", {"169.254.1.1"}},
      {"linklocal6.test", {"fe80::1"}},
      {"multicast.test", {"224.0.0.1"}},
      {"multicast6.test", {"ff02::1"}},
      {"mapped-multicast.test", {"::ffff:224.0.0.251"}},
      {"zero.test", {"0.0.0.0"}},
      {"zero-net.test", {"0.1.2.3"}},
      {"unspecified6.test", {"::"}},
      {"broadcast.test", {"255.255.255.255"}},
  };
}

struct egress_host {
  dial_recorder dials;
  std::shared_ptr<std::map<std::string, int>> lookups =
      std::make_shared<std::map<std::string, int>>();
  std::unique_ptr<host_instance> host;

  explicit egress_host(std::map<std::string, std::vector<std::string>> table,
                       host_config config = test_config()) {
    host_options options;
    options.resolver = std::make_unique<counting_resolver>(std::move(table), lookups);
    options.on_dial = dials.observer();
    host = std::make_unique<host_instance>(std::move(config), std::move(options));
  }
  std::uint16_t port() const { return host->port(); }
};

// connect_external to `url`; returns the connection_error event (discarded if none came).
json connect_and_expect_error(ws_client &c, const std::string &url) {
  c.send_json({{"type", "connect_external"}, {"url", url}, {"request_id", url}});
  json err = c.read_until("connection_error", std::chrono::seconds(5));
  json status = c.read_until("connection_status", std::chrono::seconds(5));
  if (status.value("status", "") == "connecting")
    status = c.read_until("connection_status");
  EXPECT_EQ(status.value("status", ""), "error") << url << " " << status.dump();
  return err;
}

std::vector<std::string> denied_urls(const std::string &port) {
  std::vector<std::string> urls;
  for (const auto &[name, addresses] : hostile_table())
    urls.push_back("ws://" + name + ":" + port + "/");
  // Literal addresses in the URL resolve to themselves and are judged the same way.
  for (const std::string &literal : std::vector<std::string>{
           "169.254.169.254", "[::ffff:169.254.169.254]", "[::ffff:a9fe:a9fe]", "[fd00:ec2::254]",
           "[64:ff9b::a9fe:a9fe]", "224.0.0.1", "0.0.0.0", "255.255.255.255", "[fe80::1]", "[::]",
           "100.100.100.200", "[2002:a9fe:a9fe::1]"})
    urls.push_back("ws://" + literal + ":" + port + "/latest/meta-data/");
  urls.push_back("wss://metadata.test/computeMetadata/v1/");
  return urls;
}

} // namespace

TEST(Egress, DeniedDestinationsThroughConnectExternalAreNeverDialled) {
  egress_host h(hostile_table());
  ws_client c;
  ASSERT_TRUE(c.connect(h.port(), "/api/websocket/connect/ssrf"));
  for (const auto &url : denied_urls("80")) {
    const json err = connect_and_expect_error(c, url);
    EXPECT_EQ(err.value("code", ""), "DESTINATION_DENIED") << url << " -> " << err.dump();
    EXPECT_EQ(err.value("request_id", ""), url);
    EXPECT_NE(err.value("error", "").find("Destination denied"), std::string::npos) << err.dump();
  }
  EXPECT_TRUE(h.dials.dials().empty()) << h.dials.dials().front();
  // The session is still fine, and nothing was counted as an external connection.
  EXPECT_EQ(active_connections(h.port())["external_connections"], json::array());
}

TEST(Egress, DeniedDestinationsThroughTestConnectionAreNeverDialled) {
  egress_host h(hostile_table());
  for (const auto &url : denied_urls("8080")) {
    const auto r = http_request(h.port(), "POST", "/api/websocket/test-connection",
                                {{"Content-Type", "application/json"}}, json{{"url", url}}.dump());
    ASSERT_EQ(r.status, 200) << url;
    const json body = r.json();
    EXPECT_EQ(body.value("status", ""), "error") << url;
    EXPECT_EQ(body.value("code", ""), "DESTINATION_DENIED") << url << " -> " << r.body;
  }
  EXPECT_TRUE(h.dials.dials().empty());
}

TEST(Egress, ConnectionsBackToTheHostsOwnListenerAreDenied) {
  egress_host h({{"localhost", {"127.0.0.1"}}, {"self.test", {"127.0.0.1", "::1"}}});
  const std::string port = std::to_string(h.port());
  ws_client c;
  ASSERT_TRUE(c.connect(h.port(), "/api/websocket/connect/loop"));
  const std::vector<std::string> urls = {"ws://127.0.0.1:" + port + "/api/websocket/connect/other",
                                         "ws://localhost:" + port + "/ws",
                                         "ws://[::1]:" + port + "/ws",
                                         "ws://127.0.0.2:" + port + "/ws",
                                         "ws://[::ffff:127.0.0.1]:" + port + "/ws",
                                         "ws://self.test:" + port + "/ws"};
  for (const auto &url : urls) {
    EXPECT_EQ(connect_and_expect_error(c, url).value("code", ""), "DESTINATION_DENIED") << url;
    const auto r = http_request(h.port(), "POST", "/api/websocket/test-connection",
                                {{"Content-Type", "application/json"}}, json{{"url", url}}.dump());
    EXPECT_EQ(r.json().value("code", ""), "DESTINATION_DENIED") << url << " " << r.body;
  }
  EXPECT_TRUE(h.dials.dials().empty());
  EXPECT_EQ(active_connections(h.port())["active_connections"], json::array({"loop"}));
}

TEST(Egress, ANameWithOneAllowedAndOneDeniedAddressIsDeniedWhole) {
  test_upstream echo;
  egress_host h({{"mixed.test", {"127.0.0.1", "169.254.169.254"}},
                 {"mixed-reversed.test", {"169.254.169.254", "127.0.0.1"}},
                 {"mixed6.test", {"::1", "::ffff:169.254.169.254"}}});
  ws_client c;
  ASSERT_TRUE(c.connect(h.port(), "/api/websocket/connect/mixed"));
  const std::string port = std::to_string(echo.port());
  for (const std::string &name :
       std::vector<std::string>{"mixed.test", "mixed-reversed.test", "mixed6.test"}) {
    const std::string url = "ws://" + name + ":" + port + "/";
    EXPECT_EQ(connect_and_expect_error(c, url).value("code", ""), "DESTINATION_DENIED") << url;
  }
  EXPECT_TRUE(h.dials.dials().empty());
  EXPECT_EQ(echo.accepted(), 0u);
}

TEST(Egress, AnAllowedNameIsDialledAtTheCheckedAddressOnceWithItsOwnHostHeader) {
  test_upstream echo;
  egress_host h(std::map<std::string, std::vector<std::string>>{{"api.test", {"127.0.0.1"}}});
  ws_client c;
  ASSERT_TRUE(c.connect(h.port(), "/api/websocket/connect/ok"));
  const std::string port = std::to_string(echo.port());
  c.send_json({{"type", "connect_external"}, {"url", "ws://api.test:" + port + "/feed?x=1"}});
  ASSERT_EQ(c.read_until("connection_status")["status"], "connecting");
  const json connected = c.read_until("connection_status");
  ASSERT_EQ(connected["status"], "connected") << connected.dump();
  EXPECT_EQ(h.dials.dials(), std::vector<std::string>{"127.0.0.1:" + port});
  EXPECT_EQ((*h.lookups)["api.test"], 1); // no second lookup between the check and the dial
  EXPECT_EQ(echo.last_request_headers()["host"], "api.test:" + port);
  EXPECT_EQ(echo.last_target(), "/feed?x=1");
}

TEST(Egress, PublicOnlyPresetAndDenyRulesRefuseBeforeDialling) {
  test_upstream echo;
  host_config c = test_config();
  c.egress.preset = "public-only";
  c.egress.deny = {{"*.blocked.test", 1}, {"203.0.113.0/24", 2}};
  c.egress.allow = {{"198.51.100.7:443", 3}};
  egress_host h({{"private.test", {"10.1.2.3"}},
                 {"router.test", {"192.168.0.1"}},
                 {"cgnat.test", {"100.64.0.1"}},
                 {"ula.test", {"fd12:3456::1"}},
                 {"api.blocked.test", {"198.51.100.7"}},
                 {"documented.test", {"203.0.113.5"}},
                 {"localhost", {"127.0.0.1"}}},
                c);
  ws_client client;
  ASSERT_TRUE(client.connect(h.port(), "/api/websocket/connect/strict"));
  for (const std::string &url : std::vector<std::string>{
           "ws://private.test/", "ws://router.test:8080/", "ws://cgnat.test/", "ws://ula.test/",
           "wss://api.blocked.test/", "ws://documented.test/", echo.url(),
           "ws://localhost:" + std::to_string(echo.port()) + "/", "ws://10.0.0.1/"}) {
    EXPECT_EQ(connect_and_expect_error(client, url).value("code", ""), "DESTINATION_DENIED") << url;
  }
  EXPECT_TRUE(h.dials.dials().empty());
  EXPECT_EQ(echo.accepted(), 0u);
}

TEST(Egress, UrlsThatAreNotPlainWebSocketTargetsAreRefusedBeforeResolving) {
  egress_host h(hostile_table());
  ws_client c;
  ASSERT_TRUE(c.connect(h.port(), "/api/websocket/connect/urls"));
  for (const std::string &url : std::vector<std::string>{
           "http://metadata.test/", "file:///etc/passwd", "gopher://metadata.test:70/",
           "ws://user:pass@metadata.test/", "ws://:secret@metadata.test/", "ws:///nohost",
           "ws://metadata.test:0/", "ws://metadata.test:99999/", "ws://meta data.test/",
           "ws://metadata.test\r\nX: y/", "javascript:alert(1)", ""}) {
    const json err = connect_and_expect_error(c, url);
    EXPECT_EQ(err.value("code", ""), "INVALID_URL") << "'" << url << "' -> " << err.dump();
  }
  EXPECT_TRUE(h.lookups->empty());
  EXPECT_TRUE(h.dials.dials().empty());
}
