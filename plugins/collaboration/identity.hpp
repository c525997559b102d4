// identity.hpp — who a /ws client is and which workspace it joins, decided before the upgrade.
//
// With tokens configured: a token is required ("Authorization: Bearer <t>" header, else the
// "token" query parameter; the first of the two that is a configured token wins). Missing ->
// 401, unknown -> 401. "workspace_id" picks one of the token's workspaces (403 if not allowed),
// else the token's first. A "user_id" parameter is ignored: the token decides.
// Without tokens: "user_id" and "workspace_id" (else the default workspace) come from the query.
// No "user_id" leaves user_id empty: the session is not identified yet, and the plugin binds the
// first user_id the client declares in an event (collaboration_plugin.cpp).
// Query values are percent-decoded ('+' is a space); a malformed escape or an id outside
// [A-Za-z0-9._~@-]{1,128} -> 400. When a parameter is repeated the first one counts.
#pragma once

#include "collaboration/collaboration_settings.hpp"

#include <string>
#include <string_view>

namespace apistudio::plugins::collaboration {

struct identity_result {
  int http_status = 0; // 0: accepted
  std::string message; // why not (never contains a token)
  std::string user_id; // empty without tokens and without a user_id parameter
  std::string workspace_id;
  bool from_token = false;
};

identity_result resolve_identity(const settings &config, std::string_view query,
                                 std::string_view authorization_header);

// Compares in time that depends only on the lengths.
bool constant_time_equals(std::string_view a, std::string_view b) noexcept;

} // namespace apistudio::plugins::collaboration
