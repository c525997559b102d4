// libFuzzer target for everything connect_external checks before dialling: the URL
// (parse_upstream_url), the custom headers and subprotocols (validate_handshake) and the egress
// classifier (egress_policy, including its rule parser).
//
// Input: lines separated by '\n'; inside a line "\n", "\r", "\0", "\\" and "\xHH" are escapes, so
// corpus files stay readable while any byte can still be reached.
//   line 1   the URL
//   line 2   the resolved address ("10.0.0.1", "::1"); text that is not an address is read as
//            raw bytes (4 or fewer: IPv4, else IPv6), so every address is reachable
//   line 3   the port, then egress words: "public-only", "+RULE" (allow), "-RULE" (deny)
//   lines 4+ "Name: value" headers, or "@protocol" subprotocols
//
// Build and run: scripts/fuzz.sh SECONDS (tests/fuzz/CMakeLists.txt). The committed corpus
// tests/fuzz/corpus/connect_validator/ is replayed by CTest (fuzz_replay_connect_validator).
#include "fuzz_invariant.hpp"
#include "policy/config_loader.hpp"
#include "policy/egress_policy.hpp"
#include "protocol/upstream_target.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using namespace apistudio;
namespace ip = boost::asio::ip;

using apistudio::fuzz::check;

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string unescape(std::string_view line) {
  std::string out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '\\' || i + 1 == line.size()) {
      out += line[i];
      continue;
    }
    const char next = line[++i];
    if (next == 'n') {
      out += '\n';
    } else if (next == 'r') {
      out += '\r';
    } else if (next == '0') {
      out += '\0';
    } else if (next == 'x' && i + 2 < line.size() && hex_value(line[i + 1]) >= 0 &&
               hex_value(line[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(line[i + 1]) * 16 + hex_value(line[i + 2]));
      i += 2;
    } else {
      out += next;
    }
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view input) {
  std::vector<std::string> lines;
  while (true) {
    const auto newline = input.find('\n');
    lines.push_back(unescape(input.substr(0, newline)));
    if (newline == std::string_view::npos) {
      return lines;
    }
    input.remove_prefix(newline + 1);
  }
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto space = text.find(' ', start);
    const auto word = text.substr(start, space == std::string_view::npos ? space : space - start);
    if (!word.empty()) {
      words.emplace_back(word);
    }
    if (space == std::string_view::npos) {
      break;
    }
    start = space + 1;
  }
  return words;
}

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) {
             return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
           };
           return lower(x) == lower(y);
         });
}

ip::address address_from(const std::string &text) {
  boost::system::error_code ec;
  const auto parsed = ip::make_address(text, ec);
  if (!ec) {
    return parsed;
  }
  if (text.size() <= 4) {
    ip::address_v4::bytes_type bytes{};
    std::copy(text.begin(), text.end(), bytes.begin());
    return ip::address_v4(bytes);
  }
  ip::address_v6::bytes_type bytes{};
  std::copy_n(text.begin(), std::min<std::size_t>(text.size(), 16), bytes.begin());
  return ip::address_v6(bytes);
}

void fuzz_url(const std::string &url, upstream_target &target, bool &accepted) {
  std::string error;
  accepted = parse_upstream_url(url, target, error);
  if (!accepted) {
    check(error.rfind("Invalid URL: ", 0) == 0, "URL error starts with 'Invalid URL: '");
    check(!has_control(error), "URL error has no control bytes");
    check(error.find("SECRET") == std::string::npos, "URL error never echoes the URL");
    return;
  }
  check(error.empty(), "error cleared on success");
  check(!target.host.empty(), "accepted URL has a host");
  check(target.port != 0, "accepted URL has a port");
  check(!target.target.empty() && target.target.front() == '/', "target starts with '/'");
  check(!has_control(target.host) && !has_control(target.host_header) &&
            !has_control(target.target),
        "accepted parts have no control bytes");
  check(target.host_header.find(' ') == std::string::npos &&
            target.target.find(' ') == std::string::npos,
        "accepted parts have no spaces");
  check(std::none_of(target.host.begin(), target.host.end(),
                     [](char c) { return c >= 'A' && c <= 'Z'; }),
        "host is lower-case");
  check(target.target.find('#') == std::string::npos, "fragment dropped");
  if (target.host_is_address) {
    boost::system::error_code ec;
    ip::make_address(target.host, ec);
    check(!ec, "an address host parses as an address");
  }

  // What we would put on the wire must read back as the same target.
  const std::string rebuilt =
      std::string(target.tls ? "wss://" : "ws://") + target.host_header + target.target;
  upstream_target again;
  std::string again_error;
  check(parse_upstream_url(rebuilt, again, again_error), "an accepted URL re-parses");
  check(again.tls == target.tls && again.host == target.host && again.port == target.port &&
            again.target == target.target && again.host_header == target.host_header &&
            again.host_is_address == target.host_is_address,
        "a re-parsed URL gives the same parts");
}

void fuzz_handshake(std::vector<std::pair<std::string, std::string>> headers,
                    std::vector<std::string> protocols, const limits_config &limits) {
  const auto headers_before = headers;
  const auto protocols_before = protocols;
  std::string error;
  const bool accepted = validate_handshake(headers, protocols, limits, error);
  if (!accepted) {
    check(!error.empty(), "a refusal says why");
    check(headers == headers_before && protocols == protocols_before,
          "a refusal leaves the inputs untouched");
    check(!has_control(error), "handshake error has no control bytes");
    const bool secret_in_name =
        std::any_of(headers_before.begin(), headers_before.end(),
                    [](const auto &h) { return h.first.find("SECRET") != std::string::npos; });
    check(secret_in_name || error.find("SECRET") == std::string::npos,
          "handshake error never echoes a value or a subprotocol");
    return;
  }
  check(headers.size() <= limits.max_handshake_headers, "header count within limits");
  for (const auto &[name, value] : headers) {
    check(is_valid_header_name(name), "accepted names are tokens");
    check(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos,
          "accepted values have no CR, LF or NUL");
    check(is_valid_header_value(value), "accepted values are valid");
    check(value.size() <= limits.max_header_value_bytes, "accepted values within limits");
    for (const char *reserved :
         {"host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
          "sec-websocket-accept", "sec-websocket-extensions", "sec-websocket-protocol",
          "content-length", "transfer-encoding"}) {
      check(!iequals(name, reserved), "no reserved header survives");
    }
  }
  for (std::size_t i = 0; i < protocols.size(); ++i) {
    check(is_valid_subprotocol(protocols[i]), "accepted subprotocols are tokens");
    for (std::size_t j = 0; j < i; ++j) {
      check(protocols[i] != protocols[j], "no duplicate subprotocols");
    }
  }
  for (std::size_t i = 0; i < protocols_before.size() && i < protocols.size(); ++i) {
    // Existing protocols keep their order at the front (after dropping duplicates).
    if (std::count(protocols_before.begin(), protocols_before.begin() + static_cast<long>(i) + 1,
                   protocols_before[i]) == 1) {
      check(std::find(protocols.begin(), protocols.end(), protocols_before[i]) != protocols.end(),
            "existing protocols are kept");
    }
  }
  // Validation is idempotent.
  auto headers_again = headers;
  auto protocols_again = protocols;
  std::string again_error;
  check(validate_handshake(headers_again, protocols_again, limits, again_error),
        "accepted headers validate again");
  check(headers_again == headers && protocols_again == protocols, "validation is idempotent");
}

void fuzz_egress(const std::vector<std::string> &words, const std::string &host_name,
                 const ip::address &address, std::uint16_t port) {
  egress_config config;
  int line = 1;
  for (const auto &word : words) {
    if (word == "public-only") {
      config.preset = word;
    } else if (word.front() == '+') {
      config.allow.push_back({word.substr(1), line++});
    } else if (word.front() == '-') {
      config.deny.push_back({word.substr(1), line++});
    }
  }
  const std::vector<std::pair<ip::address, std::uint16_t>> own{
      {ip::make_address("127.0.0.1"), 58123}};
  try {
    const egress_policy policy(config, own);
    const auto decision = policy.check(host_name, address, port);
    check(!decision.reason.empty(), "every decision has a reason");
    check(!has_control(decision.reason), "reasons have no control bytes");

    auto unmapped = address;
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
      unmapped = ip::make_address_v4(ip::v4_mapped, address.to_v6());
    }
    if (port == 58123 && unmapped.is_loopback()) {
      check(!decision.allowed, "the own listener is always denied");
    }
    if (unmapped.is_v4() && (unmapped.to_v4().to_uint() >> 16) == ((169u << 8) | 254u)) {
      check(!decision.allowed, "IPv4 link-local is always denied");
    }
    if (address.is_v6() && address.to_v6().is_link_local()) {
      check(!decision.allowed, "IPv6 link-local is always denied");
    }
    if (unmapped.is_multicast() || unmapped.is_unspecified()) {
      check(!decision.allowed, "multicast and unspecified are always denied");
    }
  } catch (const config_error &e) {
    check(std::string_view(e.what()).find("egress") != std::string_view::npos,
          "config errors name the egress setting");
    check(!has_control(e.what()), "config errors have no control bytes");
  }

  // Without rules, an IPv4 address and its IPv4-mapped form are judged alike.
  if (address.is_v4()) {
    const auto mapped = ip::make_address_v6(ip::v4_mapped, address.to_v4());
    for (const char *preset : {"local-dev", "public-only"}) {
      egress_config plain;
      plain.preset = preset;
      const egress_policy policy(plain, own);
      check(policy.check("", address, port).allowed == policy.check("", mapped, port).allowed,
            "mapped and plain IPv4 get the same decision");
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const auto lines = split_lines(std::string_view(reinterpret_cast<const char *>(data), size));
  const std::string &url = lines[0];

  upstream_target target;
  bool url_accepted = false;
  fuzz_url(url, target, url_accepted);

  const auto address = address_from(lines.size() > 1 ? lines[1] : std::string());
  auto words = lines.size() > 2 ? split_words(lines[2]) : std::vector<std::string>{};
  std::uint16_t port = url_accepted ? target.port : 80;
  if (!words.empty() &&
      std::all_of(words[0].begin(), words[0].end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      words[0].size() <= 5) {
    port = static_cast<std::uint16_t>(std::atoi(words[0].c_str()));
    words.erase(words.begin());
  }
  fuzz_egress(words, url_accepted ? target.host : std::string(), address, port);

  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> protocols;
  for (std::size_t i = 3; i < lines.size(); ++i) {
    const auto &l = lines[i];
    if (!l.empty() && l.front() == '@') {
      protocols.push_back(l.substr(1));
      continue;
    }
    const auto colon = l.find(':');
    std::string value = colon == std::string::npos ? std::string() : l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') {
      value.erase(0, 1);
    }
    headers.emplace_back(l.substr(0, colon), std::move(value));
  }
  limits_config limits;
  limits.max_handshake_headers = 8; // small, so the fuzzer reaches the limits
  limits.max_header_value_bytes = 64;
  fuzz_handshake(headers, protocols, limits);
  return 0;
}
