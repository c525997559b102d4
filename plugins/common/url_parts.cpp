#include "common/url_parts.hpp"

#include "common/text.hpp"

namespace apistudio::plugins::common {

namespace {
bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
} // namespace

std::optional<url_parts> split_url(std::string_view url) noexcept {
  url_parts out;
  const auto sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0)
    return std::nullopt;
  out.scheme = url.substr(0, sep);
  if (!is_alpha(out.scheme.front()))
    return std::nullopt;
  for (const char c : out.scheme)
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
      return std::nullopt;

  std::string_view rest = url.substr(sep + 3);
  const auto authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  rest = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);

  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    out.userinfo = authority.substr(0, at);
    out.has_userinfo = true;
    authority = authority.substr(at + 1);
  }
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    out.host = authority.substr(0, close + 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return std::nullopt;
      out.port = after.substr(1);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
  } else {
    out.host = authority;
  }
  for (const char c : out.port)
    if (!is_digit(c))
      return std::nullopt;

  if (const auto hash = rest.find('#'); hash != std::string_view::npos) {
    out.fragment = rest.substr(hash + 1);
    out.has_fragment = true;
    rest = rest.substr(0, hash);
  }
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    out.query = rest.substr(q + 1);
    out.has_query = true;
    rest = rest.substr(0, q);
  }
  out.path = rest;
  return out;
}

bool plausible_host(std::string_view host) noexcept {
  if (host.empty())
    return false;
  if (host.front() == '[') {
    if (host.size() < 4 || host.back() != ']')
      return false;
    for (const char c : host.substr(1, host.size() - 2)) {
      const bool hex = is_digit(c) || (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'f');
      if (!hex && c != ':' && c != '.')
        return false;
    }
    return true;
  }
  for (const char c : host)
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_' && c != '.')
      return false;
  return true;
}

bool plausible_userinfo(std::string_view userinfo) noexcept {
  for (const char c : userinfo) {
    const bool ok = is_alpha(c) || is_digit(c) ||
                    std::string_view("-._~%!$&'()*+,;=:").find(c) != std::string_view::npos;
    if (!ok)
      return false;
  }
  return true;
}

std::optional<std::uint16_t> effective_port(const url_parts &url) noexcept {
  if (!url.port.empty()) {
    if (url.port.size() > 5)
      return std::nullopt;
    unsigned value = 0;
    for (const char c : url.port)
      value = value * 10 + static_cast<unsigned>(c - '0');
    if (value == 0 || value > 65535)
      return std::nullopt;
    return static_cast<std::uint16_t>(value);
  }
  if (iequals(url.scheme, "ws") || iequals(url.scheme, "http"))
    return 80;
  if (iequals(url.scheme, "wss") || iequals(url.scheme, "https"))
    return 443;
  return std::nullopt;
}

namespace {

bool starts_with(std::string_view text, std::string_view prefix) noexcept {
  return text.substr(0, prefix.size()) == prefix;
}

// RFC 3986 5.2.4, on a path whose every "%2e" is already a dot.
std::string remove_dot_segments(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  const auto drop_last_segment = [&out] {
    const auto slash = out.rfind('/');
    out.erase(slash == std::string::npos ? 0 : slash);
  };
  while (!in.empty()) {
    if (starts_with(in, "../")) {
      in.remove_prefix(3);
    } else if (starts_with(in, "./")) {
      in.remove_prefix(2);
    } else if (starts_with(in, "/./")) {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (starts_with(in, "/../")) {
      in.remove_prefix(3);
      drop_last_segment();
    } else if (in == "/..") {
      in = "/";
      drop_last_segment();
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      const auto end = in.find('/', 1);
      const std::string_view segment = in.substr(0, end);
      out += segment;
      in.remove_prefix(segment.size());
    }
  }
  return out;
}

} // namespace

std::optional<std::string> normalised_path(std::string_view path) {
  std::string decoded;
  decoded.reserve(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '\\')
      return std::nullopt;
    if (c == '%' && i + 2 < path.size()) {
      const std::string_view code = path.substr(i + 1, 2);
      if (iequals(code, "2f") || iequals(code, "5c"))
        return std::nullopt;
      if (iequals(code, "2e")) {
        decoded += '.';
        i += 2;
        continue;
      }
    }
    decoded += c;
  }
  std::string normal = remove_dot_segments(decoded);
  if (normal.empty() || normal.front() != '/')
    normal.insert(0, 1, '/');
  return normal;
}

} // namespace apistudio::plugins::common
