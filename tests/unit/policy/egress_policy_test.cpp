// Unit tests for egress_policy: the address classes, the rule syntax and the order of decisions.
// Pure logic: addresses are parsed from text, nothing is resolved or dialled.
#include "policy/config_loader.hpp"
#include "policy/egress_policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace apistudio {
namespace {

namespace ip = boost::asio::ip;

using endpoints = std::vector<std::pair<ip::address, std::uint16_t>>;

ip::address addr(const char *text) { return ip::make_address(text); }

egress_config config_with(std::string preset, std::vector<std::string> allow = {},
                          std::vector<std::string> deny = {}) {
  egress_config config;
  config.preset = std::move(preset);
  int line = 10;
  for (auto &pattern : allow) {
    config.allow.push_back({std::move(pattern), line++});
  }
  line = 20;
  for (auto &pattern : deny) {
    config.deny.push_back({std::move(pattern), line++});
  }
  return config;
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

// ---- the address classes under each preset ---------------------------------------------------

struct class_case {
  const char *address;
  bool local_dev;   // allowed under "local-dev"
  bool public_only; // allowed under "public-only"
  const char *reason_part;
};

std::ostream &operator<<(std::ostream &os, const class_case &c) { return os << c.address; }

class address_class_test : public ::testing::TestWithParam<class_case> {};

TEST_P(address_class_test, decision_and_reason_under_both_presets) {
  const auto &c = GetParam();
  const egress_policy local_dev(config_with("local-dev"), {});
  const egress_policy public_only(config_with("public-only"), {});

  const auto dev = local_dev.check("", addr(c.address), 443);
  EXPECT_EQ(dev.allowed, c.local_dev) << dev.reason;
  EXPECT_TRUE(contains(dev.reason, c.reason_part)) << dev.reason;

  const auto pub = public_only.check("", addr(c.address), 443);
  EXPECT_EQ(pub.allowed, c.public_only) << pub.reason;
  EXPECT_TRUE(contains(pub.reason, c.reason_part)) << pub.reason;
}

INSTANTIATE_TEST_SUITE_P(
    classes, address_class_test,
    ::testing::Values(
        // Always denied: metadata, link-local, unspecified, broadcast, multicast.
        class_case{"169.254.169.254", false, false,
                   "169.254.169.254 is link-local (cloud metadata)"},
        class_case{"169.254.1.1", false, false, "link-local (169.254.0.0/16)"},
        class_case{"100.100.100.200", false, false, "cloud metadata address (Alibaba Cloud)"},
        class_case{"0.0.0.0", false, false, "unspecified"},
        class_case{"0.1.2.3", false, false, "unspecified (0.0.0.0/8"},
        class_case{"255.255.255.255", false, false, "broadcast"},
        class_case{"224.0.0.1", false, false, "multicast (224.0.0.0/4)"},
        class_case{"239.255.255.250", false, false, "multicast"},
        class_case{"::", false, false, "unspecified (::)"},
        class_case{"ff02::1", false, false, "multicast (ff00::/8)"},
        class_case{"fe80::1", false, false, "link-local (fe80::/10)"},
        class_case{"febf::1", false, false, "link-local"},
        class_case{"fd00:ec2::254", false, false, "cloud metadata address (AWS"},
        // IPv6 forms that carry a denied IPv4 address.
        class_case{"::ffff:169.254.169.254", false, false,
                   "IPv4-mapped address for 169.254.169.254, which is link-local (cloud metadata)"},
        class_case{"::169.254.169.254", false, false,
                   "IPv4-compatible address for 169.254.169.254"},
        class_case{"64:ff9b::a9fe:a9fe", false, false,
                   "NAT64 address (64:ff9b::/96) for 169.254.169.254"},
        class_case{"2002:a9fe:a9fe::1", false, false,
                   "6to4 address (2002::/16) for 169.254.169.254"},
        class_case{"::ffff:0:a9fe:a9fe", false, false, "IPv4-translated"},
        class_case{"::ffff:100.100.100.200", false, false, "Alibaba"},
        class_case{"::ffff:224.0.0.1", false, false, "multicast"},
        class_case{"::ffff:0.0.0.0", false, false, "unspecified"},
        class_case{"::2", false, false, "IPv4-compatible address for 0.0.0.2"},
        // Loopback and private: local-dev yes, public-only no.
        class_case{"127.0.0.1", true, false, "loopback (127.0.0.0/8)"},
        class_case{"127.255.0.9", true, false, "loopback"},
        class_case{"::1", true, false, "loopback (::1)"},
        class_case{"::ffff:127.0.0.1", true, false,
                   "IPv4-mapped address for 127.0.0.1, which is loopback"},
        class_case{"64:ff9b::7f00:1", true, false, "NAT64 address (64:ff9b::/96) for 127.0.0.1"},
        class_case{"10.1.2.3", true, false, "private (10.0.0.0/8)"},
        class_case{"172.16.0.1", true, false, "private (172.16.0.0/12)"},
        class_case{"172.31.255.255", true, false, "private (172.16.0.0/12)"},
        class_case{"192.168.1.1", true, false, "private (192.168.0.0/16)"},
        class_case{"::ffff:10.0.0.1", true, false, "private (10.0.0.0/8)"},
        class_case{"2002:0a00:0001::1", true, false, "6to4 address (2002::/16) for 10.0.0.1"},
        class_case{"100.64.0.1", true, false, "carrier-grade NAT"},
        class_case{"100.127.255.255", true, false, "100.64.0.0/10"},
        class_case{"fc00::1", true, false, "unique local (fc00::/7)"},
        class_case{"fd12:3456::1", true, false, "unique local"},
        class_case{"fd00:ec2::253", true, false, "unique local"}, // only ::254 is metadata
        // Other special-purpose ranges: local-dev yes, public-only no.
        class_case{"198.18.0.1", true, false, "benchmarking (198.18.0.0/15)"},
        class_case{"198.19.255.255", true, false, "benchmarking"},
        class_case{"192.0.2.1", true, false, "documentation (192.0.2.0/24)"},
        class_case{"198.51.100.7", true, false, "documentation"},
        class_case{"203.0.113.9", true, false, "documentation"},
        class_case{"192.0.0.8", true, false, "192.0.0.0/24"},
        class_case{"192.88.99.1", true, false, "6to4 relay anycast"},
        class_case{"240.0.0.1", true, false, "reserved (240.0.0.0/4)"},
        class_case{"255.255.255.254", true, false, "reserved"},
        class_case{"2001:db8::1", true, false, "documentation (2001:db8::/32)"},
        class_case{"3fff::1", true, false, "documentation (3fff::/20)"},
        class_case{"2001::1", true, false, "Teredo"},
        class_case{"100::1", true, false, "discard-only"},
        class_case{"fec0::1", true, false, "site-local"},
        class_case{"64:ff9b:1::1", true, false, "local-use NAT64"},
        class_case{"4000::1", true, false, "reserved"},
        // Public unicast: allowed by both.
        class_case{"8.8.8.8", true, true, "8.8.8.8 is a public address"},
        class_case{"1.1.1.1", true, true, "public"},
        class_case{"100.63.255.255", true, true, "public"},  // just below CGNAT
        class_case{"100.128.0.0", true, true, "public"},     // just above CGNAT
        class_case{"172.15.255.255", true, true, "public"},  // just below 172.16/12
        class_case{"172.32.0.0", true, true, "public"},      // just above 172.16/12
        class_case{"169.253.255.255", true, true, "public"}, // just below link-local
        class_case{"223.255.255.255", true, true, "public"}, // just below multicast
        class_case{"198.17.255.255", true, true, "public"},
        class_case{"2606:4700:4700::1111", true, true, "public"},
        class_case{"::ffff:8.8.8.8", true, true,
                   "IPv4-mapped address for 8.8.8.8, which is a public"},
        class_case{"2002:0808:0808::1", true, true, "6to4 address (2002::/16) for 8.8.8.8"},
        class_case{"64:ff9b::808:808", true, true, "NAT64"}));

TEST(egress_policy, default_constructed_is_local_dev_without_rules) {
  const egress_policy policy;
  EXPECT_TRUE(policy.check("localhost", addr("127.0.0.1"), 8080).allowed);
  EXPECT_TRUE(policy.check("", addr("10.0.0.1"), 8080).allowed);
  EXPECT_TRUE(policy.check("", addr("8.8.8.8"), 443).allowed);
  EXPECT_FALSE(policy.check("", addr("169.254.169.254"), 80).allowed);
}

// ---- the host's own listeners ---------------------------------------------------------------

struct own_case {
  const char *own_address;
  std::uint16_t own_port;
  const char *target;
  std::uint16_t port;
  bool denied_as_own;
};

std::ostream &operator<<(std::ostream &os, const own_case &c) {
  return os << c.own_address << ':' << c.own_port << " -> " << c.target << ':' << c.port;
}

class own_listener_test : public ::testing::TestWithParam<own_case> {};

TEST_P(own_listener_test, connection_back_to_the_host) {
  const auto &c = GetParam();
  // An allow rule for everything shows that the own-listener check comes before the lists.
  const egress_policy policy(config_with("local-dev", {"0.0.0.0/0", "::/0"}),
                             endpoints{{addr(c.own_address), c.own_port}});
  const auto d = policy.check("", addr(c.target), c.port);
  if (c.denied_as_own) {
    EXPECT_FALSE(d.allowed);
    EXPECT_TRUE(contains(d.reason, "is the host's own listener")) << d.reason;
  } else {
    EXPECT_FALSE(contains(d.reason, "own listener")) << d.reason;
  }
}

INSTANTIATE_TEST_SUITE_P(
    own, own_listener_test,
    ::testing::Values(own_case{"127.0.0.1", 58123, "127.0.0.1", 58123, true},
                      own_case{"127.0.0.1", 58123, "127.0.0.1", 58124, false},
                      own_case{"127.0.0.1", 58123, "127.0.0.2", 58123, true}, // both loopback
                      own_case{"127.0.0.1", 58123, "::1", 58123, true},
                      own_case{"127.0.0.1", 58123, "::ffff:127.0.0.1", 58123, true},
                      own_case{"::1", 58123, "127.0.0.1", 58123, true},
                      own_case{"127.0.0.1", 58123, "10.0.0.1", 58123, false},
                      own_case{"127.0.0.1", 58123, "8.8.8.8", 58123, false},
                      own_case{"0.0.0.0", 58123, "127.0.0.1", 58123, true},
                      own_case{"0.0.0.0", 58123, "192.168.1.20", 58123, true},
                      own_case{"0.0.0.0", 58123, "::1", 58123, true},
                      own_case{"0.0.0.0", 58123, "192.168.1.20", 58124, false},
                      own_case{"::", 58123, "::1", 58123, true},
                      own_case{"::", 58123, "10.0.0.5", 58123, true},
                      own_case{"::", 58123, "10.0.0.5", 9000, false},
                      own_case{"192.168.1.20", 58123, "192.168.1.20", 58123, true},
                      own_case{"192.168.1.20", 58123, "::ffff:192.168.1.20", 58123, true},
                      own_case{"192.168.1.20", 58123, "192.168.1.21", 58123, false},
                      own_case{"192.168.1.20", 58123, "127.0.0.1", 58123, false}));

TEST(egress_policy, own_listener_reason_names_the_endpoint) {
  const egress_policy policy(config_with("local-dev"),
                             endpoints{{addr("127.0.0.1"), 58123}, {addr("::1"), 58125}});
  EXPECT_EQ(policy.check("localhost", addr("127.0.0.1"), 58123).reason,
            "127.0.0.1:58123 is the host's own listener");
  EXPECT_EQ(policy.check("", addr("::1"), 58125).reason, "[::1]:58125 is the host's own listener");
  EXPECT_TRUE(policy.check("", addr("127.0.0.1"), 58124).allowed);
}

// ---- rules ----------------------------------------------------------------------------------

TEST(egress_policy, allow_rules_cannot_open_always_denied_classes) {
  const egress_policy policy(config_with("local-dev", {"169.254.0.0/16", "0.0.0.0/0", "::/0",
                                                       "metadata.google.internal", "fd00::/8"}),
                             {});
  EXPECT_FALSE(policy.check("metadata.google.internal", addr("169.254.169.254"), 80).allowed);
  EXPECT_FALSE(policy.check("", addr("::ffff:169.254.169.254"), 80).allowed);
  EXPECT_FALSE(policy.check("", addr("fd00:ec2::254"), 80).allowed);
  EXPECT_FALSE(policy.check("", addr("224.0.0.1"), 80).allowed);
}

TEST(egress_policy, deny_rules_win_over_allow_rules) {
  const egress_policy policy(config_with("local-dev", {"10.0.0.0/8"}, {"10.1.0.0/16"}), {});
  EXPECT_TRUE(policy.check("", addr("10.2.0.1"), 80).allowed);
  const auto d = policy.check("", addr("10.1.0.1"), 80);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "10.1.0.1:80 matches egress deny rule '10.1.0.0/16' (line 20)");
}

TEST(egress_policy, allow_rules_open_ranges_under_public_only) {
  const egress_policy policy(
      config_with("public-only", {"10.0.0.0/8:8080", "[::1]:9000-9100", "*.corp.test:443",
                                  "build.internal", "192.168.1.5"}),
      {});
  EXPECT_TRUE(policy.check("", addr("10.9.9.9"), 8080).allowed);
  EXPECT_FALSE(policy.check("", addr("10.9.9.9"), 8081).allowed);
  EXPECT_TRUE(policy.check("", addr("::1"), 9000).allowed);
  EXPECT_TRUE(policy.check("", addr("::1"), 9100).allowed);
  EXPECT_FALSE(policy.check("", addr("::1"), 9101).allowed);
  EXPECT_FALSE(policy.check("", addr("::1"), 8999).allowed);
  EXPECT_FALSE(policy.check("", addr("127.0.0.1"), 9000).allowed); // the rule says ::1
  EXPECT_TRUE(policy.check("git.corp.test", addr("10.0.0.7"), 443).allowed);
  EXPECT_TRUE(policy.check("a.b.corp.test", addr("10.0.0.7"), 443).allowed);
  EXPECT_TRUE(policy.check("GIT.Corp.Test.", addr("10.0.0.7"), 443).allowed);
  EXPECT_FALSE(policy.check("corp.test", addr("10.0.0.7"), 443).allowed); // needs a label
  EXPECT_FALSE(policy.check("evilcorp.test", addr("10.0.0.7"), 443).allowed);
  EXPECT_FALSE(policy.check("git.corp.test", addr("10.0.0.7"), 80).allowed);
  EXPECT_FALSE(policy.check("git.corp.test.evil.com", addr("10.0.0.7"), 443).allowed);
  EXPECT_TRUE(policy.check("build.internal", addr("172.20.0.3"), 1).allowed);
  EXPECT_FALSE(policy.check("x.build.internal", addr("172.20.0.3"), 1).allowed);
  EXPECT_TRUE(policy.check("", addr("192.168.1.5"), 65535).allowed);
  EXPECT_FALSE(policy.check("", addr("192.168.1.6"), 80).allowed);
  // An allowed address reached in its IPv4-mapped form is the same host.
  EXPECT_TRUE(policy.check("", addr("::ffff:192.168.1.5"), 80).allowed);
  // NAT64 is a different path: an IPv4 allow rule does not extend to it.
  EXPECT_FALSE(policy.check("", addr("64:ff9b::c0a8:105"), 80).allowed);

  const auto d = policy.check("git.corp.test", addr("10.0.0.7"), 443);
  EXPECT_EQ(d.reason, "git.corp.test (10.0.0.7:443) matches egress allow rule '*.corp.test:443' "
                      "(line 12)");
}

TEST(egress_policy, deny_rules_apply_under_local_dev_with_ports_and_names) {
  const egress_policy policy(
      config_with("local-dev", {},
                  {"127.0.0.1:5432", "*.prod.example:1-1024", "[fd00::/8]:22", "[fc00::]/7:23",
                   "db.local", "10.0.0.0/8"}),
      {});
  EXPECT_FALSE(policy.check("", addr("127.0.0.1"), 5432).allowed);
  EXPECT_TRUE(policy.check("", addr("127.0.0.1"), 5433).allowed);
  EXPECT_FALSE(policy.check("api.prod.example", addr("8.8.8.8"), 443).allowed);
  EXPECT_TRUE(policy.check("api.prod.example", addr("8.8.8.8"), 8443).allowed);
  EXPECT_FALSE(policy.check("", addr("fd12::1"), 22).allowed);
  EXPECT_TRUE(policy.check("", addr("fd12::1"), 2222).allowed);
  EXPECT_FALSE(policy.check("", addr("fc12::1"), 23).allowed);
  EXPECT_FALSE(policy.check("DB.local", addr("127.0.0.1"), 80).allowed);
  // Deny rules also see the IPv4 address inside mapped, NAT64 and 6to4 forms.
  EXPECT_FALSE(policy.check("", addr("::ffff:10.1.2.3"), 80).allowed);
  EXPECT_FALSE(policy.check("", addr("64:ff9b::a01:203"), 80).allowed);
  EXPECT_FALSE(policy.check("", addr("2002:0a01:0203::1"), 80).allowed);
  EXPECT_TRUE(policy.check("", addr("11.1.2.3"), 80).allowed);
}

TEST(egress_policy, public_only_preset_reason) {
  const egress_policy policy(config_with("public-only"), {});
  const auto d = policy.check("localhost", addr("127.0.0.1"), 8080);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "127.0.0.1 is loopback (127.0.0.0/8); the public-only egress preset allows "
                      "only public addresses");
}

TEST(egress_policy, cidr_edges_and_whole_space_rules) {
  const egress_policy policy(config_with("public-only", {"10.0.0.0/31", "0.0.0.0/0:7"}), {});
  EXPECT_TRUE(policy.check("", addr("10.0.0.0"), 80).allowed);
  EXPECT_TRUE(policy.check("", addr("10.0.0.1"), 80).allowed);
  EXPECT_FALSE(policy.check("", addr("10.0.0.2"), 80).allowed);
  EXPECT_TRUE(policy.check("", addr("192.168.9.9"), 7).allowed);
  EXPECT_FALSE(policy.check("", addr("fd00::1"), 7).allowed); // IPv4 rule, IPv6 address
}

// ---- bad configuration ----------------------------------------------------------------------

struct bad_rule_case {
  const char *pattern;
  const char *why_part;
};

std::ostream &operator<<(std::ostream &os, const bad_rule_case &c) { return os << c.pattern; }

class bad_rule_test : public ::testing::TestWithParam<bad_rule_case> {};

TEST_P(bad_rule_test, throws_config_error_naming_line_and_rule) {
  const auto &c = GetParam();
  for (const bool in_deny : {false, true}) {
    egress_config config;
    (in_deny ? config.deny : config.allow).push_back({c.pattern, 7});
    try {
      egress_policy policy(config, {});
      ADD_FAILURE() << "accepted: " << c.pattern;
    } catch (const config_error &e) {
      const std::string what = e.what();
      std::string shown = c.pattern; // control bytes are shown as '?'
      std::replace_if(
          shown.begin(), shown.end(), [](char ch) { return ch == '\t' || ch == '\x7f'; }, '?');
      EXPECT_EQ(what.rfind("line 7: egress rule '" + shown + "': ", 0), 0u) << what;
      EXPECT_TRUE(contains(what, c.why_part)) << what;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    rules, bad_rule_test,
    ::testing::Values(
        bad_rule_case{"", "empty"}, bad_rule_case{"   ", "empty"}, bad_rule_case{"*", "lone '*'"},
        bad_rule_case{"a.*.example.com", "'*' is only allowed"},
        bad_rule_case{"*example.com", "'*' is only allowed"}, bad_rule_case{"*.", "empty label"},
        bad_rule_case{"example..com", "empty label"}, bad_rule_case{".example.com", "empty label"},
        bad_rule_case{"exa mple.com", "spaces and control characters"},
        bad_rule_case{"ex\tample.com", "spaces and control characters"},
        bad_rule_case{"ex\x7f.com", "spaces and control characters"},
        bad_rule_case{"exa/mple.com", "not a valid IP address"},
        bad_rule_case{"exa+mple.com", "not an IP address, a CIDR block or a host"},
        bad_rule_case{"ex@mple.com", "not an IP address"},
        bad_rule_case{"256.1.1.1", "looks like an IP address"},
        bad_rule_case{"10.0.0", "looks like an IP address"},
        bad_rule_case{"10.0.0.0/33", "at most 32"}, bad_rule_case{"::/129", "at most 128"},
        bad_rule_case{"10.0.0.0/", "prefix length"}, bad_rule_case{"10.0.0.0/x", "prefix length"},
        bad_rule_case{"10.0.0.0/-1", "prefix length"},
        bad_rule_case{"10.0.0.1/8", "did you mean 10.0.0.0/8?"},
        bad_rule_case{"fd00::1/8", "did you mean fd00::/8?"},
        bad_rule_case{"example.com/8", "not a valid IP address"},
        bad_rule_case{"10.0.0.0/8:0", "1 to 65535"},
        bad_rule_case{"10.0.0.0/8:65536", "1 to 65535"},
        bad_rule_case{"10.0.0.0/8:", "port must be"},
        bad_rule_case{"10.0.0.0/8:http", "port must be"},
        bad_rule_case{"host:9100-9000", "backwards"}, bad_rule_case{"host:1-", "port must be"},
        bad_rule_case{"host:1-2-3", "port must be"}, bad_rule_case{"[::1", "missing ']'"},
        bad_rule_case{"[::1]x", "unexpected text after ']'"},
        bad_rule_case{"[10.0.0.1]:80", "only for IPv6"},
        bad_rule_case{"[example.com]:80", "not a valid IP address"},
        bad_rule_case{"[::1/64]/64", "two prefix lengths"},
        bad_rule_case{"fe80::1%eth0", "zone identifiers"}, bad_rule_case{":80", "missing"},
        bad_rule_case{"12345::1", "not a valid IP address"}));

TEST(egress_policy, bad_rule_without_line_has_no_line_prefix) {
  egress_config config;
  config.allow.push_back({"*", 0});
  try {
    egress_policy policy(config, {});
    FAIL() << "accepted";
  } catch (const config_error &e) {
    EXPECT_EQ(std::string(e.what()).rfind("egress rule '*': ", 0), 0u) << e.what();
  }
}

TEST(egress_policy, embedded_nul_is_refused_and_not_echoed) {
  // Asio reads addresses as C strings: without the check this would be the rule 10.0.0.0.
  egress_config config;
  config.deny.push_back({std::string("10.0.0.0\0/8", 11), 3});
  try {
    egress_policy policy(config, {});
    FAIL() << "accepted";
  } catch (const config_error &e) {
    EXPECT_EQ(std::string(e.what()),
              "line 3: egress rule '10.0.0.0?/8': spaces and control characters are not allowed "
              "inside a pattern");
  }
}

TEST(egress_policy, reason_shows_the_trimmed_rule) {
  egress_config config;
  config.deny.push_back({"\t10.0.0.0/8 ", 4});
  const egress_policy policy(config, {});
  EXPECT_EQ(policy.check("", addr("10.0.0.1"), 80).reason,
            "10.0.0.1:80 matches egress deny rule '10.0.0.0/8' (line 4)");
}

TEST(egress_policy, unknown_preset_is_refused) {
  try {
    egress_policy policy(config_with("strict"), {});
    FAIL() << "accepted";
  } catch (const config_error &e) {
    EXPECT_TRUE(contains(e.what(), "unknown preset 'strict'")) << e.what();
  }
}

TEST(egress_policy, accepted_rule_spellings) {
  for (const char *pattern : {"example.com",
                              "*.example.com",
                              "EXAMPLE.com.",
                              "my_host-1",
                              "10.1.2.3",
                              "::1",
                              "[::1]",
                              "10.0.0.0/8",
                              "fd00::/8",
                              "[fd00::/8]",
                              "[fd00::]/8",
                              "10.0.0.0/8:8080",
                              "[::1]:9000-9100",
                              "*.corp.test:443",
                              "host:1-65535",
                              " padded.example ",
                              "0.0.0.0/0",
                              "::/0",
                              "::ffff:10.0.0.0/104",
                              "1.2.3.4:1"}) {
    egress_config config;
    config.allow.push_back({pattern, 1});
    EXPECT_NO_THROW(egress_policy(config, {})) << pattern;
  }
}

TEST(egress_policy, bare_ipv6_with_trailing_number_is_an_address_not_a_port) {
  // "2001:db8::1:9000" is an address; a port on an IPv6 rule needs brackets.
  const egress_policy policy(config_with("public-only", {"2001:db8::1:9000"}), {});
  EXPECT_FALSE(policy.check("", addr("2001:db8::1"), 9000).allowed);
  EXPECT_TRUE(policy.check("", addr("2001:db8::1:9000"), 1234).allowed);
}

} // namespace
} // namespace apistudio
