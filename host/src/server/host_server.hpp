// host_server.hpp — one running host: configuration, plugins, listener, worker threads.
//
// Construction loads plugins and binds the listener (throwing plugin_load_error or
// std::runtime_error with a message fit for the operator); start() runs the worker threads.
// drain() (SIGTERM) stops accepting and lets open sessions go on for shutdown.drain_timeout, then
// shuts down; shutdown() (SIGINT, a second signal) closes every client and upstream with 1001 at
// once and stops once every session is gone or the grace period ran out. reload() (also SIGHUP)
// re-reads the configuration and applies it without dropping a session (docs/operations.md,
// "Live reload"). Tests build one
// in-process on port 0.
#pragma once

#include "base/clock.hpp"
#include "base/logger.hpp"
#include "policy/host_config.hpp"
#include "policy/reload_outcome.hpp"
#include "proxy/name_resolver.hpp"
#include "proxy/session_services.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace apistudio {

struct host_options {
  std::unique_ptr<name_resolver> resolver; // default: c-ares with config.resolver
  const clock_source *clock = nullptr;     // default: the system clocks
  logger *log = nullptr;                   // default: the host's own (stderr)
  dial_observer on_dial;                   // tests record dials
  // Reads the configuration again for reload(): the file, with what the command line overrides
  // applied as at startup. Throws config_error (or another std::exception) for a bad file. Empty:
  // the host has no file to re-read, and every reload fails saying so.
  std::function<host_config()> reload_source;
};

// Reloads since start, for operators' metrics.
struct reload_counts {
  std::uint64_t applied = 0;
  std::uint64_t failed = 0;
};

class host_server {
public:
  explicit host_server(host_config config, host_options options = {});
  ~host_server();
  host_server(const host_server &) = delete;
  host_server &operator=(const host_server &) = delete;

  boost::asio::ip::tcp::endpoint endpoint() const;
  std::uint16_t port() const { return endpoint().port(); }
  // Where the admin listener listens (admin.listen), if configured.
  std::optional<boost::asio::ip::tcp::endpoint> admin_endpoint() const;
  session_services &context();
  // The configuration the host started with; restart-only settings keep these values.
  const host_config &config() const { return config_; }
  // The settings in force now (they change with each applied reload).
  std::shared_ptr<const settings_snapshot> settings() const;

  void start();
  // Any thread; returns at once. Stops accepting (new sockets are refused, requests already read
  // get 503 SHUTTING_DOWN, /readyz says 503) while open sessions go on working, so messages in
  // flight arrive; once every client has gone or `timeout` ran out, shutdown(). SIGTERM.
  void drain(std::chrono::milliseconds timeout);
  // Any thread; returns at once. Closes everything with 1001 now, even in the middle of a drain.
  // SIGINT, and a second SIGINT/SIGTERM during a drain.
  void shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(4000));
  // SIGINT/SIGTERM: shutdown(). SIGHUP: reload().
  void watch_signals();
  // Blocks until the worker threads have finished (after shutdown).
  void wait();

  // Any thread; one reload at a time. Re-reads the configuration through
  // host_options::reload_source. Valid: admission and egress apply at once (to the next request
  // and dial), limits and keepalive to new sessions; open sessions stay. Invalid: nothing changes
  // and the error is logged and counted.
  reload_outcome reload();
  reload_counts reload_stats() const;

private:
  void await_signal();
  void wait_for_drain();

  struct parts;
  host_config config_;
  std::unique_ptr<parts> parts_;
  bool started_ = false;
};

} // namespace apistudio
