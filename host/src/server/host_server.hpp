// host_server.hpp — one running host: configuration, plugins, listener, worker threads.
//
// Construction loads plugins and binds the listener (throwing plugin_load_error or
// std::runtime_error with a message fit for the operator); start() runs the worker threads.
// drain() (SIGTERM) stops accepting and lets open sessions go on for shutdown.drain_timeout, then
// shuts down; shutdown() (SIGINT, a second signal) closes every client and upstream with 1001 at
// once and stops once every session is gone or the grace period ran out. Tests build one
// in-process on port 0.
#pragma once

#include "base/clock.hpp"
#include "base/logger.hpp"
#include "policy/host_config.hpp"
#include "proxy/name_resolver.hpp"
#include "proxy/session_services.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace apistudio {

struct host_options {
  std::unique_ptr<name_resolver> resolver; // default: c-ares with config.resolver
  const clock_source *clock = nullptr;     // default: the system clocks
  logger *log = nullptr;                   // default: the host's own (stderr)
  dial_observer on_dial;                   // tests record dials
};

class host_server {
public:
  explicit host_server(host_config config, host_options options = {});
  ~host_server();
  host_server(const host_server &) = delete;
  host_server &operator=(const host_server &) = delete;

  boost::asio::ip::tcp::endpoint endpoint() const;
  std::uint16_t port() const { return endpoint().port(); }
  session_services &context();
  const host_config &config() const { return config_; }

  void start();
  // Any thread; returns at once. Stops accepting (new sockets are refused, requests already read
  // get 503 SHUTTING_DOWN, /readyz says 503) while open sessions go on working, so messages in
  // flight arrive; once every client has gone or `timeout` ran out, shutdown(). SIGTERM.
  void drain(std::chrono::milliseconds timeout);
  // Any thread; returns at once. Closes everything with 1001 now, even in the middle of a drain.
  // SIGINT, and a second SIGINT/SIGTERM during a drain.
  void shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(4000));
  void watch_signals();
  // Blocks until the worker threads have finished (after shutdown).
  void wait();

private:
  void await_signal();
  void wait_for_drain();

  struct parts;
  host_config config_;
  std::unique_ptr<parts> parts_;
  bool started_ = false;
};

} // namespace apistudio
