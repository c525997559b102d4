// send_message / message_sent / message_received / send_error and disconnects, through a real
// host and real upstream servers: text and binary (base64 both ways), request_id and
// connection_id echoes, several upstreams on one client, messages held while connecting, and the
// three ways an upstream goes away (asked to, closes with a code, drops).
#include "proxy_test_util.hpp"

#include "protocol/envelope_codec.hpp"

#include <gtest/gtest.h>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

std::string b64(std::string_view bytes) {
  std::string out;
  append_base64(out, bytes);
  return out;
}

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i)
    s.push_back(static_cast<char>(i));
  return s;
}

} // namespace

TEST(ProxyMessages, TextRoundTripEchoesContentOnMessageSentAndReceived) {
  test_upstream echo;
  host_instance host;
  proxy_client c(host.port(), "text");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  const std::string content = "héllo \"quoted\" \\ \n\t 🌍 {\"json\":true}";
  c.ws.send_json({{"type", "send_message"}, {"content", content}, {"message_type", "text"}});
  auto [sent, got] = read_round_trip(c.ws);
  EXPECT_EQ(sent["content"], content);
  EXPECT_EQ(sent["message_type"], "text");
  EXPECT_TRUE(has_timestamp(sent));
  EXPECT_EQ(got["content"], content);
  EXPECT_EQ(got["message_type"], "text");
  EXPECT_TRUE(has_timestamp(got));
  EXPECT_FALSE(got.contains("connection_id"));
  // Without message_type the default is text.
  c.ws.send_json({{"type", "send_message"}, {"content", "default"}});
  auto [sent2, got2] = read_round_trip(c.ws);
  EXPECT_EQ(sent2["message_type"], "text");
  EXPECT_EQ(got2["content"], "default");
}

TEST(ProxyMessages, BinaryRoundTripIsBase64BothWays) {
  test_upstream echo;
  host_instance host;
  proxy_client c(host.port(), "binary");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  const std::string payload = all_bytes();
  c.ws.send_json({{"type", "send_message"}, {"content", b64(payload)}, {"message_type", "binary"}});
  auto [sent, got] = read_round_trip(c.ws);
  EXPECT_EQ(sent["content"], b64(payload));
  EXPECT_EQ(sent["message_type"], "binary");
  EXPECT_EQ(got["message_type"], "binary") << "the echo server answered with a binary frame";
  std::string decoded;
  ASSERT_TRUE(decode_base64(got["content"].get<std::string>(), decoded));
  EXPECT_EQ(decoded, payload);
}

TEST(ProxyMessages, UpstreamBinaryFramesArriveAsBase64Binary) {
  upstream_behaviour b;
  b.binary_on_open = {std::string("\x00\xff\x10 bin", 7), "second"};
  test_upstream up(b);
  host_instance host;
  proxy_client c(host.port(), "upstream-binary");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, up.url())["status"], "connected");
  for (const auto &expected : b.binary_on_open) {
    json got = c.ws.read_until("message_received");
    EXPECT_EQ(got["message_type"], "binary") << got.dump();
    EXPECT_EQ(got["content"], b64(expected));
    EXPECT_TRUE(has_timestamp(got));
  }
}

TEST(ProxyMessages, SendWithoutUpstreamIsNotConnected) {
  host_instance host;
  proxy_client c(host.port(), "not-connected");
  ASSERT_TRUE(c.ok);
  c.ws.send_json({{"type", "send_message"}, {"content", "into the void"}, {"request_id", "s1"}});
  json e = next_event(c.ws);
  EXPECT_EQ(e["type"], "send_error");
  EXPECT_EQ(e["code"], "NOT_CONNECTED");
  EXPECT_EQ(e["request_id"], "s1");
  EXPECT_TRUE(e["error"].is_string());
  EXPECT_TRUE(has_timestamp(e));
  // A named connection that does not exist is not connected either.
  c.ws.send_json({{"type", "send_message"}, {"content", "x"}, {"connection_id", "ghost"}});
  e = next_event(c.ws);
  EXPECT_EQ(e["code"], "NOT_CONNECTED");
  EXPECT_EQ(e["connection_id"], "ghost");
}

TEST(ProxyMessages, SendAfterDisconnectIsNotConnected) {
  test_upstream echo;
  host_instance host;
  proxy_client c(host.port(), "after-disconnect");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  c.ws.send_json({{"type", "disconnect_external"}});
  ASSERT_EQ(next_event(c.ws)["status"], "disconnected");
  c.ws.send_json({{"type", "send_message"}, {"content", "late"}});
  EXPECT_EQ(next_event(c.ws)["code"], "NOT_CONNECTED");
}

TEST(ProxyMessages, RequestIdIsEchoedOnMessageSentSendErrorAndError) {
  test_upstream echo;
  host_instance host;
  proxy_client c(host.port(), "request-ids");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  c.ws.send_json({{"type", "send_message"}, {"content", "a"}, {"request_id", "req-a"}});
  json sent = c.ws.read_until("message_sent");
  EXPECT_EQ(sent["request_id"], "req-a");
  json got = c.ws.read_until("message_received");
  EXPECT_FALSE(got.contains("request_id")) << "an upstream message answers no command";
  c.ws.send_json({{"type", "send_message"},
                  {"content", "%%%"},
                  {"message_type", "binary"},
                  {"request_id", "req-b"}});
  json err = next_event(c.ws);
  EXPECT_EQ(err["type"], "send_error");
  EXPECT_EQ(err["request_id"], "req-b");
  c.ws.send_json({{"type", "frobnicate"}, {"request_id", "req-c"}});
  err = next_event(c.ws);
  EXPECT_EQ(err["type"], "error");
  EXPECT_EQ(err["request_id"], "req-c");
}

TEST(ProxyMessages, ConnectionIdRoutesEveryCommandAndEveryEvent) {
  test_upstream echo_a, echo_b, echo_default;
  upstream_behaviour pusher;
  pusher.binary_on_open = {"pushed"};
  test_upstream push(pusher);
  host_instance host;
  proxy_client c(host.port(), "multi");
  ASSERT_TRUE(c.ok);
  json e = open_upstream(c.ws, echo_a.url("/a"), {{"connection_id", "a"}});
  ASSERT_EQ(e["status"], "connected");
  EXPECT_EQ(e["connection_id"], "a");
  e = open_upstream(c.ws, echo_b.url("/b"), {{"connection_id", "b"}});
  ASSERT_EQ(e["status"], "connected");
  EXPECT_EQ(e["connection_id"], "b");
  e = open_upstream(c.ws, echo_default.url("/default"));
  ASSERT_EQ(e["status"], "connected");
  EXPECT_FALSE(e.contains("connection_id"));
  e = open_upstream(c.ws, push.url(), {{"connection_id", "p"}});
  ASSERT_EQ(e["status"], "connected");
  json pushed = c.ws.read_until("message_received");
  EXPECT_EQ(pushed["connection_id"], "p");
  EXPECT_EQ(pushed["content"], b64("pushed"));

  // Each message goes to the upstream it names, and its echo comes back tagged with that name.
  c.ws.send_json({{"type", "send_message"}, {"content", "to-a"}, {"connection_id", "a"}});
  c.ws.send_json({{"type", "send_message"}, {"content", "to-b"}, {"connection_id", "b"}});
  c.ws.send_json({{"type", "send_message"}, {"content", "to-default"}});
  std::map<std::string, std::string> sent_on, received_on;
  for (int i = 0; i < 6; ++i) {
    json ev = next_event(c.ws);
    const std::string cid = ev.value("connection_id", "<default>");
    if (ev["type"] == "message_sent")
      sent_on[ev["content"]] = cid;
    else if (ev["type"] == "message_received")
      received_on[ev["content"]] = cid;
    else
      ADD_FAILURE() << ev.dump();
  }
  const std::map<std::string, std::string> expected = {
      {"to-a", "a"}, {"to-b", "b"}, {"to-default", "<default>"}};
  EXPECT_EQ(sent_on, expected);
  EXPECT_EQ(received_on, expected);

  // Disconnecting one leaves the others working.
  c.ws.send_json({{"type", "disconnect_external"}, {"connection_id", "a"}, {"request_id", "d-a"}});
  e = next_event(c.ws);
  EXPECT_EQ(e["status"], "disconnected");
  EXPECT_EQ(e["connection_id"], "a");
  EXPECT_EQ(e["request_id"], "d-a");
  EXPECT_EQ(e["close_code"], 1000);
  EXPECT_TRUE(eventually([&] { return echo_a.open_now() == 0; }));
  EXPECT_TRUE(eventually([&] { return echo_b.open_now() == 1; }));
  c.ws.send_json({{"type", "send_message"}, {"content", "x"}, {"connection_id", "a"}});
  e = next_event(c.ws);
  EXPECT_EQ(e["code"], "NOT_CONNECTED");
  EXPECT_EQ(e["connection_id"], "a");
  c.ws.send_json({{"type", "send_message"}, {"content", "still-b"}, {"connection_id", "b"}});
  e = read_round_trip(c.ws).received;
  EXPECT_EQ(e["content"], "still-b");
  EXPECT_EQ(e["connection_id"], "b");

  // An upstream that closes on its own reports with its connection_id too.
  upstream_behaviour closer;
  closer.mode = upstream_behaviour::kind::close_after_first;
  closer.close_code = 4321;
  closer.close_reason = "done with you";
  test_upstream closing(closer);
  ASSERT_EQ(open_upstream(c.ws, closing.url(), {{"connection_id", "z"}})["connection_id"], "z");
  c.ws.send_json({{"type", "send_message"}, {"content", "trigger"}, {"connection_id", "z"}});
  json status = c.ws.read_until("connection_status");
  EXPECT_EQ(status["status"], "disconnected");
  EXPECT_EQ(status["connection_id"], "z");
  EXPECT_EQ(status["close_code"], 4321);
}

TEST(ProxyMessages, MessagesSentWhileConnectingAreDeliveredInOrder) {
  upstream_behaviour b;
  b.tls = true; // a TLS handshake makes the connecting window wider
  test_upstream echo(b);
  host_instance host;
  proxy_client c(host.port(), "held");
  ASSERT_TRUE(c.ok);
  c.ws.send_json({{"type", "connect_external"}, {"url", echo.url()}});
  constexpr int n = 20;
  for (int i = 0; i < n; ++i)
    c.ws.send_json({{"type", "send_message"},
                    {"content", "m" + std::to_string(i)},
                    {"request_id", std::to_string(i)}});
  std::vector<std::string> statuses, sent, received;
  while (received.size() < n) {
    json e = next_event(c.ws);
    ASSERT_TRUE(e.is_object()) << "after " << received.size() << " echoes";
    if (e["type"] == "connection_status") {
      statuses.push_back(e["status"]);
      EXPECT_TRUE(sent.empty()) << "a message_sent came before connected";
    } else if (e["type"] == "message_sent") {
      sent.push_back(e["content"]);
      EXPECT_EQ(e["request_id"], std::to_string(sent.size() - 1));
    } else if (e["type"] == "message_received") {
      received.push_back(e["content"]);
    } else {
      FAIL() << e.dump();
    }
  }
  std::vector<std::string> expected;
  for (int i = 0; i < n; ++i)
    expected.push_back("m" + std::to_string(i));
  EXPECT_EQ(statuses, (std::vector<std::string>{"connecting", "connected"}));
  EXPECT_EQ(sent, expected);
  EXPECT_EQ(received, expected);
}

TEST(ProxyMessages, MessagesHeldForAFailedConnectGetNotConnectedAfterTheConnectAnswer) {
  upstream_behaviour b;
  b.mode = upstream_behaviour::kind::silent;
  test_upstream silent(b);
  host_config cfg = test_config();
  cfg.limits.connect_timeout = std::chrono::milliseconds(300);
  host_instance host(cfg);
  proxy_client c(host.port(), "held-fail");
  ASSERT_TRUE(c.ok);
  c.ws.send_json({{"type", "connect_external"}, {"url", silent.url()}, {"request_id", "conn"}});
  for (int i = 0; i < 3; ++i)
    c.ws.send_json({{"type", "send_message"},
                    {"content", "h" + std::to_string(i)},
                    {"request_id", "h" + std::to_string(i)}});
  std::vector<std::string> seen;
  for (int i = 0; i < 6; ++i) {
    json e = next_event(c.ws);
    ASSERT_TRUE(e.is_object());
    std::string what = e["type"].get<std::string>();
    if (e.contains("status"))
      what += ":" + e["status"].get<std::string>();
    if (e.contains("code"))
      what += ":" + e["code"].get<std::string>();
    what += "@" + e.value("request_id", "");
    seen.push_back(what);
  }
  // The connect's own answer first (it was the first command), then one send_error per held
  // message, in the order they were sent.
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "connection_status:connecting@conn", "connection_error:TIMEOUT@conn",
                      "connection_status:error@conn", "send_error:NOT_CONNECTED@h0",
                      "send_error:NOT_CONNECTED@h1", "send_error:NOT_CONNECTED@h2"}));
}

TEST(ProxyMessages, CommandsTakeEffectInTheOrderSent) {
  test_upstream echo;
  host_instance host;
  proxy_client c(host.port(), "ordered");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  // Sent back to back without waiting: both messages go out before the close, and a new connect
  // after the disconnect opens a fresh upstream that carries the next message.
  c.ws.send_json({{"type", "send_message"}, {"content", "one"}});
  c.ws.send_json({{"type", "send_message"}, {"content", "two"}});
  c.ws.send_json({{"type", "disconnect_external"}});
  c.ws.send_json({{"type", "send_message"}, {"content", "refused"}});
  std::vector<std::string> seen;
  while (seen.empty() || seen.back() != "connection_status:disconnected") {
    json e = next_event(c.ws);
    ASSERT_TRUE(e.is_object()) << "after " << json(seen).dump();
    std::string what = e["type"].get<std::string>() + ":" +
                       e.value("status", e.value("content", e.value("code", "")));
    if (e["type"] == "message_received")
      continue; // echoes may or may not beat the close
    seen.push_back(what);
  }
  // "refused" was sent after the disconnect: NOT_CONNECTED, but it may be answered before the
  // close completes; the two messages before it were handed to the upstream first.
  std::vector<std::string> without_refusal;
  bool refused = false;
  for (const auto &s : seen) {
    if (s == "send_error:NOT_CONNECTED")
      refused = true;
    else
      without_refusal.push_back(s);
  }
  if (!refused) {
    EXPECT_EQ(next_event(c.ws)["code"], "NOT_CONNECTED");
  }
  EXPECT_EQ(without_refusal, (std::vector<std::string>{"message_sent:one", "message_sent:two",
                                                       "connection_status:disconnected"}));
}

TEST(ProxyMessages, DisconnectWhileConnectingWaitsForTheHeldMessages) {
  // The spec's JavaScript example sends connect_external, send_message and disconnect_external
  // back to back: the message was sent before the disconnect, so it reaches the upstream first.
  upstream_behaviour b;
  b.tls = true; // a TLS handshake keeps the upstream connecting while the commands arrive
  test_upstream echo(b);
  host_instance host;
  proxy_client c(host.port(), "js-flow");
  ASSERT_TRUE(c.ok);
  c.ws.send_json({{"type", "connect_external"}, {"url", echo.url()}});
  c.ws.send_json({{"type", "send_message"}, {"content", "Hello World!"}});
  c.ws.send_json({{"type", "disconnect_external"}, {"request_id", "bye"}});
  c.ws.send_json({{"type", "send_message"}, {"content", "too late"}});
  std::vector<std::string> seen;
  int refusals = 0;
  while (seen.empty() || seen.back().rfind("connection_status:disconnected", 0) != 0) {
    json e = next_event(c.ws);
    ASSERT_TRUE(e.is_object()) << "after " << json(seen).dump();
    if (e["type"] == "message_received")
      continue;                      // the echo may or may not beat the close
    if (e["type"] == "send_error") { // "too late": answered when it arrives
      EXPECT_EQ(e["code"], "NOT_CONNECTED");
      refusals++;
      continue;
    }
    seen.push_back(e["type"].get<std::string>() + ":" +
                   e.value("status", e.value("content", e.value("code", ""))) + "@" +
                   e.value("request_id", ""));
  }
  // Normally refused before the upstream even opens; a test thread descheduled between its
  // sends can deliver "too late" after the whole close, and then it is refused after it.
  if (refusals == 0) {
    const json late = next_event(c.ws);
    EXPECT_EQ(late["type"], "send_error") << late.dump();
    EXPECT_EQ(late["code"], "NOT_CONNECTED") << late.dump();
    refusals++;
  }
  EXPECT_EQ(refusals, 1);
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "connection_status:connecting@", "connection_status:connected@",
                      "message_sent:Hello World!@", "connection_status:disconnected@bye"}));
  EXPECT_TRUE(eventually([&] { return echo.received_count() >= 1; }));
}

// ---- disconnects ----

TEST(ProxyMessages, DisconnectExternalClosesWith1000) {
  test_upstream echo;
  host_instance host;
  proxy_client c(host.port(), "disconnect");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  ASSERT_TRUE(eventually([&] { return echo.open_now() == 1; }));
  c.ws.send_json({{"type", "disconnect_external"}});
  json e = next_event(c.ws);
  EXPECT_EQ(e["type"], "connection_status");
  EXPECT_EQ(e["status"], "disconnected");
  EXPECT_EQ(e["close_code"], 1000);
  EXPECT_TRUE(has_timestamp(e));
  EXPECT_TRUE(eventually([&] { return echo.open_now() == 0; }));
  // Disconnecting again is harmless, and the client can connect anew.
  c.ws.send_json({{"type", "disconnect_external"}});
  EXPECT_EQ(next_event(c.ws)["status"], "disconnected");
  EXPECT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
}

TEST(ProxyMessages, UpstreamCloseReportsItsCodeAndReason) {
  upstream_behaviour b;
  b.mode = upstream_behaviour::kind::close_after_first;
  b.close_code = 4000;
  b.close_reason = "bye";
  test_upstream up(b);
  host_instance host;
  proxy_client c(host.port(), "upstream-closes");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, up.url())["status"], "connected");
  c.ws.send_json({{"type", "send_message"}, {"content", "first"}});
  json e = c.ws.read_until("connection_status");
  EXPECT_EQ(e["status"], "disconnected");
  EXPECT_EQ(e["close_code"], 4000);
  EXPECT_EQ(e["close_reason"], "bye");
  EXPECT_TRUE(has_timestamp(e));
  EXPECT_TRUE(eventually([&] { return up.open_now() == 0; }));
  EXPECT_FALSE(c.ws.closed()) << "the client socket outlives its upstream";
  c.ws.send_json({{"type", "send_message"}, {"content", "late"}});
  EXPECT_EQ(c.ws.read_until("send_error")["code"], "NOT_CONNECTED");
}

TEST(ProxyMessages, UpstreamThatDropsIsDisconnected1006) {
  upstream_behaviour b;
  b.mode = upstream_behaviour::kind::reset_after_first;
  test_upstream up(b);
  host_instance host;
  proxy_client c(host.port(), "upstream-drops");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, up.url())["status"], "connected");
  c.ws.send_json({{"type", "send_message"}, {"content", "first"}});
  json e = c.ws.read_until("connection_status");
  EXPECT_EQ(e["status"], "disconnected");
  EXPECT_EQ(e["close_code"], 1006);
  EXPECT_FALSE(c.ws.closed());
  EXPECT_TRUE(eventually([&] {
    return active_connections(host.port()) ==
           json::parse(R"({"active_connections":["upstream-drops"],"external_connections":[]})");
  }));
}
