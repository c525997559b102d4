#include "collaboration/identity.hpp"

#include "common/query_string.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <optional>

namespace apistudio::plugins::collaboration {

namespace {
identity_result refuse(int status, std::string why) {
  identity_result r;
  r.http_status = status;
  r.message = std::move(why);
  return r;
}

const token_grant *find_grant(const settings &config, std::string_view candidate) noexcept {
  const token_grant *found = nullptr;
  // Every token is compared, whatever matched earlier, so timing says nothing about which.
  for (const auto &grant : config.tokens)
    if (constant_time_equals(grant.token, candidate) && found == nullptr)
      found = &grant;
  return found;
}
} // namespace

bool constant_time_equals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size())
    return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

identity_result resolve_identity(const settings &config, std::string_view query,
                                 std::string_view authorization_header) {
  const auto workspace_param = common::find_query_value(query, "workspace_id");
  // Checked after authentication: an anonymous caller learns nothing but 401.
  const auto workspace_problem = [&]() -> std::optional<identity_result> {
    if (workspace_param.malformed)
      return refuse(400, "malformed workspace_id parameter");
    if (workspace_param.value && !valid_id(*workspace_param.value))
      return refuse(400, "invalid workspace_id: use 1-128 characters from A-Z a-z 0-9 . _ ~ - @");
    return std::nullopt;
  };

  identity_result r;
  if (!config.tokens.empty()) {
    std::string_view header_token;
    const auto header = common::trim(authorization_header);
    if (common::istarts_with(header, "bearer "))
      header_token = common::trim(header.substr(7));
    const auto query_token = common::find_query_value(query, "token");
    if (header_token.empty() && !query_token.value && !query_token.malformed)
      return refuse(401, "missing token");
    const token_grant *grant = header_token.empty() ? nullptr : find_grant(config, header_token);
    if (grant == nullptr && query_token.value)
      grant = find_grant(config, *query_token.value);
    if (grant == nullptr)
      return refuse(401, "invalid token");
    if (auto problem = workspace_problem())
      return *problem;
    r.user_id = grant->user_id;
    r.from_token = true;
    if (workspace_param.value) {
      const auto &allowed = grant->workspaces;
      if (std::find(allowed.begin(), allowed.end(), *workspace_param.value) == allowed.end())
        return refuse(403, "workspace not allowed for this token");
      r.workspace_id = *workspace_param.value;
    } else {
      r.workspace_id = grant->workspaces.front();
    }
    return r;
  }

  const auto user_param = common::find_query_value(query, "user_id");
  if (user_param.malformed)
    return refuse(400, "malformed user_id parameter");
  if (user_param.value) {
    if (!valid_id(*user_param.value))
      return refuse(400, "invalid user_id: use 1-128 characters from A-Z a-z 0-9 . _ ~ - @");
    r.user_id = *user_param.value;
  }
  if (auto problem = workspace_problem())
    return *problem;
  r.workspace_id = workspace_param.value ? *workspace_param.value : config.default_workspace;
  return r;
}

} // namespace apistudio::plugins::collaboration
