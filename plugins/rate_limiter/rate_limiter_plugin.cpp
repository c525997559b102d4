// rate_limiter_plugin.cpp — the hooks: count every client frame (on /ws and on proxy sockets
// alike) against the configured limits; on the first refused frame send RATE_LIMITED and close
// the socket with 1008 (the spec: "automatic disconnection on rate limit exceeded").
#include "rate_limiter/counter_store.hpp"
#include "rate_limiter/rate_limiter_settings.hpp"
#include "rate_limiter/sliding_window_log.hpp"

#include "common/iso_time.hpp"

#include <apistudio/plugin.hpp>

#include <memory>
#include <optional>
#include <string>

namespace apistudio::plugins::rate_limiter {
namespace {

struct connection_state {
  // Connection scope: the log lives with the socket and dies with it. Other scopes: the key into
  // the shared store.
  std::optional<sliding_window_log> own_log;
  std::string shared_key;
  bool limited = false;
};

class rate_limiter_plugin final : public sdk::plugin<connection_state> {
public:
  rate_limiter_plugin(sdk::host h, std::string_view settings_json)
      : plugin(h), settings_(parse_settings(settings_json)), store_(settings_.limits),
        limited_(h, "sessions_limited_total",
                 "Client sessions closed for exceeding a rate limit, by the limit that was full.",
                 "limit") {}

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
    const auto full =
        st->own_log ? st->own_log->try_admit(now) : store_.try_admit(st->shared_key, now);
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
  static sdk::verdict close(sdk::message &message) {
    message.set_close(1008, "rate limit exceeded");
    return sdk::verdict::close;
  }

  const settings settings_;
  in_memory_counter_store store_;
  const sdk::counter limited_; // apistudio_plugin_<name>_sessions_limited_total{limit}
};

} // namespace
} // namespace apistudio::plugins::rate_limiter

APISTUDIO_PLUGIN(apistudio::plugins::rate_limiter::rate_limiter_plugin, "rate_limiter", "1.0.0")
