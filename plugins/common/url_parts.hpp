// url_parts.hpp — a minimal splitter for the absolute URLs plugins see
// ("wss://user@host:443/p?q#f").
//
// Plugins may not use the host's URL parser, and they need little: the scheme, the host and port
// to match rules, and the userinfo and query to redact them. The split is structural only (views
// into the input, nothing decoded); callers that make decisions on the host name must also call
// plausible_host() and treat anything else as "no match", so that a URL the host's own parser
// would read differently can never pick up a credential meant for another host.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace apistudio::plugins::common {

struct url_parts {
  std::string_view scheme;
  std::string_view userinfo; // without the '@'
  bool has_userinfo = false;
  std::string_view host;  // as written; an IPv6 literal keeps its brackets
  std::string_view port;  // digits as written; empty when absent
  std::string_view path;  // may be empty
  std::string_view query; // without the '?'
  bool has_query = false;
  std::string_view fragment; // without the '#'
  bool has_fragment = false;
};

// nullopt unless the text looks like scheme://authority[path][?query][#fragment].
std::optional<url_parts> split_url(std::string_view url) noexcept;

// A DNS name (letters, digits, '-', '_', '.') or a bracketed IPv6 literal, non-empty, and no
// byte outside those sets.
bool plausible_host(std::string_view host) noexcept;

// RFC 3986 userinfo characters only (unreserved, %XX, sub-delims, ':'). A backslash, for one,
// is read as a path separator by WHATWG parsers: "wss://evil.org\\@a.example.com" is evil.org.
bool plausible_userinfo(std::string_view userinfo) noexcept;

// The path a server acts on, for decisions made on the path: percent-encoded dots ("%2e") decoded
// and dot segments removed (RFC 3986 5.2.4), so "/v1/../admin" and "/v1/%2e%2e/admin" are
// "/admin"; an empty path is "/". nullopt when servers disagree on what the path is: a backslash
// (a separator to WHATWG parsers) or an encoded separator ("%2f", "%5c"), which some servers
// decode before routing and some do not. A caller that grants something by path grants nothing
// for nullopt.
std::optional<std::string> normalised_path(std::string_view path);

// The port written, else 80 for ws/http and 443 for wss/https; nullopt if unknown or invalid.
std::optional<std::uint16_t> effective_port(const url_parts &url) noexcept;

} // namespace apistudio::plugins::common
