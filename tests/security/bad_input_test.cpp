// Bad input (issue 5): hostile JSON, frames that are not text, upstream bytes that are not UTF-8,
// and handshake headers that would smuggle a second request. The host answers each with a
// documented error, stays up, and other sessions are unaffected.
#include "host_fixture.hpp"
#include "raw_socket.hpp"
#include "raw_upstream.hpp"
#include "security_helpers.hpp"
#include "test_client.hpp"
#include "test_upstream.hpp"

#include "protocol/envelope_codec.hpp"

#include <gtest/gtest.h>

#include <boost/asio/write.hpp>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

// A second, well-behaved client with an upstream: proves one client's garbage hurts no one else.
struct bystander {
  test_upstream echo;
  ws_client client;
  void start(std::uint16_t port) {
    ASSERT_TRUE(client.connect(port, "/api/websocket/connect/bystander"));
    client.send_json({{"type", "connect_external"}, {"url", echo.url()}});
    ASSERT_EQ(client.read_until("connection_status")["status"], "connecting");
    ASSERT_EQ(client.read_until("connection_status")["status"], "connected");
  }
  void still_served(const std::string &text) {
    client.send_json({{"type", "send_message"}, {"content", text}});
    EXPECT_EQ(client.read_until("message_received").value("content", ""), text);
  }
};

// The answer to one bad frame: a JSON error event; then the session still answers a good one.
json answer_and_still_alive(ws_client &c, const std::string &frame, const std::string &what) {
  c.send_text(frame);
  const auto raw = c.read(std::chrono::seconds(10));
  EXPECT_TRUE(raw.has_value()) << what << ": no answer (closed=" << c.closed() << ")";
  if (!raw)
    return json::value_t::discarded;
  const json answer = json::parse(*raw, nullptr, false);
  EXPECT_FALSE(answer.is_discarded()) << what << ": answer is not JSON: " << *raw;
  c.send_json({{"type", "send_message"}, {"content", "ping"}, {"request_id", "alive"}});
  const json alive = c.read_until("send_error");
  EXPECT_EQ(alive.value("code", ""), "NOT_CONNECTED") << what;
  EXPECT_EQ(alive.value("request_id", ""), "alive") << what;
  return answer;
}

} // namespace

TEST(BadInput, HostileJsonIsAnsweredAndTheSessionSurvives) {
  host_instance host;
  bystander other;
  other.start(host.port());
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/hostile"));

  const std::string deep_array = R"({"type":"send_message","content":"x","a":)" +
                                 std::string(100000, '[') + std::string(100000, ']') + "}";
  const std::string deep_object = std::string(50000, '{') + std::string(50000, '}');
  const std::string unterminated =
      R"({"type":"send_message","content":"x","a":)" + std::string(200000, '[');
  std::string many_keys = R"({"type":"send_message","content":"x")";
  for (int i = 0; i < 10000; ++i)
    many_keys += ",\"k" + std::to_string(i) + "\":" + std::to_string(i);
  many_keys += "}";
  std::string many_headers = R"({"type":"connect_external","url":"ws://127.0.0.1:9/","headers":{)";
  for (int i = 0; i < 10000; ++i)
    many_headers += (i ? "," : "") + std::string("\"X-H") + std::to_string(i) + "\":\"v\"";
  many_headers += "}}";

  enum expect { parse_error, valid_command, either };
  struct bad {
    std::string what, frame;
    expect outcome;
  };
  const std::vector<bad> frames = {
      {"deep array", deep_array, parse_error},
      {"deep object", deep_object, parse_error},
      {"unterminated nesting", unterminated, parse_error},
      {"huge exponent", R"({"type":"send_message","content":"x","n":1e999999})", parse_error},
      {"huge negative exponent", R"({"type":"send_message","content":"x","n":-1e999999})",
       parse_error},
      {"huge request_id number", R"({"type":"send_message","content":"x","request_id":1e400})",
       parse_error},
      {"5000-digit integer",
       R"({"type":"send_message","content":"x","n":)" + std::string(5000, '9') + "}", parse_error},
      {"30-digit integer",
       R"({"type":"send_message","content":"x","n":123456789012345678901234567890})",
       valid_command},
      {"lone high surrogate", R"({"type":"send_message","content":"\ud800"})", parse_error},
      {"lone low surrogate", R"({"type":"send_message","content":"a\udc00b"})", parse_error},
      {"reversed pair", R"({"type":"send_message","content":"\udc00\ud800"})", parse_error},
      {"surrogate in a key",
       R"({"type":"connect_external","url":"ws://127.0.0.1:9/","headers":{"\ud83d":"v"}})",
       parse_error},
      {"surrogate in the url", R"({"type":"connect_external","url":"ws://\udfff/"})", parse_error},
      {"10,000 keys", many_keys, valid_command},
      {"10,000 headers", many_headers, parse_error},
      {"NUL escape in type", R"({"type":"send_message\u0000","content":"x"})", parse_error},
      {"not an object", R"(["send_message"])", parse_error},
      {"empty", "", parse_error},
      {"just whitespace", "   \t\r\n ", parse_error},
      {"BOM", "\xEF\xBB\xBF{\"type\":\"send_message\",\"content\":\"x\"}", either},
      {"trailing garbage", R"({"type":"disconnect_external"} {})", parse_error},
  };
  for (const auto &b : frames) {
    const auto started = std::chrono::steady_clock::now();
    const json answer = answer_and_still_alive(c, b.frame, b.what);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5)) << b.what;
    if (b.outcome == parse_error) {
      EXPECT_EQ(answer.value("type", ""), "error") << b.what << ": " << answer.dump();
      EXPECT_EQ(answer.value("code", ""), "INVALID_FORMAT") << b.what;
      EXPECT_NE(answer.value("error", "").find("Invalid message format"), std::string::npos);
    } else if (b.outcome == valid_command) {
      // Valid commands: not connected yet, so a send_error, not a parse error.
      EXPECT_EQ(answer.value("type", ""), "send_error") << b.what << ": " << answer.dump();
      EXPECT_EQ(answer.value("code", ""), "NOT_CONNECTED") << b.what;
    }
  }
  other.still_served("after the hostile JSON");
}

TEST(BadInput, NonUtf8TextFrameIsClosedWith1007) {
  host_instance host;
  bystander other;
  other.start(host.port());
  for (const std::string &bytes : std::vector<std::string>{
           std::string("{\"type\":\"\xff\"}"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
           std::string("ok\xf4\x90\x80\x80"), std::string("\xe2\x82")}) {
    ws_client c;
    ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/utf8"));
    c.send_text(bytes);
    EXPECT_EQ(c.wait_closed(), 1007);
    ASSERT_TRUE(eventually([&] {
      return active_connections(host.port())["active_connections"] == json::array({"bystander"});
    }));
  }
  other.still_served("after the invalid UTF-8");
}

TEST(BadInput, BinaryFrameOnTheEnvelopeSocketGetsTheDocumentedError) {
  host_instance host;
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/binary"));
  c.send_binary(std::string("\x00\xff{\"type\":\"connect_external\"}", 28));
  const json e = c.read_json();
  EXPECT_EQ(e.value("type", ""), "error") << e.dump();
  EXPECT_EQ(e.value("code", ""), "INVALID_FORMAT");
  EXPECT_NE(e.value("error", "").find("binary frames are not accepted"), std::string::npos)
      << e.dump();
  EXPECT_FALSE(c.last_was_binary());
  // Even a binary frame holding a perfectly good command is refused, and the socket stays open.
  c.send_binary(R"({"type":"send_message","content":"x"})");
  EXPECT_EQ(c.read_json().value("code", ""), "INVALID_FORMAT");
  c.send_json({{"type", "disconnect_external"}});
  EXPECT_EQ(c.read_until("connection_status").value("status", ""), "disconnected");
}

TEST(BadInput, UpstreamBinaryAndNonUtf8TextBecomeValidJsonEvents) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i)
    all_bytes += static_cast<char>(i);
  scripted_upstream upstream([&](boost::asio::ip::tcp::socket &s) {
    boost::system::error_code ec;
    auto send = [&](int opcode, const std::string &payload) {
      boost::asio::write(s, boost::asio::buffer(scripted_upstream::frame(opcode, payload)), ec);
    };
    send(2, all_bytes);                                         // binary: every byte value
    send(2, std::string("\x00\x00\x00", 3));                    // binary: NULs
    send(1, "valid text \xe2\x82\xac");                         // text: fine
    send(1, std::string("bad \xff\xfe text \xed\xa0\x80", 16)); // text: not UTF-8
    send(1, "never relayed after a protocol failure");
    // Like any real server, answer the host's close frame by closing the connection.
    std::array<char, 256> in{};
    s.read_some(boost::asio::buffer(in), ec);
    s.shutdown(boost::asio::socket_base::shutdown_send, ec);
    while (!ec)
      s.read_some(boost::asio::buffer(in), ec);
  });
  host_instance host;
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/upstream-bytes"));
  c.send_json({{"type", "connect_external"}, {"url", upstream.url()}});

  std::vector<json> events;
  bool ended = false;
  while (!ended) {
    const auto raw = c.read(std::chrono::seconds(10));
    ASSERT_TRUE(raw.has_value()) << "events so far: " << events.size();
    const json e = json::parse(*raw, nullptr, false);
    ASSERT_FALSE(e.is_discarded()) << "not JSON: " << *raw;
    events.push_back(e);
    ended = e.value("type", "") == "connection_status" && e.value("status", "") == "disconnected";
  }
  std::vector<json> received;
  for (const auto &e : events)
    if (e.value("type", "") == "message_received")
      received.push_back(e);
  ASSERT_GE(received.size(), 3u);
  std::string decoded;
  EXPECT_EQ(received[0]["message_type"], "binary");
  ASSERT_TRUE(decode_base64(received[0]["content"].get<std::string>(), decoded));
  EXPECT_EQ(decoded, all_bytes);
  ASSERT_TRUE(decode_base64(received[1]["content"].get<std::string>(), decoded));
  EXPECT_EQ(decoded, std::string("\x00\x00\x00", 3));
  EXPECT_EQ(received[2]["content"], "valid text \xe2\x82\xac");
  // The invalid text fails the upstream (RFC 6455: 1007), reported as such; nothing after it is
  // relayed, and no invalid byte ever reaches the client.
  EXPECT_EQ(received.size(), 3u);
  const json last = events.back();
  EXPECT_EQ(last.value("close_code", 0), 1007) << last.dump();
  // The client session itself is unaffected.
  c.send_json({{"type", "disconnect_external"}, {"request_id", "after"}});
  EXPECT_EQ(c.read_until("connection_status").value("request_id", ""), "after");
}

TEST(BadInput, HandshakeHeadersThatCouldInjectAreRefusedBeforeAnyDial) {
  test_upstream echo;
  dial_recorder dials;
  host_options options;
  options.on_dial = dials.observer();
  host_instance host(test_config(), std::move(options));
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/headers"));

  json too_many = json::object();
  for (int i = 0; i < 65; ++i)
    too_many["X-H" + std::to_string(i)] = "v";
  const std::vector<std::pair<std::string, json>> cases = {
      {"CR LF in value", {{"X-Trace", "a\r\nX-Injected: 1"}}},
      {"LF in value", {{"X-Trace", "a\nGET / HTTP/1.1"}}},
      {"CR in value", {{"X-Trace", "a\rb"}}},
      {"NUL in value", {{"X-Trace", std::string("a\0b", 3)}}},
      {"other control in value", {{"X-Trace", "a\x01"}}},
      {"space in name", {{"X Trace", "v"}}},
      {"colon in name", {{"X-Trace:", "v"}}},
      {"separator in name", {{"X(Trace)", "v"}}},
      {"slash in name", {{"X/Trace", "v"}}},
      {"CR LF in name", {{"X-A\r\nX-B", "v"}}},
      {"empty name", {{"", "v"}}},
      {"over-long value", {{"X-Long", std::string(8 * 1024 + 1, 'v')}}},
      {"too many headers", too_many},
      {"Host", {{"Host", "evil.example"}}},
      {"Sec-WebSocket-Key", {{"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}}},
      {"Upgrade", {{"Upgrade", "h2c"}}},
      {"Connection", {{"Connection", "close"}}},
      {"Transfer-Encoding", {{"Transfer-Encoding", "chunked"}}},
      {"Content-Length", {{"Content-Length", "5"}}},
  };
  for (const auto &[what, headers] : cases) {
    c.send_json({{"type", "connect_external"},
                 {"url", echo.url()},
                 {"headers", headers},
                 {"request_id", what}});
    const json e = c.read_json(std::chrono::seconds(5));
    EXPECT_EQ(e.value("code", ""), "INVALID_FORMAT") << what << " -> " << e.dump();
    EXPECT_EQ(e.value("request_id", ""), what);
    // The refusal names the header, never repeats the value (it may be a secret).
    EXPECT_EQ(e.dump().find("X-Injected"), std::string::npos) << e.dump();
    const auto r = http_request(host.port(), "POST", "/api/websocket/test-connection",
                                {{"Content-Type", "application/json"}},
                                json{{"url", echo.url()}, {"headers", headers}}.dump(
                                    -1, ' ', false, json::error_handler_t::replace));
    EXPECT_EQ(r.json().value("code", ""), "INVALID_FORMAT") << what << " -> " << r.body;
  }
  for (const std::string &protocol :
       std::vector<std::string>{"a b", "chat\r\nX: y", "", "x,y;z", "\"q\""}) {
    c.send_json({{"type", "connect_external"},
                 {"url", echo.url()},
                 {"protocols", json::array({protocol})}});
    EXPECT_EQ(c.read_json(std::chrono::seconds(5)).value("code", ""), "INVALID_FORMAT")
        << "'" << protocol << "'";
  }
  EXPECT_TRUE(dials.dials().empty());
  EXPECT_EQ(echo.accepted(), 0u);
  // And a clean request still goes through.
  c.send_json(
      {{"type", "connect_external"}, {"url", echo.url()}, {"headers", {{"X-Trace", "t1"}}}});
  EXPECT_EQ(c.read_until("connection_status")["status"], "connecting");
  EXPECT_EQ(c.read_until("connection_status")["status"], "connected");
  EXPECT_EQ(echo.last_request_headers()["x-trace"], "t1");
}

TEST(BadInput, UpstreamThatIgnoresTheCloseAfterInvalidUtf8IsGivenUpAtTheKeepAliveDeadline) {
  scripted_upstream upstream([](boost::asio::ip::tcp::socket &s) {
    boost::system::error_code ec;
    boost::asio::write(s, boost::asio::buffer(scripted_upstream::frame(1, "\xff")), ec);
    std::array<char, 256> in{}; // reads everything, answers nothing
    while (!ec)
      s.read_some(boost::asio::buffer(in), ec);
  });
  host_config c = test_config();
  c.keepalive.idle_timeout = std::chrono::milliseconds(1000);
  host_instance host(c);
  ws_client client;
  ASSERT_TRUE(client.connect(host.port(), "/api/websocket/connect/ignored-close"));
  client.send_json({{"type", "connect_external"}, {"url", upstream.url()}});
  ASSERT_EQ(client.read_until("connection_status")["status"], "connecting");
  ASSERT_EQ(client.read_until("connection_status")["status"], "connected");
  const auto started = std::chrono::steady_clock::now();
  const json gone = client.read_until("connection_status", std::chrono::seconds(10));
  EXPECT_EQ(gone.value("status", ""), "disconnected") << gone.dump();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(4));
}
