// WebSocket frames from a hostile client (issue 5, "Frames"), hand-made on a raw socket: fragment
// floods counted across fragments (1009), a header declaring 2^62 bytes (closed without
// allocating), no permessage-deflate, and the RFC 6455 close code 1002 for protocol violations.
#include "host_fixture.hpp"
#include "raw_socket.hpp"
#include "raw_upstream.hpp"
#include "security_helpers.hpp"
#include "test_client.hpp"
#include "test_upstream.hpp"

#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <future>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr int op_continuation = 0, op_text = 1, op_binary = 2, op_close = 8, op_ping = 9;

// An upgraded raw connection on the proxy endpoint.
raw_socket open_raw(std::uint16_t port, const std::string &client_id) {
  raw_socket s(port);
  EXPECT_TRUE(s.connected());
  EXPECT_EQ(s.upgrade("/api/websocket/connect/" + client_id), 101) << s.head();
  return s;
}

// The host answers a command on `s` (proves the connection is alive after what came before).
void expect_alive(raw_socket &s) {
  ASSERT_TRUE(s.send(ws_frame(op_text, R"({"type":"disconnect_external","request_id":"alive"})")));
  const auto f = read_frame(s, 5s);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->opcode, op_text);
  EXPECT_NE(f->payload.find("\"alive\""), std::string::npos) << f->payload;
}

} // namespace

TEST(Frames, FragmentFloodIsCountedAcrossFragmentsAndClosedWith1009) {
  host_config c = test_config();
  c.limits.max_message_bytes = 64 * 1024;
  host_instance host(c);
  {
    // Fragments of a message well under the limit are fine.
    raw_socket s = open_raw(host.port(), "fragments-ok");
    s.send(ws_frame(op_text, R"({"type":"disconnect_external",)", false));
    for (int i = 0; i < 100; ++i)
      s.send(ws_frame(op_continuation, " ", false));
    s.send(ws_frame(op_continuation, R"("request_id":"alive"})", true));
    const auto f = read_frame(s, 5s);
    ASSERT_TRUE(f.has_value());
    EXPECT_NE(f->payload.find("\"alive\""), std::string::npos) << f->payload;
  }
  raw_socket s = open_raw(host.port(), "flood");
  s.send(ws_frame(op_text, std::string(1024, ' '), false));
  // 200 KiB in 1 KiB continuation frames, never a final one: each small, together over 64 KiB.
  const std::string fragment = ws_frame(op_continuation, std::string(1024, ' '), false);
  for (int i = 0; i < 200; ++i)
    if (!s.send(fragment, 2s))
      break; // the host may already have closed
  EXPECT_EQ(read_close_code(s, 5s), 1009);
  EXPECT_TRUE(s.wait_closed(5s));
  EXPECT_TRUE(eventually(
      [&] { return active_connections(host.port())["active_connections"] == json::array(); }));
}

TEST(Frames, FragmentFloodOfTinyFramesIsBoundedToo) {
  host_config c = test_config();
  c.limits.max_message_bytes = 4096;
  host_instance host(c);
  raw_socket s = open_raw(host.port(), "tiny-flood");
  s.send(ws_frame(op_binary, "x", false));
  std::string burst;
  for (int i = 0; i < 1000; ++i)
    burst += ws_frame(op_continuation, "abcdefgh", false);
  for (int round = 0; round < 10; ++round)
    if (!s.send(burst, 2s))
      break;
  EXPECT_EQ(read_close_code(s, 5s), 1009);
}

TEST(Frames, AFrameDeclaring2To62BytesIsClosedWithoutAllocating) {
  host_instance host;
  const std::size_t before = resident_bytes();
  for (const auto opcode : {op_text, op_binary, op_continuation}) {
    raw_socket s = open_raw(host.port(), "huge" + std::to_string(opcode));
    ASSERT_TRUE(s.send(ws_frame_header(opcode, std::uint64_t{1} << 62)));
    ASSERT_TRUE(s.send(std::string(100, 'x')));
    const int code = read_close_code(s, 5s);
    // A continuation with nothing to continue is a protocol error; the others are too big.
    EXPECT_EQ(code, opcode == op_continuation ? 1002 : 1009) << "opcode " << opcode;
  }
  {
    // The most significant bit of a 64-bit length must be 0 (RFC 6455 5.2).
    raw_socket s = open_raw(host.port(), "msb");
    ASSERT_TRUE(s.send(ws_frame_header(op_binary, std::uint64_t{1} << 63)));
    const int code = read_close_code(s, 5s);
    EXPECT_TRUE(code == 1002 || code == 1009) << code;
  }
  if (!sanitized) {
    EXPECT_LT(resident_bytes(), before + 16 * 1024 * 1024);
  }
  ws_client c;
  EXPECT_TRUE(c.connect(host.port(), "/api/websocket/connect/after"));
}

TEST(Frames, PermessageDeflateIsNeverNegotiated) {
  host_instance host;
  raw_socket s(host.port());
  ASSERT_EQ(s.upgrade("/api/websocket/connect/deflate",
                      {{"Sec-WebSocket-Extensions",
                        "permessage-deflate; client_max_window_bits, x-webkit-deflate-frame"}}),
            101);
  std::string lower = s.head();
  for (auto &ch : lower)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_EQ(lower.find("sec-websocket-extensions"), std::string::npos) << s.head();
  expect_alive(s);
  // So a "compressed" frame (RSV1) is a protocol violation, not something to inflate.
  ASSERT_TRUE(s.send(ws_frame(op_text, "\xf2\x48\xcd\xc9\xc9\x07\x00", true, true, 4)));
  EXPECT_EQ(read_close_code(s, 5s), 1002);
}

TEST(Frames, ProtocolViolationsAreClosedWith1002) {
  host_instance host;
  struct violation {
    std::string what, bytes;
  };
  const std::vector<violation> violations = {
      {"unmasked client frame",
       ws_frame(op_text, R"({"type":"disconnect_external"})", true, false)},
      {"RSV1 without an extension", ws_frame(op_text, "{}", true, true, 4)},
      {"RSV2", ws_frame(op_text, "{}", true, true, 2)},
      {"RSV3", ws_frame(op_binary, "x", true, true, 1)},
      {"reserved data opcode 3", ws_frame(3, "x")},
      {"reserved data opcode 7", ws_frame(7, "x")},
      {"reserved control opcode 0xB", ws_frame(0xB, "x")},
      {"continuation with nothing to continue", ws_frame(op_continuation, "x")},
      {"fragmented ping", ws_frame(op_ping, "x", false)},
      {"control frame over 125 bytes", ws_frame(op_ping, std::string(126, 'p'))},
      {"new message inside a fragmented one",
       ws_frame(op_text, "{", false) + ws_frame(op_text, "}", true)},
      {"close with a 1-byte payload", ws_frame(op_close, "\x03")},
      {"close with code 999", ws_frame(op_close, close_payload(999))},
      {"close with reserved code 1005", ws_frame(op_close, close_payload(1005))},
      {"close with reserved code 1006", ws_frame(op_close, close_payload(1006))},
      {"close with unassigned code 1004", ws_frame(op_close, close_payload(1004))},
      {"close with unassigned code 1016", ws_frame(op_close, close_payload(1016))},
      {"close with reserved code 2999", ws_frame(op_close, close_payload(2999))},
  };
  int n = 0;
  for (const auto &v : violations) {
    raw_socket s = open_raw(host.port(), "violation" + std::to_string(n++));
    ASSERT_TRUE(s.send(v.bytes)) << v.what;
    EXPECT_EQ(read_close_code(s, 5s), 1002) << v.what;
    EXPECT_TRUE(s.wait_closed(5s)) << v.what;
  }
  {
    // A close frame whose reason is not UTF-8: 1002 or 1007 (both are what RFC 6455 clients
    // accept, Autobahn case 7.5.1).
    raw_socket s = open_raw(host.port(), "close-reason");
    ASSERT_TRUE(s.send(ws_frame(op_close, close_payload(1000, "\xff\xfe"))));
    const int code = read_close_code(s, 5s);
    EXPECT_TRUE(code == 1002 || code == 1007) << code;
  }
  EXPECT_TRUE(eventually(
      [&] { return active_connections(host.port())["active_connections"] == json::array(); }));
  // Legitimate control frames in the middle of a fragmented message are fine.
  raw_socket s = open_raw(host.port(), "legit");
  s.send(ws_frame(op_text, R"({"type":"disconnect_external",)", false));
  s.send(ws_frame(op_ping, "p"));
  s.send(ws_frame(op_continuation, R"("request_id":"r"})", true));
  bool pong = false, answer = false;
  for (int i = 0; i < 2; ++i) {
    const auto f = read_frame(s, 5s);
    ASSERT_TRUE(f.has_value());
    pong |= f->opcode == 0xA && f->payload == "p";
    answer |= f->opcode == op_text && f->payload.find("\"r\"") != std::string::npos;
  }
  EXPECT_TRUE(pong);
  EXPECT_TRUE(answer);
}

// RFC 6455 7.4.2 allows no close code from 5000 up; Beast 1.81 accepts them and would echo one.
TEST(Frames, CloseCodeOf5000OrMoreFromAClientIsAnsweredWith1002) {
  host_instance host;
  for (const int code : {5000, 5001, 65535}) {
    raw_socket s = open_raw(host.port(), "close" + std::to_string(code));
    ASSERT_TRUE(s.send(ws_frame(op_close, close_payload(code, "bye"))));
    EXPECT_EQ(read_close_code(s, 5s), 1002) << code;
    EXPECT_TRUE(s.wait_closed(5s)) << code;
  }
  {
    // The code split across two sends (the host may read them apart or together).
    raw_socket s = open_raw(host.port(), "close-split");
    const std::string f = ws_frame(op_close, close_payload(5000));
    ASSERT_TRUE(s.send(f.substr(0, 7)));
    std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(s.send(f.substr(7)));
    EXPECT_EQ(read_close_code(s, 5s), 1002);
  }
  // Codes 3000-4999 are for applications: echoed as ever.
  raw_socket s = open_raw(host.port(), "close4999");
  ASSERT_TRUE(s.send(ws_frame(op_close, close_payload(4999))));
  EXPECT_EQ(read_close_code(s, 5s), 4999);
}

TEST(Frames, CloseCodeOf5000FromAnUpstreamIsAnsweredWith1002) {
  std::promise<int> answered;
  scripted_upstream upstream([&](boost::asio::ip::tcp::socket &s) {
    boost::system::error_code ec;
    boost::asio::write(
        s, boost::asio::buffer(scripted_upstream::frame(op_close, close_payload(5000, "bye"))), ec);
    // The host's answer, a masked client frame of at most 125 bytes: header, key, payload.
    unsigned char head[6];
    boost::asio::read(s, boost::asio::buffer(head), ec);
    std::string payload(head[1] & 0x7f, '\0');
    boost::asio::read(s, boost::asio::buffer(payload), ec);
    int code = 0;
    if (!ec && (head[0] & 0x0f) == op_close && payload.size() >= 2)
      code = ((static_cast<unsigned char>(payload[0]) ^ head[2]) << 8) |
             (static_cast<unsigned char>(payload[1]) ^ head[3]);
    answered.set_value(code);
  });
  host_instance host;
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/upstream-5000"));
  c.send_json({{"type", "connect_external"}, {"url", upstream.url()}});
  ASSERT_EQ(c.read_until("connection_status")["status"], "connecting");
  ASSERT_EQ(c.read_until("connection_status")["status"], "connected");
  auto code = answered.get_future();
  ASSERT_EQ(code.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(code.get(), 1002);
  const json gone = c.read_until("connection_status");
  EXPECT_EQ(gone.value("status", ""), "disconnected") << gone.dump();
  EXPECT_EQ(gone.value("close_code", 0), 1002) << gone.dump();
}

// The same from a wss:// upstream: under TLS the guard reads the decrypted stream
// (close_guarded_stream.hpp). Before it, Beast echoed the 5000 and the client was told so.
TEST(Frames, CloseCodeOf5000FromATlsUpstreamIsAnsweredWith1002) {
  upstream_behaviour b;
  b.mode = upstream_behaviour::kind::close_after_first;
  b.close_code = 5000;
  b.tls = true;
  test_upstream upstream(b);
  host_instance host;
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/tls-upstream-5000"));
  c.send_json({{"type", "connect_external"}, {"url", upstream.url()}});
  ASSERT_EQ(c.read_until("connection_status")["status"], "connecting");
  ASSERT_EQ(c.read_until("connection_status")["status"], "connected");
  c.send_json({{"type", "send_message"}, {"content", "hello"}});
  const json gone = c.read_until("connection_status");
  EXPECT_EQ(gone.value("status", ""), "disconnected") << gone.dump();
  EXPECT_EQ(gone.value("close_code", 0), 1002) << gone.dump();
}

// A client still sending a message over the limit when the host fails it with 1009 must be able
// to read that close: the host reads and discards what follows for a while (a lingering close)
// instead of closing on unread bytes, which would reset the connection under the close frame.
TEST(Frames, AClientStillSendingAnOversizedMessageReadsTheClose1009) {
  host_config c = test_config();
  c.limits.max_message_bytes = 512 * 1024; // a frame on the proxy socket: at most 1 MiB + 4 KiB
  host_instance host(c);
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    raw_socket s = open_raw(host.port(), "oversized" + std::to_string(round));
    const std::size_t size = 2 * 1024 * 1024;
    EXPECT_TRUE(s.send(ws_frame_header(op_binary, size) + std::string(size, 'x'), 10s));
    EXPECT_TRUE(s.send(std::string(512 * 1024, 'y'), 10s)) << "reset while still sending";
    EXPECT_EQ(read_close_code(s, 5s), 1009);
    s.close();
  }
}
