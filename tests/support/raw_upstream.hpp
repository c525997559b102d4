// raw_upstream.hpp — two more stand-ins for external WebSocket servers, for the security tests:
//
//  - scripted_upstream: completes the WebSocket handshake (Beast), then hands the raw TCP socket
//    to a script that writes whatever bytes it likes — invalid UTF-8 in a text frame, half a
//    frame followed by a reset. One thread per connection; meant for a handful of connections.
//  - async_echo_upstream: an echo server on one thread (asynchronous), for thousands of
//    connections (churn) without a thread each. It records the close code each peer sent.
//
// Both listen on 127.0.0.1:0 and stop in their destructor.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
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

} // namespace apistudio::testing
