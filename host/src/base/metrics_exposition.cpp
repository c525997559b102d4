#include "base/metrics_exposition.hpp"

#include <charconv>
#include <cmath>
#include <utility>
#include <vector>

namespace apistudio {

namespace {

class writer {
public:
  explicit writer(std::string &out) : out_(out) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).append(1, ' ').append(help).append(1, '\n');
    out_.append("# TYPE ").append(name).append(1, ' ').append(type).append(1, '\n');
  }

  // `labels`: name/value pairs; values are escaped as the format asks (\\, \", \n).
  void sample(std::string_view name,
              std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
              std::int64_t value) {
    begin(name, labels);
    char text[24];
    const auto r = std::to_chars(text, text + sizeof text, value);
    out_.append(text, r.ptr).append(1, '\n');
  }
  void sample(std::string_view name,
              std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
              double value) {
    begin(name, labels);
    out_.append(format_double(value)).append(1, '\n');
  }

  static std::string format_double(double value) {
    if (std::isinf(value))
      return value > 0 ? "+Inf" : "-Inf";
    char text[32];
    const auto r = std::to_chars(text, text + sizeof text, value);
    return std::string(text, r.ptr);
  }

private:
  void begin(std::string_view name,
             std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
    out_.append(name);
    if (labels.size() != 0) {
      out_.append(1, '{');
      bool first = true;
      for (const auto &[label, value] : labels) {
        if (!first)
          out_.append(1, ',');
        first = false;
        out_.append(label).append("=\"");
        for (const char c : value) {
          if (c == '\\')
            out_.append("\\\\");
          else if (c == '"')
            out_.append("\\\"");
          else if (c == '\n')
            out_.append("\\n");
          else
            out_.append(1, c);
        }
        out_.append(1, '"');
      }
      out_.append(1, '}');
    }
    out_.append(1, ' ');
  }

  std::string &out_;
};

// The counters and gauges of enum metric, grouped into families; each entry names its slot.
struct labelled_slot {
  metric slot;
  std::string_view label, value; // empty label: none
};
struct fixed_family {
  std::string_view name, type, help;
  std::vector<labelled_slot> slots;
};

const std::vector<fixed_family> &fixed_families() {
  static const std::vector<fixed_family> families = {
      {"apistudio_client_sessions_open",
       "gauge",
       "Client WebSocket sessions open now, by endpoint.",
       {{metric::sessions_open_proxy, "endpoint", "/api/websocket/connect"},
        {metric::sessions_open_ws, "endpoint", "/ws"}}},
      {"apistudio_client_sessions_opened_total",
       "counter",
       "Client WebSocket upgrades completed, by endpoint.",
       {{metric::sessions_opened_proxy, "endpoint", "/api/websocket/connect"},
        {metric::sessions_opened_ws, "endpoint", "/ws"}}},
      {"apistudio_client_slow_consumer_closes_total",
       "counter",
       "Clients closed with 1013 because their queue reached limits.max_outbound_queue.",
       {{metric::slow_consumer_closes, {}, {}}}},
      {"apistudio_write_stall_closes_total",
       "counter",
       "Peers closed because a write waited longer than limits.write_stall_timeout, by peer.",
       {{metric::write_stall_closes_client, "peer", "client"},
        {metric::write_stall_closes_upstream, "peer", "upstream"}}},
      {"apistudio_upstreams_open",
       "gauge",
       "Upstream WebSocket connections open now.",
       {{metric::upstreams_open, {}, {}}}},
      {"apistudio_upstream_connect_attempts_total",
       "counter",
       "connect_external commands that started a dial (after validation and plugins).",
       {{metric::upstream_connect_attempts, {}, {}}}},
      {"apistudio_messages_total",
       "counter",
       "Proxied messages, by direction (send_message to an upstream; an upstream's frame to its "
       "client).",
       {{metric::messages_client_to_upstream, "direction", "client_to_upstream"},
        {metric::messages_upstream_to_client, "direction", "upstream_to_client"}}},
      {"apistudio_message_bytes_total",
       "counter",
       "Payload bytes of proxied messages (decoded, without the envelope), by direction.",
       {{metric::message_bytes_client_to_upstream, "direction", "client_to_upstream"},
        {metric::message_bytes_upstream_to_client, "direction", "upstream_to_client"}}},
      {"apistudio_client_frames_total",
       "counter",
       "WebSocket data frames on client sockets (both endpoints, events included), by direction.",
       {{metric::client_frames_received, "direction", "received"},
        {metric::client_frames_sent, "direction", "sent"}}},
      {"apistudio_client_frame_bytes_total",
       "counter",
       "Payload bytes of the WebSocket data frames on client sockets, by direction.",
       {{metric::client_frame_bytes_received, "direction", "received"},
        {metric::client_frame_bytes_sent, "direction", "sent"}}},
      {"apistudio_queue_bytes",
       "gauge",
       "Bytes waiting in outbound queues now, by the peer they wait for.",
       {{metric::queue_bytes_client, "peer", "client"},
        {metric::queue_bytes_upstream, "peer", "upstream"}}},
      {"apistudio_egress_denials_total",
       "counter",
       "Dials refused by the egress rules (DESTINATION_DENIED), test-connection included.",
       {{metric::egress_denials, {}, {}}}},
      {"apistudio_bus_publishes_total",
       "counter",
       "Messages plugins published on the bus.",
       {{metric::bus_publishes, {}, {}}}},
      {"apistudio_bus_deliveries_total",
       "counter",
       "Bus messages handed to a subscribed session's plugins.",
       {{metric::bus_deliveries, {}, {}}}},
      {"apistudio_config_reloads_total",
       "counter",
       "Configuration reloads (SIGHUP), by result: applied, or failed with nothing changed.",
       {{metric::config_reloads_applied, "result", "applied"},
        {metric::config_reloads_failed, "result", "failed"}}},
      {"apistudio_cluster_bus_messages_total",
       "counter",
       "Cross-host bus messages (cluster.backend: redis), by outcome: published to Redis, "
       "received from another host, dropped (not sent: no engine, too many in flight, too "
       "large, failed), refused (not a valid envelope).",
       {{metric::cluster_bus_published, "outcome", "published"},
        {metric::cluster_bus_received, "outcome", "received"},
        {metric::cluster_bus_dropped, "outcome", "dropped"},
        {metric::cluster_bus_refused, "outcome", "refused"}}},
      {"apistudio_cluster_presence_errors_total",
       "counter",
       "Presence data from Redis refused rather than trusted, by kind: wrong_type (a key of "
       "another type), malformed (an entry, status or reply not as this host writes them).",
       {{metric::cluster_presence_wrong_type, "kind", "wrong_type"},
        {metric::cluster_presence_malformed, "kind", "malformed"}}},
      {"apistudio_cluster_engine_connected",
       "gauge",
       "1 while the connection to the cluster engine (Redis) is up, else 0.",
       {{metric::cluster_engine_connected, {}, {}}}},
      {"apistudio_cluster_shared_count_errors_total",
       "counter",
       "Shared counters (cluster.backend: redis) by kind of error: wrong_type and malformed "
       "(bad input from Redis, refused), failed (a batch unanswered or refused: counts stay "
       "local), dropped (a new key past the bound of keys held, counted on this host only).",
       {{metric::cluster_counter_wrong_type, "kind", "wrong_type"},
        {metric::cluster_counter_malformed, "kind", "malformed"},
        {metric::cluster_counter_failed, "kind", "failed"},
        {metric::cluster_counter_dropped, "kind", "dropped"}}},
  };
  return families;
}

struct keyed_family {
  keyed family;
  std::string_view name, help, extra_label, extra_value; // extra: a fixed label before the key
};

const std::vector<keyed_family> &keyed_families() {
  static const std::vector<keyed_family> families = {
      {keyed::sessions_closed_proxy, "apistudio_client_sessions_closed_total",
       "Client sessions ended, by endpoint and close code (the code of the closing handshake; "
       "1006 without one).",
       "endpoint", "/api/websocket/connect"},
      {keyed::sessions_closed_ws, "apistudio_client_sessions_closed_total", {}, "endpoint", "/ws"},
      {keyed::upstream_connect_failures,
       "apistudio_upstream_connect_failures_total",
       "Dials that failed, by error code (TIMEOUT, DNS_FAILED, CONNECTION_REFUSED, ...).",
       {},
       {}},
      {keyed::upstream_closes,
       "apistudio_upstream_closes_total",
       "Open upstream connections that ended, by close code (1006 without a closing handshake).",
       {},
       {}},
      {keyed::send_error_events,
       "apistudio_send_error_events_total",
       "send_error events sent to clients, by code.",
       {},
       {}},
      {keyed::error_events,
       "apistudio_error_events_total",
       "error events sent to clients, by code.",
       {},
       {}},
      {keyed::connection_error_events,
       "apistudio_connection_error_events_total",
       "connection_error events sent to clients, by code.",
       {},
       {}},
      {keyed::admission_refusals,
       "apistudio_admission_refusals_total",
       "HTTP requests refused before routing (Origin, Host, access token), by code.",
       {},
       {}},
  };
  return families;
}

} // namespace

std::string render_metrics(const metrics_registry::snapshot &m, const process_stats &process,
                           std::string_view version) {
  std::string out;
  out.reserve(16 * 1024);
  writer w(out);

  for (const fixed_family &f : fixed_families()) {
    w.family(f.name, f.type, f.help);
    for (const labelled_slot &s : f.slots) {
      const std::int64_t v = m.values[static_cast<std::size_t>(s.slot)];
      if (s.label.empty())
        w.sample(f.name, {}, v);
      else
        w.sample(f.name, {{s.label, s.value}}, v);
    }
  }

  w.family("apistudio_queue_high_water_bytes", "gauge",
           "The most bytes one outbound queue has held since the host started, by peer.");
  w.sample("apistudio_queue_high_water_bytes", {{"peer", "client"}},
           m.high_waters[static_cast<std::size_t>(high_water::queue_bytes_client)]);
  w.sample("apistudio_queue_high_water_bytes", {{"peer", "upstream"}},
           m.high_waters[static_cast<std::size_t>(high_water::queue_bytes_upstream)]);

  for (const keyed_family &f : keyed_families()) {
    if (!f.help.empty())
      w.family(f.name, "counter", f.help);
    for (const auto &v : m.keyed) {
      if (v.family != f.family)
        continue;
      if (f.extra_label.empty())
        w.sample(f.name, {{"code", v.key}}, v.value);
      else
        w.sample(f.name, {{f.extra_label, f.extra_value}, {"code", v.key}}, v.value);
    }
  }

  // Keyed by "plugin\ncode".
  const auto by_plugin = [&](keyed family, std::string_view name, std::string_view help) {
    w.family(name, "counter", help);
    for (const auto &v : m.keyed) {
      if (v.family != family)
        continue;
      const auto cut = v.key.find('\n');
      const std::string_view key = v.key;
      const std::string_view plugin = cut == std::string::npos ? "other" : key.substr(0, cut);
      const std::string_view code = cut == std::string::npos ? "other" : key.substr(cut + 1);
      w.sample(name, {{"plugin", plugin}, {"code", code}}, v.value);
    }
  };
  by_plugin(keyed::plugin_refusals, "apistudio_plugin_refusals_total",
            "Upgrades, messages and connects a plugin refused, by plugin and code.");
  by_plugin(keyed::plugin_closes, "apistudio_plugin_closes_total",
            "Client sessions a plugin's hook closed (the rate limiter's 1008 among them), by "
            "plugin and close code.");

  w.family("apistudio_plugin_hook_calls_total", "counter",
           "Plugin hook calls, by plugin and hook.");
  for (const auto &h : m.hooks)
    w.sample("apistudio_plugin_hook_calls_total",
             {{"plugin", h.plugin}, {"hook", hook_kind_name(h.hook)}}, h.calls);
  w.family(
      "apistudio_plugin_hook_failures_total", "counter",
      "Plugin hook calls that failed (FAIL, an unknown verdict or an exception), by plugin and "
      "hook.");
  for (const auto &h : m.hooks)
    w.sample("apistudio_plugin_hook_failures_total",
             {{"plugin", h.plugin}, {"hook", hook_kind_name(h.hook)}}, h.failures);
  w.family("apistudio_plugin_hook_duration_seconds", "histogram",
           "Time spent in plugin hooks, by plugin and hook; one call in 64 per worker is timed.");
  for (const auto &h : m.hooks) {
    const std::string_view hook = hook_kind_name(h.hook);
    std::int64_t cumulative = 0;
    for (std::size_t i = 0; i < h.buckets.size(); ++i) {
      cumulative += h.buckets[i];
      const std::string le = i < metrics_registry::hook_buckets.size()
                                 ? writer::format_double(metrics_registry::hook_buckets[i])
                                 : "+Inf";
      w.sample("apistudio_plugin_hook_duration_seconds_bucket",
               {{"plugin", h.plugin}, {"hook", hook}, {"le", le}}, cumulative);
    }
    w.sample("apistudio_plugin_hook_duration_seconds_sum", {{"plugin", h.plugin}, {"hook", hook}},
             h.seconds);
    w.sample("apistudio_plugin_hook_duration_seconds_count", {{"plugin", h.plugin}, {"hook", hook}},
             h.timed);
  }

  // Registered by plugins (plugin_metrics.hpp): names, help and label names were validated then.
  for (const auto &f : m.plugin_families) {
    w.family(f.name, f.kind == plugin_metric_kind::gauge ? "gauge" : "counter", f.help);
    for (const auto &v : f.values) {
      if (f.label_name.empty())
        w.sample(f.name, {}, v.value);
      else
        w.sample(f.name, {{f.label_name, v.label_value}}, v.value);
    }
  }

  w.family("apistudio_build_info", "gauge", "Always 1; the version label says which build runs.");
  w.sample("apistudio_build_info", {{"version", version}}, std::int64_t{1});

  if (process.available) {
    w.family("process_cpu_seconds_total", "counter",
             "Total user and system CPU time spent in seconds.");
    w.sample("process_cpu_seconds_total", {}, process.cpu_seconds);
    w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    w.sample("process_resident_memory_bytes", {}, process.resident_bytes);
    w.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    w.sample("process_virtual_memory_bytes", {}, process.virtual_bytes);
    w.family("process_open_fds", "gauge", "Number of open file descriptors.");
    w.sample("process_open_fds", {}, process.open_fds);
    w.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
    w.sample("process_max_fds", {}, process.max_fds);
    w.family("process_threads", "gauge", "Number of OS threads in the process.");
    w.sample("process_threads", {}, process.threads);
    w.family("process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds.");
    w.sample("process_start_time_seconds", {}, process.start_time_seconds);
  }
  return out;
}

} // namespace apistudio
