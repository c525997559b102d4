#include "rate_limiter/rate_limiter_settings.hpp"

#include "common/duration.hpp"
#include "common/json.hpp"

#include <array>
#include <limits>

namespace apistudio::plugins::rate_limiter {

namespace cfg = sdk::settings;

namespace {
constexpr std::array<cfg::setting_spec, 2> table{{
    {"limits", "list of `{messages, window}`", "`[{messages: 100, window: 60s}]`",
     "Every limit applies at once (e.g. a burst limit and a per-minute limit). `messages`: "
     "integer from 1 to 1000000; `window`: duration (`500ms`, `1s`, `60s`, `2m`, `1h`, or an "
     "integer of seconds) up to 24h. A message is refused when any limit is full."},
    {"scope", "string", "`connection`",
     "Who shares a budget: `connection` (each client socket), `client_id` (all sockets of one "
     "`{client_id}` of the proxy path; sockets without one, such as `/ws`, fall back to "
     "`connection`) or `remote_address` (all sockets from one peer IP address)."},
}};

constexpr std::uint64_t max_messages = 1'000'000;
constexpr std::uint64_t max_window_ms = 24ull * 3'600'000;
} // namespace

std::span<const cfg::setting_spec> settings_table() noexcept { return table; }

settings parse_settings(std::string_view json_text) {
  const auto json = cfg::parse_settings(plugin_name, json_text, table);
  const cfg::key_path root;
  settings out;
  if (const auto it = json.find("limits"); it != json.end()) {
    const auto limits_at = root.key("limits");
    cfg::require_array(plugin_name, limits_at, *it);
    if (it->empty())
      cfg::fail(plugin_name, limits_at, "must list at least one limit");
    out.limits.clear();
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto where = limits_at.index(i);
      const auto &entry = (*it)[i];
      cfg::require_object(plugin_name, where, entry);
      cfg::check_keys(plugin_name, where, entry, {"messages", "window"});
      if (!entry.contains("messages") || !entry.contains("window"))
        cfg::fail(plugin_name, where, "needs both `messages` and `window`");
      rate_limit limit;
      limit.messages =
          cfg::read_uint(plugin_name, where.key("messages"), entry["messages"], 1, max_messages);
      const auto window = common::duration_ms_from_json(entry["window"]);
      if (!window || *window > max_window_ms)
        cfg::fail(plugin_name, where.key("window"),
                  "must be a duration such as 1s, 60s, 2m or 1h (at most 24h)");
      limit.window_ms = *window;
      out.limits.push_back(limit);
    }
  }
  if (const auto it = json.find("scope"); it != json.end()) {
    const auto s = cfg::read_string(plugin_name, root.key("scope"), *it);
    if (s == "connection")
      out.scope = limit_scope::connection;
    else if (s == "client_id")
      out.scope = limit_scope::client_id;
    else if (s == "remote_address")
      out.scope = limit_scope::remote_address;
    else
      cfg::fail(plugin_name, root.key("scope"),
                "must be one of connection, client_id, remote_address");
  }
  return out;
}

std::string rate_limited_event(const rate_limit &limit, std::string_view timestamp) {
  common::json event;
  event["type"] = "error";
  event["code"] = "RATE_LIMITED";
  event["error"] = "Rate limit exceeded: " + limit.describe();
  event["timestamp"] = timestamp;
  return event.dump();
}

} // namespace apistudio::plugins::rate_limiter
