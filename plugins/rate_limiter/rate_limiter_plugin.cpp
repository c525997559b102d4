// rate_limiter_plugin.cpp — the hooks: count every client frame (on /ws and on proxy sockets
// alike) against the configured limits; on the first refused frame send RATE_LIMITED and close
// the socket with 1008 (the spec: "automatic disconnection on rate limit exceeded").
#include "rate_limiter/counter_store.hpp"
#include "rate_limiter/rate_limiter_settings.hpp"
#include "rate_limiter/sliding_window_log.hpp"

#include "common/iso_time.hpp"

#include <apistudio/plugin.hpp>

#include <apistudio/settings.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace apistudio::plugins::rate_limiter {
namespace {

// The host's shared counters (SDK counter_add) take windows up to an hour.
constexpr std::uint64_t max_host_counter_window_ms = 3'600'000;
constexpr std::size_t max_host_counter_key = 256;

struct connection_state {
  // Connection scope: the log lives with the socket and dies with it. Other scopes: the key into
  // the shared store, or with a cluster (host().cluster_shared()) one host counter per limit.
  std::optional<sliding_window_log> own_log;
  std::string shared_key;
  std::vector<std::string> host_keys;
  bool limited = false;
};

// 64-bit FNV-1a: the same on every host (std::hash is not), for a key too long for the host.
std::uint64_t fnv1a(std::string_view text) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (const unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// "<shared key>#<limit index>": each limit counts on its own, even two with the same window.
std::vector<std::string> host_counter_keys(const std::string &shared_key, std::size_t limits) {
  std::string base = shared_key;
  if (base.size() > max_host_counter_key - 32) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(base)));
    base = base.substr(0, base.find(':') + 1) + "fnv1a:" + hex;
  }
  std::vector<std::string> keys;
  keys.reserve(limits);
  for (std::size_t i = 0; i < limits; ++i)
    keys.push_back(base + "#" + std::to_string(i));
  return keys;
}

class rate_limiter_plugin final : public sdk::plugin<connection_state> {
public:
  rate_limiter_plugin(sdk::host h, std::string_view settings_json)
      : plugin(h), settings_(parse_settings(settings_json)), store_(settings_.limits),
        // Shared scopes count through the host when it spans a cluster; otherwise (backend
        // local) the exact in-memory log as before.
        cluster_counts_(settings_.scope != limit_scope::connection && h.cluster_shared()),
        limited_(h, "sessions_limited_total",
                 "Client sessions closed for exceeding a rate limit, by the limit that was full.",
                 "limit") {
    if (!cluster_counts_)
      return;
    for (std::size_t i = 0; i < settings_.limits.size(); ++i)
      if (settings_.limits[i].window_ms > max_host_counter_window_ms)
        sdk::settings::fail(
            plugin_name, sdk::settings::key_path().key("limits").index(i).key("window"),
            "must be at most 1h when scope is client_id or remote_address on a "
            "cluster (cluster.backend: redis): the shared counters' longest window");
  }

  sdk::outcome on_session_open(sdk::session &, const sdk::session_info &info,
                               std::unique_ptr<connection_state> &state) override {
    auto st = std::make_unique<connection_state>();
    switch (settings_.scope) {
    case limit_scope::client_id:
      if (!info.client_id.empty())
        st->shared_key = "client_id:" + std::string(info.client_id);
      break;
    case limit_scope::remote_address:
      st->shared_key = "remote_address:" + std::string(info.remote_address);
      break;
    case limit_scope::connection:
      break;
    }
    if (st->shared_key.empty())
      st->own_log.emplace(settings_.limits);
    else if (cluster_counts_)
      st->host_keys = host_counter_keys(st->shared_key, settings_.limits.size());
    state = std::move(st);
    return sdk::verdict::continue_;
  }

  sdk::outcome on_client_message(sdk::session &session, connection_state *st,
                                 sdk::message &message) override {
    if (st == nullptr)
      return sdk::verdict::continue_;
    if (st->limited)
      return close(message); // frames already in flight behind the refused one
    const std::uint64_t now = host().now_ms();
    const auto full = st->own_log             ? st->own_log->try_admit(now)
                      : st->host_keys.empty() ? store_.try_admit(st->shared_key, now)
                                              : try_admit_counted(*st);
    if (!full)
      return sdk::verdict::continue_;

    st->limited = true;
    const auto &limit = settings_.limits[*full];
    // Bounded: one label value per configured limit.
    limited_.add(limit.describe());
    // A reply and a close cannot both be the verdict: queue the error frame first; the host
    // writes queued frames before the close frame.
    host().send(session.id(), rate_limited_event(limit, common::iso8601_now()));
    if (host().log_enabled(sdk::log_level::warn))
      host().log(sdk::log_level::warn, "session " + std::to_string(session.id()) +
                                           " closed: rate limit exceeded (" + limit.describe() +
                                           ")");
    return close(message);
  }

private:
  // The same contract as sliding_window_log::try_admit, on the host's sliding-window estimate
  // (docs/cluster.md, "Shared counters", for how far past a limit a cluster can go): read every
  // limit first (delta 0), so that a refused message consumes no budget, then count it in each.
  std::optional<std::size_t> try_admit_counted(const connection_state &st) const {
    for (std::size_t i = 0; i < settings_.limits.size(); ++i)
      if (host().count(st.host_keys[i], settings_.limits[i].window_ms, 0) >=
          settings_.limits[i].messages)
        return i;
    for (std::size_t i = 0; i < settings_.limits.size(); ++i)
      host().count(st.host_keys[i], settings_.limits[i].window_ms, 1);
    return std::nullopt;
  }

  static sdk::verdict close(sdk::message &message) {
    message.set_close(1008, "rate limit exceeded");
    return sdk::verdict::close;
  }

  const settings settings_;
  in_memory_counter_store store_;
  const bool cluster_counts_;
  const sdk::counter limited_; // apistudio_plugin_<name>_sessions_limited_total{limit}
};

} // namespace
} // namespace apistudio::plugins::rate_limiter

APISTUDIO_PLUGIN(apistudio::plugins::rate_limiter::rate_limiter_plugin, "rate_limiter", "1.0.0")
