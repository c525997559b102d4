#include "collaboration/collaboration_settings.hpp"

#include "common/duration.hpp"

#include <array>

namespace apistudio::plugins::collaboration {

namespace cfg = sdk::settings;

namespace {
constexpr std::array<cfg::setting_spec, 3> table{{
    {"tokens",
     "list of `{token, user_id, workspaces}`, or mapping of token to `{user_id, workspaces}`",
     "`{}`",
     "When not empty, every `/ws` client needs a token (`Authorization: Bearer <token>` or "
     "`?token=`): it fixes the user id and the workspaces the client may join (the first is the "
     "default). Prefer the list form with `token: ${ENV_VAR}`: the config loader expands `${...}` "
     "in values, not in keys. Empty: the client names itself (unauthenticated) with `?user_id=`, "
     "else with the `user_id` of its first event."},
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

std::span<const cfg::setting_spec> settings_table() noexcept { return table; }

settings parse_settings(std::string_view json_text) {
  const auto json = cfg::parse_settings(plugin_name, json_text, table);
  const cfg::key_path root;
  settings out;
  if (const auto it = json.find("tokens"); it != json.end() && !it->is_null()) {
    const auto tokens_at = root.key("tokens");
    if (!it->is_array() && !it->is_object())
      cfg::fail(plugin_name, tokens_at,
                "must be a list of {token, user_id, workspaces} or a mapping");
    std::size_t index = 0;
    for (const auto &item : it->items()) {
      // Never the token itself in a message: its position, then its user once known. The
      // pointer is exact (a list index, or the token as a mapping key) and never printed.
      cfg::key_path where("tokens entry " + std::to_string(++index),
                          tokens_at.pointer() + "/" + cfg::pointer_token(item.key()));
      const auto &grant_json = item.value();
      cfg::require_object(plugin_name, where, grant_json);
      token_grant grant;
      // Where the token itself was written, in the entry's words.
      auto token_at = where;
      if (it->is_array()) {
        cfg::check_keys(plugin_name, where, grant_json, {"token", "user_id", "workspaces"});
        if (!grant_json.contains("token"))
          cfg::fail(plugin_name, where, "needs `token`");
        if (!grant_json["token"].is_string())
          cfg::fail(plugin_name, where.key("token"), "must be a string");
        grant.token = grant_json["token"].get<std::string>();
        token_at = where.key("token").labelled(where.words());
      } else {
        cfg::check_keys(plugin_name, where, grant_json, {"user_id", "workspaces"});
        grant.token = item.key();
      }
      if (grant.token.empty())
        cfg::fail(plugin_name, token_at, "the token is empty");
      for (const auto &earlier : out.tokens)
        if (earlier.token == grant.token)
          cfg::fail(plugin_name, token_at, "repeats the token of user " + earlier.user_id);
      if (!grant_json.contains("user_id"))
        cfg::fail(plugin_name, where, "needs `user_id`");
      grant.user_id = cfg::read_string(plugin_name, where.key("user_id"), grant_json["user_id"]);
      if (!valid_id(grant.user_id))
        cfg::fail(plugin_name, where.key("user_id"),
                  "must be 1-128 characters from A-Z a-z 0-9 . _ ~ - @");
      where = where.labelled(where.words() + " (user " + grant.user_id + ")");
      if (!grant_json.contains("workspaces"))
        cfg::fail(plugin_name, where, "needs `workspaces`");
      const auto &list = grant_json["workspaces"];
      const auto list_at = where.key("workspaces");
      cfg::require_array(plugin_name, list_at, list);
      if (list.empty())
        cfg::fail(plugin_name, list_at, "must list at least one workspace");
      for (std::size_t i = 0; i < list.size(); ++i) {
        auto ws = cfg::read_string(plugin_name, list_at.index(i), list[i]);
        if (!valid_id(ws))
          cfg::fail(plugin_name, list_at.index(i),
                    "must be 1-128 characters from A-Z a-z 0-9 . _ ~ - @");
        grant.workspaces.push_back(std::move(ws));
      }
      out.tokens.push_back(std::move(grant));
    }
  }
  if (const auto it = json.find("default_workspace"); it != json.end()) {
    out.default_workspace = cfg::read_string(plugin_name, root.key("default_workspace"), *it);
    if (!valid_id(out.default_workspace))
      cfg::fail(plugin_name, root.key("default_workspace"),
                "must be 1-128 characters from A-Z a-z 0-9 . _ ~ - @");
  }
  if (const auto it = json.find("away_after"); it != json.end() && !it->is_null()) {
    out.away_after_ms = common::duration_ms_from_json(*it);
    if (!out.away_after_ms)
      cfg::fail(plugin_name, root.key("away_after"), "must be a duration such as 30s or 5m");
  }
  return out;
}

} // namespace apistudio::plugins::collaboration
