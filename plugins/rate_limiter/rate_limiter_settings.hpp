// rate_limiter_settings.hpp — the rate_limiter's settings table, their parsing, and the
// RATE_LIMITED error event it sends before closing a socket.
#pragma once

#include "rate_limiter/sliding_window_log.hpp"

#include <apistudio/settings.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace apistudio::plugins::rate_limiter {

inline constexpr std::string_view plugin_name = "rate_limiter";

// Whose messages share one budget.
enum class limit_scope { connection, client_id, remote_address };

struct settings {
  std::vector<rate_limit> limits{{100, 60'000}}; // the spec: 100 messages per minute
  limit_scope scope = limit_scope::connection;
};

std::span<const sdk::settings::setting_spec> settings_table() noexcept;

// Throws sdk::settings_error naming the offending key and pointing at it.
settings parse_settings(std::string_view json_text);

// {"type":"error","code":"RATE_LIMITED","error":"Rate limit exceeded: <limit>","timestamp":...}
std::string rate_limited_event(const rate_limit &limit, std::string_view timestamp);

} // namespace apistudio::plugins::rate_limiter
