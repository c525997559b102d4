// limits.max_message_size through real sockets (64 KiB here): a client frame over the limit
// closes the client with 1009; an upstream frame over it closes only that upstream (1009,
// MESSAGE_TOO_LARGE); a send_message whose decoded content is over it gets send_error
// MESSAGE_TOO_LARGE. Content of exactly the limit passes in both directions.
#include "proxy_test_util.hpp"

#include "protocol/envelope_codec.hpp"
#include "raw_socket.hpp"

#include <gtest/gtest.h>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

constexpr std::size_t limit = 64 * 1024;

host_config small_limit_config() {
  host_config c = test_config();
  c.limits.max_message_bytes = limit;
  return c;
}

std::string b64(std::string_view bytes) {
  std::string out;
  append_base64(out, bytes);
  return out;
}

} // namespace

TEST(ProxyLimits, ClientFrameFarOverTheLimitClosesWith1009) {
  host_instance host(small_limit_config());
  // Read off the wire with a raw socket: Boost 1.81's server teardown stops draining after 2 KiB
  // and closes, so the rest of a big frame makes the kernel answer with a reset right after the
  // 1009 close frame. A client whose own write fails on that reset (Beast's stream does) never
  // reads the close frame; the frame is on the wire all the same.
  raw_socket s(host.port());
  ASSERT_EQ(s.upgrade("/api/websocket/connect/big-frame"), 101) << s.head();
  // Way over any envelope allowance: a frame of four times the message limit.
  const std::string big =
      json({{"type", "send_message"}, {"content", std::string(4 * limit, 'a')}}).dump();
  s.send(ws_frame(1, big), std::chrono::seconds(2)); // may fail part way: the host hangs up
  EXPECT_EQ(read_close_code(s, std::chrono::seconds(5)), 1009) << host.log_text();
  // The client is gone from the host, and its client_id can connect again.
  EXPECT_TRUE(eventually(
      [&] { return active_connections(host.port())["active_connections"] == json::array(); }));
  proxy_client again(host.port(), "big-frame");
  EXPECT_TRUE(again.ok);
}

TEST(ProxyLimits, SendMessageOverTheLimitIsSendErrorAndTheSocketStaysUsable) {
  test_upstream echo;
  host_instance host(small_limit_config());
  proxy_client c(host.port(), "too-large");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");

  // Binary: base64 of limit + 1 bytes (the frame itself is ~4/3 of that).
  c.ws.send_json({{"type", "send_message"},
                  {"content", b64(std::string(limit + 1, '\x07'))},
                  {"message_type", "binary"},
                  {"request_id", "big-bin"}});
  json e = next_event(c.ws);
  EXPECT_EQ(e["type"], "send_error") << e.dump().substr(0, 300);
  EXPECT_EQ(e["code"], "MESSAGE_TOO_LARGE");
  EXPECT_EQ(e["request_id"], "big-bin");
  EXPECT_TRUE(has_timestamp(e));

  // Text: limit + 1 characters of content.
  c.ws.send_json({{"type", "send_message"},
                  {"content", std::string(limit + 1, 't')},
                  {"request_id", "big-text"}});
  e = next_event(c.ws);
  EXPECT_EQ(e["type"], "send_error") << e.dump().substr(0, 300);
  EXPECT_EQ(e["code"], "MESSAGE_TOO_LARGE");
  EXPECT_EQ(e["request_id"], "big-text");

  // Nothing of them reached the upstream, and exactly the limit goes through both ways.
  const std::string exact(limit, '\x42');
  c.ws.send_json({{"type", "send_message"}, {"content", b64(exact)}, {"message_type", "binary"}});
  e = read_round_trip(c.ws).received;
  std::string decoded;
  ASSERT_TRUE(decode_base64(e.value("content", ""), decoded));
  EXPECT_EQ(decoded, exact);
  c.ws.send_json({{"type", "send_message"}, {"content", std::string(limit, 'y')}});
  EXPECT_EQ(c.ws.read_until("message_received")["content"], std::string(limit, 'y'));
  EXPECT_FALSE(c.ws.closed());
}

TEST(ProxyLimits, UpstreamFrameOverTheLimitClosesThatUpstreamOnly) {
  upstream_behaviour big;
  big.mode = upstream_behaviour::kind::push_large;
  big.push_bytes = limit + 1;
  test_upstream pusher(big);
  test_upstream echo;
  host_instance host(small_limit_config());
  proxy_client c(host.port(), "upstream-too-large");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url(), {{"connection_id", "fine"}})["status"], "connected");
  json e = open_upstream(c.ws, pusher.url(), {{"connection_id", "big"}});
  ASSERT_EQ(e["status"], "connected") << e.dump();
  e = next_event(c.ws);
  EXPECT_EQ(e["type"], "connection_error") << e.dump().substr(0, 300);
  EXPECT_EQ(e["code"], "MESSAGE_TOO_LARGE");
  EXPECT_EQ(e["connection_id"], "big");
  EXPECT_TRUE(has_timestamp(e));
  e = next_event(c.ws);
  EXPECT_EQ(e["type"], "connection_status");
  EXPECT_EQ(e["status"], "disconnected");
  EXPECT_EQ(e["close_code"], 1009);
  EXPECT_EQ(e["connection_id"], "big");
  EXPECT_TRUE(eventually([&] { return pusher.open_now() == 0; })) << "the upstream was closed";

  EXPECT_FALSE(c.ws.closed());
  c.ws.send_json({{"type", "send_message"}, {"content", "still alive"}, {"connection_id", "fine"}});
  EXPECT_EQ(c.ws.read_until("message_received")["content"], "still alive");
  EXPECT_TRUE(eventually([&] { return echo.open_now() == 1; })); // counted on its own thread
}

TEST(ProxyLimits, UpstreamFrameOfExactlyTheLimitIsDelivered) {
  upstream_behaviour big;
  big.mode = upstream_behaviour::kind::push_large;
  big.push_bytes = limit;
  test_upstream pusher(big);
  host_instance host(small_limit_config());
  proxy_client c(host.port(), "upstream-exact");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, pusher.url())["status"], "connected");
  json e = next_event(c.ws);
  EXPECT_EQ(e["type"], "message_received");
  EXPECT_EQ(e.value("content", "").size(), limit);
}
