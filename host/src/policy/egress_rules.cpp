// egress_rules.cpp — egress patterns and presets compiled into rules, and matching them
// (egress_rules.hpp).
#include "policy/egress_rules.hpp"

#include "policy/config_error.hpp"
#include "policy/config_values.hpp"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

namespace apistudio::egress_detail {

namespace ip = boost::asio::ip;

namespace {

using config_detail::is_digit;
using config_detail::lower;

// A rule as shown in messages: control bytes (refused anyway) must not reach a terminal or log.
std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  return out;
}

[[noreturn]] void bad_rule(const egress_rule &rule, std::string_view why) {
  std::string message;
  if (rule.line > 0) {
    message = "line " + std::to_string(rule.line) + ": ";
  }
  message += "egress rule '" + printable(rule.pattern) + "': ";
  message += why;
  throw config_error(message);
}

std::uint16_t parse_port_number(const egress_rule &rule, std::string_view digits) {
  if (digits.empty() || digits.size() > 5 || !std::all_of(digits.begin(), digits.end(), is_digit)) {
    bad_rule(rule, "the port must be a number from 1 to 65535, or a range like 9000-9100");
  }
  unsigned value = 0;
  for (const char c : digits) {
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) {
    bad_rule(rule, "the port must be a number from 1 to 65535");
  }
  return static_cast<std::uint16_t>(value);
}

void parse_ports(const egress_rule &rule, std::string_view text, rule_spec &spec) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    spec.port_low = spec.port_high = parse_port_number(rule, text);
    return;
  }
  spec.port_low = parse_port_number(rule, text.substr(0, dash));
  spec.port_high = parse_port_number(rule, text.substr(dash + 1));
  if (spec.port_low > spec.port_high) {
    bad_rule(rule, "the port range is backwards (the first port must not exceed the second)");
  }
}

bool host_label_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || c == '-' || c == '_';
}

void parse_host_pattern(const egress_rule &rule, std::string_view text, rule_spec &spec) {
  std::string name = lower(text);
  if (name == "*") {
    bad_rule(rule, "a lone '*' is not a pattern; use 0.0.0.0/0 and ::/0 to match every address");
  }
  spec.what = rule_spec::kind::host_exact;
  if (name.rfind("*.", 0) == 0) {
    spec.what = rule_spec::kind::host_wildcard;
    name.erase(0, 2);
  }
  if (name.find('*') != std::string::npos) {
    bad_rule(rule, "'*' is only allowed as the whole first label, as in '*.example.com'");
  }
  if (!name.empty() && name.back() == '.') {
    name.pop_back();
  }
  bool label_empty = true;
  for (const char c : name) {
    if (c == '.') {
      if (label_empty) {
        break;
      }
      label_empty = true;
    } else if (!host_label_char(c)) {
      bad_rule(rule, "not an IP address, a CIDR block or a host name (a host name has letters, "
                     "digits, '-', '_' and dots)");
    } else {
      label_empty = false;
    }
  }
  if (name.empty() || label_empty) {
    bad_rule(rule, "the host name has an empty label");
  }
  const auto dot = name.rfind('.');
  const auto last =
      dot == std::string::npos ? std::string_view(name) : std::string_view(name).substr(dot + 1);
  if (std::all_of(last.begin(), last.end(), is_digit)) {
    bad_rule(rule, "looks like an IP address but is not a valid one");
  }
  spec.host = std::move(name);
}

void parse_network(const egress_rule &rule, std::string_view address_text,
                   std::optional<std::string_view> prefix_text, bool bracketed, rule_spec &spec) {
  if (address_text.find('%') != std::string_view::npos) {
    bad_rule(rule, "IPv6 zone identifiers ('%eth0') are not supported in rules");
  }
  boost::system::error_code ec;
  const auto address = ip::make_address(std::string(address_text), ec);
  if (ec) {
    bad_rule(rule, "'" + std::string(address_text) + "' is not a valid IP address");
  }
  if (bracketed && address.is_v4()) {
    bad_rule(rule, "brackets are only for IPv6 addresses");
  }
  spec.what = rule_spec::kind::network;
  spec.network = to_raw(address);
  const unsigned width = address.is_v4() ? 32 : 128;
  spec.prefix = width;
  if (prefix_text) {
    const auto digits = *prefix_text;
    if (digits.empty() || digits.size() > 3 ||
        !std::all_of(digits.begin(), digits.end(), is_digit)) {
      bad_rule(rule, "the prefix length after '/' must be a number");
    }
    unsigned prefix = 0;
    for (const char c : digits) {
      prefix = prefix * 10 + static_cast<unsigned>(c - '0');
    }
    if (prefix > width) {
      bad_rule(rule, "the prefix length must be at most " + std::to_string(width));
    }
    spec.prefix = prefix;
  }
  // A set host bit is almost always a typo ("10.0.0.1/8"): say what was probably meant.
  const unsigned offset = address.is_v4() ? 96 : 0;
  raw_address masked = spec.network;
  for (unsigned bit = offset + spec.prefix; bit < 128; ++bit) {
    masked.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
  if (!same(masked, spec.network)) {
    const std::string meant = address.is_v4() ? v4_text(read_v4(masked.bytes, 12))
                                              : ip::address_v6(masked.bytes).to_string();
    bad_rule(rule, "host bits are set after the prefix; did you mean " + meant + "/" +
                       std::to_string(spec.prefix) + "?");
  }
}

bool is_ip_address(std::string_view text) {
  boost::system::error_code ec;
  ip::make_address(std::string(text), ec);
  return !ec;
}

bool in_network(const raw_address &address, const rule_spec &spec) {
  if (address.v6 != spec.network.v6) {
    return false;
  }
  return in_v6(address.bytes, spec.network.bytes, (address.v6 ? 0 : 96) + spec.prefix);
}

// The forms of one destination an address rule is compared with. Deny rules also see the IPv4
// address inside NAT64, 6to4 and compatible forms (a wider net only ever denies more); allow rules
// see the mapped form only, which is the same host on a dual-stack socket.
std::vector<raw_address> views_of(const ip::address &address, bool for_deny) {
  std::vector<raw_address> views{to_raw(address)};
  if (address.is_v6()) {
    const auto bytes = address.to_v6().to_bytes();
    if (address.to_v6().is_v4_mapped()) {
      views.push_back(raw_v4(read_v4(bytes, 12)));
    } else if (for_deny) {
      if (const auto inner = find_embedded_v4(bytes)) {
        views.push_back(raw_v4(inner->address));
      }
    }
  }
  return views;
}

} // namespace

egress_preset parse_preset(const std::string &name) {
  if (name == "public-only") {
    return egress_preset::public_only;
  }
  if (name != "local-dev") {
    throw config_error("egress.preset: unknown preset '" + name +
                       "' (expected 'local-dev' or 'public-only')");
  }
  return egress_preset::local_dev;
}

rule_spec parse_rule(const egress_rule &rule, bool deny) {
  rule_spec spec;
  spec.line = rule.line;
  spec.deny = deny;

  std::string_view text = rule.pattern;
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  if (text.empty()) {
    bad_rule(rule, "the pattern is empty");
  }
  // Asio parses addresses through C strings: "10.0.0.0\0junk" would be read as 10.0.0.0.
  if (std::any_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f || c == ' ';
      })) {
    bad_rule(rule, "spaces and control characters are not allowed inside a pattern");
  }
  spec.text = std::string(text);

  std::string_view host_part = text;
  std::optional<std::string_view> prefix_part;
  std::optional<std::string_view> port_part;
  bool bracketed = false;

  if (text.front() == '[') {
    // "[::1]", "[::1]:9000", "[fd00::/8]:443" or "[fd00::]/8:443".
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      bad_rule(rule, "missing ']' after the IPv6 address");
    }
    bracketed = true;
    host_part = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() == '/') {
      const auto colon = rest.find(':');
      prefix_part =
          rest.substr(1, colon == std::string_view::npos ? std::string_view::npos : colon - 1);
      rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon);
    }
    if (!rest.empty()) {
      if (rest.front() != ':') {
        bad_rule(rule, "unexpected text after ']' (expected ':port')");
      }
      port_part = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    // One colon: "host:port". Two or more: a bare IPv6 address, which cannot carry a port
    // without brackets ("::1:9000" is itself an address).
    const auto colon = text.find(':');
    host_part = text.substr(0, colon);
    port_part = text.substr(colon + 1);
  }

  if (const auto slash = host_part.find('/'); slash != std::string_view::npos) {
    if (prefix_part) {
      bad_rule(rule, "two prefix lengths");
    }
    prefix_part = host_part.substr(slash + 1);
    host_part = host_part.substr(0, slash);
  }
  if (host_part.empty()) {
    bad_rule(rule, "the address or host name is missing");
  }

  if (bracketed || prefix_part || host_part.find(':') != std::string_view::npos ||
      is_ip_address(host_part)) {
    parse_network(rule, host_part, prefix_part, bracketed, spec);
  } else {
    parse_host_pattern(rule, host_part, spec);
  }
  if (port_part) {
    parse_ports(rule, *port_part, spec);
  }
  return spec;
}

bool matches(const rule_spec &spec, std::string_view host_name, const ip::address &address,
             std::uint16_t port) {
  if (port < spec.port_low || port > spec.port_high) {
    return false;
  }
  switch (spec.what) {
  case rule_spec::kind::host_exact:
  case rule_spec::kind::host_wildcard: {
    std::string name = lower(host_name);
    if (!name.empty() && name.back() == '.') {
      name.pop_back();
    }
    if (spec.what == rule_spec::kind::host_exact) {
      return name == spec.host;
    }
    // One or more labels before the suffix: "*.example.com" matches "a.b.example.com" but not
    // "example.com" itself.
    return name.size() > spec.host.size() + 1 &&
           name.compare(name.size() - spec.host.size(), spec.host.size(), spec.host) == 0 &&
           name[name.size() - spec.host.size() - 1] == '.';
  }
  case rule_spec::kind::network: {
    const auto views = views_of(address, spec.deny);
    return std::any_of(views.begin(), views.end(),
                       [&spec](const raw_address &view) { return in_network(view, spec); });
  }
  }
  return false;
}

} // namespace apistudio::egress_detail
