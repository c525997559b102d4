// egress_policy.hpp — where the host may connect on a client's behalf (docs/security.md).
//
// Applied to every address a name resolves to, before dialling; the connection then goes to
// exactly the address that was checked (no second lookup), so DNS rebinding cannot slip past.
// Its parts: address_class.hpp (what an address is) and egress_rules.hpp (the operator's rules).
#pragma once

#include "policy/host_config.hpp"

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apistudio {

class egress_policy {
public:
  struct decision {
    bool allowed = false;
    std::string reason; // why it was denied, naming the rule or the address class
  };

  egress_policy() = default; // "local-dev" preset, no extra rules
  // Throws config_error (config_error.hpp) naming the rule's line for a bad pattern or preset.
  // `own_endpoints` are the host's listeners: connections back to them are denied.
  egress_policy(const egress_config &config,
                std::vector<std::pair<boost::asio::ip::address, std::uint16_t>> own_endpoints);

  // `host_name` is the name from the URL (for host-pattern rules); `address` one it resolved to.
  decision check(std::string_view host_name, const boost::asio::ip::address &address,
                 std::uint16_t port) const;

private:
  struct rule;
  std::vector<std::shared_ptr<const rule>> allow_;
  std::vector<std::shared_ptr<const rule>> deny_;
  bool public_only_ = false;
  std::vector<std::pair<boost::asio::ip::address, std::uint16_t>> own_;
};

} // namespace apistudio
