// The HTTP layer under abuse (issue 5, "HTTP"): oversized request headers (431), clients that
// never finish their upgrade request (closed at limits.http_header_timeout), a slowloris crowd
// that must not starve a real client, the wrong WebSocket version (426) and bad client ids (400).
#include "host_fixture.hpp"
#include "raw_socket.hpp"
#include "security_helpers.hpp"
#include "test_client.hpp"
#include "test_upstream.hpp"

#include <gtest/gtest.h>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

TEST(HttpLimits, RequestHeadersOverTheLimitGet431) {
  host_config c = test_config();
  c.limits.max_http_header_bytes = 4096;
  host_instance host(c);
  // One huge header, and many small ones adding up.
  std::string many;
  for (int i = 0; i < 400; ++i)
    many += "X-Filler-" + std::to_string(i) + ": abcdefghij\r\n";
  for (const std::string &extra :
       std::vector<std::string>{"X-Big: " + std::string(8000, 'a') + "\r\n", many}) {
    raw_socket s(host.port());
    ASSERT_TRUE(s.connected());
    s.send("GET /api/websocket/connect/big HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra +
           "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    std::string reply;
    s.read_until(reply, "\r\n\r\n", 5s);
    EXPECT_EQ(reply.rfind("HTTP/1.1 431", 0), 0u) << reply.substr(0, 200);
    EXPECT_TRUE(s.wait_closed(5s)) << "the connection stays open after 431";
  }
  // Just under the limit still works.
  ws_client ok;
  EXPECT_TRUE(
      ok.connect(host.port(), "/api/websocket/connect/ok", {{"X-Pad", std::string(3000, 'p')}}));
}

TEST(HttpLimits, UpgradeRequestsThatNeverFinishAreClosedAtTheHeaderDeadline) {
  host_config c = test_config();
  c.limits.http_header_timeout = 300ms;
  host_instance host(c);
  const auto started = std::chrono::steady_clock::now();
  raw_socket silent(host.port());  // connects and sends nothing
  raw_socket partial(host.port()); // sends half a request
  raw_socket trickle(host.port()); // keeps sending, one byte at a time, forever
  ASSERT_TRUE(silent.connected() && partial.connected() && trickle.connected());
  ASSERT_TRUE(partial.send("GET /api/websocket/connect/slow HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  EXPECT_TRUE(silent.wait_closed(5s));
  EXPECT_TRUE(partial.wait_closed(5s));
  // Progress does not extend the deadline: the whole request must arrive in time.
  const std::string request =
      "GET /api/websocket/connect/trickle HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " +
      std::string(10000, 'z');
  bool closed = false;
  for (std::size_t i = 0; i < request.size() && !closed; ++i) {
    if (!trickle.send(request.substr(i, 1), 1s))
      break;
    closed = trickle.wait_closed(20ms); // paces the trickle; true once the host hung up
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(closed || trickle.wait_closed(2s)) << "a trickling client was never cut off";
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 5s);
}

TEST(HttpLimits, SlowlorisCrowdDoesNotStopARealClient) {
  test_upstream echo;
  host_config c = test_config();
  c.limits.http_header_timeout = 5s;
  host_instance host(c);
  std::vector<raw_socket> crowd;
  crowd.reserve(300);
  for (int i = 0; i < 300; ++i) {
    crowd.emplace_back(host.port());
    ASSERT_TRUE(crowd.back().connected()) << i;
    crowd.back().send("GET /api/websocket/connect/loris" + std::to_string(i) +
                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ");
  }
  const auto crowd_started = std::chrono::steady_clock::now();
  // A real client is served while all of them hang on.
  ws_client c1;
  ASSERT_TRUE(c1.connect(host.port(), "/api/websocket/connect/real", {}, 2s));
  c1.send_json({{"type", "connect_external"}, {"url", echo.url()}});
  ASSERT_EQ(c1.read_until("connection_status", 2s)["status"], "connecting");
  ASSERT_EQ(c1.read_until("connection_status", 2s)["status"], "connected");
  c1.send_json({{"type", "send_message"}, {"content", "served"}});
  EXPECT_EQ(c1.read_until("message_received", 2s).value("content", ""), "served");
  EXPECT_EQ(http_request(host.port(), "GET", "/healthz", {}, {}, 2s).status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - crowd_started, 5s)
      << "the real client was only served after the crowd was cut off";
  // Then the crowd is cut off at the deadline.
  for (auto &s : crowd)
    EXPECT_TRUE(s.wait_closed(10s));
  EXPECT_EQ(active_connections(host.port())["active_connections"], json::array({"real"}));
}

TEST(HttpLimits, WrongWebSocketVersionGets426NamingVersion13) {
  host_instance host;
  for (const std::string &version : std::vector<std::string>{"8", "12", "14", "", "13, 8"}) {
    raw_socket s(host.port());
    const int status = s.upgrade("/api/websocket/connect/v", {{"Sec-WebSocket-Version", version}});
    EXPECT_EQ(status, 426) << "'" << version << "': " << s.head();
    EXPECT_NE(s.head().find("Sec-WebSocket-Version: 13\r\n"), std::string::npos) << s.head();
  }
  EXPECT_EQ(active_connections(host.port())["active_connections"], json::array());
}

TEST(HttpLimits, BadClientIdsGet400) {
  host_instance host;
  for (const std::string &id :
       std::vector<std::string>{"bad%20id", "a/b", "%2e%2e", "x#y", std::string(129, 'a'),
                                "caf%C3%A9", "semi;colon", "quote\"", "%00"}) {
    raw_socket s(host.port());
    const int status = s.upgrade("/api/websocket/connect/" + id);
    EXPECT_EQ(status, 400) << id << ": " << s.head();
    std::string body = s.pending();
    s.read_until(body, "}", 2s);
    EXPECT_NE(body.find("INVALID_CLIENT_ID"), std::string::npos) << id << ": " << body;
  }
  // 128 characters of the allowed set is fine.
  ws_client ok;
  EXPECT_TRUE(
      ok.connect(host.port(), "/api/websocket/connect/" + std::string(120, 'a') + "._~-Z09"));
  EXPECT_EQ(active_connections(host.port())["active_connections"].size(), 1u);
}
