#include "debug_logger/redaction.hpp"

#include "common/json.hpp"
#include "common/json_depth.hpp"
#include "common/query_string.hpp"
#include "common/text.hpp"
#include "common/url_parts.hpp"

#include <array>

namespace apistudio::plugins::debug_logger {

namespace {
constexpr std::array<std::string_view, 4> always_sensitive_headers{
    "authorization", "proxy-authorization", "cookie", "set-cookie"};
constexpr std::array<std::string_view, 6> sensitive_header_words{"key",      "token", "secret",
                                                                 "password", "auth",  "session"};
constexpr std::array<std::string_view, 11> sensitive_query_words{
    "token", "key", "secret", "pass", "pwd", "auth", "session", "sig", "jwt", "credential", "code"};
constexpr std::size_t max_json_depth = 64;

bool mentions_credentials(std::string_view payload) noexcept {
  return payload.find("connect_external") != std::string_view::npos ||
         payload.find("\"url\"") != std::string_view::npos ||
         payload.find("\"headers\"") != std::string_view::npos;
}
} // namespace

redactor::redactor(std::vector<std::string> extra_header_names) {
  for (auto &n : extra_header_names)
    extra_lower_.push_back(common::to_lower(n));
}

bool redactor::sensitive_header(std::string_view name) const noexcept {
  for (const auto n : always_sensitive_headers)
    if (common::iequals(name, n))
      return true;
  for (const auto w : sensitive_header_words)
    if (common::icontains(name, w))
      return true;
  for (const auto &n : extra_lower_)
    if (common::iequals(name, n))
      return true;
  return false;
}

bool redactor::sensitive_query_name(std::string_view decoded_name) noexcept {
  for (const auto w : sensitive_query_words)
    if (common::icontains(decoded_name, w))
      return true;
  return false;
}

std::string redactor::redact_query(std::string_view query) {
  std::string out;
  out.reserve(query.size());
  bool first = true;
  for (const auto &p : common::split_query(query)) {
    if (!first)
      out += '&';
    first = false;
    out += p.raw_name;
    if (!p.has_value)
      continue;
    out += '=';
    // A name that does not decode is suspicious in itself: hide its value too.
    const auto name = common::percent_decode(p.raw_name);
    if (!name || sensitive_query_name(*name))
      out += redacted;
    else
      out += p.raw_value;
  }
  return out;
}

std::string redactor::redact_url(std::string_view url) {
  const auto parts = common::split_url(url);
  if (!parts)
    return "[unparseable URL, " + std::to_string(url.size()) + " bytes]";
  std::string out(parts->scheme);
  out += "://";
  if (parts->has_userinfo) {
    out += redacted;
    out += '@';
  }
  out += parts->host;
  if (!parts->port.empty()) {
    out += ':';
    out += parts->port;
  }
  out += parts->path;
  if (parts->has_query) {
    out += '?';
    out += redact_query(parts->query);
  }
  if (parts->has_fragment) {
    out += '#';
    out += redact_query(parts->fragment);
  }
  return out;
}

std::string redactor::redact_client_frame(std::string_view payload) const {
  const auto first = payload.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || payload[first] != '{') {
    if (mentions_credentials(payload))
      return "[frame withheld: not a JSON object]";
    return std::string(payload);
  }
  // Re-serialising deeply nested JSON would recurse without bound: withhold what might carry
  // credentials, show the rest as it came.
  if (common::json_nesting_exceeds(payload, max_json_depth)) {
    if (mentions_credentials(payload))
      return "[frame withheld: nested too deeply to redact]";
    return std::string(payload);
  }
  auto frame = common::json::parse(payload.begin(), payload.end(), nullptr, false);
  if (frame.is_discarded() || !frame.is_object()) {
    if (mentions_credentials(payload))
      return "[frame withheld: not a valid JSON object]";
    return std::string(payload);
  }
  // Not only connect_external: any envelope carrying a url or headers is treated the same, so a
  // frame the host reads differently from us (or a future envelope type) cannot slip through.
  if (!frame.contains("url") && !frame.contains("headers"))
    return std::string(payload);
  if (auto url = frame.find("url"); url != frame.end()) {
    *url = url->is_string() ? common::json(redact_url(url->get_ref<const std::string &>()))
                            : common::json(redacted);
  }
  if (auto headers = frame.find("headers"); headers != frame.end()) {
    if (headers->is_object()) {
      for (auto &item : headers->items())
        if (sensitive_header(item.key()))
          item.value() = redacted;
    } else {
      *headers = redacted;
    }
  }
  return frame.dump(-1, ' ', false, common::json::error_handler_t::replace);
}

} // namespace apistudio::plugins::debug_logger
