// connect_external through real sockets: the event sequence, ws and wss, subprotocols, custom
// headers as the upstream sees them, and the header checks that refuse before anything is dialled.
#include "proxy_test_util.hpp"

#include <gtest/gtest.h>

#include <atomic>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

// A host whose dials are counted, to prove a refused connect dialled nothing.
struct counting_host {
  std::shared_ptr<std::atomic<int>> dials = std::make_shared<std::atomic<int>>(0);
  host_instance host;
  counting_host() : host(test_config(), options(dials)) {}
  static host_options options(std::shared_ptr<std::atomic<int>> n) {
    host_options o;
    o.on_dial = [n](const boost::asio::ip::tcp::endpoint &) { ++*n; };
    return o;
  }
};

} // namespace

TEST(ProxyConnect, WsSequenceIsConnectingThenConnectedWithUrlAndTimestamps) {
  test_upstream echo;
  host_instance host;
  proxy_client c(host.port(), "seq");
  ASSERT_TRUE(c.ok);
  c.ws.send_json({{"type", "connect_external"}, {"url", echo.url("/chat?room=1")}});
  json e = next_event(c.ws);
  EXPECT_EQ(e["type"], "connection_status");
  EXPECT_EQ(e["status"], "connecting");
  EXPECT_EQ(e["url"], echo.url("/chat?room=1"));
  EXPECT_TRUE(has_timestamp(e));
  EXPECT_FALSE(e.contains("connection_id"))
      << "spec clients never see extension fields they did not use";
  EXPECT_FALSE(e.contains("request_id"));
  e = next_event(c.ws);
  EXPECT_EQ(e["type"], "connection_status");
  EXPECT_EQ(e["status"], "connected");
  EXPECT_EQ(e["url"], echo.url("/chat?room=1"));
  EXPECT_FALSE(e.contains("subprotocol")) << "none was negotiated";
  EXPECT_TRUE(has_timestamp(e));
  EXPECT_EQ(echo.last_target(), "/chat?room=1");
  EXPECT_TRUE(eventually([&] { return echo.open_now() == 1; })); // counted on its own thread
}

TEST(ProxyConnect, WssToTestCaUpstreamConnectsAndEchoes) {
  upstream_behaviour b;
  b.tls = true;
  test_upstream echo(b);
  host_instance host; // test_config() trusts tests/data/tls/ca.pem through tls.ca_file
  proxy_client c(host.port(), "wss-client");
  ASSERT_TRUE(c.ok);
  json e = open_upstream(c.ws, echo.url());
  ASSERT_EQ(e["status"], "connected") << e.dump();
  EXPECT_EQ(e["url"], echo.url());
  c.ws.send_json({{"type", "send_message"}, {"content", "over TLS"}});
  EXPECT_EQ(c.ws.read_until("message_sent")["content"], "over TLS");
  EXPECT_EQ(c.ws.read_until("message_received")["content"], "over TLS");
}

TEST(ProxyConnect, NegotiatedSubprotocolIsReportedOnConnected) {
  upstream_behaviour b;
  b.require_subprotocol = "graphql-ws";
  test_upstream up(b);
  host_instance host;
  proxy_client c(host.port(), "subproto");
  ASSERT_TRUE(c.ok);
  json e = open_upstream(c.ws, up.url(), {{"protocols", {"chat.v2", "graphql-ws"}}});
  ASSERT_EQ(e["status"], "connected") << e.dump();
  EXPECT_EQ(e["subprotocol"], "graphql-ws");
  EXPECT_EQ(up.last_request_headers()["sec-websocket-protocol"], "chat.v2, graphql-ws");
}

TEST(ProxyConnect, CustomHeadersReachTheUpstream) {
  upstream_behaviour b;
  b.require_headers = {{"Authorization", "Bearer token-123"}, {"X-Api-Key", "k1"}};
  test_upstream up(b);
  host_instance host;
  proxy_client c(host.port(), "headers");
  ASSERT_TRUE(c.ok);
  json e = open_upstream(
      c.ws, up.url(), {{"headers", {{"Authorization", "Bearer token-123"}, {"X-Api-Key", "k1"}}}});
  ASSERT_EQ(e["status"], "connected") << e.dump();
  const auto seen = up.last_request_headers();
  EXPECT_EQ(seen.at("authorization"), "Bearer token-123");
  EXPECT_EQ(seen.at("x-api-key"), "k1");
  EXPECT_EQ(seen.at("upgrade"), "websocket") << "the host's own handshake headers are intact";
  EXPECT_EQ(seen.at("host"), "127.0.0.1:" + std::to_string(up.port()));
}

TEST(ProxyConnect, MissingRequiredHeaderIsAHandshakeFailureWithItsStatus) {
  upstream_behaviour b;
  b.require_headers = {{"Authorization", "Bearer right"}};
  test_upstream up(b);
  host_instance host;
  proxy_client c(host.port(), "headers-wrong");
  ASSERT_TRUE(c.ok);
  json e = open_upstream(c.ws, up.url(), {{"headers", {{"Authorization", "Bearer wrong"}}}});
  EXPECT_EQ(e["type"], "connection_error") << e.dump();
  EXPECT_EQ(e["code"], "HANDSHAKE_FAILED");
  EXPECT_EQ(e["http_status"], 400);
  EXPECT_EQ(next_event(c.ws)["status"], "error");
}

TEST(ProxyConnect, SecWebSocketProtocolHeaderIsMergedIntoProtocols) {
  upstream_behaviour b;
  b.require_subprotocol = "mqtt";
  test_upstream up(b);
  host_instance host;
  proxy_client c(host.port(), "merge");
  ASSERT_TRUE(c.ok);
  json e =
      open_upstream(c.ws, up.url(),
                    {{"protocols", {"v1"}}, {"headers", {{"Sec-WebSocket-Protocol", "mqtt, v1"}}}});
  ASSERT_EQ(e["status"], "connected") << e.dump();
  EXPECT_EQ(e["subprotocol"], "mqtt");
  // One header with every protocol once, not two Sec-WebSocket-Protocol headers.
  const std::string offered = up.last_request_headers()["sec-websocket-protocol"];
  EXPECT_NE(offered.find("v1"), std::string::npos) << offered;
  EXPECT_NE(offered.find("mqtt"), std::string::npos) << offered;
  EXPECT_EQ(offered.find("v1"), offered.rfind("v1")) << "v1 offered twice: " << offered;
}

TEST(ProxyConnect, ReservedHandshakeHeadersAreRefusedAndNothingIsDialled) {
  test_upstream up;
  counting_host h;
  proxy_client c(h.host.port(), "reserved");
  ASSERT_TRUE(c.ok);
  for (const char *name : {"Host", "Upgrade", "Connection", "Sec-WebSocket-Key",
                           "Sec-WebSocket-Version", "Sec-WebSocket-Accept",
                           "Sec-WebSocket-Extensions", "host", "UPGRADE", "sec-websocket-key"}) {
    SCOPED_TRACE(name);
    c.ws.send_json({{"type", "connect_external"},
                    {"url", up.url()},
                    {"headers", {{name, "x"}}},
                    {"request_id", std::string("r-") + name}});
    json e = next_event(c.ws);
    EXPECT_EQ(e["type"], "error") << e.dump();
    EXPECT_EQ(e["code"], "INVALID_FORMAT");
    EXPECT_EQ(e["request_id"], std::string("r-") + name);
    EXPECT_NE(e.value("error", "").find(name), std::string::npos)
        << "the message names the header: " << e.dump();
    EXPECT_TRUE(has_timestamp(e));
  }
  EXPECT_EQ(*h.dials, 0);
  EXPECT_EQ(up.accepted(), 0u);
  // The socket still works: a clean connect afterwards succeeds.
  ASSERT_EQ(open_upstream(c.ws, up.url())["status"], "connected");
  EXPECT_EQ(*h.dials, 1);
}

TEST(ProxyConnect, ControlCharactersInHeaderNamesOrValuesAreRefused) {
  test_upstream up;
  counting_host h;
  proxy_client c(h.host.port(), "crlf");
  ASSERT_TRUE(c.ok);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"X-Test", "a\r\nInjected: yes"},   {"X-Test", "a\nb"},     {"X-Test", "a\rb"},
      {"X-Test", std::string("a\0b", 3)}, {"X-Bad\r\nName", "v"}, {"X-Bad\nName", "v"},
      {std::string("X-Nul\0", 6), "v"},   {"X Space", "v"},
  };
  for (const auto &[name, value] : bad) {
    SCOPED_TRACE(json(name).dump() + ": " + json(value).dump());
    c.ws.send_json({{"type", "connect_external"}, {"url", up.url()}, {"headers", {{name, value}}}});
    json e = next_event(c.ws);
    EXPECT_EQ(e["type"], "error") << e.dump();
    EXPECT_EQ(e["code"], "INVALID_FORMAT");
    EXPECT_EQ(e.dump().find("Injected"), std::string::npos) << "values are never echoed";
  }
  EXPECT_EQ(*h.dials, 0);
  EXPECT_EQ(up.accepted(), 0u);
}

TEST(ProxyConnect, RequestIdIsEchoedOnEveryStatusOfTheConnect) {
  test_upstream echo;
  host_instance host;
  proxy_client c(host.port(), "rid");
  ASSERT_TRUE(c.ok);
  c.ws.send_json({{"type", "connect_external"}, {"url", echo.url()}, {"request_id", "connect-1"}});
  json e = next_event(c.ws);
  EXPECT_EQ(e["status"], "connecting");
  EXPECT_EQ(e["request_id"], "connect-1");
  e = next_event(c.ws);
  EXPECT_EQ(e["status"], "connected");
  EXPECT_EQ(e["request_id"], "connect-1");

  c.ws.send_json({{"type", "disconnect_external"}, {"request_id", "bye-1"}});
  e = next_event(c.ws);
  EXPECT_EQ(e["status"], "disconnected");
  EXPECT_EQ(e["request_id"], "bye-1");

  // And on a failed connect: the connection_error and the error status.
  c.ws.send_json({{"type", "connect_external"},
                  {"url", "ws://127.0.0.1:" + std::to_string(closed_port()) + "/"},
                  {"request_id", "connect-2"}});
  e = next_event(c.ws);
  EXPECT_EQ(e["status"], "connecting");
  EXPECT_EQ(e["request_id"], "connect-2");
  e = next_event(c.ws);
  EXPECT_EQ(e["type"], "connection_error");
  EXPECT_EQ(e["request_id"], "connect-2");
  e = next_event(c.ws);
  EXPECT_EQ(e["status"], "error");
  EXPECT_EQ(e["request_id"], "connect-2");
}

TEST(ProxyConnect, SecondConnectOnTheSameUpstreamIsAlreadyConnected) {
  test_upstream echo;
  host_instance host;
  proxy_client c(host.port(), "twice");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  c.ws.send_json({{"type", "connect_external"}, {"url", echo.url()}, {"request_id", "again"}});
  json e = next_event(c.ws);
  EXPECT_EQ(e["type"], "error");
  EXPECT_EQ(e["code"], "ALREADY_CONNECTED");
  EXPECT_EQ(e["request_id"], "again");
  EXPECT_EQ(echo.accepted(), 1u);
  // The first upstream still works.
  c.ws.send_json({{"type", "send_message"}, {"content", "still here"}});
  EXPECT_EQ(c.ws.read_until("message_received")["content"], "still here");
}
