#include "collaboration/collaboration_settings.hpp"

#include "common/duration.hpp"

#include <array>

namespace apistudio::plugins::collaboration {

namespace {
constexpr std::array<common::setting_spec, 3> table{{
    {"tokens",
     "list of `{token, user_id, workspaces}`, or mapping of token to `{user_id, workspaces}`",
     "`{}`",
     "When not empty, every `/ws` client needs a token (`Authorization: Bearer <token>` or "
     "`?token=`): it fixes the user id and the workspaces the client may join (the first is the "
     "default). Prefer the list form with `token: ${ENV_VAR}`: the config loader expands `${...}` "
     "in values, not in keys. Empty: the client names itself with `?user_id=` (unauthenticated)."},
    {"default_workspace", "string", "`default`",
     "The workspace of a client that names none, when no tokens are configured."},
    {"away_after", "duration", "none",
     "Reserved: accepted and validated (e.g. `5m`) but not acted on in this release; clients "
     "report `away` themselves."},
}};
} // namespace

bool valid_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128)
    return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '~' || c == '-' || c == '@';
    if (!ok)
      return false;
  }
  return true;
}

std::span<const common::setting_spec> settings_table() noexcept { return table; }

settings parse_settings(std::string_view json_text) {
  const auto json = common::parse_settings(plugin_name, json_text, table);
  settings out;
  if (const auto it = json.find("tokens"); it != json.end() && !it->is_null()) {
    if (!it->is_array() && !it->is_object())
      common::settings_fail(plugin_name, "tokens",
                            "must be a list of {token, user_id, workspaces} or a mapping");
    std::size_t index = 0;
    for (const auto &item : it->items()) {
      // Never the token itself in a message: its position, then its user once known.
      std::string where = "tokens entry " + std::to_string(++index);
      const auto &grant_json = item.value();
      common::require_object(plugin_name, where, grant_json);
      token_grant grant;
      if (it->is_array()) {
        common::check_keys(plugin_name, where, grant_json, {"token", "user_id", "workspaces"});
        if (!grant_json.contains("token"))
          common::settings_fail(plugin_name, where, "needs `token`");
        if (!grant_json["token"].is_string())
          common::settings_fail(plugin_name, where + ".token", "must be a string");
        grant.token = grant_json["token"].get<std::string>();
      } else {
        common::check_keys(plugin_name, where, grant_json, {"user_id", "workspaces"});
        grant.token = item.key();
      }
      if (grant.token.empty())
        common::settings_fail(plugin_name, where, "the token is empty");
      for (const auto &earlier : out.tokens)
        if (earlier.token == grant.token)
          common::settings_fail(plugin_name, where, "repeats the token of user " + earlier.user_id);
      if (!grant_json.contains("user_id"))
        common::settings_fail(plugin_name, where, "needs `user_id`");
      grant.user_id = common::read_string(plugin_name, where + ".user_id", grant_json["user_id"]);
      if (!valid_id(grant.user_id))
        common::settings_fail(plugin_name, where + ".user_id",
                              "must be 1-128 characters from A-Z a-z 0-9 . _ ~ - @");
      where += " (user " + grant.user_id + ")";
      if (!grant_json.contains("workspaces"))
        common::settings_fail(plugin_name, where, "needs `workspaces`");
      const auto &list = grant_json["workspaces"];
      common::require_array(plugin_name, where + ".workspaces", list);
      if (list.empty())
        common::settings_fail(plugin_name, where + ".workspaces",
                              "must list at least one workspace");
      for (std::size_t i = 0; i < list.size(); ++i) {
        const auto at = where + ".workspaces[" + std::to_string(i) + "]";
        auto ws = common::read_string(plugin_name, at, list[i]);
        if (!valid_id(ws))
          common::settings_fail(plugin_name, at,
                                "must be 1-128 characters from A-Z a-z 0-9 . _ ~ - @");
        grant.workspaces.push_back(std::move(ws));
      }
      out.tokens.push_back(std::move(grant));
    }
  }
  if (const auto it = json.find("default_workspace"); it != json.end()) {
    out.default_workspace = common::read_string(plugin_name, "default_workspace", *it);
    if (!valid_id(out.default_workspace))
      common::settings_fail(plugin_name, "default_workspace",
                            "must be 1-128 characters from A-Z a-z 0-9 . _ ~ - @");
  }
  if (const auto it = json.find("away_after"); it != json.end() && !it->is_null()) {
    out.away_after_ms = common::duration_ms_from_json(*it);
    if (!out.away_after_ms)
      common::settings_fail(plugin_name, "away_after", "must be a duration such as 30s or 5m");
  }
  return out;
}

} // namespace apistudio::plugins::collaboration
