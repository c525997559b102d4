// Dead and stuck peers while flow control pauses reads (issue 14, item 2). A paused read cannot
// see a pong, so before the fix a paused peer counted as alive for ever:
//  - a client whose upstream does not read, and which then resets, stayed in
//    active-connections (its client_id refused with 409) while the upstream kept talking;
//  - an upstream that does not read, once its client was closed, kept its connection and its
//    queued megabytes (detached, but its close waited behind a write that never completed);
//  - the write stall timeout ran only past the client queue's high watermark;
//  - a client that froze (no FIN, no reset, no pong) while paused stayed until the upstream's
//    write stall deadline, and an idle timeout after it.
#include "host_fixture.hpp"
#include "proxy/keepalive.hpp"
#include "raw_socket.hpp"
#include "raw_upstream.hpp"
#include "security_helpers.hpp"
#include "test_client.hpp"
#include "test_upstream.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// An upstream that never reads a byte after the handshake. Until told to flood it sends a small
// frame every 100 ms (so the host's keep-alive hears it); then 64 KiB frames as fast as the host
// takes them. It notes when the host has closed the connection (a write fails).
class deaf_upstream {
public:
  deaf_upstream()
      : server_([this](boost::asio::ip::tcp::socket &s) {
          const std::string tick = scripted_upstream::frame(1, "tick");
          const std::string big = scripted_upstream::frame(2, std::string(64 * 1024, 'f'));
          boost::system::error_code ec;
          while (!ec) {
            if (flood_) {
              boost::asio::write(s, boost::asio::buffer(big), ec);
            } else {
              boost::asio::write(s, boost::asio::buffer(tick), ec);
              std::this_thread::sleep_for(100ms);
            }
          }
          closed_ = true;
        }) {}

  std::string url() const { return server_.url(); }
  void flood() { flood_ = true; }
  bool closed_by_host() const { return closed_; }

private:
  std::atomic<bool> flood_{false};
  std::atomic<bool> closed_{false};
  scripted_upstream server_; // last: its threads stop before the flags go
};

host_config config(std::chrono::milliseconds idle, std::chrono::milliseconds stall) {
  host_config c = test_config();
  c.keepalive.idle_timeout = idle;
  c.limits.write_stall_timeout = stall;
  return c;
}

// Upgrades `client` and opens `upstream_url` through it.
void open_upstream(raw_socket &client, const std::string &client_id,
                   const std::string &upstream_url) {
  ASSERT_EQ(client.upgrade("/api/websocket/connect/" + client_id), 101) << client.head();
  ASSERT_TRUE(
      client.send(ws_frame(1, json{{"type", "connect_external"}, {"url", upstream_url}}.dump())));
  bool connected = false;
  while (!connected) {
    const auto f = read_frame(client, 10s);
    ASSERT_TRUE(f.has_value()) << "no connected status";
    connected = f->payload.find("\"connected\"") != std::string::npos;
  }
}

// open_upstream, then sends to it until the host stops reading the client (the upstream reads
// nothing, so its queue goes over the high watermark).
void fill_until_paused(raw_socket &client, const std::string &client_id,
                       const std::string &upstream_url) {
  ASSERT_NO_FATAL_FAILURE(open_upstream(client, client_id, upstream_url));
  const std::string frame =
      ws_frame(1, json{{"type", "send_message"}, {"content", std::string(60 * 1024, 'w')}}.dump());
  std::size_t sent = 0;
  while (client.send(frame, 2s)) {
    sent += frame.size();
    ASSERT_LT(sent, 512u * 1024 * 1024) << "the host never stopped reading the client";
  }
}

bool client_id_free(std::uint16_t port, const std::string &client_id) {
  ws_client again;
  return again.connect(port, "/api/websocket/connect/" + client_id);
}

} // namespace

// (a) With idle_timeout 2 s the host looks at a paused client every second: a reset is seen at
// the next look (or at once, when a write to it fails). Before, the session stayed, and its
// client_id was refused with 409, for as long as the upstream kept talking.
TEST(DeadPeer, PausedClientThatResetsLeavesAndItsClientIdIsFreeAgain) {
  deaf_upstream upstream;
  host_instance host(config(2s, 60s));
  raw_socket client(host.port());
  ASSERT_NO_FATAL_FAILURE(fill_until_paused(client, "paused-reset", upstream.url()));
  ASSERT_EQ(active_connections(host.port())["active_connections"], json::array({"paused-reset"}));
  client.reset();
  EXPECT_TRUE(eventually(
      [&] { return active_connections(host.port())["active_connections"] == json::array(); }, 10s))
      << "a client that reset while its reads were paused is still active";
  EXPECT_TRUE(client_id_free(host.port(), "paused-reset"));
}

// What the keep-alive tick looks at: a FIN is seen even behind data nobody read, and so is a
// reset; a peer that is merely quiet is not mistaken for gone, and the socket's clock counts its
// silence from the last bytes that arrived, read or not. (A FIN can only arrive once the host
// has taken what was sent before it: a client that fills a paused socket and then half-closes is
// found by that clock.)
TEST(DeadPeer, LookAtPeerSeesAFinBehindUnreadDataAResetAndHowLongThePeerWasSilent) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto accept_one = [&](raw_socket &peer) {
    worker_socket s(ioc.get_executor());
    acceptor.accept(s);
    EXPECT_TRUE(peer.connected());
    return s;
  };
  raw_socket quiet(acceptor.local_endpoint().port());
  worker_socket quiet_side = accept_one(quiet);
  ASSERT_TRUE(quiet.send("unread bytes"));
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(look_at_peer(quiet_side).hung_up);
  std::this_thread::sleep_for(400ms);
  EXPECT_GE(look_at_peer(quiet_side).since_data, 400ms) << "unread bytes are not new bytes";
  ASSERT_TRUE(quiet.send("more, still unread"));
  EXPECT_TRUE(eventually([&] { return look_at_peer(quiet_side).since_data < 200ms; }, 2s))
      << "bytes that arrived count whether or not anyone read them";

  raw_socket fin(acceptor.local_endpoint().port());
  worker_socket fin_side = accept_one(fin);
  ASSERT_TRUE(fin.send("unread bytes"));
  ASSERT_EQ(::shutdown(fin.native_handle(), SHUT_WR), 0);
  EXPECT_TRUE(eventually([&] { return look_at_peer(fin_side).hung_up; }, 5s));

  raw_socket rst(acceptor.local_endpoint().port());
  worker_socket rst_side = accept_one(rst);
  rst.reset();
  EXPECT_TRUE(eventually([&] { return look_at_peer(rst_side).hung_up; }, 5s));
}

// (a) A client that freezes -- sends nothing, answers no ping, its socket left open -- while its
// reads are paused behind an upstream that reads nothing. Before, a paused tick counted as
// heard: the session stayed until the upstream's write stall deadline (here 60 s) ended the
// upstream, and then for an idle timeout more, because the bytes read once the pause lifted
// looked new. Now the socket's clock says the client has been silent, nothing moves on the
// upstream either, so the keep-alive drops it like any silent peer: 1 to 1.5 x idle_timeout.
TEST(DeadPeer, ClientFrozenWhileItsUpstreamReadsNothingIsDroppedWithinTheIdleTimeout) {
  deaf_upstream upstream;
  host_instance host(config(2s, 60s));
  raw_socket client(host.port());
  ASSERT_NO_FATAL_FAILURE(fill_until_paused(client, "frozen", upstream.url()));
  const auto frozen_at = std::chrono::steady_clock::now();
  // fill_until_paused ended with a send that waited 2 s: the client was silent that long already.
  ASSERT_TRUE(eventually(
      [&] { return active_connections(host.port())["active_connections"] == json::array(); }, 10s))
      << "a frozen client with paused reads is still active";
  EXPECT_LT(std::chrono::steady_clock::now() - frozen_at, 5s);
  EXPECT_TRUE(client_id_free(host.port(), "frozen"));
  EXPECT_TRUE(eventually([&] { return upstream.closed_by_host(); }, 20s))
      << "its upstream (detached, a write parked) was never cut off";
}

// The other side of the same rule: a client whose reads are paused behind an upstream that reads
// slowly cannot send either (its window fills), so the socket's clock alone would call it silent;
// the upstream takes bytes (its TCP stack acknowledges them), so it is not judged, and nothing is
// lost.
TEST(DeadPeer, ClientPausedBehindASlowUpstreamIsNotMistakenForDead) {
  std::atomic<std::size_t> upstream_read{0};
  // Reads 64 KiB every 50 ms, and says "tick" as often so that its own keep-alive hears it.
  scripted_upstream slow([&](boost::asio::ip::tcp::socket &s) {
    const std::string tick = scripted_upstream::frame(1, "tick");
    std::vector<char> buf(64 * 1024);
    boost::system::error_code ec;
    while (!ec) {
      upstream_read += s.read_some(boost::asio::buffer(buf), ec);
      if (!ec)
        boost::asio::write(s, boost::asio::buffer(tick), ec);
      std::this_thread::sleep_for(50ms);
    }
  });
  host_config c = config(1s, 60s);
  c.limits.max_outbound_queue_bytes = 512u * 1024;
  host_instance host(c);
  raw_socket client(host.port());
  ASSERT_NO_FATAL_FAILURE(open_upstream(client, "slow-path", slow.url()));
  // Pushes far faster than the upstream reads, for 4 idle timeouts: the host pauses the client
  // and resumes it over and over. It takes what the host sends (message_sent, which carries the
  // content) but answers no ping: only its bytes arriving, or the upstream's writes moving, keep
  // it.
  std::thread drain([fd = client.native_handle()] {
    std::vector<char> buf(64 * 1024);
    while (::recv(fd, buf.data(), buf.size(), 0) > 0) {
    }
  });
  const std::string frame =
      ws_frame(1, json{{"type", "send_message"}, {"content", std::string(60 * 1024, 's')}}.dump());
  const auto until = std::chrono::steady_clock::now() + 4s;
  std::size_t sent = 0;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_TRUE(client.send(frame, 5s)) << "the host stopped taking the client's frames";
    sent += frame.size();
  }
  EXPECT_EQ(active_connections(host.port())["active_connections"], json::array({"slow-path"}))
      << "a client paused behind a moving upstream was dropped as dead";
  ::shutdown(client.native_handle(), SHUT_RDWR);
  drain.join();
  EXPECT_GT(upstream_read.load(), 1024u * 1024);
  // Kernel buffers on the way hold some 20 MiB at most: the rest waited for the upstream.
  EXPECT_LT(sent, upstream_read.load() + 32u * 1024 * 1024) << "the client was never paused";
}

// (b) The upstream reads nothing and floods the client, which reads nothing either: the client
// is closed for its write stall, and the upstream, whose write to it waits for ever, is closed
// too (by its own write stall deadline or as a detached connection, whichever comes first).
TEST(DeadPeer, UpstreamThatNeverReadsIsClosedOnceItsClientStalled) {
  deaf_upstream upstream;
  // Long enough that the upstream's own stall deadline does not end it before the client is
  // paused (the host would then read the client again, and answer its sends with errors).
  host_instance host(config(60s, 5s));
  raw_socket client(host.port());
  ASSERT_NO_FATAL_FAILURE(fill_until_paused(client, "stalled", upstream.url()));
  upstream.flood();
  EXPECT_TRUE(eventually(
      [&] { return active_connections(host.port())["active_connections"] == json::array(); }, 15s));
  EXPECT_TRUE(eventually([&] { return upstream.closed_by_host(); }, 15s))
      << "the host kept its connection to an upstream that never reads";
  EXPECT_TRUE(client_id_free(host.port(), "stalled"));
}

// (b) With a long write stall timeout, only the grace period of a detached upstream ends it:
// its client resets, the session goes, and the upstream, whose write waits behind a full
// socket, is cut off 5 s later (the upstream close timeout).
TEST(DeadPeer, DetachedUpstreamWithAWriteThatNeverCompletesIsCutOffAfterTheGracePeriod) {
  deaf_upstream upstream;
  host_instance host(config(2s, 600s));
  raw_socket client(host.port());
  ASSERT_NO_FATAL_FAILURE(fill_until_paused(client, "detached", upstream.url()));
  client.reset();
  ASSERT_TRUE(eventually(
      [&] { return active_connections(host.port())["active_connections"] == json::array(); }, 10s));
  EXPECT_TRUE(eventually([&] { return upstream.closed_by_host(); }, 20s))
      << "a detached upstream with a write in flight was never closed";
}

// The stall deadline runs whenever data waits for the client, not only past the high watermark:
// with a queue bound far above what is sent, a client that reads nothing is still closed.
TEST(DeadPeer, WriteStallTimeoutRunsBelowTheHighWatermark) {
  upstream_behaviour pump;
  pump.mode = upstream_behaviour::kind::pump;
  pump.push_bytes = 24u * 1024 * 1024;
  test_upstream upstream(pump);
  host_config c = config(60s, 1s);
  c.limits.max_outbound_queue_bytes = 256u * 1024 * 1024;
  host_instance host(c);
  ws_client reader_of_nothing;
  ASSERT_TRUE(reader_of_nothing.connect(host.port(), "/api/websocket/connect/below-high"));
  reader_of_nothing.send_json({{"type", "connect_external"}, {"url", upstream.url()}});
  EXPECT_TRUE(eventually(
      [&] {
        return host.log_contains("write stall timeout") &&
               active_connections(host.port())["active_connections"] == json::array();
      },
      20s))
      << "a client reading nothing, its queue under the high watermark, was never closed";
}

// A client the host closed may go on sending instead of answering the close. Before the bound,
// the host read and discarded whatever came until the closing deadline (here 60 s): a worker
// busy for as long as the client liked -- the soak's clients that never read kept one and a half
// cores busy that way, closed as slow consumers. Now the host reads a bounded amount after its
// close frame (coalescing_socket::closing_read_bytes, 4 MiB) and then cuts the connection.
TEST(DeadPeer, ClientThatGoesOnSendingAfterTheHostsCloseIsCutOffAfterABoundedAmount) {
  host_config c = test_config();
  c.plugins = {make_plugin(
      "rate_limiter", json{{"limits", json::array({json{{"messages", 2}, {"window", "60s"}}})}})};
  c.limits.http_header_timeout = 60s; // the closing handshake's deadline
  host_instance host(c);

  raw_socket client(host.port());
  ASSERT_EQ(client.upgrade("/api/websocket/connect/pushy"), 101) << client.head();
  for (int i = 0; i < 3; ++i) // the third is over the limit: error RATE_LIMITED, close 1008
    ASSERT_TRUE(client.send(ws_frame(1, json{{"type", "ping"}}.dump())));
  ASSERT_EQ(read_close_code(client, 10s), 1008);

  // No close in answer: 64 KiB frames until the host cuts the connection (a send fails).
  // Kernel buffers on both sides hold a few MiB beyond what the host reads.
  const std::string frame = ws_frame(2, std::string(64 * 1024, 'p'));
  constexpr std::size_t give_up_after = 512u * 1024 * 1024;
  const auto started = std::chrono::steady_clock::now();
  std::size_t sent = 0;
  while (sent < give_up_after && client.send(frame, 10s))
    sent += frame.size();
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(sent, 32u * 1024 * 1024)
      << "the host read " << sent / (1024 * 1024) << " MiB after closing the client";
  EXPECT_LT(took, 9s) << "the connection was not cut: the send timed out after " << sent
                      << " bytes";
  EXPECT_TRUE(eventually([&] { return host.server().context().directory.size() == 0; }, 5s));
}
