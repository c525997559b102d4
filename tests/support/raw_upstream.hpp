// raw_upstream.hpp — two more stand-ins for external WebSocket servers, for the security tests:
//
//  - scripted_upstream: completes the WebSocket handshake (Beast), then hands the raw TCP socket
//    to a script that writes whatever bytes it likes — invalid UTF-8 in a text frame, half a
//    frame followed by a reset. One thread per connection; meant for a handful of connections.
//  - async_echo_upstream: an echo server on one thread (asynchronous), for thousands of
//    connections (churn) without a thread each. It records the close code each peer sent.
//  - frame_with_its_upgrade: one connection, whose first frame (a close, a protocol violation)
//    comes with the 101; it measures how long the host keeps the TCP connection after the close
//    handshake.
//
// All listen on 127.0.0.1:0 and stop in their destructor.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace apistudio::testing {

class scripted_upstream {
public:
  // Runs on the connection's own thread after the 101 has been written; the socket is closed when
  // it returns (unless the script did so itself).
  using script = std::function<void(boost::asio::ip::tcp::socket &)>;
  explicit scripted_upstream(script s);
  ~scripted_upstream();
  scripted_upstream(const scripted_upstream &) = delete;
  scripted_upstream &operator=(const scripted_upstream &) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string &path = "/") const;
  std::size_t accepted() const { return accepted_.load(); }

  // A server frame (unmasked) with this opcode and payload.
  static std::string frame(int opcode, const std::string &payload, bool fin = true);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  script script_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> accepted_{0};
};

class async_echo_upstream {
public:
  async_echo_upstream();
  ~async_echo_upstream();
  async_echo_upstream(const async_echo_upstream &) = delete;
  async_echo_upstream &operator=(const async_echo_upstream &) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string &path = "/") const;
  std::size_t accepted() const { return accepted_.load(); }
  std::size_t open_now() const { return open_.load(); }
  // How many connections ended with each close code received from the peer (1006: none).
  std::map<int, std::size_t> close_codes() const;

  void stop();

private:
  struct impl;
  friend struct echo_connection;
  void record_close(int code);

  std::unique_ptr<impl> impl_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<std::size_t> accepted_{0};
  std::atomic<std::size_t> open_{0};
  mutable std::mutex mutex_;
  std::map<int, std::size_t> close_codes_;
};

// Its 101 and `first_frame` leave in one write, so the host reads them together. Once the host's
// close frame is in, it closes its half of the TCP connection, as a server does (RFC 6455 section
// 7.1.1), and times how long the host keeps its own half. Serves one connection.
class frame_with_its_upgrade {
public:
  explicit frame_with_its_upgrade(std::string first_frame);
  ~frame_with_its_upgrade();
  frame_with_its_upgrade(const frame_with_its_upgrade &) = delete;
  frame_with_its_upgrade &operator=(const frame_with_its_upgrade &) = delete;

  std::string url() const;
  // How long after the close handshake the host closed the TCP connection; negative if there was
  // no close handshake or the host held on for more than 10 s. Call once.
  std::future<std::chrono::milliseconds> held_after_close() { return held_.get_future(); }

private:
  void serve_one();

  std::string first_frame_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::socket connection_{ioc_};
  std::atomic<int> connection_fd_{-1}; // for the destructor, once accepted
  std::promise<std::chrono::milliseconds> held_;
  std::thread thread_; // last: it uses the members above
};

} // namespace apistudio::testing
