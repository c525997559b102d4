// The proxy protocol's happy paths through real sockets: a client, the host, a local echo server.
#include "host_fixture.hpp"
#include "test_client.hpp"
#include "test_upstream.hpp"

#include <gtest/gtest.h>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

void expect_timestamp(const json &event) {
  ASSERT_TRUE(event.contains("timestamp")) << event.dump();
  const std::string ts = event["timestamp"];
  ASSERT_EQ(ts.size(), 24u) << ts;
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts[19], '.');
  EXPECT_EQ(ts.back(), 'Z');
}

} // namespace

TEST(ProxyBasics, ConnectSendReceiveDisconnect) {
  test_upstream echo;
  host_instance host;
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/client123"));

  c.send_json({{"type", "connect_external"}, {"url", echo.url()}, {"protocols", json::array()}});
  json e = c.read_json();
  EXPECT_EQ(e["type"], "connection_status");
  EXPECT_EQ(e["status"], "connecting");
  expect_timestamp(e);
  e = c.read_json();
  EXPECT_EQ(e["type"], "connection_status");
  EXPECT_EQ(e["status"], "connected") << e.dump();
  expect_timestamp(e);

  c.send_json({{"type", "send_message"}, {"content", "Hello World!"}});
  json sent = c.read_until("message_sent");
  EXPECT_EQ(sent["content"], "Hello World!");
  expect_timestamp(sent);
  json got = c.read_until("message_received");
  EXPECT_EQ(got["content"], "Hello World!");
  EXPECT_EQ(got["message_type"], "text");
  expect_timestamp(got);

  c.send_json({{"type", "disconnect_external"}});
  e = c.read_until("connection_status");
  EXPECT_EQ(e["status"], "disconnected") << e.dump();
  EXPECT_EQ(e["close_code"], 1000);
}

TEST(ProxyBasics, MessageSentWhileConnectingIsHeldNotDropped) {
  test_upstream echo;
  host_instance host;
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/python-example"));
  c.send_json({{"type", "connect_external"}, {"url", echo.url()}});
  for (int i = 0; i < 5; ++i)
    c.send_json({{"type", "send_message"}, {"content", "m" + std::to_string(i)}});
  std::vector<std::string> received;
  std::vector<std::string> order;
  while (received.size() < 5) {
    json e = c.read_json();
    ASSERT_FALSE(e.is_discarded()) << "timed out after " << received.size() << " echoes";
    order.push_back(e["type"]);
    if (e["type"] == "message_received")
      received.push_back(e["content"]);
  }
  EXPECT_EQ(order[0], "connection_status");
  EXPECT_EQ(order[1], "connection_status");
  EXPECT_EQ(received, (std::vector<std::string>{"m0", "m1", "m2", "m3", "m4"}));
}

TEST(ProxyBasics, ActiveConnectionsReflectsClientsAndUpstreams) {
  test_upstream echo;
  host_instance host;
  ws_client a, b;
  ASSERT_TRUE(a.connect(host.port(), "/api/websocket/connect/client1"));
  ASSERT_TRUE(b.connect(host.port(), "/api/websocket/connect/client2"));
  a.send_json({{"type", "connect_external"}, {"url", echo.url()}});
  ASSERT_EQ(a.read_until("connection_status")["status"], "connecting");
  ASSERT_EQ(a.read_until("connection_status")["status"], "connected");
  auto r = http_request(host.port(), "GET", "/api/websocket/active-connections");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(
      r.json(),
      json::parse(
          R"({"active_connections":["client1","client2"],"external_connections":["client1"]})"));

  a.drop();
  // The host notices the vanished client; poll the REST view (bounded) until it does.
  json now;
  for (int i = 0; i < 200; ++i) {
    now = http_request(host.port(), "GET", "/api/websocket/active-connections").json();
    if (now["active_connections"].size() == 1)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(now, json::parse(R"({"active_connections":["client2"],"external_connections":[]})"));
}
