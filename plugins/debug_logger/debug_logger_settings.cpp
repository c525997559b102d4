#include "debug_logger/debug_logger_settings.hpp"

#include "common/text.hpp"

#include <array>

namespace apistudio::plugins::debug_logger {

namespace cfg = sdk::settings;

namespace {
constexpr std::array<cfg::setting_spec, 3> table{{
    {"enabled", "boolean or `auto`", "`auto`",
     "`auto`: log when the environment variable `WEBSOCKET_DEBUG` is `true`, `1` or `yes` (any "
     "case) at load; `true`/`false` force it. When off every hook returns at once."},
    {"max_payload_log_bytes", "integer", "`256`",
     "Bytes of each payload shown (text cut on a UTF-8 boundary, binary as hex), followed by "
     "`…(+N bytes)`; `0` logs sizes only. At most 1048576."},
    {"redact_headers", "list of strings", "`[]`",
     "Extra header names (case-insensitive) whose values are logged as `[REDACTED]`, besides "
     "the built-in list."},
}};
} // namespace

std::span<const cfg::setting_spec> settings_table() noexcept { return table; }

bool debug_env_enabled(const std::optional<std::string> &websocket_debug) noexcept {
  if (!websocket_debug)
    return false;
  const auto v = common::trim(*websocket_debug);
  return common::iequals(v, "true") || v == "1" || common::iequals(v, "yes");
}

settings parse_settings(std::string_view json_text,
                        const std::optional<std::string> &websocket_debug) {
  const auto json = cfg::parse_settings(plugin_name, json_text, table);
  const cfg::key_path root;
  settings out;
  out.enabled = debug_env_enabled(websocket_debug);
  if (const auto it = json.find("enabled"); it != json.end()) {
    if (it->is_string() && *it == "auto")
      out.enabled = debug_env_enabled(websocket_debug);
    else if (it->is_boolean() || (it->is_string() && (*it == "true" || *it == "false")))
      out.enabled = cfg::read_bool(plugin_name, root.key("enabled"), *it);
    else
      cfg::fail(plugin_name, root.key("enabled"), "must be true, false or auto");
  }
  if (const auto it = json.find("max_payload_log_bytes"); it != json.end())
    out.max_payload_log_bytes = static_cast<std::size_t>(
        cfg::read_uint(plugin_name, root.key("max_payload_log_bytes"), *it, 0, 1024 * 1024));
  if (const auto it = json.find("redact_headers"); it != json.end() && !it->is_null()) {
    const auto list_at = root.key("redact_headers");
    cfg::require_array(plugin_name, list_at, *it);
    for (std::size_t i = 0; i < it->size(); ++i) {
      auto name = cfg::read_string(plugin_name, list_at.index(i), (*it)[i]);
      if (name.empty())
        cfg::fail(plugin_name, list_at.index(i), "must not be empty");
      out.redact_headers.push_back(std::move(name));
    }
  }
  return out;
}

} // namespace apistudio::plugins::debug_logger
