// session_services.hpp — the services every session of one host shares. Owned by host_server;
// outlives every session (the server drains sessions before destroying it).
#pragma once

#include "base/clock.hpp"
#include "base/logger.hpp"
#include "base/metrics.hpp"
#include "cluster/cluster_engine.hpp"
#include "plugin_host/plugin_runtime.hpp"
#include "plugin_host/session_port.hpp"
#include "policy/live_settings.hpp"
#include "policy/reload_outcome.hpp"
#include "proxy/client_registry.hpp"
#include "proxy/connection_slot.hpp"
#include "proxy/name_resolver.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <cstdint>
#include <functional>

namespace apistudio {

// Observes every TCP dial the host makes (tests record them to prove nothing was dialled).
using dial_observer = std::function<void(const boost::asio::ip::tcp::endpoint &)>;

struct session_services {
  // The reloadable configuration with its admission and egress policies (live_settings.hpp): the
  // current snapshot per HTTP request and per dial; a client session keeps the one it started with.
  live_settings &settings;
  logger &log;
  const clock_source &clock;
  plugin_runtime &plugins;
  session_directory &directory; // every live client session; shutdown closes them through it
  client_registry &clients;
  name_resolver &resolver;
  boost::asio::ssl::context &upstream_tls;          // verifying context
  boost::asio::ssl::context &upstream_tls_insecure; // for the allowed per-connection opt-out
  metrics_registry &metrics; // counted per thread (base/metrics.hpp), read by GET /metrics
  dial_observer on_dial;

  // (Every member after on_dial has a default initialiser, so host_server's aggregate
  // initialisation can leave them out and next_session_id really starts at 1.)
  std::atomic<std::uint64_t> next_session_id{1};
  // HTTP + WebSocket client sockets and test-connection dials, for the total cap.
  std::atomic<std::size_t> live_client_sockets{0};
  per_address_count connection_tests{}; // test-connection dials in flight, per client address
  std::atomic<bool> stopping{false};
  // Clients closed because their queue reached limits.max_outbound_queue (each is also a warning
  // in the log).
  std::atomic<std::uint64_t> slow_consumer_closes{0};
  // host_server::reload, for the admin listener's POST /api/admin/reload (set by host_server).
  std::function<reload_outcome()> reload_configuration{};
  // The cluster engine with cluster.backend: redis (set by host_server), else nullptr.
  cluster::cluster_engine *cluster = nullptr;
};

} // namespace apistudio
