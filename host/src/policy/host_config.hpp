// host_config.hpp — every setting of the host, with the spec's defaults.
//
// Filled by load_config() (config_loader.hpp) from the operator's YAML; a default-constructed
// host_config is what an empty file means. docs/configuration.md documents each field.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/log_context.hpp"

namespace apistudio {

using namespace std::chrono_literals;

struct listen_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 58123;
  // Binding a non-loopback address without access tokens is refused unless this is true.
  bool allow_public_without_auth = false;
};

// The admin listener (docs/operations.md, "Admin listener"): metrics, probes and reload on a
// loopback port of their own, without the access token, as Envoy's admin and Kong's Admin API.
struct admin_config {
  std::string host; // empty: no admin listener
  std::uint16_t port = 0;
  bool enabled() const noexcept { return !host.empty(); }
};

struct limits_config {
  std::chrono::milliseconds connect_timeout = 30s;        // spec: 30 seconds
  std::size_t max_message_bytes = 1024 * 1024;            // spec: 1 MiB of payload
  std::size_t max_connections_per_client = 10;            // spec: 10 external connections
  std::size_t max_total_connections = 10000;              // client sockets; 503 past it
  std::size_t max_connection_tests_per_address = 4;       // test-connection dials; 429 past it
  std::size_t max_outbound_queue_bytes = 4 * 1024 * 1024; // per peer; pause at 1/2; 1013 past
  std::size_t max_http_header_bytes = 16 * 1024;          // 431 past it
  std::size_t max_http_body_bytes = 64 * 1024;            // 413 past it
  std::size_t max_handshake_headers = 64;                 // custom headers on connect_external
  std::size_t max_header_value_bytes = 8 * 1024;
  std::chrono::milliseconds http_header_timeout = 10s; // slow upgrade requests are closed
  std::chrono::milliseconds write_stall_timeout = 30s; // a client that never reads is closed
};

struct keepalive_config {
  // A ping goes to a peer silent for idle_timeout / 2; silent for idle_timeout, it is dead.
  std::chrono::milliseconds idle_timeout = 60s;
};

struct metrics_config {
  // GET /metrics on the main port (under the same admission as every endpoint); false: 404.
  bool enabled = true;
};

// What SIGTERM does (server/host_server.hpp, drain()). SIGINT and a second signal skip the drain.
struct shutdown_config {
  // Stop accepting at once; open sessions go on (messages in flight arrive) until every client
  // has gone or this ran out; then every client and upstream is closed with 1001. 0: at once.
  std::chrono::milliseconds drain_timeout = 5s;
};

struct tls_config {
  bool verify = true;                  // verify upstream certificates against the system store
  std::string ca_file;                 // extra CA bundle (PEM), added to the system store
  bool allow_insecure_opt_out = false; // lets connect_external carry "tls_verify": false
};

// One entry of the egress allow/deny lists: a host name pattern ("*.example.com"), an address or
// CIDR ("10.0.0.0/8", "::1/128"), optionally with a port (":8080") or port range.
struct egress_rule {
  std::string pattern;
  int line = 0; // where it was written, for error messages
};

struct egress_config {
  // "local-dev" (default: loopback and private ranges allowed) or "public-only".
  std::string preset = "local-dev";
  std::vector<egress_rule> allow; // wins over the preset; deny rules are checked before it
  std::vector<egress_rule> deny;
};

// One name server of resolver.servers.
struct name_server {
  std::string address; // IPv4 or IPv6, without brackets
  std::uint16_t port = 53;
};

// How upstream names are looked up (proxy/cares_resolver.hpp). A lookup's time is part of
// limits.connect_timeout: there is no timeout of its own to contradict it.
struct resolver_config {
  std::vector<name_server> servers;        // empty: the system's (/etc/resolv.conf)
  std::size_t max_lookups_per_client = 4;  // concurrent lookups of one client session
  std::size_t max_lookups_per_worker = 64; // concurrent lookups of one worker thread
};

struct security_config {
  // Browser origins allowed besides localhost/127.0.0.1/[::1] on any port. "*" is rejected.
  std::vector<std::string> allowed_origins;
  bool allow_missing_origin = true; // non-browser clients send no Origin
  // Bearer tokens that grant access to every endpoint; empty means no token needed.
  std::vector<std::string> access_tokens;
  // Extra Host header names accepted (DNS-rebinding check) besides loopback names.
  std::vector<std::string> allowed_hosts;
};

// How the host logs (docs/operations.md, "Logs").
struct log_config {
  log_format format = log_format::text;
  log_level level = log_level::info; // WEBSOCKET_DEBUG / `debug: true` still force debug
  // Repeated warnings and errors within this window are counted, not written (0: off).
  std::chrono::milliseconds repeat_window = 10s;
};

// Where the cluster's shared state lives (docs/cluster.md). Restart-only as a whole.
enum class cluster_backend { local, redis };

struct cluster_config {
  cluster_backend backend = cluster_backend::local; // local: in-process only, no Redis at all
  std::string url;                                  // as written: redis://HOST:PORT/DB
  std::string redis_host;                           // parsed from url (brackets removed)
  std::uint16_t redis_port = 6379;
  int redis_db = 0;
  std::string password; // AUTH; a secret: never logged, never in a message
  std::string node_id;  // empty: host name + "-" + pid, chosen at start
  std::string key_prefix = "apistudio:";
  std::chrono::milliseconds connect_timeout = 5s; // resolve + connect + AUTH + SELECT
  std::chrono::milliseconds command_timeout = 1s; // past it a command fails, the link is redone
  std::chrono::milliseconds lease_ttl = 15s;
  // How long a host's presence entries outlive its last heartbeat (docs/cluster.md, "Presence").
  std::chrono::milliseconds presence_ttl = 10s;
  // How often shared counters (SDK counter_add) send this host's counts and read the cluster's.
  std::chrono::milliseconds counter_sync_interval = 100ms;
  bool start_without_engine = false; // true: start local-only and join when Redis comes

  bool operator==(const cluster_config &) const = default;
};

struct plugin_config {
  std::string name; // as written; also the default file name (lib<name>.so)
  std::string path; // explicit file, relative to plugin_dir unless absolute
  bool enabled = true;
  nlohmann::json settings = nlohmann::json::object(); // the plugin's own block, as JSON
  std::string location; // "file:line:column" of the entry, for error messages
  // Where each mapping key and list item of `settings` was written: its RFC 6901 JSON Pointer
  // inside the block ("/rules/0/header"; "" is the block itself, at its `settings:` key) ->
  // "file:line:column". Empty for an entry without settings or not read from a file. Pointers
  // may contain keys a plugin treats as secrets: resolve them, do not print them.
  std::map<std::string, std::string> setting_locations;

  // Where to point when the plugin refuses its settings (sdk::settings_error::pointer()): that
  // setting's location, else its nearest written parent's, else the entry's.
  std::string location_of(std::string_view pointer) const {
    std::string at(pointer);
    for (;;) {
      if (const auto it = setting_locations.find(at); it != setting_locations.end())
        return it->second;
      if (at.empty())
        return location;
      const auto slash = at.rfind('/');
      at.resize(slash == std::string::npos ? 0 : slash);
    }
  }
};

struct host_config {
  std::string source_file; // where this came from ("" for defaults)
  listen_config listen;
  admin_config admin;
  int worker_threads = 0; // 0: number of cores
  limits_config limits;
  keepalive_config keepalive;
  metrics_config metrics;
  shutdown_config shutdown;
  tls_config tls;
  egress_config egress;
  resolver_config resolver;
  security_config security;
  log_config log;
  cluster_config cluster;
  bool debug = false; // also turned on by WEBSOCKET_DEBUG=true|1|yes
  std::string plugin_dir = "build/plugins";
  std::vector<plugin_config> plugins;
};

} // namespace apistudio
