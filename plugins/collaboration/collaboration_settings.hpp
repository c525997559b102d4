// collaboration_settings.hpp — the collaboration plugin's settings table and parsing, and the
// id syntax shared by users, workspaces, collections and requests.
//
// Tokens are secrets: errors name a token entry by its position and user, never by the token.
#pragma once

#include "common/settings_table.hpp"

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

std::span<const common::setting_spec> settings_table() noexcept;

// Throws sdk::settings_error.
settings parse_settings(std::string_view json_text);

} // namespace apistudio::plugins::collaboration
