// header_rules.hpp — the auth_header_injector's rules: which upstream URLs a rule applies to, the
// header edits it makes, and the plan of edits for one connect_external handshake.
//
// Rules apply in the order written; every matching rule applies (a later rule's edits come after
// an earlier one's). Within a rule: `remove`, then `set`, then `append`.
//
// Secrets: header_edit::value holds a credential. It is never logged and never put into an error
// message; only header names, rule labels, variable names and file paths are.
#pragma once

#include <apistudio/plugin.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace apistudio::plugins::auth_header_injector {

struct url_match {
  std::optional<std::string> scheme;       // lower case: "ws" or "wss"
  std::optional<std::string> host_pattern; // lower case: "api.example.com" or "*.example.com"
  std::optional<std::uint16_t> port;       // compared with the URL's port or its scheme default
  std::optional<std::string> path_prefix;  // starts with '/'; matched segment-wise
};

// "*.example.com" matches "a.example.com" and "a.b.example.com", never "example.com"; "*"
// matches every host; anything else is an exact, case-insensitive comparison. A trailing dot on
// the host ("example.com.") is ignored.
bool host_matches(std::string_view pattern, std::string_view host) noexcept;

// "/v1" matches "/v1", "/v1/" and "/v1/x", not "/v10"; a prefix ending in '/' matches as a plain
// prefix. An empty path counts as "/".
bool path_matches(std::string_view prefix, std::string_view path) noexcept;

// `url` is the upstream URL as the host parsed and validated it (no userinfo, a real host), so
// the rule matches what the host will dial. The path prefix is matched on the normalised path
// (common::normalised_path): "/v1/../admin" is not under "/v1", and a path with an encoded
// separator matches no prefix.
bool url_matches(const url_match &match, const sdk::url &url);

enum class edit_kind { remove, set, set_if_absent, append };

struct header_edit {
  edit_kind kind;
  std::string name;
  std::string value; // SECRET; empty for remove
};

struct header_rule {
  std::string label; // "rules[0]" or "rules[0] (name)": what logs and errors call the rule
  url_match match;
  std::vector<header_edit> edits; // already in application order
};

// The edits of every rule matching `url`, in order, each with the label of its rule.
struct planned_edit {
  const header_rule *rule;
  const header_edit *edit;
};
std::vector<planned_edit> plan_for(const std::vector<header_rule> &rules, const sdk::url &url);

} // namespace apistudio::plugins::auth_header_injector
