// cluster_engine.hpp — the host's connection to its cluster engine (cluster.backend: redis):
// one Redis client on a thread of its own, the node's identity and the key names.
//
// Why a thread of its own: the engine is connected before the listener opens and before the
// workers run (host_server's constructor), and a Redis reply must never wait behind a busy
// worker, nor a worker behind Redis. Callers get their completions posted to their own executor
// (redis_client.hpp), so nothing a session does runs on this thread.
//
// Rules of use: one per host, only with backend redis (backend local creates none). Construct,
// then connect_first() from the starting thread (never a worker), then use client() from any
// thread. stop() (or the destructor) before the executors that completions go to are destroyed.
#pragma once

#include "cluster/redis_client.hpp"
#include "policy/host_config.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace apistudio {
class logger;
class metrics_registry;
} // namespace apistudio

namespace apistudio::cluster {

// Host name + "-" + pid: unique among the hosts of one machine and readable in Redis' keys.
std::string default_node_id();

class cluster_engine {
public:
  // `metrics` (may be null) gets the apistudio_cluster_engine_connected gauge.
  cluster_engine(const cluster_config &config, logger &log, metrics_registry *metrics = nullptr);
  ~cluster_engine();
  cluster_engine(const cluster_engine &) = delete;
  cluster_engine &operator=(const cluster_engine &) = delete;

  // Starts the client and blocks the calling thread until its first attempt ended (within
  // cluster.connect_timeout): "" when connected, else why not (never the password). The client
  // keeps trying in the background either way.
  std::string connect_first();
  void stop(); // idempotent; joins the engine's thread

  bool connected() const noexcept { return client_->connected(); }
  redis_client &client() noexcept { return *client_; }
  // Any thread, at most once, after connect_first(): a second connection of its own (pub/sub
  // needs one), subscribed to `channel` on every (re)connection. `on_message` and `on_state`
  // run on the engine's thread until stop(); what they use must outlive it.
  void subscribe(std::string channel, redis_client::message_handler on_message,
                 redis_client::state_observer on_state);
  const std::string &node_id() const noexcept { return node_id_; }
  const std::string &url() const noexcept { return url_; }
  // cluster.key_prefix + name: every key and channel this host uses.
  std::string key(std::string_view name) const;
  std::chrono::milliseconds lease_ttl() const noexcept { return lease_ttl_; }
  // The engine's own executor (its thread), for work that belongs to no session (lease renewals).
  boost::asio::any_io_executor executor() noexcept { return io_.get_executor(); }
  logger &log() noexcept { return log_; }
  // Any thread: a feature fell back to this host's own view because the engine could not answer
  // (`reason`). Logged once per outage; the next connection re-arms it.
  void note_fail_open(const std::string &reason);
  // Any thread: a number no other lease of this process has (the session part of a lease value).
  std::uint64_t next_lease_serial() noexcept { return ++lease_serial_; }

private:
  void observe(bool connected, const std::string &reason);

  logger &log_;
  metrics_registry *metrics_;
  std::string url_;
  std::string node_id_;
  std::string prefix_;
  std::chrono::milliseconds lease_ttl_;
  std::atomic<bool> fail_open_logged_{false};
  std::atomic<std::uint64_t> lease_serial_{0};
  boost::asio::io_context io_;
  std::shared_ptr<redis_client> client_;
  std::shared_ptr<redis_client> subscriber_; // set by subscribe(), before its first use there
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  bool stopped_ = false;
  // Touched on the engine's thread only (the observer runs there).
  bool ever_connected_ = false;
  bool outage_logged_ = false;
  bool gauge_up_ = false;
};

} // namespace apistudio::cluster
