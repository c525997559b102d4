// egress_policy.cpp — the decision behind connect_external's DESTINATION_DENIED.
//
// Order of decisions (docs/security.md, "Where the host may connect"): the host's own listeners,
// then the always-denied classes (no rule can open them), then deny rules, then allow rules, then
// the preset. What an address is comes from address_class.hpp and what a rule matches from
// egress_rules.hpp; this file puts them in that order and words the reason.
#include "policy/egress_policy.hpp"

#include "policy/address_class.hpp"
#include "policy/egress_rules.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apistudio {

namespace ip = boost::asio::ip;
using egress_detail::address_class;
using egress_detail::always_denied;
using egress_detail::classification;
using egress_detail::classify;
using egress_detail::egress_preset;
using egress_detail::matches;
using egress_detail::parse_preset;
using egress_detail::parse_rule;
using egress_detail::raw_address;
using egress_detail::raw_v4;
using egress_detail::read_v4;
using egress_detail::rule_spec;
using egress_detail::same;
using egress_detail::to_raw;

namespace {

// An IPv4-mapped IPv6 address reaches the same IPv4 host on a dual-stack socket: compare as IPv4.
raw_address unmap(const ip::address &address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return raw_v4(read_v4(address.to_v6().to_bytes(), 12));
  }
  return to_raw(address);
}

bool is_loopback(const raw_address &a) {
  if (!a.v6) {
    return a.bytes[12] == 127;
  }
  return ip::address_v6(a.bytes).is_loopback();
}

bool is_unspecified(const raw_address &a) {
  return std::all_of(a.bytes.begin(), a.bytes.end(), [](std::uint8_t b) { return b == 0; });
}

std::string endpoint_text(const ip::address &address, std::uint16_t port) {
  const std::string host = address.to_string();
  return (address.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string subject(const rule_spec &spec, std::string_view host_name, const ip::address &address,
                    std::uint16_t port) {
  const std::string endpoint = endpoint_text(address, port);
  if (spec.what == rule_spec::kind::network || host_name.empty()) {
    return endpoint;
  }
  return std::string(host_name) + " (" + endpoint + ")";
}

} // namespace

struct egress_policy::rule : rule_spec {
  explicit rule(rule_spec spec) : rule_spec(std::move(spec)) {}
};

egress_policy::egress_policy(const egress_config &config,
                             std::vector<std::pair<ip::address, std::uint16_t>> own_endpoints)
    : own_(std::move(own_endpoints)) {
  public_only_ = parse_preset(config.preset) == egress_preset::public_only;
  for (const auto &entry : config.deny) {
    deny_.push_back(std::make_shared<const rule>(parse_rule(entry, true)));
  }
  for (const auto &entry : config.allow) {
    allow_.push_back(std::make_shared<const rule>(parse_rule(entry, false)));
  }
}

egress_policy::decision egress_policy::check(std::string_view host_name, const ip::address &address,
                                             std::uint16_t port) const {
  // 1. Back to ourselves: a proxy dialling its own listener loops (and would let a client reach
  //    the host's HTTP endpoints from "inside"). An unspecified bind (0.0.0.0, ::) listens on
  //    every local address, which we cannot enumerate here, so the port alone decides.
  const raw_address target = unmap(address);
  for (const auto &[own_address, own_port] : own_) {
    if (own_port != port) {
      continue;
    }
    const raw_address own = unmap(own_address);
    if (same(own, target) || (is_loopback(own) && is_loopback(target)) || is_unspecified(own)) {
      return {false, endpoint_text(address, port) + " is the host's own listener"};
    }
  }

  // 2. Classes no rule can open: metadata services, link-local, multicast and the like.
  const classification judged = classify(address);
  if (always_denied(judged.cls)) {
    return {false, address.to_string() + " is " + judged.what};
  }

  // 3. and 4. The operator's lists; a deny wins over an allow.
  for (const auto &r : deny_) {
    if (matches(*r, host_name, address, port)) {
      return {false, subject(*r, host_name, address, port) + " matches " + r->describe()};
    }
  }
  for (const auto &r : allow_) {
    if (matches(*r, host_name, address, port)) {
      return {true, subject(*r, host_name, address, port) + " matches " + r->describe()};
    }
  }

  // 5. The preset.
  if (judged.cls == address_class::public_unicast) {
    return {true, address.to_string() + " is " + judged.what};
  }
  if (public_only_) {
    return {false, address.to_string() + " is " + judged.what +
                       "; the public-only egress preset allows only public addresses"};
  }
  return {true, address.to_string() + " is " + judged.what + ", allowed by the local-dev preset"};
}

} // namespace apistudio
