// address_class.cpp — the address classes and IPv4-in-IPv6 forms (address_class.hpp).
#include "policy/address_class.hpp"

#include <algorithm>
#include <array>

namespace apistudio::egress_detail {

namespace ip = boost::asio::ip;

namespace {

struct v4_range {
  std::uint32_t network;
  unsigned prefix;
  address_class cls;
  const char *what;
};

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

// Most specific first: the first match wins.
constexpr v4_range v4_ranges[] = {
    {v4(169, 254, 169, 254), 32, address_class::link_local, "link-local (cloud metadata)"},
    {v4(100, 100, 100, 200), 32, address_class::cloud_metadata,
     "a cloud metadata address (Alibaba Cloud)"},
    {v4(0, 0, 0, 0), 8, address_class::unspecified, "unspecified (0.0.0.0/8, \"this network\")"},
    {v4(255, 255, 255, 255), 32, address_class::broadcast, "the broadcast address"},
    {v4(224, 0, 0, 0), 4, address_class::multicast, "multicast (224.0.0.0/4)"},
    {v4(169, 254, 0, 0), 16, address_class::link_local, "link-local (169.254.0.0/16)"},
    {v4(127, 0, 0, 0), 8, address_class::loopback, "loopback (127.0.0.0/8)"},
    {v4(10, 0, 0, 0), 8, address_class::private_network, "private (10.0.0.0/8)"},
    {v4(172, 16, 0, 0), 12, address_class::private_network, "private (172.16.0.0/12)"},
    {v4(192, 168, 0, 0), 16, address_class::private_network, "private (192.168.0.0/16)"},
    {v4(100, 64, 0, 0), 10, address_class::shared_cgnat,
     "shared address space (100.64.0.0/10, carrier-grade NAT)"},
    {v4(198, 18, 0, 0), 15, address_class::benchmarking, "benchmarking (198.18.0.0/15)"},
    {v4(192, 0, 2, 0), 24, address_class::documentation, "documentation (192.0.2.0/24)"},
    {v4(198, 51, 100, 0), 24, address_class::documentation, "documentation (198.51.100.0/24)"},
    {v4(203, 0, 113, 0), 24, address_class::documentation, "documentation (203.0.113.0/24)"},
    {v4(192, 0, 0, 0), 24, address_class::special_purpose,
     "special-purpose (192.0.0.0/24, IETF protocol assignments)"},
    {v4(192, 88, 99, 0), 24, address_class::special_purpose,
     "special-purpose (192.88.99.0/24, 6to4 relay anycast)"},
    {v4(240, 0, 0, 0), 4, address_class::special_purpose, "reserved (240.0.0.0/4)"},
};

bool in_v4(std::uint32_t address, std::uint32_t network, unsigned prefix) {
  if (prefix > 32) {
    return false;
  }
  const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (address & mask) == (network & mask);
}

classification classify_v4(std::uint32_t address) {
  for (const auto &range : v4_ranges) {
    if (in_v4(address, range.network, range.prefix)) {
      return {range.cls, range.what};
    }
  }
  return {address_class::public_unicast, "a public address"};
}

v6_bytes parse_v6(const char *text) { return ip::make_address_v6(text).to_bytes(); }

classification classify_v6(const v6_bytes &bytes) {
  struct v6_range {
    v6_bytes network;
    unsigned prefix;
    address_class cls;
    const char *what;
  };
  static const std::array<v6_range, 5> before_embedded = {{
      {parse_v6("::"), 128, address_class::unspecified, "unspecified (::)"},
      {parse_v6("::1"), 128, address_class::loopback, "loopback (::1)"},
      {parse_v6("fd00:ec2::254"), 128, address_class::cloud_metadata,
       "a cloud metadata address (AWS, fd00:ec2::254)"},
      {parse_v6("ff00::"), 8, address_class::multicast, "multicast (ff00::/8)"},
      {parse_v6("fe80::"), 10, address_class::link_local, "link-local (fe80::/10)"},
  }};
  static const std::array<v6_range, 9> after_embedded = {{
      {parse_v6("64:ff9b:1::"), 48, address_class::special_purpose,
       "special-purpose (64:ff9b:1::/48, local-use NAT64)"},
      {parse_v6("fc00::"), 7, address_class::unique_local, "unique local (fc00::/7)"},
      {parse_v6("fec0::"), 10, address_class::special_purpose,
       "special-purpose (fec0::/10, deprecated site-local)"},
      {parse_v6("100::"), 64, address_class::special_purpose,
       "special-purpose (100::/64, discard-only)"},
      {parse_v6("2001:db8::"), 32, address_class::documentation, "documentation (2001:db8::/32)"},
      {parse_v6("3fff::"), 20, address_class::documentation, "documentation (3fff::/20)"},
      {parse_v6("2001::"), 23, address_class::special_purpose,
       "special-purpose (2001::/23, IETF protocol assignments incl. Teredo)"},
      {parse_v6("2000::"), 3, address_class::public_unicast, "a public address"},
      {parse_v6("::"), 0, address_class::special_purpose,
       "reserved (outside the 2000::/3 global unicast space)"},
  }};
  for (const auto &range : before_embedded) {
    if (in_v6(bytes, range.network, range.prefix)) {
      return {range.cls, range.what};
    }
  }
  if (const auto inner = find_embedded_v4(bytes)) {
    // The IPv4 address inside gets the full IPv4 rules: a mapped 127.0.0.1 is loopback, a NAT64
    // form of 169.254.169.254 is the metadata service.
    auto judged = classify_v4(inner->address);
    judged.what =
        std::string(inner->form) + " for " + v4_text(inner->address) + ", which is " + judged.what;
    return judged;
  }
  for (const auto &range : after_embedded) {
    if (in_v6(bytes, range.network, range.prefix)) {
      return {range.cls, range.what};
    }
  }
  return {address_class::special_purpose, "reserved"}; // not reached: ::/0 is last above
}

} // namespace

bool always_denied(address_class c) {
  switch (c) {
  case address_class::unspecified:
  case address_class::broadcast:
  case address_class::multicast:
  case address_class::link_local:
  case address_class::cloud_metadata:
    return true;
  default:
    return false;
  }
}

bool in_v6(const v6_bytes &address, const v6_bytes &network, unsigned prefix) {
  for (unsigned bit = 0; bit < prefix && bit < 128; bit += 8) {
    const unsigned bits = std::min(8u, prefix - bit);
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((address[bit / 8] & mask) != (network[bit / 8] & mask)) {
      return false;
    }
  }
  return true;
}

std::uint32_t read_v4(const v6_bytes &bytes, std::size_t offset) {
  return (std::uint32_t{bytes[offset]} << 24) | (std::uint32_t{bytes[offset + 1]} << 16) |
         (std::uint32_t{bytes[offset + 2]} << 8) | std::uint32_t{bytes[offset + 3]};
}

std::optional<embedded_v4> find_embedded_v4(const v6_bytes &bytes) {
  struct form {
    v6_bytes network;
    unsigned prefix;
    std::size_t offset; // where the IPv4 address sits, in bytes
    const char *name;
  };
  static const std::array<form, 5> forms = {{
      {parse_v6("::ffff:0:0"), 96, 12, "an IPv4-mapped address"},
      {parse_v6("::ffff:0:0:0"), 96, 12, "an IPv4-translated address (::ffff:0:0:0/96)"},
      {parse_v6("64:ff9b::"), 96, 12, "a NAT64 address (64:ff9b::/96)"},
      {parse_v6("2002::"), 16, 2, "a 6to4 address (2002::/16)"},
      // Last: "::" and "::1" lie in ::/96 too and are classified before this is consulted.
      {parse_v6("::"), 96, 12, "an IPv4-compatible address"},
  }};
  for (const auto &f : forms) {
    if (in_v6(bytes, f.network, f.prefix)) {
      return embedded_v4{read_v4(bytes, f.offset), f.name};
    }
  }
  return std::nullopt;
}

std::string v4_text(std::uint32_t address) { return ip::address_v4(address).to_string(); }

classification classify(const ip::address &address) {
  return address.is_v4() ? classify_v4(address.to_v4().to_uint())
                         : classify_v6(address.to_v6().to_bytes());
}

raw_address raw_v4(std::uint32_t address) {
  raw_address raw;
  raw.bytes[12] = static_cast<std::uint8_t>(address >> 24);
  raw.bytes[13] = static_cast<std::uint8_t>(address >> 16);
  raw.bytes[14] = static_cast<std::uint8_t>(address >> 8);
  raw.bytes[15] = static_cast<std::uint8_t>(address);
  return raw;
}

raw_address to_raw(const ip::address &address) {
  if (address.is_v4()) {
    return raw_v4(address.to_v4().to_uint());
  }
  return raw_address{true, address.to_v6().to_bytes()};
}

bool same(const raw_address &a, const raw_address &b) { return a.v6 == b.v6 && a.bytes == b.bytes; }

} // namespace apistudio::egress_detail
