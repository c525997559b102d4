#include "raw_upstream.hpp"

#include "raw_socket.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>

namespace apistudio::testing {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

// ---- scripted_upstream ----

struct scripted_upstream::impl {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread acceptor_thread;
  std::mutex mutex;
  std::vector<std::thread> workers;
  std::vector<int> fds;
  std::atomic<bool> stopping{false};
};

scripted_upstream::scripted_upstream(script s)
    : impl_(std::make_unique<impl>()), script_(std::move(s)) {
  auto &a = impl_->acceptor;
  const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
  a.open(ep.protocol());
  a.set_option(net::socket_base::reuse_address(true));
  a.bind(ep);
  a.listen();
  port_ = a.local_endpoint().port();
  impl_->acceptor_thread = std::thread([this] {
    for (;;) {
      beast::error_code ec;
      tcp::socket sock(impl_->ioc);
      impl_->acceptor.accept(sock, ec);
      if (impl_->stopping)
        return;
      if (ec)
        continue;
      ++accepted_;
      std::lock_guard lock(impl_->mutex);
      impl_->fds.push_back(sock.native_handle());
      impl_->workers.emplace_back([this, s = std::move(sock)]() mutable {
        const int fd = s.native_handle();
        beast::flat_buffer buffer;
        http::request<http::string_body> req;
        beast::error_code e;
        http::read(s, buffer, req, e);
        if (!e) {
          websocket::stream<tcp::socket &> ws(s);
          ws.accept(req, e);
          if (!e)
            script_(s);
        }
        {
          std::lock_guard l(impl_->mutex);
          std::erase(impl_->fds, fd);
        }
        beast::error_code ignored;
        s.close(ignored);
      });
    }
  });
}

scripted_upstream::~scripted_upstream() {
  impl_->stopping = true;
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  {
    beast::error_code ec;
    tcp::socket poke(impl_->ioc);
    poke.connect({net::ip::make_address("127.0.0.1"), port_}, ec);
  }
  impl_->acceptor_thread.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(impl_->mutex);
    for (int fd : impl_->fds)
      ::shutdown(fd, SHUT_RDWR);
    workers.swap(impl_->workers);
  }
  for (auto &t : workers)
    t.join();
}

std::string scripted_upstream::url(const std::string &path) const {
  return "ws://127.0.0.1:" + std::to_string(port_) + path;
}

std::string scripted_upstream::frame(int opcode, const std::string &payload, bool fin) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | (opcode & 0x0f));
  const std::uint64_t n = payload.size();
  if (n < 126) {
    f += static_cast<char>(n);
  } else if (n <= 0xffff) {
    f += static_cast<char>(126);
    f += static_cast<char>((n >> 8) & 0xff);
    f += static_cast<char>(n & 0xff);
  } else {
    f += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8)
      f += static_cast<char>((n >> shift) & 0xff);
  }
  return f + payload;
}

// ---- async_echo_upstream ----

struct async_echo_upstream::impl {
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
};

struct echo_connection : std::enable_shared_from_this<echo_connection> {
  echo_connection(async_echo_upstream &owner, tcp::socket &&s) : owner_(owner), ws_(std::move(s)) {
    ++owner_.open_;
  }
  ~echo_connection() { --owner_.open_; }

  void run() {
    ws_.read_message_max(64 * 1024 * 1024);
    ws_.async_accept([self = shared_from_this()](beast::error_code ec) {
      if (!ec)
        self->do_read();
    });
  }
  void do_read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->owner_.record_close(ec == websocket::error::closed ? self->ws_.reason().code : 1006);
        return;
      }
      self->ws_.text(self->ws_.got_text());
      self->ws_.async_write(self->buffer_.data(), [self](beast::error_code e, std::size_t) {
        self->buffer_.consume(self->buffer_.size());
        if (!e)
          self->do_read();
      });
    });
  }

  async_echo_upstream &owner_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
};

namespace {
void do_accept(async_echo_upstream &owner, tcp::acceptor &acceptor, std::atomic<std::size_t> &n) {
  acceptor.async_accept([&owner, &acceptor, &n](beast::error_code ec, tcp::socket s) {
    if (ec == net::error::operation_aborted || !acceptor.is_open())
      return;
    if (!ec) {
      ++n;
      std::make_shared<echo_connection>(owner, std::move(s))->run();
    }
    do_accept(owner, acceptor, n);
  });
}
} // namespace

async_echo_upstream::async_echo_upstream() : impl_(std::make_unique<impl>()) {
  auto &a = impl_->acceptor;
  const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
  a.open(ep.protocol());
  a.set_option(net::socket_base::reuse_address(true));
  a.bind(ep);
  a.listen(net::socket_base::max_listen_connections);
  port_ = a.local_endpoint().port();
  do_accept(*this, a, accepted_);
  thread_ = std::thread([this] { impl_->ioc.run(); });
}

async_echo_upstream::~async_echo_upstream() { stop(); }

void async_echo_upstream::stop() {
  if (!thread_.joinable())
    return;
  impl_->ioc.stop();
  thread_.join();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  // Destroys the pending handlers, and with them the connections (closing their sockets).
  impl_.reset();
}

std::string async_echo_upstream::url(const std::string &path) const {
  return "ws://127.0.0.1:" + std::to_string(port_) + path;
}

std::map<int, std::size_t> async_echo_upstream::close_codes() const {
  std::lock_guard lock(mutex_);
  return close_codes_;
}

void async_echo_upstream::record_close(int code) {
  std::lock_guard lock(mutex_);
  ++close_codes_[code];
}

// ---- frame_with_its_upgrade ----

frame_with_its_upgrade::frame_with_its_upgrade(std::string first_frame)
    : first_frame_(std::move(first_frame)),
      acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}), thread_([this] { serve_one(); }) {}

frame_with_its_upgrade::~frame_with_its_upgrade() {
  ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  // A host that never answered leaves the thread in a read: end it.
  if (const int fd = connection_fd_.load(); fd >= 0)
    ::shutdown(fd, SHUT_RDWR);
  thread_.join();
}

std::string frame_with_its_upgrade::url() const {
  return "ws://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/";
}

void frame_with_its_upgrade::serve_one() {
  using namespace std::chrono_literals;
  tcp::socket &s = connection_; // closed by the destructor, after this thread
  beast::error_code ec;
  acceptor_.accept(s, ec);
  if (ec)
    return held_.set_value(-1ms);
  connection_fd_ = s.native_handle();
  beast::flat_buffer buffer;
  http::request<http::empty_body> req;
  http::read(s, buffer, req, ec);
  websocket::detail::sec_ws_accept_type accept;
  websocket::detail::make_sec_ws_accept(accept, req[http::field::sec_websocket_key]);
  const std::string answer = "HTTP/1.1 101 Switching Protocols\r\n"
                             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: " +
                             std::string(accept.data(), accept.size()) + "\r\n\r\n" + first_frame_;
  if (!ec)
    net::write(s, net::buffer(answer), ec);
  // The host's answer: a masked close frame with a code, 8 bytes at least (0x88, mask bit).
  char close_frame[8];
  if (!ec)
    net::read(s, net::buffer(close_frame), ec);
  if (ec || static_cast<unsigned char>(close_frame[0]) != 0x88)
    return held_.set_value(-1ms);
  const auto handshake_done = std::chrono::steady_clock::now();
  s.shutdown(tcp::socket::shutdown_send, ec);
  // Whatever else comes, then the host's FIN (or a reset), for at most 10 s.
  timeval ten_seconds{10, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &ten_seconds, sizeof ten_seconds);
  char sink[256];
  ssize_t n = 0;
  while ((n = ::recv(s.native_handle(), sink, sizeof sink, 0)) > 0) {
  }
  if (n < 0 && errno != ECONNRESET)
    return held_.set_value(-1ms);
  held_.set_value(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - handshake_done));
}

} // namespace apistudio::testing
