// auth_header_injector_settings.hpp — the settings table and its parsing into header_rules.
//
// Credentials from `env` and `file` are read once, here, at load: a missing variable or an
// unreadable file refuses the settings with a message naming the rule and the variable or file,
// never the value. Where they are read from is injectable so tests need no real environment.
#pragma once

#include "auth_header_injector/header_rules.hpp"

#include <apistudio/settings.hpp>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace apistudio::plugins::auth_header_injector {

inline constexpr std::string_view plugin_name = "auth_header_injector";

struct secret_sources {
  // nullopt when the variable is not set.
  std::function<std::optional<std::string>(const std::string &name)> env;
  // nullopt plus a reason (e.g. "No such file or directory") when the file cannot be read.
  std::function<std::optional<std::string>(const std::string &path, std::string &why)> read_file;
};

// getenv and a bounded (64 KiB) read of the file.
secret_sources system_secret_sources();

struct settings {
  std::vector<header_rule> rules;
};

std::span<const sdk::settings::setting_spec> settings_table() noexcept;
// The keys of one rule, and of one header value: documented in the README like the top level.
std::span<const sdk::settings::setting_spec> rule_table() noexcept;
std::span<const sdk::settings::setting_spec> value_table() noexcept;

// Throws sdk::settings_error.
settings parse_settings(std::string_view json_text, const secret_sources &sources);

// RFC 9110 token characters, and not one of the headers the host owns during the WebSocket
// handshake (Host, Connection, Upgrade, Sec-WebSocket-*, Content-Length, Transfer-Encoding).
bool valid_injectable_header_name(std::string_view name) noexcept;

} // namespace apistudio::plugins::auth_header_injector
