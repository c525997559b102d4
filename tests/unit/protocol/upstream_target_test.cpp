// Unit tests for upstream_target: URL parsing and handshake-header validation (pure logic).
#include "protocol/upstream_target.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace apistudio {
namespace {

struct accepted_url {
  std::string url;
  bool tls;
  std::string host;
  std::uint16_t port;
  std::string target;
  std::string host_header;
  bool host_is_address;
};

std::ostream &operator<<(std::ostream &os, const accepted_url &c) { return os << c.url; }

class accepted_url_test : public ::testing::TestWithParam<accepted_url> {};

TEST_P(accepted_url_test, parses_into_parts) {
  const auto &c = GetParam();
  upstream_target out;
  std::string error = "stale";
  ASSERT_TRUE(parse_upstream_url(c.url, out, error)) << error;
  EXPECT_TRUE(error.empty());
  EXPECT_EQ(out.tls, c.tls);
  EXPECT_EQ(out.host, c.host);
  EXPECT_EQ(out.port, c.port);
  EXPECT_EQ(out.target, c.target);
  EXPECT_EQ(out.host_header, c.host_header);
  EXPECT_EQ(out.host_is_address, c.host_is_address);
}

INSTANTIATE_TEST_SUITE_P(
    urls, accepted_url_test,
    ::testing::Values(
        accepted_url{"ws://example.com", false, "example.com", 80, "/", "example.com", false},
        accepted_url{"wss://echo.websocket.org", true, "echo.websocket.org", 443, "/",
                     "echo.websocket.org", false},
        accepted_url{"WSS://Echo.WebSocket.ORG/Path", true, "echo.websocket.org", 443, "/Path",
                     "echo.websocket.org", false},
        accepted_url{"Ws://h", false, "h", 80, "/", "h", false},
        accepted_url{"ws://example.com:8080/a/b?x=1&y=%20#frag", false, "example.com", 8080,
                     "/a/b?x=1&y=%20", "example.com:8080", false},
        accepted_url{"ws://example.com/?", false, "example.com", 80, "/?", "example.com", false},
        accepted_url{"ws://example.com?q", false, "example.com", 80, "/?q", "example.com", false},
        accepted_url{"ws://example.com#only-fragment", false, "example.com", 80, "/", "example.com",
                     false},
        accepted_url{"ws://example.com:443/", false, "example.com", 443, "/", "example.com:443",
                     false},
        accepted_url{"wss://example.com:80/", true, "example.com", 80, "/", "example.com:80",
                     false},
        accepted_url{"ws://example.com:80/", false, "example.com", 80, "/", "example.com", false},
        accepted_url{"wss://example.com:443/", true, "example.com", 443, "/", "example.com", false},
        accepted_url{"ws://example.com:/", false, "example.com", 80, "/", "example.com", false},
        accepted_url{"ws://example.com:0080/", false, "example.com", 80, "/", "example.com", false},
        accepted_url{"ws://h:1/", false, "h", 1, "/", "h:1", false},
        accepted_url{"ws://h:65535/", false, "h", 65535, "/", "h:65535", false},
        accepted_url{"ws://127.0.0.1:58124/ws", false, "127.0.0.1", 58124, "/ws", "127.0.0.1:58124",
                     true},
        accepted_url{"ws://[::1]:9000/", false, "::1", 9000, "/", "[::1]:9000", true},
        accepted_url{"wss://[2001:DB8::1]/", true, "2001:db8::1", 443, "/", "[2001:db8::1]", true},
        accepted_url{"ws://[::ffff:169.254.169.254]/", false, "::ffff:169.254.169.254", 80, "/",
                     "[::ffff:169.254.169.254]", true},
        accepted_url{"ws://my_host-1.internal/", false, "my_host-1.internal", 80, "/",
                     "my_host-1.internal", false},
        accepted_url{"ws://ex%61mple.COM/", false, "example.com", 80, "/", "example.com", false},
        accepted_url{"ws://%31%32%37.0.0.1:9/", false, "127.0.0.1", 9, "/", "127.0.0.1:9", true},
        accepted_url{"ws://example.com./", false, "example.com.", 80, "/", "example.com.", false},
        accepted_url{"ws://h/p%2Fq/%7e;a=b", false, "h", 80, "/p%2Fq/%7e;a=b", "h", false},
        accepted_url{"ws://h//double", false, "h", 80, "//double", "h", false}));

struct refused_url {
  std::string url;
  std::string error_part; // a fragment the message must contain
};

std::ostream &operator<<(std::ostream &os, const refused_url &c) { return os << c.url; }

class refused_url_test : public ::testing::TestWithParam<refused_url> {};

TEST_P(refused_url_test, is_refused_with_a_reason) {
  const auto &c = GetParam();
  upstream_target out;
  out.host = "untouched";
  std::string error;
  EXPECT_FALSE(parse_upstream_url(c.url, out, error));
  EXPECT_EQ(error.rfind("Invalid URL: ", 0), 0u) << error;
  EXPECT_NE(error.find(c.error_part), std::string::npos) << error;
  EXPECT_EQ(out.host, "untouched"); // nothing half-written on refusal
}

INSTANTIATE_TEST_SUITE_P(
    urls, refused_url_test,
    ::testing::Values(
        refused_url{"", "empty"}, refused_url{"http://example.com/", "scheme must be ws or wss"},
        refused_url{"https://example.com/", "scheme must be ws or wss"},
        refused_url{"wsx://example.com/", "scheme must be ws or wss"},
        refused_url{"echo.websocket.org", "scheme must be ws or wss"},
        refused_url{"localhost:8080", "scheme must be ws or wss"},
        refused_url{"//example.com/", "scheme must be ws or wss"},
        refused_url{"ws:example.com", "expected ws://host"},
        refused_url{"ws://user:secret@example.com/", "credentials in the URL are not allowed"},
        refused_url{"ws://user@example.com/", "credentials in the URL are not allowed"},
        refused_url{"ws://:@example.com/", "credentials in the URL are not allowed"},
        refused_url{"ws://@example.com/", "credentials in the URL are not allowed"},
        refused_url{"ws://", "host is missing"}, refused_url{"ws:///path", "host is missing"},
        refused_url{"ws://:80/", "host is missing"},
        refused_url{"ws://example.com:0/", "port must be a number from 1 to 65535"},
        refused_url{"ws://example.com:00/", "port must be a number from 1 to 65535"},
        refused_url{"ws://example.com:65536/", "port must be a number from 1 to 65535"},
        refused_url{"ws://example.com:99999999999999999999/", "port must be a number"},
        refused_url{"ws://example.com:abc/", "malformed host or port"},
        refused_url{"ws://example.com:80:81/", "malformed host or port"},
        refused_url{"ws://1.2.3.4.5/", "malformed host or port"},
        refused_url{"ws://[v1.fe80::a]/", "IPvFuture"},
        refused_url{"ws://[::1/", "not a valid URL"},
        refused_url{"ws://[fe80::1%25eth0]/", "not a valid URL"},
        refused_url{"ws://exa%00mple.com/", "host name may contain only"},
        refused_url{"ws://exa%2Fmple.com/", "host name may contain only"},
        refused_url{"ws://exa%20mple.com/", "host name may contain only"},
        refused_url{"ws://exa%40mple.com/", "host name may contain only"},
        refused_url{"ws://a..b/", "host name may contain only"},
        refused_url{"ws://.a/", "host name may contain only"},
        refused_url{"ws://2130706433/", "numeric address"},
        refused_url{"ws://127.1/", "numeric address"},
        refused_url{"ws://0x7f.0.0.1/", "numeric address"},
        refused_url{"ws://256.1.1.1/", "numeric address"},
        refused_url{"ws://example.com/a b", "spaces and control characters"},
        refused_url{" ws://example.com/", "spaces and control characters"},
        refused_url{"ws://example.com/\r\nX: y", "spaces and control characters"},
        refused_url{"ws://example.com/\t", "spaces and control characters"},
        refused_url{std::string("ws://example.com/\0", 18), "spaces and control characters"},
        refused_url{"ws://example.com/\x7f", "spaces and control characters"},
        refused_url{"ws://example.com/\xc3\xa9", "not a valid URL"},
        refused_url{"ws://example.com/%zz", "not a valid URL"},
        refused_url{"ws://ex ample.com/", "spaces"}));

TEST(upstream_url, never_echoes_credentials) {
  upstream_target out;
  std::string error;
  for (const std::string &url :
       std::vector<std::string>{"ws://alice:hunter2@example.com/", "wss://hunter2@example.com/",
                                "ws://alice:hunter2@[::1]:0/", "ws://alice:hunter2@h:abc/"}) {
    ASSERT_FALSE(parse_upstream_url(url, out, error)) << url;
    EXPECT_EQ(error.find("hunter2"), std::string::npos) << error;
    EXPECT_EQ(error.find("alice"), std::string::npos) << error;
  }
}

TEST(upstream_url, length_limit_is_8_kib) {
  const std::string prefix = "ws://example.com/";
  const std::string at_limit = prefix + std::string(8 * 1024 - prefix.size(), 'a');
  const std::string over = at_limit + "a";
  upstream_target out;
  std::string error;
  EXPECT_TRUE(parse_upstream_url(at_limit, out, error)) << error;
  EXPECT_EQ(out.target.size(), 8 * 1024 - prefix.size() + 1);
  EXPECT_FALSE(parse_upstream_url(over, out, error));
  EXPECT_NE(error.find("longer than 8192 bytes"), std::string::npos) << error;
}

TEST(upstream_url, host_name_label_limits) {
  upstream_target out;
  std::string error;
  EXPECT_TRUE(parse_upstream_url("ws://" + std::string(63, 'a') + ".com/", out, error)) << error;
  EXPECT_FALSE(parse_upstream_url("ws://" + std::string(64, 'a') + ".com/", out, error));
}

// ---- header validation -----------------------------------------------------------------------

TEST(header_name, is_an_rfc7230_token) {
  for (const char *good : {"X-Api-Key", "Authorization", "a", "!#$%&'*+-.^_`|~09azAZ"}) {
    EXPECT_TRUE(is_valid_header_name(good)) << good;
  }
  for (const std::string &bad : std::vector<std::string>{
           "", "X Api", "X:Api", "X-Api\r", "X\nY", "(x)", "a,b", "a;b", "a/b", "a=b", "a\"b",
           "a@b", "\xc3\xa9", std::string("a\0b", 3), "a\tb", "[x]", "{x}", "a?b", "a\\b"}) {
    EXPECT_FALSE(is_valid_header_name(bad)) << bad;
  }
}

TEST(header_value, refuses_cr_lf_nul_and_controls_but_not_htab) {
  for (const std::string &good :
       std::vector<std::string>{"", "Bearer abc.def", "a\tb", "  padded  ", "caf\xc3\xa9",
                                "\x80\xff", "quotes \" and ; , = fine"}) {
    EXPECT_TRUE(is_valid_header_value(good)) << good;
  }
  for (const std::string &bad :
       std::vector<std::string>{"a\rb", "a\nb", "a\r\nX-Injected: 1", std::string("a\0b", 3),
                                "\x01", "a\x1f", "a\x7f", "\x0b", "\x1b[31m"}) {
    EXPECT_FALSE(is_valid_header_value(bad)) << bad;
  }
}

TEST(subprotocol, is_an_rfc7230_token) {
  EXPECT_TRUE(is_valid_subprotocol("graphql-transport-ws"));
  EXPECT_TRUE(is_valid_subprotocol("v1.chat"));
  EXPECT_FALSE(is_valid_subprotocol(""));
  EXPECT_FALSE(is_valid_subprotocol("a b"));
  EXPECT_FALSE(is_valid_subprotocol("a,b"));
  EXPECT_FALSE(is_valid_subprotocol("a/b"));
  EXPECT_FALSE(is_valid_subprotocol("a\r"));
}

using header_list = std::vector<std::pair<std::string, std::string>>;

TEST(handshake, accepts_ordinary_headers_unchanged) {
  header_list headers{{"Authorization", "Bearer secret"}, {"X-Api-Key", "k"}, {"Origin", "x"}};
  const header_list before = headers;
  std::vector<std::string> protocols{"chat"};
  std::string error = "stale";
  ASSERT_TRUE(validate_handshake(headers, protocols, limits_config{}, error)) << error;
  EXPECT_TRUE(error.empty());
  EXPECT_EQ(headers, before);
  EXPECT_EQ(protocols, std::vector<std::string>{"chat"});
}

TEST(handshake, refuses_reserved_and_hop_by_hop_headers_case_insensitively) {
  for (const char *name :
       {"Host", "host", "UPGRADE", "Connection", "Sec-WebSocket-Key", "sec-websocket-version",
        "Sec-WebSocket-Accept", "Sec-WebSocket-Extensions", "Content-Length", "Transfer-Encoding",
        "TE", "Trailer", "Proxy-Connection", "Keep-Alive"}) {
    header_list headers{{"X-Ok", "1"}, {name, "top-secret-value"}};
    std::vector<std::string> protocols;
    std::string error;
    EXPECT_FALSE(validate_handshake(headers, protocols, limits_config{}, error)) << name;
    EXPECT_NE(error.find(std::string("'") + name + "'"), std::string::npos) << error;
    EXPECT_EQ(error.find("top-secret-value"), std::string::npos) << error;
    EXPECT_EQ(headers.size(), 2u); // untouched on refusal
  }
}

TEST(handshake, allows_other_sec_websocket_headers_and_near_misses) {
  header_list headers{
      {"Sec-WebSocket-Foo", "1"}, {"Hosts", "x"}, {"X-Host", "y"}, {"Content-Type", "z"}};
  std::vector<std::string> protocols;
  std::string error;
  EXPECT_TRUE(validate_handshake(headers, protocols, limits_config{}, error)) << error;
  EXPECT_EQ(headers.size(), 4u);
}

TEST(handshake, refuses_bad_values_naming_the_header_but_not_the_value) {
  for (const std::string &value : std::vector<std::string>{
           "secret\r\nX-Evil: 1", "secret\n", std::string("sec\0ret", 7), "secret\x01"}) {
    header_list headers{{"Authorization", value}};
    std::vector<std::string> protocols;
    std::string error;
    EXPECT_FALSE(validate_handshake(headers, protocols, limits_config{}, error));
    EXPECT_NE(error.find("'Authorization'"), std::string::npos) << error;
    EXPECT_EQ(error.find("secret"), std::string::npos) << error;
  }
}

TEST(handshake, refuses_bad_names_without_echoing_control_bytes) {
  header_list headers{{"X-Bad\r\nInjected", "v"}};
  std::vector<std::string> protocols;
  std::string error;
  EXPECT_FALSE(validate_handshake(headers, protocols, limits_config{}, error));
  EXPECT_NE(error.find("Invalid header name 'X-Bad??Injected'"), std::string::npos) << error;

  headers = {{"", "v"}};
  EXPECT_FALSE(validate_handshake(headers, protocols, limits_config{}, error));
  EXPECT_NE(error.find("Invalid header name"), std::string::npos) << error;
}

TEST(handshake, enforces_value_size_limit) {
  limits_config limits;
  limits.max_header_value_bytes = 16;
  header_list headers{{"X-A", std::string(16, 'v')}};
  std::vector<std::string> protocols;
  std::string error;
  EXPECT_TRUE(validate_handshake(headers, protocols, limits, error)) << error;
  headers = {{"X-A", std::string(17, 'v')}};
  EXPECT_FALSE(validate_handshake(headers, protocols, limits, error));
  EXPECT_NE(error.find("'X-A' is too long (at most 16 bytes)"), std::string::npos) << error;
}

TEST(handshake, enforces_header_count_limit) {
  limits_config limits;
  limits.max_handshake_headers = 3;
  header_list headers{{"A", "1"}, {"B", "2"}, {"C", "3"}};
  std::vector<std::string> protocols;
  std::string error;
  EXPECT_TRUE(validate_handshake(headers, protocols, limits, error)) << error;
  headers.emplace_back("D", "4");
  EXPECT_FALSE(validate_handshake(headers, protocols, limits, error));
  EXPECT_NE(error.find("Too many handshake headers: 4 (at most 3)"), std::string::npos) << error;
}

struct protocol_merge {
  std::vector<std::string> protocols;
  std::string header_value;
  std::vector<std::string> expected;
};

class protocol_merge_test : public ::testing::TestWithParam<protocol_merge> {};

TEST_P(protocol_merge_test, header_is_removed_and_merged) {
  const auto &c = GetParam();
  header_list headers{
      {"X-Before", "1"}, {"Sec-WebSocket-Protocol", c.header_value}, {"X-After", "2"}};
  auto protocols = c.protocols;
  std::string error;
  ASSERT_TRUE(validate_handshake(headers, protocols, limits_config{}, error)) << error;
  EXPECT_EQ(protocols, c.expected);
  EXPECT_EQ(headers, (header_list{{"X-Before", "1"}, {"X-After", "2"}}));
}

INSTANTIATE_TEST_SUITE_P(
    merges, protocol_merge_test,
    ::testing::Values(protocol_merge{{}, "chat", {"chat"}},
                      protocol_merge{{}, "a, b,c", {"a", "b", "c"}},
                      protocol_merge{{"x"}, " a ,\tb\t", {"x", "a", "b"}},
                      protocol_merge{{"b", "a"}, "a, c, b", {"b", "a", "c"}},
                      protocol_merge{{"a", "a"}, "a", {"a"}},
                      protocol_merge{{}, "a,,b, ,", {"a", "b"}},
                      protocol_merge{{"Chat"}, "chat", {"Chat", "chat"}}, // case-sensitive names
                      protocol_merge{{"x"}, "", {"x"}}));

TEST(handshake, protocol_header_name_is_case_insensitive_and_repeatable) {
  header_list headers{{"sec-websocket-protocol", "a"}, {"SEC-WEBSOCKET-PROTOCOL", "b, a"}};
  std::vector<std::string> protocols;
  std::string error;
  ASSERT_TRUE(validate_handshake(headers, protocols, limits_config{}, error)) << error;
  EXPECT_TRUE(headers.empty());
  EXPECT_EQ(protocols, (std::vector<std::string>{"a", "b"}));
}

TEST(handshake, refuses_invalid_subprotocols_by_position_only) {
  struct bad_case {
    std::vector<std::string> protocols;
    std::string header;
    std::string expected;
  };
  for (const auto &c :
       {bad_case{{"ok", "bad token"}, "", "subprotocol #2"}, bad_case{{""}, "", "subprotocol #1"},
        bad_case{{"ok"}, "ok, tok/en", "subprotocol #2"},
        bad_case{{"a,b"}, "", "subprotocol #1"}}) {
    header_list headers;
    if (!c.header.empty()) {
      headers.emplace_back("Sec-WebSocket-Protocol", c.header);
    }
    auto protocols = c.protocols;
    std::string error;
    EXPECT_FALSE(validate_handshake(headers, protocols, limits_config{}, error));
    EXPECT_NE(error.find(c.expected), std::string::npos) << error;
    EXPECT_EQ(error.find("bad token"), std::string::npos) << error;
    EXPECT_EQ(error.find("tok/en"), std::string::npos) << error;
    EXPECT_EQ(protocols, c.protocols); // untouched on refusal
  }
}

TEST(handshake, protocol_header_with_control_bytes_is_refused_as_a_header) {
  header_list headers{{"Sec-WebSocket-Protocol", "a\r\nb"}};
  std::vector<std::string> protocols;
  std::string error;
  EXPECT_FALSE(validate_handshake(headers, protocols, limits_config{}, error));
  EXPECT_NE(error.find("'Sec-WebSocket-Protocol' has an invalid value"), std::string::npos)
      << error;
}

TEST(handshake, merged_protocols_respect_value_size_limit) {
  limits_config limits;
  limits.max_header_value_bytes = 10;
  header_list headers;
  std::vector<std::string> protocols{"abcd", "efgh"}; // "abcd, efgh" = 10 bytes
  std::string error;
  EXPECT_TRUE(validate_handshake(headers, protocols, limits, error)) << error;
  protocols.emplace_back("i");
  EXPECT_FALSE(validate_handshake(headers, protocols, limits, error));
  EXPECT_NE(error.find("Sec-WebSocket-Protocol header would exceed 10 bytes"), std::string::npos)
      << error;
}

} // namespace
} // namespace apistudio
