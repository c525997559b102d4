// coalescing_socket on real loopback sockets: a burst of writes leaves in one send, Beast's
// WebSocket runs over it (control frames in order, the close frame delivered before teardown),
// a peer that stops reading holds the writer back, a reset fails later writes, and the owner may
// go away with a send in flight.
#include "proxy/coalescing_socket.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using apistudio::coalescing_socket;
using apistudio::worker_socket;
using error_code = beast::error_code;
using tcp = net::ip::tcp;

struct socket_pair {
  worker_socket near; // the side under test
  worker_socket far;  // the peer
};

socket_pair connected_pair(net::io_context &ioc) {
  tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"), 0});
  worker_socket far(ioc.get_executor());
  far.connect(acceptor.local_endpoint());
  worker_socket near(ioc.get_executor());
  acceptor.accept(near);
  return {std::move(near), std::move(far)};
}

std::string read_exactly(worker_socket &s, std::size_t n) {
  std::string out(n, '\0');
  net::read(s, net::buffer(out));
  return out;
}

TEST(CoalescingSocket, ABurstOfChainedWritesLeavesInOneSend) {
  net::io_context ioc;
  auto [near, far] = connected_pair(ioc);
  coalescing_socket cs(std::move(near));
  std::string expected;
  int left = 50;
  std::function<void()> write_next = [&] {
    auto piece = std::make_shared<std::string>("frame " + std::to_string(left) + ";");
    expected += *piece;
    cs.async_write_some(net::buffer(*piece), [&, piece](error_code ec, std::size_t n) {
      ASSERT_FALSE(ec) << ec.message();
      EXPECT_EQ(n, piece->size());
      if (--left > 0)
        write_next(); // the next write from inside the completion: one burst
    });
  };
  write_next();
  ioc.run();
  EXPECT_EQ(left, 0);
  EXPECT_EQ(cs.sends_started(), 1u) << "50 chained writes should leave in one send";
  EXPECT_EQ(read_exactly(far, expected.size()), expected);
  EXPECT_EQ(cs.pending_bytes(), 0u);
}

TEST(CoalescingSocket, WritesFromSeparateHandlersAreSentWithoutWaitingForMore) {
  net::io_context ioc;
  auto [near, far] = connected_pair(ioc);
  coalescing_socket cs(std::move(near));
  const std::string first = "first;", second = "second;";
  cs.async_write_some(net::buffer(first), [](error_code ec, std::size_t) { ASSERT_FALSE(ec); });
  ioc.run();
  // Nothing else was written: the burst ended and the bytes left without a flush call.
  EXPECT_EQ(read_exactly(far, first.size()), first);
  ioc.restart();
  cs.async_write_some(net::buffer(second), [](error_code ec, std::size_t) { ASSERT_FALSE(ec); });
  ioc.run();
  EXPECT_EQ(read_exactly(far, second.size()), second);
  EXPECT_EQ(cs.sends_started(), 2u);
}

TEST(CoalescingSocket, BeastWebSocketKeepsControlFramesInOrderAndDeliversTheCloseFrame) {
  net::io_context ioc;
  auto [near, far] = connected_pair(ioc);
  websocket::stream<coalescing_socket> server(std::move(near));
  websocket::stream<worker_socket> client(std::move(far));

  constexpr int messages = 20, ping_after = 10;
  std::vector<std::string> received;
  int received_before_ping = -1;
  bool closed_with_1000 = false, server_closed = false;
  client.control_callback([&](websocket::frame_type kind, beast::string_view payload) {
    if (kind == websocket::frame_type::ping && payload == "mid-burst")
      received_before_ping = static_cast<int>(received.size());
  });

  std::function<void(int)> write_from = [&](int i) {
    if (i == messages) {
      server.async_close(websocket::close_code::normal, [&](error_code ec) {
        EXPECT_FALSE(ec) << ec.message();
        server_closed = true;
      });
      return;
    }
    auto text = std::make_shared<std::string>("message " + std::to_string(i));
    server.async_write(net::buffer(*text), [&, text, i](error_code ec, std::size_t) {
      ASSERT_FALSE(ec) << ec.message();
      if (i + 1 == ping_after)
        server.async_ping("mid-burst", [&, i](error_code e) {
          ASSERT_FALSE(e) << e.message();
          write_from(i + 1);
        });
      else
        write_from(i + 1);
    });
  };

  beast::flat_buffer buf;
  std::function<void()> read_next = [&] {
    client.async_read(buf, [&](error_code ec, std::size_t) {
      if (ec) {
        closed_with_1000 = ec == websocket::error::closed && client.reason().code == 1000;
        return;
      }
      received.push_back(beast::buffers_to_string(buf.data()));
      buf.consume(buf.size());
      read_next();
    });
  };

  server.async_accept([&](error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    write_from(0);
  });
  client.async_handshake("127.0.0.1", "/", [&](error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    read_next();
  });
  ioc.run_for(std::chrono::seconds(10));

  ASSERT_EQ(received.size(), static_cast<std::size_t>(messages));
  for (int i = 0; i < messages; ++i)
    EXPECT_EQ(received[i], "message " + std::to_string(i));
  EXPECT_EQ(received_before_ping, ping_after) << "the ping left between messages 9 and 10";
  EXPECT_TRUE(closed_with_1000) << "the close frame must reach the peer before the teardown";
  EXPECT_TRUE(server_closed);
  // The 101 response, the burst (messages, ping, close frame), perhaps a split of the burst at a
  // send in flight: far fewer sends than frames.
  EXPECT_LE(server.next_layer().sends_started(), 4u);
}

TEST(CoalescingSocket, ServerMessagesWrittenBelowBeastAreReadByABeastClient) {
  net::io_context ioc;
  auto [near, far] = connected_pair(ioc);
  websocket::stream<coalescing_socket> server(std::move(near));
  websocket::stream<worker_socket> client(std::move(far));
  client.read_message_max(4 << 20);

  // Every length encoding of RFC 6455 and its edges, text and binary, and a ping from Beast
  // in the middle: all in one turn of the loop, so in one send.
  const std::vector<std::size_t> sizes = {0, 1, 125, 126, 127, 65535, 65536, 1 << 20};
  std::vector<std::pair<bool, std::string>> sent;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    std::string payload(sizes[i], '\0');
    for (std::size_t k = 0; k < payload.size(); ++k)
      payload[k] = static_cast<char>('a' + (k + i) % 26);
    sent.emplace_back(i % 2 == 1, std::move(payload));
  }
  std::vector<std::pair<bool, std::string>> received;
  int received_before_ping = -1;
  client.control_callback([&](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::ping)
      received_before_ping = static_cast<int>(received.size());
  });
  beast::flat_buffer buf;
  std::function<void()> read_next = [&] {
    client.async_read(buf, [&](error_code ec, std::size_t) {
      ASSERT_FALSE(ec) << ec.message();
      received.emplace_back(client.got_binary(), beast::buffers_to_string(buf.data()));
      buf.consume(buf.size());
      if (received.size() < sent.size())
        read_next();
    });
  };
  server.async_accept([&](error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    for (std::size_t i = 0; i < sent.size(); ++i) {
      if (i == 4)
        server.async_ping("", [](error_code e) { ASSERT_FALSE(e) << e.message(); });
      ASSERT_FALSE(server.next_layer().write_server_message(sent[i].first, sent[i].second));
    }
  });
  client.async_handshake("127.0.0.1", "/", [&](error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    read_next();
  });
  ioc.run_for(std::chrono::seconds(10));
  ASSERT_EQ(received.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(received[i].first, sent[i].first) << "message " << i;
    EXPECT_EQ(received[i].second.size(), sent[i].second.size()) << "message " << i;
    EXPECT_TRUE(received[i].second == sent[i].second) << "message " << i;
  }
  EXPECT_EQ(received_before_ping, 4) << "Beast's ping keeps its place among the messages";
}

TEST(CoalescingSocket, ServerMessagesWaitForRoomWhileThePeerDoesNotRead) {
  net::io_context ioc;
  auto [near, far] = connected_pair(ioc);
  coalescing_socket cs(std::move(near));
  const std::string payload(64 * 1024, 'p');
  int written = 0, room_waits = 0;
  bool waiting = false;
  std::function<void()> write_while_room = [&] {
    while (cs.has_room() && written < 400) {
      ASSERT_FALSE(cs.write_server_message(false, payload));
      ++written;
    }
    if (written == 400)
      return;
    waiting = true;
    ++room_waits;
    cs.async_wait_room([&](error_code ec) {
      ASSERT_FALSE(ec) << ec.message();
      waiting = false;
      write_while_room();
    });
  };
  write_while_room();
  ioc.run_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(waiting) << "the peer reads nothing: the writer must be waiting for room";
  EXPECT_LT(written, 400);
  EXPECT_LE(cs.pending_bytes(), 2 * (coalescing_socket::park_above + payload.size() + 10));

  std::size_t got = 0;
  std::vector<char> rbuf(256 * 1024);
  const std::size_t total = 400 * (payload.size() + 10); // 65,536 bytes: 127 + 64-bit length
  std::function<void()> read_more = [&] {
    far.async_read_some(net::buffer(rbuf), [&](error_code ec, std::size_t n) {
      got += n;
      if (!ec && got < total)
        read_more();
    });
  };
  read_more();
  ioc.restart();
  ioc.run_for(std::chrono::seconds(30));
  EXPECT_EQ(written, 400);
  EXPECT_EQ(got, total);
  EXPECT_GT(room_waits, 0);
}

TEST(CoalescingSocket, APeerThatStopsReadingHoldsTheWriterBackAndLosesNothing) {
  net::io_context ioc;
  auto [near, far] = connected_pair(ioc);
  coalescing_socket cs(std::move(near));
  constexpr std::size_t chunk = 64 * 1024;
  constexpr int chunks = 256; // 16 MiB: far more than the kernel's buffers hold
  int completed = 0;
  std::size_t peak_pending = 0;
  std::function<void(int)> write_chunk = [&](int i) {
    auto data = std::make_shared<std::string>(chunk, static_cast<char>('a' + i % 26));
    cs.async_write_some(net::buffer(*data), [&, data, i](error_code ec, std::size_t n) {
      ASSERT_FALSE(ec) << ec.message();
      ASSERT_EQ(n, chunk);
      ++completed;
      peak_pending = std::max(peak_pending, cs.pending_bytes());
      if (i + 1 < chunks)
        write_chunk(i + 1);
    });
  };
  write_chunk(0);
  ioc.run_for(std::chrono::milliseconds(300));
  EXPECT_LT(completed, chunks) << "with the peer not reading, the writer must be held back";
  EXPECT_LE(peak_pending, 2 * (coalescing_socket::park_above + chunk));

  // The peer reads everything: every write completes and every byte arrives in order.
  std::string got;
  got.reserve(chunk * chunks);
  std::vector<char> rbuf(256 * 1024);
  std::function<void()> read_more = [&] {
    far.async_read_some(net::buffer(rbuf), [&](error_code ec, std::size_t n) {
      got.append(rbuf.data(), n);
      if (!ec && got.size() < chunk * chunks)
        read_more();
    });
  };
  read_more();
  ioc.restart();
  ioc.run_for(std::chrono::seconds(30));
  EXPECT_EQ(completed, chunks);
  ASSERT_EQ(got.size(), chunk * chunks);
  for (int i = 0; i < chunks; ++i)
    ASSERT_EQ(got[static_cast<std::size_t>(i) * chunk + chunk - 1], static_cast<char>('a' + i % 26))
        << "chunk " << i;
  EXPECT_LT(cs.sends_started(), static_cast<std::uint64_t>(chunks));
}

TEST(CoalescingSocket, AResetPeerFailsTheWritesThatFollow) {
  net::io_context ioc;
  auto [near, far] = connected_pair(ioc);
  coalescing_socket cs(std::move(near));
  far.set_option(net::socket_base::linger(true, 0));
  far.close(); // RST
  const std::string data(1024, 'x');
  error_code last;
  int writes = 0;
  std::function<void()> write_again = [&] {
    cs.async_write_some(net::buffer(data), [&](error_code ec, std::size_t) {
      ++writes;
      last = ec;
      if (!ec && writes < 1000) {
        // A separate burst each time, so that a send happens and meets the reset.
        net::post(ioc, write_again);
      }
    });
  };
  write_again();
  ioc.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(last) << "after " << writes << " writes";
  EXPECT_LT(writes, 1000);
}

TEST(CoalescingSocket, TheOwnerMayGoAwayWithWritesPendingAndASendInFlight) {
  net::io_context ioc;
  auto [near, far] = connected_pair(ioc);
  auto cs = std::make_unique<coalescing_socket>(std::move(near));
  const std::string big(8 << 20, 'y'); // more than loopback takes at once: the send stays in flight
  int completions = 0;
  cs->async_write_some(net::buffer(big), [&](error_code, std::size_t) {
    ++completions;
    cs.reset(); // from inside its own completion, with the send in flight
  });
  ioc.run_for(std::chrono::seconds(5));
  EXPECT_EQ(completions, 1);
  EXPECT_TRUE(ioc.stopped()) << "every operation finished: nothing left hanging";

  // And with the completion not yet run: the owner goes first.
  ioc.restart();
  auto [near2, far2] = connected_pair(ioc);
  auto cs2 = std::make_unique<coalescing_socket>(std::move(near2));
  const std::string small = "bye";
  bool called = false;
  cs2->async_write_some(net::buffer(small), [&](error_code, std::size_t) { called = true; });
  cs2.reset();
  ioc.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(called);
  EXPECT_TRUE(ioc.stopped());
}

TEST(CoalescingSocket, AnIoContextDestroyedWithAWriteParkedFreesTheWritesOwner) {
  // A parked write's handler owns the owner of the socket (as a Beast write owns its session):
  // only the send's completion, or here the io_context's destruction, may break that cycle.
  struct owner {
    coalescing_socket cs;
    explicit owner(worker_socket &&s) : cs(std::move(s)) {}
  };
  std::weak_ptr<owner> watch;
  bool parked = false;
  {
    net::io_context ioc;
    auto [near, far] = connected_pair(ioc);
    auto o = std::make_shared<owner>(std::move(near));
    watch = o;
    auto big = std::make_shared<std::string>(8 << 20, 'z'); // more than loopback takes unread
    o->cs.async_write_some(net::buffer(*big), [o, big, &parked](error_code ec, std::size_t) {
      ASSERT_FALSE(ec);
      // The send of the first 8 MiB is in flight: this one waits behind it, owning `o`.
      o->cs.async_write_some(net::buffer(*big), [o, big](error_code, std::size_t) {});
      parked = !o->cs.has_room();
    });
    o.reset();
    ioc.run_for(std::chrono::milliseconds(200));
    ASSERT_TRUE(parked);
    ASSERT_FALSE(watch.expired()) << "still held by the parked write";
  }
  EXPECT_TRUE(watch.expired()) << "the io_context is gone, and the parked write with it";
}

} // namespace
