// address_class.hpp — what kind of destination an IP address is (public, loopback, private,
// link-local, cloud metadata, multicast, ...), and the byte-level address forms that the classes
// and the egress rules both compare.
//
// Addresses are handled as raw bytes — a 32-bit IPv4 value or 16 IPv6 bytes — so that IPv6 forms
// which carry an IPv4 address inside (mapped, NAT64, 6to4, compatible) can be unwrapped and judged
// as that IPv4 address. Internal to the egress policy (egress_policy.hpp); docs/security.md lists
// the classes and which of them no rule can open.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace apistudio::egress_detail {

using v6_bytes = boost::asio::ip::address_v6::bytes_type;

enum class address_class {
  public_unicast,
  loopback,
  private_network,
  shared_cgnat,
  unique_local,
  benchmarking,
  documentation,
  special_purpose,
  // The always-denied classes: no allow rule opens them.
  unspecified,
  broadcast,
  multicast,
  link_local,
  cloud_metadata,
};

// The classes no rule can open: unspecified, broadcast, multicast, link-local, cloud metadata.
bool always_denied(address_class c);

struct classification {
  address_class cls = address_class::public_unicast;
  std::string what; // completes "<address> is ..."
};

// An IPv6 form with an IPv4 address inside gets that IPv4 address's class, and says so in `what`.
classification classify(const boost::asio::ip::address &address);

// Whether the first `prefix` bits of `address` and `network` agree.
bool in_v6(const v6_bytes &address, const v6_bytes &network, unsigned prefix);
// The IPv4 address in bytes [offset, offset + 4).
std::uint32_t read_v4(const v6_bytes &bytes, std::size_t offset);
// Dotted-quad text of an IPv4 address.
std::string v4_text(std::uint32_t address);

// An IPv6 form that stands for (or is translated to) an IPv4 address.
struct embedded_v4 {
  std::uint32_t address;
  const char *form;
};
// The first form that matches. "::" and "::1" match the IPv4-compatible form too; classify()
// judges them before it asks.
std::optional<embedded_v4> find_embedded_v4(const v6_bytes &bytes);

// A family plus raw bytes; IPv4 is kept in the last four bytes.
struct raw_address {
  bool v6 = false;
  v6_bytes bytes{};
};

raw_address raw_v4(std::uint32_t address);
raw_address to_raw(const boost::asio::ip::address &address);
bool same(const raw_address &a, const raw_address &b);

} // namespace apistudio::egress_detail
