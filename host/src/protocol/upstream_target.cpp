// upstream_target.cpp — URL and handshake-header validation for connect_external.
//
// Everything here runs before any lookup or dial, on text that came from a client. Two rules run
// through the file: refuse early with a message a person can act on, and never copy the parts
// that may be secrets (userinfo, header values, subprotocols) into a message.
#include "protocol/upstream_target.hpp"

#include "base/log_redaction.hpp"

#include <boost/url.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apistudio {
namespace {

// Far above any real WebSocket URL; keeps a hostile client from making us parse megabytes.
constexpr std::size_t max_url_bytes = 8 * 1024;

constexpr char invalid_url[] = "Invalid URL: ";

bool fail(std::string &error, std::string_view why) {
  error = invalid_url;
  error += why;
  return false;
}

char to_lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower_ascii(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) { return to_lower_ascii(c); });
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return to_lower_ascii(x) == to_lower_ascii(y);
         });
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 7230 section 3.2.6.
bool is_tchar(char c) {
  if (is_alnum(c)) {
    return true;
  }
  constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return extra.find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_tchar);
}

// The scheme is checked by hand before Boost.URL sees the text, so that "http://…" or a bare
// "echo.websocket.org" get "scheme must be ws or wss" rather than a grammar error.
bool has_ws_scheme(std::string_view url) {
  const auto colon = url.find(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  const auto scheme = url.substr(0, colon);
  return iequals(scheme, "ws") || iequals(scheme, "wss");
}

// WHATWG URL's "ends in a number": browsers read such a host ("2130706433", "127.1", "0x7f.1")
// as an IPv4 address, getaddrinfo does too. Only the plain dotted quad is accepted as an address;
// the other spellings exist mostly to slip past filters and are refused.
bool ends_in_number(std::string_view host) {
  if (!host.empty() && host.back() == '.') {
    host.remove_suffix(1);
  }
  const auto dot = host.rfind('.');
  const auto last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) {
    return false;
  }
  if (std::all_of(last.begin(), last.end(), is_digit)) {
    return true;
  }
  return last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') &&
         std::all_of(last.begin() + 2, last.end(), is_hex_digit);
}

// Labels of letters, digits, '-' and '_' separated by single dots; one trailing dot allowed.
bool is_valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 254) {
    return false;
  }
  if (host.back() == '.') {
    host.remove_suffix(1);
  }
  std::size_t label = 0;
  for (const char c : host) {
    if (c == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
      continue;
    }
    if (!is_alnum(c) && c != '-' && c != '_') {
      return false;
    }
    if (++label > 63) {
      return false;
    }
  }
  return label != 0;
}

bool parse_port(std::string_view digits, std::uint16_t &port) {
  // The grammar already guarantees digits only; leading zeros ("0080") are legal and harmless.
  while (digits.size() > 1 && digits.front() == '0') {
    digits.remove_prefix(1);
  }
  if (digits.empty() || digits.size() > 5 || !std::all_of(digits.begin(), digits.end(), is_digit)) {
    return false;
  }
  unsigned value = 0;
  for (const char c : digits) {
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) {
    return false;
  }
  port = static_cast<std::uint16_t>(value);
  return true;
}

// A header name shown in an error message: the name is not a secret, but it came from a client and
// may hold control bytes or be huge, neither of which belongs in a log line.
std::string printable_name(std::string_view name) {
  constexpr std::size_t max_shown = 64;
  std::string out;
  for (const char c : name.substr(0, max_shown)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? '?' : c;
  }
  if (name.size() > max_shown) {
    out += "...";
  }
  return out;
}

// Set by the host itself for the WebSocket handshake; a client value would break or forge it.
constexpr std::array<std::string_view, 7> handshake_headers = {
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-accept",
    "sec-websocket-extensions",
};

// Framing and hop-by-hop headers. A GET upgrade has no body: Content-Length / Transfer-Encoding /
// TE / Trailer would give the upstream (or a proxy in front of it) a second opinion on where the
// request ends — the raw material of request smuggling. Proxy-Connection and Keep-Alive are
// connection-scoped (RFC 7230 section 6.1) and mean nothing once the connection is upgraded.
constexpr std::array<std::string_view, 6> hop_by_hop_headers = {
    "content-length", "transfer-encoding", "te", "trailer", "proxy-connection", "keep-alive",
};

template <std::size_t N>
bool contains_ci(const std::array<std::string_view, N> &names, std::string_view name) {
  return std::any_of(names.begin(), names.end(),
                     [name](std::string_view reserved) { return iequals(reserved, name); });
}

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

void add_unique(std::vector<std::string> &protocols, std::string_view protocol) {
  // Subprotocol names are compared case-sensitively (RFC 6455 section 4.1 asks for unique strings).
  if (std::find(protocols.begin(), protocols.end(), protocol) == protocols.end()) {
    protocols.emplace_back(protocol);
  }
}

} // namespace

bool parse_upstream_url(std::string_view url, upstream_target &out, std::string &error) {
  if (url.empty()) {
    return fail(error, "the URL is empty");
  }
  if (url.size() > max_url_bytes) {
    return fail(error, "longer than " + std::to_string(max_url_bytes) + " bytes");
  }
  for (const char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return fail(error, "spaces and control characters are not allowed (percent-encode them)");
    }
  }
  if (!has_ws_scheme(url)) {
    return fail(error, "scheme must be ws or wss");
  }

  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    // Boost's messages ("leftover", "mismatch") mean nothing to a user; the usual causes do.
    return fail(error, "not a valid URL (check for characters that must be percent-encoded, "
                       "a malformed [IPv6] address or a stray '%')");
  }
  const boost::urls::url_view &u = *parsed;

  // Checked before anything else that could fail, so a URL carrying a password is always
  // reported as such and the password itself is never repeated.
  if (u.has_userinfo()) {
    return fail(error, "credentials in the URL are not allowed (send them in a header instead)");
  }
  if (!u.has_authority()) {
    return fail(error, "expected ws://host[:port][/path] or wss://...");
  }
  // Boost.URL 1.81 accepts "ws://h:abc" and "ws://1.2.3.4.5/" by starting the path right after
  // the authority; a path after an authority must begin with '/' (RFC 3986 path-abempty).
  const auto path = u.encoded_path();
  if (!path.empty() && path.front() != '/') {
    return fail(error, "malformed host or port");
  }

  upstream_target target;
  target.tls = iequals(u.scheme(), "wss");

  switch (u.host_type()) {
  case boost::urls::host_type::ipv4:
    target.host = u.host_ipv4_address().to_string();
    target.host_is_address = true;
    break;
  case boost::urls::host_type::ipv6:
    target.host = u.host_ipv6_address().to_string();
    target.host_is_address = true;
    break;
  case boost::urls::host_type::ipvfuture:
    return fail(error, "IPvFuture addresses are not supported");
  case boost::urls::host_type::name: {
    const std::string decoded = u.host_name();
    if (decoded.empty()) {
      return fail(error, "the host is missing");
    }
    if (!is_valid_host_name(decoded)) {
      return fail(error, "the host name may contain only letters, digits, '.', '-' and '_'");
    }
    target.host = to_lower_ascii(decoded);
    if (ends_in_number(target.host)) {
      // "%31%32%37.0.0.1" decodes to a plain dotted quad: take it as the address it is.
      boost::system::result<boost::urls::ipv4_address> v4 =
          boost::urls::parse_ipv4_address(target.host);
      if (!v4) {
        return fail(error, "the host looks like a numeric address but is not a dotted-quad IPv4 "
                           "address");
      }
      target.host = v4->to_string();
      target.host_is_address = true;
    }
    break;
  }
  case boost::urls::host_type::none:
  default:
    return fail(error, "the host is missing");
  }

  const std::uint16_t default_port = target.tls ? 443 : 80;
  target.port = default_port;
  if (u.has_port() && !u.port().empty()) {
    if (!parse_port(u.port(), target.port)) {
      return fail(error, "port must be a number from 1 to 65535");
    }
  }

  target.target = path.empty() ? std::string("/") : std::string(path);
  if (u.has_query()) {
    target.target += '?';
    target.target += u.encoded_query();
  }

  target.host_header =
      u.host_type() == boost::urls::host_type::ipv6 ? "[" + target.host + "]" : target.host;
  if (target.port != default_port) {
    target.host_header += ':';
    target.host_header += std::to_string(target.port);
  }

  out = std::move(target);
  error.clear();
  return true;
}

namespace {

constexpr std::string_view redacted = "[REDACTED]";

// Names of parameters whose values are hidden: the logger's list (base/log_redaction.hpp), which
// is the debug_logger plugin's.
bool is_sensitive_parameter(std::string_view raw_name) {
  std::string name;
  for (std::size_t i = 0; i < raw_name.size(); ++i) {
    char c = raw_name[i];
    if (c == '%' && i + 2 < raw_name.size() && is_hex_digit(raw_name[i + 1]) &&
        is_hex_digit(raw_name[i + 2])) {
      const auto hex = [](char h) {
        return is_digit(h) ? h - '0' : (to_lower_ascii(h) - 'a' + 10);
      };
      c = static_cast<char>(hex(raw_name[i + 1]) * 16 + hex(raw_name[i + 2]));
      i += 2;
    }
    name += to_lower_ascii(c);
  }
  return is_secret_parameter_name(name);
}

// "a=1&token=x" -> "a=1&token=[REDACTED]".
void append_redacted_parameters(std::string &out, std::string_view params) {
  for (;;) {
    const auto amp = params.find('&');
    const std::string_view pair = params.substr(0, amp);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && is_sensitive_parameter(pair.substr(0, eq))) {
      out.append(pair.substr(0, eq + 1));
      out.append(redacted);
    } else {
      out.append(pair);
    }
    if (amp == std::string_view::npos)
      return;
    out += '&';
    params.remove_prefix(amp + 1);
  }
}

} // namespace

std::string redacted_url(std::string_view url) {
  std::string out;
  out.reserve(url.size() + 16);
  const auto scheme_end = url.find("://");
  const std::size_t authority_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  const auto authority_end = std::min(url.find_first_of("/?#", authority_start), url.size());
  const std::string_view authority = url.substr(authority_start, authority_end - authority_start);
  out.append(url.substr(0, authority_start));
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    out.append(redacted);
    out.append(authority.substr(at));
  } else {
    out.append(authority);
  }
  std::string_view rest = url.substr(authority_end);
  const auto fragment = rest.find('#');
  const auto query = rest.substr(0, fragment).find('?');
  out.append(rest.substr(0, std::min(query, fragment)));
  if (query != std::string_view::npos) {
    out += '?';
    append_redacted_parameters(out, rest.substr(query + 1, fragment == std::string_view::npos
                                                               ? std::string_view::npos
                                                               : fragment - query - 1));
  }
  if (fragment != std::string_view::npos) {
    out += '#';
    append_redacted_parameters(out, rest.substr(fragment + 1));
  }
  return out;
}

bool is_valid_header_name(std::string_view name) { return is_token(name); }

bool is_valid_header_value(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

bool is_valid_subprotocol(std::string_view protocol) { return is_token(protocol); }

bool validate_handshake(std::vector<std::pair<std::string, std::string>> &headers,
                        std::vector<std::string> &protocols, const limits_config &limits,
                        std::string &error) {
  if (headers.size() > limits.max_handshake_headers) {
    error = "Too many handshake headers: " + std::to_string(headers.size()) + " (at most " +
            std::to_string(limits.max_handshake_headers) + ")";
    return false;
  }

  // Work on copies: on refusal the caller's vectors are left exactly as they were.
  std::vector<std::pair<std::string, std::string>> kept;
  kept.reserve(headers.size());
  std::vector<std::string> merged;
  for (const auto &protocol : protocols) {
    add_unique(merged, protocol);
  }

  for (const auto &[name, value] : headers) {
    if (!is_valid_header_name(name)) {
      error = "Invalid header name '" + printable_name(name) + "': must be an RFC 7230 token";
      return false;
    }
    if (contains_ci(handshake_headers, name)) {
      error = "Header '" + name + "' cannot be set: the host writes it for the WebSocket handshake";
      return false;
    }
    if (contains_ci(hop_by_hop_headers, name)) {
      error =
          "Header '" + name + "' cannot be set: framing and hop-by-hop headers are not forwarded";
      return false;
    }
    if (value.size() > limits.max_header_value_bytes) {
      error = "Header '" + name + "' is too long (at most " +
              std::to_string(limits.max_header_value_bytes) + " bytes)";
      return false;
    }
    if (!is_valid_header_value(value)) {
      error = "Header '" + name +
              "' has an invalid value: CR, LF, NUL and other control characters are not allowed";
      return false;
    }
    if (iequals(name, "sec-websocket-protocol")) {
      std::string_view rest = value;
      while (true) {
        const auto comma = rest.find(',');
        const auto element = trim_ows(rest.substr(0, comma));
        if (!element.empty()) { // empty list elements are allowed by RFC 7230 section 7
          add_unique(merged, element);
        }
        if (comma == std::string_view::npos) {
          break;
        }
        rest.remove_prefix(comma + 1);
      }
      continue;
    }
    kept.emplace_back(name, value);
  }

  // Subprotocols sometimes carry credentials (Kubernetes puts bearer tokens there): name them by
  // position only.
  std::size_t joined_bytes = 0;
  for (std::size_t i = 0; i < merged.size(); ++i) {
    if (!is_valid_subprotocol(merged[i])) {
      error = "Invalid subprotocol #" + std::to_string(i + 1) +
              ": must be a non-empty RFC 7230 token (no spaces, commas or control characters)";
      return false;
    }
    joined_bytes += merged[i].size() + (i == 0 ? 0 : 2); // ", " between elements
  }
  if (joined_bytes > limits.max_header_value_bytes) {
    error = "Subprotocols are too long: the Sec-WebSocket-Protocol header would exceed " +
            std::to_string(limits.max_header_value_bytes) + " bytes";
    return false;
  }

  headers = std::move(kept);
  protocols = std::move(merged);
  error.clear();
  return true;
}

} // namespace apistudio
