#include "proxy/coalescing_socket.hpp"

#include <boost/asio/error.hpp>

namespace apistudio {
namespace net = boost::asio;
using error_code = coalescing_socket::error_code;

// Shared by the socket's owner and every operation in flight (see the header).
struct coalescing_socket::state : std::enable_shared_from_this<state> {
  explicit state(worker_socket &s) : socket(&s), executor(s.get_executor()) {}

  worker_socket *socket; // null once the owner is gone: then nothing more is sent
  worker_executor executor;
  std::string pending;  // accepted, not yet sent
  std::string sending;  // what the send in flight reads from
  std::size_t sent = 0; // of `sending`, already in the kernel
  bool send_in_flight = false;
  bool flush_wanted = false;      // the burst ended while a send was in flight
  std::uint64_t newest_write = 0; // numbers the writes: did a completion write again?
  std::uint64_t sends = 0;
  error_code failed;
  net::any_completion_handler<void(error_code, std::size_t)> parked;
  std::size_t parked_bytes = 0;
  net::any_completion_handler<void(error_code)> drained;
  net::any_completion_handler<void(error_code)> room_wanted;
  bool send_check_posted = false;

  void start_send() {
    if (socket == nullptr)
      return fail(net::error::operation_aborted); // the owner is gone
    flush_wanted = false;
    pending.swap(sending);
    sent = 0;
    send_in_flight = true;
    ++sends;
    send_rest();
    make_room(); // pending is empty again
  }

  // Not net::async_write: its next partial write would touch the socket even after the owner,
  // and the socket with it, went away between the two.
  void send_rest() {
    socket->async_write_some(
        net::buffer(sending.data() + sent, sending.size() - sent),
        [guard = send_guard{shared_from_this()}](error_code ec, std::size_t n) mutable {
          std::exchange(guard.st, nullptr)->on_sent_some(ec, n);
        });
  }

  // Waiters exist only while a send is in flight, and they may own the owner of this state (a
  // parked Beast write holds its session): a cycle only the send's completion breaks. An
  // io_context destroyed with the send pending destroys the send's handler uninvoked, and with
  // it, through this guard, the waiters, as it would have destroyed them had they been its own
  // operations.
  struct send_guard {
    std::shared_ptr<state> st;
    send_guard(std::shared_ptr<state> s) noexcept : st(std::move(s)) {}
    send_guard(send_guard &&other) noexcept : st(std::exchange(other.st, nullptr)) {}
    send_guard &operator=(send_guard &&) = delete;
    ~send_guard() {
      if (st)
        st->abandon_waiters();
    }
  };

  void abandon_waiters() {
    send_in_flight = false;
    auto p = std::exchange(parked, nullptr);
    auto d = std::exchange(drained, nullptr);
    auto r = std::exchange(room_wanted, nullptr);
  } // destroyed here, uninvoked, after this state no longer refers to them

  void on_sent_some(error_code ec, std::size_t n) {
    sent += n;
    if (!ec && sent < sending.size()) {
      if (socket == nullptr)
        ec = net::error::operation_aborted;
      else
        return send_rest();
    }
    on_sent(ec);
  }

  void on_sent(error_code ec) {
    send_in_flight = false;
    // Keep an ordinary buffer for the next burst; let a rare huge one go.
    if (sending.capacity() > send_at)
      std::string().swap(sending);
    else
      sending.clear();
    if (ec) {
      fail(ec);
      return;
    }
    if (!pending.empty() && (flush_wanted || drained || pending.size() >= send_at)) {
      start_send();
      return;
    }
    if (pending.empty() && drained)
      std::exchange(drained, nullptr)(error_code{});
  }

  void fail(error_code ec) {
    if (!failed)
      failed = ec;
    pending.clear();
    if (parked)
      std::exchange(parked, nullptr)(failed, std::size_t{0});
    if (drained)
      std::exchange(drained, nullptr)(failed);
    if (room_wanted)
      std::exchange(room_wanted, nullptr)(failed);
  }

  // Lets go of whoever waits for room: a session's queue, and the parked Beast write.
  void make_room() {
    if (room_wanted)
      net::post(executor, [h = std::exchange(room_wanted, nullptr)]() mutable {
        std::move(h)(error_code{});
      });
    if (!parked)
      return;
    auto h = std::exchange(parked, nullptr);
    const std::size_t n = std::exchange(parked_bytes, 0);
    net::post(executor,
              [h = std::move(h), n, self = shared_from_this(), w = newest_write]() mutable {
                std::move(h)(error_code{}, n);
                self->burst_may_have_ended(w);
              });
  }

  // A write is in pending: number it, and send at once if a lot has gathered (true then).
  bool count_write() {
    ++newest_write;
    if (send_in_flight || pending.size() < send_at)
      return false;
    start_send();
    return true;
  }

  // Writes that come without a completion of their own (write_server_message) are sent by one
  // check posted behind everything already queued: what the rest of this turn writes goes along.
  void post_send_check() {
    if (send_check_posted)
      return;
    send_check_posted = true;
    net::post(executor, [self = shared_from_this()] {
      self->send_check_posted = false;
      self->burst_may_have_ended(self->newest_write);
    });
  }

  void burst_may_have_ended(std::uint64_t write_number) {
    if (write_number != newest_write || failed)
      return; // written again: the burst goes on
    if (send_in_flight) {
      flush_wanted = true;
      return;
    }
    if (!pending.empty())
      start_send();
  }
};

coalescing_socket::coalescing_socket(worker_executor ex)
    : socket_(ex), state_(std::make_shared<state>(socket_)) {}

coalescing_socket::coalescing_socket(worker_socket &&socket)
    : socket_(std::move(socket)), state_(std::make_shared<state>(socket_)) {}

coalescing_socket::~coalescing_socket() {
  state_->socket = nullptr;
  state_->pending.clear();
}

std::size_t coalescing_socket::pending_bytes() const noexcept {
  return state_->pending.size() + state_->sending.size();
}

std::uint64_t coalescing_socket::sends_started() const noexcept { return state_->sends; }

std::string &coalescing_socket::pending_buffer() noexcept { return state_->pending; }

error_code coalescing_socket::accepted(std::size_t n) {
  state &st = *state_;
  if (st.failed) {
    st.pending.resize(st.pending.size() - n);
    return st.failed;
  }
  st.count_write();
  return {};
}

bool coalescing_socket::must_park() const noexcept {
  return state_->send_in_flight && state_->pending.size() > park_above;
}

void coalescing_socket::park(net::any_completion_handler<void(error_code, std::size_t)> handler,
                             std::size_t n) {
  state_->parked.swap(handler); // not `=`: Boost 1.81's move assignment recurses for ever
  state_->parked_bytes = n;
}

void coalescing_socket::burst_may_have_ended(state &st, std::uint64_t write_number) {
  st.burst_may_have_ended(write_number);
}

std::uint64_t coalescing_socket::newest_write() const noexcept { return state_->newest_write; }

void coalescing_socket::post_now(net::any_completion_handler<void(error_code)> handler,
                                 error_code ec) {
  net::post(socket_.get_executor(), [h = std::move(handler), ec]() mutable { std::move(h)(ec); });
}

void coalescing_socket::async_drain(net::any_completion_handler<void(error_code)> handler) {
  state &st = *state_;
  if (st.failed || (st.pending.empty() && !st.send_in_flight))
    return post_now(std::move(handler), st.failed);
  st.drained.swap(handler); // not `=`: Boost 1.81's move assignment recurses for ever
  if (!st.send_in_flight)
    st.start_send();
}

error_code coalescing_socket::write_server_message(bool binary, std::string_view payload) {
  state &st = *state_;
  if (st.failed)
    return st.failed;
  // RFC 6455 5.2: FIN and the opcode, then the length in 7 bits, or 126 + 16 bits, or 127 + 64
  // bits, network order; no mask from a server.
  char header[10];
  std::size_t header_size = 2;
  header[0] = static_cast<char>(0x80 | (binary ? 0x2 : 0x1));
  const std::uint64_t n = payload.size();
  if (n < 126) {
    header[1] = static_cast<char>(n);
  } else if (n <= 0xFFFF) {
    header[1] = 126;
    header[2] = static_cast<char>(n >> 8);
    header[3] = static_cast<char>(n);
    header_size = 4;
  } else {
    header[1] = 127;
    for (int i = 0; i < 8; ++i)
      header[2 + i] = static_cast<char>(n >> (56 - 8 * i));
    header_size = 10;
  }
  st.pending.append(header, header_size);
  st.pending.append(payload);
  if (!st.count_write())
    st.post_send_check();
  return {};
}

void coalescing_socket::async_wait_room(net::any_completion_handler<void(error_code)> handler) {
  state &st = *state_;
  if (st.failed || has_room())
    return post_now(std::move(handler), st.failed);
  st.room_wanted.swap(handler); // not `=`: Boost 1.81's move assignment recurses for ever
}

namespace {

// One lingering close; kept alive by its pending read and timer.
struct linger_op : std::enable_shared_from_this<linger_op> {
  linger_op(worker_socket &s, boost::beast::role_type r,
            net::any_completion_handler<void(error_code)> h)
      : socket(s), timer(s.get_executor()), role(r), handler(std::move(h)) {}

  void start() {
    error_code ignored;
    if (role == boost::beast::role_type::server)
      socket.shutdown(net::socket_base::shutdown_send, ignored);
    timer.expires_after(coalescing_socket::linger_time);
    timer.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec && !self->done)
        self->finish({});
    });
    read();
  }

  void read() {
    socket.async_read_some(
        net::buffer(buffer.get(), buffer_size),
        [self = shared_from_this()](error_code ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(error_code ec, std::size_t n) {
    if (done)
      return; // finished by the timer; the socket may be gone by now
    discarded += n;
    if (ec == net::error::eof)
      return finish({});
    if (ec)
      return finish(ec);
    if (discarded >= coalescing_socket::linger_bytes)
      return finish({});
    read();
  }

  void finish(error_code ec) {
    done = true;
    timer.cancel();
    error_code ignored;
    if (role == boost::beast::role_type::client)
      socket.shutdown(net::socket_base::shutdown_send, ignored);
    socket.close(ignored);
    // Last: the handler owns the stream that owns `socket`.
    std::exchange(handler, nullptr)(ec);
  }

  static constexpr std::size_t buffer_size = 16 * 1024;
  worker_socket &socket;
  worker_timer timer;
  boost::beast::role_type role;
  net::any_completion_handler<void(error_code)> handler;
  std::unique_ptr<char[]> buffer{new char[buffer_size]};
  std::size_t discarded = 0;
  bool done = false;
};

} // namespace

void coalescing_socket::async_linger(boost::beast::role_type role,
                                     net::any_completion_handler<void(error_code)> handler) {
  std::make_shared<linger_op>(socket_, role, std::move(handler))->start();
}

void teardown(boost::beast::role_type role, coalescing_socket &s, error_code &ec) {
  // Beast's synchronous close: nothing of the host uses it, but the stream must offer it.
  boost::beast::websocket::teardown(role, s.next_layer(), ec);
}

} // namespace apistudio
