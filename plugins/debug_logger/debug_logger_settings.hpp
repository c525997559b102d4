// debug_logger_settings.hpp — the debug_logger's settings table and parsing, and the spec's
// WEBSOCKET_DEBUG switch.
#pragma once

#include <apistudio/settings.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace apistudio::plugins::debug_logger {

inline constexpr std::string_view plugin_name = "debug_logger";

struct settings {
  bool enabled = false; // resolved: "auto" already turned into the environment's answer
  std::size_t max_payload_log_bytes = 256;
  std::vector<std::string> redact_headers;
};

std::span<const sdk::settings::setting_spec> settings_table() noexcept;

// True for "true", "1", "yes" in any case (the spec's WEBSOCKET_DEBUG=true); false otherwise,
// including unset.
bool debug_env_enabled(const std::optional<std::string> &websocket_debug) noexcept;

// `websocket_debug` is the value of WEBSOCKET_DEBUG (nullopt when unset), read by the caller so
// tests need no environment. Throws sdk::settings_error.
settings parse_settings(std::string_view json_text,
                        const std::optional<std::string> &websocket_debug);

} // namespace apistudio::plugins::debug_logger
