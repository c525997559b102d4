#include "test_upstream.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>

#include <sys/socket.h>
#include <unistd.h>

namespace apistudio::testing {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

std::string test_data_dir() { return APISTUDIO_TEST_DATA_DIR; }

struct test_upstream::impl {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  ssl::context tls{ssl::context::tls_server};
};

test_upstream::test_upstream(upstream_behaviour b)
    : b_(std::move(b)), impl_(std::make_unique<impl>()) {
  auto &a = impl_->acceptor;
  tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
  a.open(ep.protocol());
  a.set_option(net::socket_base::reuse_address(true));
  a.bind(ep);
  a.listen();
  port_ = a.local_endpoint().port();
  if (b_.tls) {
    const auto dir = test_data_dir() + "/tls/";
    impl_->tls.use_certificate_chain_file(dir + b_.certificate + ".pem");
    impl_->tls.use_private_key_file(dir + b_.certificate + ".key", ssl::context::pem);
  }
  acceptor_thread_ = std::thread([this] {
    for (;;) {
      beast::error_code ec;
      tcp::socket s(impl_->ioc);
      impl_->acceptor.accept(s, ec);
      if (stopping_)
        return;
      if (ec)
        continue;
      ++accepted_;
      const int fd = s.release();
      std::lock_guard lock(mutex_);
      fds_.push_back(fd);
      workers_.emplace_back([this, fd] { serve(fd); });
    }
  });
}

test_upstream::~test_upstream() { stop(); }

void test_upstream::stop() {
  if (stopping_.exchange(true))
    return;
  // Unblocks the blocking accept and every blocking read without touching the socket objects
  // other threads are using.
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  {
    // connect once to be sure accept() returns
    beast::error_code ec;
    tcp::socket poke(impl_->ioc);
    poke.connect({net::ip::make_address("127.0.0.1"), port_}, ec);
  }
  acceptor_thread_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mutex_);
    for (int fd : fds_)
      ::shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
  }
  for (auto &t : workers)
    t.join();
}

std::string test_upstream::url(const std::string &path) const {
  return (b_.tls ? "wss://localhost:" : "ws://127.0.0.1:") + std::to_string(port_) + path;
}

std::map<std::string, std::string> test_upstream::last_request_headers() const {
  std::lock_guard lock(mutex_);
  return last_headers_;
}

std::string test_upstream::last_target() const {
  std::lock_guard lock(mutex_);
  return last_target_;
}

std::vector<std::string> test_upstream::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

std::size_t test_upstream::received_count() const {
  std::lock_guard lock(mutex_);
  return received_.size();
}

namespace {

template <class Stream> void write_raw(Stream &s, const std::string &text) {
  beast::error_code ec;
  net::write(s, net::buffer(text), ec);
}

std::string lower(std::string_view in) {
  std::string s(in);
  for (auto &c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

} // namespace

void test_upstream::serve(int fd) {
  tcp::socket sock(impl_->ioc, tcp::v4(), fd);
  // Leaves fds_ before `sock` closes the descriptor, so stop() never shuts down a number the
  // kernel has already handed to someone else (the host under test lives in this process).
  struct forget_fd {
    test_upstream &self;
    int fd;
    ~forget_fd() {
      std::lock_guard lock(self.mutex_);
      std::erase(self.fds_, fd);
    }
  } forget{*this, fd};
  auto run = [&](auto &stream) {
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    beast::error_code ec;
    http::read(stream, buffer, req, ec);
    if (ec)
      return;
    {
      std::lock_guard lock(mutex_);
      last_headers_.clear();
      for (const auto &f : req)
        last_headers_[lower(f.name_string())] = std::string(f.value());
      last_target_ = std::string(req.target());
    }
    using k = upstream_behaviour::kind;
    switch (b_.mode) {
    case k::silent: {
      char c;
      while (!stopping_ && stream.read_some(net::buffer(&c, 1), ec) > 0 && !ec) {
      }
      return;
    }
    case k::reject_status:
      return write_raw(stream,
                       "HTTP/1.1 " + std::to_string(b_.status) +
                           " Refused\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope");
    case k::huge_refusal: {
      write_raw(stream, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 8388608\r\n\r\n" +
                            std::string(256 * 1024, 'x'));
      char c;
      while (!stopping_ && stream.read_some(net::buffer(&c, 1), ec) > 0 && !ec) {
      }
      return;
    }
    case k::redirect:
      return write_raw(stream, "HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:1/elsewhere\r\n"
                               "Content-Length: 0\r\nConnection: close\r\n\r\n");
    case k::bad_accept:
      return write_raw(stream, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\nSec-WebSocket-Accept: Ym9ndXM=\r\n\r\n");
    default:
      break;
    }
    for (const auto &[name, value] : b_.require_headers)
      if (req[name] != value)
        return write_raw(stream, "HTTP/1.1 400 Missing Header\r\nContent-Length: 0\r\n\r\n");
    std::string selected;
    if (!b_.require_subprotocol.empty()) {
      const std::string offered(req[http::field::sec_websocket_protocol]);
      if (offered.find(b_.require_subprotocol) == std::string::npos)
        return write_raw(stream, "HTTP/1.1 400 Subprotocol Required\r\nContent-Length: 0\r\n\r\n");
      selected = b_.require_subprotocol;
    }
    if (b_.mode == k::unoffered_subprotocol)
      selected = "zzz-unoffered";

    websocket::stream<std::remove_reference_t<decltype(stream)> &> ws(stream);
    ws.read_message_max(64 * 1024 * 1024);
    ws.set_option(websocket::stream_base::decorator([selected](websocket::response_type &r) {
      if (!selected.empty())
        r.set(http::field::sec_websocket_protocol, selected);
    }));
    ws.accept(req, ec);
    if (ec)
      return;
    ++open_;
    struct open_guard {
      std::atomic<std::size_t> &n;
      ~open_guard() { --n; }
    } guard{open_};
    for (const auto &frame : b_.binary_on_open) {
      ws.binary(true);
      ws.write(net::buffer(frame), ec);
    }
    if (b_.mode == k::push_large) {
      ws.text(true);
      ws.write(net::buffer(std::string(b_.push_bytes, 'x')), ec);
    }
    if (b_.mode == k::pump) {
      const std::string chunk(64 * 1024, 'p');
      ws.binary(true);
      while (!stopping_ && pumped_ < b_.push_bytes) {
        ws.write(net::buffer(chunk), ec);
        if (ec)
          return;
        pumped_ += chunk.size();
      }
    }
    if (b_.mode == k::mute) {
      // Not reading means no pong is ever sent: to the host this peer looks dead.
      while (!stopping_)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return;
    }
    for (;;) {
      beast::flat_buffer in;
      ws.read(in, ec);
      if (ec)
        return;
      {
        std::lock_guard lock(mutex_);
        received_.push_back(beast::buffers_to_string(in.data()));
      }
      if (b_.mode == k::reset_after_first) {
        {
          std::lock_guard lock(mutex_);
          std::erase(fds_, fd); // closed here, before serve() ends: stop() must not touch it
        }
        sock.set_option(net::socket_base::linger(true, 0), ec);
        sock.close(ec);
        return;
      }
      if (b_.mode == k::close_after_first) {
        websocket::close_reason r(static_cast<std::uint16_t>(b_.close_code));
        r.reason = b_.close_reason;
        ws.close(r, ec);
        // Drain until the peer's close answer arrives.
        for (;;) {
          ws.read(in, ec);
          if (ec)
            return;
        }
      }
      if (b_.echo_delay_ms > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(b_.echo_delay_ms));
      ws.text(ws.got_text());
      ws.write(in.data(), ec);
      if (ec)
        return;
      if (b_.mode == k::echo_then_close) {
        websocket::close_reason r(static_cast<std::uint16_t>(b_.close_code));
        r.reason = b_.close_reason;
        ws.close(r, ec);
        for (;;) { // drain until the peer's close answer arrives
          ws.read(in, ec);
          if (ec)
            return;
        }
      }
    }
  };
  if (b_.tls) {
    beast::ssl_stream<tcp::socket &> tls(sock, impl_->tls);
    beast::error_code ec;
    tls.handshake(ssl::stream_base::server, ec);
    if (ec)
      return;
    run(tls);
  } else {
    run(sock);
  }
  beast::error_code ignored;
  sock.shutdown(tcp::socket::shutdown_both, ignored);
}

} // namespace apistudio::testing
