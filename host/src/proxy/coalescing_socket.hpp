// coalescing_socket.hpp — a TCP socket under a Beast WebSocket stream that gathers the frames
// written in one burst into one send.
//
// Beast writes one message at a time and a session writes the next when the last completes, so
// on a busy connection every frame used to cost its own sendmsg — on loopback the most expensive
// call there is, as it also runs the receiver's TCP input. This layer copies what Beast writes
// into `pending`, completes Beast's write (posted), and sends `pending` only once the writes of
// the burst are over: when a completion returns without having written again. A session whose
// on_write writes the next queued frame thus hands over all of them before the first send
// (docs/performance.md, "Coalescing writes").
//
// Every byte Beast writes goes through here — data, ping, pong, close — so control frames stay
// in order with data. Bounded: past `park_above` bytes waiting behind a send in flight, the
// write's completion waits for that send (the caller's own queue and watermarks then apply).
// A failed send fails every later write with its error. Beast's close ends in teardown, which
// (found by argument-dependent lookup, below) first sends what is pending.
//
// The state the sends use lives in a shared block held by each operation, so the owner may go
// away with a send in flight: closing the socket aborts it and the block goes with the last
// handler.
#pragma once

#include "base/worker_types.hpp"
#include "proxy/close_code_guard.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace apistudio {

class coalescing_socket {
public:
  using executor_type = worker_executor;
  using next_layer_type = worker_socket;
  using error_code = boost::beast::error_code;

  // Send at once, without waiting for the burst to end, once this much is pending.
  static constexpr std::size_t send_at = 64 * 1024;
  // Hold the writer's completion while this much waits behind a send in flight.
  static constexpr std::size_t park_above = 256 * 1024;

  explicit coalescing_socket(worker_executor ex);
  explicit coalescing_socket(worker_socket &&socket);
  // Beast builds its next layer in place and never moves it; pending sends point at socket_.
  coalescing_socket(const coalescing_socket &) = delete;
  coalescing_socket &operator=(const coalescing_socket &) = delete;
  ~coalescing_socket();

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  // Beast's get_lowest_layer() walks through this: close, shutdown and options act on the socket.
  worker_socket &next_layer() noexcept { return socket_; }
  const worker_socket &next_layer() const noexcept { return socket_; }
  // Asio's TLS stream, stacked on this, asks for these.
  using lowest_layer_type = worker_socket::lowest_layer_type;
  lowest_layer_type &lowest_layer() noexcept { return socket_.lowest_layer(); }
  const lowest_layer_type &lowest_layer() const noexcept { return socket_.lowest_layer(); }

  // Bytes accepted and not yet handed to the kernel (tests, idle accounting).
  std::size_t pending_bytes() const noexcept;
  // Number of sendmsg-level sends started (tests check that a burst goes out as one).
  std::uint64_t sends_started() const noexcept;

  // Reads are unlimited unless limit_reads() set a budget: then one read gets at most what is
  // left of it, and a read with nothing left fails with message_size. The dialer bounds the
  // upstream's handshake response this way (Beast's parser would take an 8 MB body there).
  void limit_reads(std::size_t bytes) noexcept { read_budget_ = bytes; }
  void unlimit_reads() noexcept { read_budget_ = no_read_limit; }

  // From now on every byte read is scanned for close frames with a code of 5000 or more, which
  // then fail the connection with 1002 (close_code_guard.hpp). Only for a WebSocket directly on
  // this socket (not under TLS); a client calls it before its handshake, with http_head.
  void guard_close_codes(bool http_head) noexcept {
    guard_close_codes_ = true;
    if (http_head)
      close_guard_.skip_http_head();
  }

  // Unlimited, unscanned reads go straight to the socket: Beast's read operation is not moved
  // once more.
  template <class MutableBufferSequence, class ReadToken>
  auto async_read_some(const MutableBufferSequence &buffers, ReadToken &&token) {
    if (read_budget_ == no_read_limit && !guard_close_codes_)
      return socket_.async_read_some(buffers, std::forward<ReadToken>(token));
    return boost::asio::async_initiate<ReadToken, void(error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence &b) {
          if (read_budget_ == no_read_limit)
            socket_.async_read_some(
                b, close_code_guard::scanned_read<MutableBufferSequence, decltype(handler)>{
                       std::move(handler), &close_guard_, b});
          else
            read_within_budget(b, std::move(handler));
        },
        token, buffers);
  }

  template <class ConstBufferSequence, class WriteToken>
  auto async_write_some(const ConstBufferSequence &buffers, WriteToken &&token) {
    return boost::asio::async_initiate<WriteToken, void(error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence &b) {
          const std::size_t n = append(b);
          complete_write(std::move(handler), n);
        },
        token, buffers);
  }

  // Completes once everything accepted so far is in the kernel (or a send failed).
  void async_drain(boost::asio::any_completion_handler<void(error_code)> handler);

  // How long, and how much, a closing socket goes on reading and discarding (async_linger).
  static constexpr std::chrono::milliseconds linger_time{3000};
  static constexpr std::size_t linger_bytes = 4 * 1024 * 1024;
  // How much a WebSocket that sent its close frame reads while it waits for the peer's (the
  // limit_reads() budget set then): room for a message of the largest size in flight and its
  // close frame; a peer still sending past it is cut off, as nginx's lingering_close does.
  static constexpr std::size_t closing_read_bytes = linger_bytes;
  // A lingering close, after nginx's lingering_close: the server side shuts its sending side
  // down at once, then both read and discard until the peer's end of stream, `linger_bytes` or
  // `linger_time`, and then close (a client shuts down its sending side only then, as RFC 6455
  // 7.1.1 asks). A socket closed with unread bytes sends a reset, which can make the peer's
  // kernel drop what it had not yet read: a client still sending an oversized message would lose
  // our close 1009 to it. Beast's own teardown stops reading after its first read with data.
  // End of stream, the time or the byte bound complete with success; a read error with it.
  void async_linger(boost::beast::role_type role,
                    boost::asio::any_completion_handler<void(error_code)> handler);

  // The server side's data path, below Beast: one whole message as one unmasked frame, after
  // everything written so far, sent at the end of this turn of the event loop. Beast's own
  // writes on such a socket are then only control frames, each appended whole, so frames never
  // interleave. The caller writes nothing once the stream is closing (a close frame must be the
  // last frame) and nothing while has_room() is false. Returns the error of a failed send.
  error_code write_server_message(bool binary, std::string_view payload);
  // False while a send is in flight and more than `park_above` bytes wait behind it.
  bool has_room() const noexcept { return !must_park(); }
  // Completes when has_room() turns true (a send started), or with the error of a failed send.
  void async_wait_room(boost::asio::any_completion_handler<void(error_code)> handler);

private:
  struct state;
  static constexpr std::size_t no_read_limit = static_cast<std::size_t>(-1);

  template <class MutableBufferSequence> void scan(const MutableBufferSequence &b, std::size_t n) {
    if (guard_close_codes_)
      close_guard_.scan_read(b, n);
  }

  template <class MutableBufferSequence, class Handler>
  void read_within_budget(const MutableBufferSequence &b, Handler &&handler) {
    if (read_budget_ == 0) {
      boost::asio::post(socket_.get_executor(),
                        boost::beast::bind_front_handler(
                            std::forward<Handler>(handler),
                            error_code(boost::asio::error::message_size), std::size_t{0}));
      return;
    }
    socket_.async_read_some(
        boost::beast::buffers_prefix(read_budget_, b),
        [this, b, h = std::forward<Handler>(handler)](error_code ec, std::size_t n) mutable {
          // The stream that owns this socket is kept alive by the pending read.
          read_budget_ -= std::min(n, read_budget_);
          scan(b, n);
          std::move(h)(ec, n);
        });
  }

  template <class ConstBufferSequence> std::size_t append(const ConstBufferSequence &b) {
    std::string &out = pending_buffer();
    std::size_t n = 0;
    for (auto it = boost::asio::buffer_sequence_begin(b); it != boost::asio::buffer_sequence_end(b);
         ++it) {
      const boost::asio::const_buffer piece(*it);
      out.append(static_cast<const char *>(piece.data()), piece.size());
      n += piece.size();
    }
    return n;
  }

  // Beast's completion, and then the end-of-burst check: if the completion wrote nothing more,
  // the burst is over and the pending bytes leave now (one posted handler per write).
  template <class Handler> struct write_done {
    Handler handler;
    std::shared_ptr<state> st;
    std::uint64_t write_number;
    std::size_t n;

    using allocator_type = boost::asio::associated_allocator_t<Handler>;
    allocator_type get_allocator() const noexcept {
      return boost::asio::get_associated_allocator(handler);
    }
    void operator()() {
      std::move(handler)(error_code{}, n);
      burst_may_have_ended(*st, write_number);
    }
  };

  template <class Handler> void complete_write(Handler &&handler, std::size_t n) {
    const error_code failed = accepted(n);
    if (failed) {
      boost::asio::post(
          socket_.get_executor(),
          boost::beast::bind_front_handler(std::forward<Handler>(handler), failed, std::size_t{0}));
      return;
    }
    if (must_park()) {
      park(boost::asio::any_completion_handler<void(error_code, std::size_t)>(
               std::forward<Handler>(handler)),
           n);
      return;
    }
    boost::asio::post(socket_.get_executor(),
                      write_done<std::decay_t<Handler>>{std::forward<Handler>(handler), state_,
                                                        newest_write(), n});
  }

  static void burst_may_have_ended(state &st, std::uint64_t write_number);
  std::uint64_t newest_write() const noexcept;
  std::string &pending_buffer() noexcept;
  error_code accepted(std::size_t n); // the write's bytes are in pending: count it, maybe send
  bool must_park() const noexcept;
  void park(boost::asio::any_completion_handler<void(error_code, std::size_t)> handler,
            std::size_t n);
  // Completes `handler` with `ec` as if by post (a waiter that need not wait).
  void post_now(boost::asio::any_completion_handler<void(error_code)> handler, error_code ec);

  worker_socket socket_;
  std::shared_ptr<state> state_;
  std::size_t read_budget_ = no_read_limit;
  bool guard_close_codes_ = false;
  close_code_guard close_guard_;
};

// Beast's close (and its answer to a peer's close, and its failing of a peer with 1002 / 1007 /
// 1009) ends here: send what is pending, then a lingering close (async_linger).
template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, coalescing_socket &s, TeardownHandler &&handler) {
  s.async_drain([role, &s, handler = std::forward<TeardownHandler>(handler)](
                    coalescing_socket::error_code ec) mutable {
    // The pending close op owns the session that owns `s`, so `s` is alive here.
    if (ec)
      return handler(ec);
    s.async_linger(role, std::move(handler));
  });
}

void teardown(boost::beast::role_type role, coalescing_socket &s,
              coalescing_socket::error_code &ec);

} // namespace apistudio
