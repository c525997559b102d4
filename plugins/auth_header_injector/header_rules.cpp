#include "auth_header_injector/header_rules.hpp"

#include "common/text.hpp"
#include "common/url_parts.hpp"

namespace apistudio::plugins::auth_header_injector {

bool host_matches(std::string_view pattern, std::string_view host) noexcept {
  if (!host.empty() && host.back() == '.')
    host.remove_suffix(1);
  if (pattern == "*")
    return !host.empty();
  if (pattern.size() > 2 && pattern.substr(0, 2) == "*.") {
    const std::string_view suffix = pattern.substr(1); // ".example.com"
    return host.size() > suffix.size() && common::iends_with(host, suffix);
  }
  return common::iequals(pattern, host);
}

bool path_matches(std::string_view prefix, std::string_view path) noexcept {
  if (path.empty())
    path = "/";
  if (path.substr(0, prefix.size()) != prefix)
    return false;
  if (path.size() == prefix.size() || prefix.back() == '/')
    return true;
  return path[prefix.size()] == '/';
}

bool url_matches(const url_match &match, const sdk::url &url) {
  if (url.host.empty())
    return false;
  if (match.scheme && !common::iequals(*match.scheme, url.scheme))
    return false;
  // Patterns keep an IPv6 literal in brackets (as written in a URL); the host's parts do not.
  if (match.host_pattern &&
      !host_matches(*match.host_pattern, url.host.find(':') == std::string_view::npos
                                             ? std::string(url.host)
                                             : "[" + std::string(url.host) + "]"))
    return false;
  if (match.port && url.port != *match.port)
    return false;
  if (match.path_prefix) {
    // The path the server will act on, not the one written: "/v1/../admin" is "/admin".
    const auto path = common::normalised_path(url.path);
    if (!path || !path_matches(*match.path_prefix, *path))
      return false;
  }
  return true;
}

std::vector<planned_edit> plan_for(const std::vector<header_rule> &rules, const sdk::url &url) {
  std::vector<planned_edit> plan;
  for (const auto &rule : rules) {
    if (!url_matches(rule.match, url))
      continue;
    for (const auto &edit : rule.edits)
      plan.push_back({&rule, &edit});
  }
  return plan;
}

} // namespace apistudio::plugins::auth_header_injector
