// egress_rules.hpp — the operator's egress patterns and preset (egress_config), compiled into
// rules the egress policy can match a destination against.
//
// A pattern is a host name ("api.example.com"), a wildcard ("*.example.com": one or more labels
// before the suffix), an address or CIDR block ("10.0.0.0/8", "[fd00::]/8"), each optionally with
// a port or port range (":443", ":9000-9100"); docs/security.md has the full grammar. Compiling
// throws config_error naming the rule and its line, so a bad rule stops the host before it accepts
// a connection. Internal to the egress policy (egress_policy.hpp).
#pragma once

#include "policy/address_class.hpp"
#include "policy/host_config.hpp"

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace apistudio::egress_detail {

enum class egress_preset { local_dev, public_only };

// "local-dev" or "public-only"; throws config_error for anything else.
egress_preset parse_preset(const std::string &name);

// One compiled allow or deny rule.
struct rule_spec {
  enum class kind { host_exact, host_wildcard, network };
  kind what = kind::network;
  std::string text; // as written, for messages
  int line = 0;
  bool deny = false;
  std::string host; // lower-case name, or for a wildcard the part after "*."
  raw_address network;
  unsigned prefix = 0;
  std::uint16_t port_low = 1;
  std::uint16_t port_high = 65535;

  // "egress deny rule '10.0.0.0/8' (line 12)", as a decision names the rule that made it.
  std::string describe() const {
    std::string out = std::string("egress ") + (deny ? "deny" : "allow") + " rule '" + text + "'";
    if (line > 0) {
      out += " (line " + std::to_string(line) + ")";
    }
    return out;
  }
};

// Throws config_error "line N: egress rule '...': what is wrong" ("line N: " when the line is
// known).
rule_spec parse_rule(const egress_rule &rule, bool deny);

// Host rules compare `host_name` (the name from the URL), address rules `address` (one it resolved
// to). A deny rule also sees the IPv4 address inside NAT64, 6to4 and compatible forms.
bool matches(const rule_spec &spec, std::string_view host_name,
             const boost::asio::ip::address &address, std::uint16_t port);

} // namespace apistudio::egress_detail
