// config_values.cpp — the grammars of single configuration values (config_values.hpp).
#include "policy/config_values.hpp"

#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <stdexcept>
#include <system_error>

namespace apistudio::config_detail {

using std::chrono::milliseconds;

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t substitution =
          diagonal + (to_lower(a[i - 1]) == to_lower(b[j - 1]) ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool valid_env_name(std::string_view name) {
  if (name.empty() || is_digit(name.front()))
    return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
}

bool valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.front() == '-')
    return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_';
  });
}

// A URL's port as written: 1..65535, or 0 when it is empty or anything else.
unsigned port_number(std::string_view port) noexcept {
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || number > 65535)
    return 0;
  return number;
}

} // namespace

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), to_lower);
  return out;
}

std::string shown(std::string_view text, char quote) {
  constexpr std::size_t max_shown = 80;
  std::string out(1, quote);
  std::size_t characters = 0;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool continuation = (byte & 0xC0) == 0x80;
    if (!continuation && characters++ == max_shown) {
      out += "...";
      break;
    }
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7F) {
      std::array<char, 8> escaped{};
      std::snprintf(escaped.data(), escaped.size(), "\\x%02x", byte);
      out += escaped.data();
    } else {
      out += c;
    }
  }
  out += quote;
  return out;
}

bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code = lead & 0x1Fu;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code = lead & 0x0Fu;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code = lead & 0x07u;
    } else {
      return false;
    }
    if (i + length > text.size())
      return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      if ((byte & 0xC0) != 0x80)
        return false;
      code = (code << 6) | (byte & 0x3Fu);
    }
    const std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < smallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
      return false;
    i += length;
  }
  return true;
}

std::string key_hint(std::string_view key, const std::vector<std::string_view> &known) {
  std::string_view best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view candidate : known) {
    const std::size_t distance = edit_distance(key, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  if (best_distance <= 2 && best_distance < key.size())
    return " (did you mean '" + std::string(best) + "'?)";
  std::string list;
  for (std::string_view candidate : known)
    list += (list.empty() ? "" : ", ") + std::string(candidate);
  return " (expected one of: " + list + ")";
}

std::string format_duration(milliseconds value) {
  const auto ms = value.count();
  if (ms != 0 && ms % 3'600'000 == 0)
    return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0)
    return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0)
    return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string format_size(std::size_t value) {
  if (value != 0 && value % gib == 0)
    return std::to_string(value / gib) + "GiB";
  if (value != 0 && value % mib == 0)
    return std::to_string(value / mib) + "MiB";
  if (value != 0 && value % kib == 0)
    return std::to_string(value / kib) + "KiB";
  return std::to_string(value) + "B";
}

std::pair<std::uint64_t, std::string_view> split_number(std::string_view text, const char *what) {
  if (text.empty())
    throw std::invalid_argument(std::string("empty ") + what);
  if (text.front() == '-')
    throw std::invalid_argument(std::string("a ") + what + " cannot be negative");
  std::size_t digits = 0;
  while (digits < text.size() && is_digit(text[digits]))
    ++digits;
  if (digits == 0)
    throw std::invalid_argument(std::string("a ") + what + " starts with a whole number");
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, value);
  if (ec != std::errc{} || end != text.data() + digits)
    throw std::invalid_argument("number too large");
  std::string_view unit = text.substr(digits);
  if (!unit.empty() && (unit.front() == '.' || unit.front() == ','))
    throw std::invalid_argument("no fractions, use a smaller unit");
  return {value, unit};
}

std::string substitute_env(std::string_view text) {
  if (text.find('$') == std::string_view::npos)
    return std::string(text);
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$' || i + 1 == text.size()) {
      out += c;
      ++i;
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (text[i + 1] != '{') {
      out += '$';
      ++i;
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos)
      throw std::invalid_argument("unterminated \"${\" (write $$ for a literal $)");
    const std::string_view inner = text.substr(i + 2, close - i - 2);
    std::string_view name = inner;
    std::optional<std::string_view> fallback;
    if (const std::size_t separator = inner.find(":-"); separator != std::string_view::npos) {
      name = inner.substr(0, separator);
      fallback = inner.substr(separator + 2);
      if (fallback->find("${") != std::string_view::npos)
        throw std::invalid_argument("nested ${...} in a default is not supported");
    }
    if (!valid_env_name(name))
      throw std::invalid_argument("invalid variable name " + shown(name) +
                                  " in ${...} (expected letters, digits and _, as in ${NAME} or "
                                  "${NAME:-default}; write $$ for a literal $)");
    const std::string name_text(name);
    const char *value = std::getenv(name_text.c_str());
    if (fallback) {
      if (value != nullptr && *value != '\0')
        out += value;
      else
        out += *fallback;
    } else if (value == nullptr) {
      throw std::invalid_argument("environment variable " + name_text +
                                  " is not set (set it, or write ${" + name_text + ":-default})");
    } else {
      out += value;
    }
    i = close + 1;
  }
  return out;
}

host_port parse_listen(std::string_view text) {
  host_port out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos)
      throw std::invalid_argument("missing ']' after the IPv6 address");
    const std::string_view address = text.substr(1, close - 1);
    if (!boost::urls::parse_ipv6_address(address))
      throw std::invalid_argument(shown(address) + " is not an IPv6 address");
    out.host = std::string(address);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':')
      throw std::invalid_argument("missing ':PORT' after ']'");
    port_text = rest.substr(1);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos)
      throw std::invalid_argument("missing ':PORT'");
    const std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos)
      throw std::invalid_argument("an IPv6 address needs brackets, as in [::1]:58123");
    if (!boost::urls::parse_ipv4_address(host) && !valid_host_name(host))
      throw std::invalid_argument(shown(host) + " is not an IPv4 address or a host name");
    out.host = std::string(host);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
      port > 65535)
    throw std::invalid_argument("port " + shown(port_text) + " is not a number 0..65535");
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

host_port parse_name_server(std::string_view text) {
  std::string_view address = text;
  std::optional<std::string_view> port_text;
  bool v6 = false;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos)
      throw std::invalid_argument("missing ']' after the IPv6 address");
    address = text.substr(1, close - 1);
    v6 = true;
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        throw std::invalid_argument("expected ':PORT' after ']'");
      port_text = rest.substr(1);
    }
  } else if (const std::size_t colon = text.find(':'); colon != std::string_view::npos) {
    // Two colons or more: a bare IPv6 address, which cannot carry a port.
    v6 = text.find(':', colon + 1) != std::string_view::npos;
    if (!v6) {
      address = text.substr(0, colon);
      port_text = text.substr(colon + 1);
    }
  }
  host_port out;
  if (v6) {
    const auto parsed = boost::urls::parse_ipv6_address(address);
    if (!parsed)
      throw std::invalid_argument(shown(address) + " is not an IPv6 address");
    out.host = parsed->to_string();
  } else {
    const auto parsed = boost::urls::parse_ipv4_address(address);
    if (!parsed)
      throw std::invalid_argument(shown(address) + " is not an IP address");
    out.host = parsed->to_string();
  }
  out.port = 53;
  if (!port_text)
    return out;
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text->data(), port_text->data() + port_text->size(), port);
  if (port_text->empty() || ec != std::errc{} || end != port_text->data() + port_text->size() ||
      port == 0 || port > 65535)
    throw std::invalid_argument("port " + shown(*port_text) + " is not a number 1..65535");
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

std::string canonical_origin(std::string_view text) {
  if (text == "*")
    throw std::invalid_argument(
        "\"*\" is refused: it would let every web page drive the host; list each origin");
  if (text == "null")
    throw std::invalid_argument("\"null\" is refused: sandboxed frames and file:// pages send it, "
                                "so any page could claim it");
  const auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed)
    throw std::invalid_argument("invalid origin " + shown(text));
  const boost::urls::url_view &url = *parsed;
  if (!url.has_authority() || url.encoded_host().empty() || url.has_userinfo())
    throw std::invalid_argument("invalid origin " + shown(text) + ": no host");
  if (!url.encoded_path().empty() || url.has_query() || url.has_fragment())
    throw std::invalid_argument("invalid origin " + shown(text) +
                                ": an origin has no path, query or fragment (not even a final /)");
  if (url.host_type() == boost::urls::host_type::name && !valid_host_name(url.encoded_host()))
    throw std::invalid_argument("invalid origin " + shown(text) + ": bad host name");
  if (url.host_type() == boost::urls::host_type::ipvfuture)
    throw std::invalid_argument("invalid origin " + shown(text) + ": bad host");
  const std::string scheme = lower(url.scheme());
  std::string origin = scheme + "://" + lower(url.encoded_host());
  if (url.has_port()) {
    const unsigned number = port_number(url.port());
    if (number == 0)
      throw std::invalid_argument("invalid origin " + shown(text) + ": bad port");
    const bool default_port =
        (scheme == "http" && number == 80) || (scheme == "https" && number == 443);
    if (!default_port)
      origin += ":" + std::to_string(number);
  }
  return origin;
}

redis_endpoint parse_redis_url(std::string_view text) {
  // The port as written, checked before the URL parser sees it: "HOST:63x9/0" would otherwise
  // parse as port 63 and a path, and the message would blame the database.
  if (const auto scheme_end = text.find("://"); scheme_end != std::string_view::npos) {
    std::string_view authority = text.substr(scheme_end + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    const auto colon = authority.rfind(':');
    const auto bracket = authority.rfind(']');
    if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket) &&
        authority.find('@') == std::string_view::npos) {
      const std::string_view port = authority.substr(colon + 1);
      if (port.empty() || !std::all_of(port.begin(), port.end(), is_digit))
        throw std::invalid_argument("port " + shown(port) + " is not a number 1..65535");
    }
  }
  const auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed)
    throw std::invalid_argument("not a URL");
  const boost::urls::url_view &url = *parsed;
  if (lower(url.scheme()) != "redis")
    throw std::invalid_argument(
        "unsupported scheme " + shown(url.scheme()) +
        " (only redis:// is supported; rediss:// and unix sockets are not)");
  // A password in the URL would end up in logs and messages that show the URL.
  if (url.has_userinfo())
    throw std::invalid_argument("no user or password in the URL: put the password in "
                                "cluster.password (e.g. ${REDIS_PASSWORD})");
  if (!url.has_authority() || url.encoded_host().empty())
    throw std::invalid_argument("no host");
  if (url.host_type() == boost::urls::host_type::name && !valid_host_name(url.encoded_host()))
    throw std::invalid_argument("bad host name " + shown(url.encoded_host()));
  if (url.host_type() == boost::urls::host_type::ipvfuture)
    throw std::invalid_argument("bad host " + shown(url.encoded_host()));
  if (url.has_query() || url.has_fragment())
    throw std::invalid_argument("a query or fragment means nothing here");
  redis_endpoint out;
  out.host = std::string(url.encoded_host_address());
  if (url.has_port()) {
    const std::string_view port = url.port();
    const unsigned number = port_number(port);
    if (number == 0)
      throw std::invalid_argument("port " + shown(port) + " is not a number 1..65535");
    out.port = static_cast<std::uint16_t>(number);
  }
  std::string_view path = url.encoded_path();
  if (!path.empty() && path.front() == '/')
    path.remove_prefix(1);
  if (!path.empty()) {
    unsigned db = 0;
    const auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), db);
    if (ec != std::errc{} || end != path.data() + path.size() || db > 65535)
      throw std::invalid_argument("database " + shown(path) +
                                  " is not a number (the path is the database index, e.g. /0)");
    out.db = static_cast<int>(db);
  }
  return out;
}

} // namespace apistudio::config_detail
