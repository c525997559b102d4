// collaboration_settings.hpp — the collaboration plugin's settings table and parsing, and the
// id syntax shared by users, workspaces, collections and requests.
//
// Tokens are secrets: errors name a token entry by its position and user, never by the token.
// (The error's JSON pointer does contain a token written as a mapping key: the host only
// resolves pointers to a line of the YAML file and never prints them.)
#pragma once

#include <apistudio/settings.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace apistudio::plugins::collaboration {

inline constexpr std::string_view plugin_name = "collaboration";

// 1 to 128 characters from [A-Za-z0-9._~@-].
bool valid_id(std::string_view id) noexcept;

struct token_grant {
  std::string token; // SECRET
  std::string user_id;
  std::vector<std::string> workspaces; // non-empty; the first is the default
};

struct settings {
  std::vector<token_grant> tokens; // empty: identities come from query parameters
  std::string default_workspace = "default";
  std::optional<std::uint64_t> away_after_ms; // accepted and validated; reserved
};

std::span<const sdk::settings::setting_spec> settings_table() noexcept;

// Throws sdk::settings_error.
settings parse_settings(std::string_view json_text);

} // namespace apistudio::plugins::collaboration
