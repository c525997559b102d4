// http_request_fuzz.cpp — libFuzzer target for what the host decides about an HTTP request before
// any upgrade: Beast's request parser with the host's limits, admission (Origin allow-list, Host
// check against DNS rebinding, access tokens: admission_policy::check), the `token` query
// parameter (query_parameter) and the client_id of /api/websocket/connect/{client_id}
// (is_valid_client_id) — the same steps http_session::handle takes.
//
// Input: a raw request ("GET /ws HTTP/1.1\r\nHost: ...\r\n\r\n"). The same bytes are also read as
// up to four lines — Origin, Host, Authorization, request target — so that short inputs reach
// every branch of admission without a well-formed request around them.
//
// Properties, under three policies (the default; strict: no missing Origin, tokens, extra
// origins and hosts; a non-loopback listener with tokens): nothing throws or crashes; the answer
// is 0, 400, 401 or 403; a missing Host is 400; an admitted request had an allowed Origin (never
// "null"), a loopback or allowed Host when the listener is on loopback, and a configured token
// when tokens are configured; is_valid_client_id agrees with its definition.
//
// Build: see tests/fuzz/CMakeLists.txt (scripts/fuzz.sh). The committed corpus
// tests/fuzz/corpus/http_request/ is replayed by CTest (fuzz_replay_http_request).
#include "fuzz_invariant.hpp"
#include "policy/admission.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace apistudio;
namespace http = boost::beast::http;

using apistudio::fuzz::check;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) {
             return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
           };
           return lower(x) == lower(y);
         });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

struct policy {
  security_config security;
  listen_config listen;
};

const std::vector<policy> &policies() {
  static const std::vector<policy> all = [] {
    std::vector<policy> p(3);
    p[1].security.allow_missing_origin = false;
    p[1].security.access_tokens = {"tok-A", "tok-B"};
    p[1].security.allowed_origins = {"https://studio.example.com"};
    p[1].security.allowed_hosts = {"studio.internal"};
    p[2].listen.host = "0.0.0.0";
    p[2].security.access_tokens = {"tok-C"};
    return p;
  }();
  return all;
}

bool client_id_by_definition(std::string_view id) {
  if (id.empty() || id.size() > 128)
    return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '~' || c == '-';
  });
}

void check_request(const admission_request &a, std::string_view target) {
  const auto q = target.find('?');
  const std::string_view path = target.substr(0, q);
  admission_request r = a;
  r.query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);

  const std::string token = query_parameter(r.query, "token");
  check(token.size() <= r.query.size(), "a decoded parameter is never longer than the query");

  for (const auto &p : policies()) {
    const admission_policy admission(p.security, p.listen);
    const admission_result result = admission.check(r);
    const int s = result.status;
    check(s == 0 || s == 400 || s == 401 || s == 403, "admission answers 0, 400, 401 or 403");
    check(s == 0 || (!result.code.empty() && !result.message.empty()), "a refusal says why");
    if (!r.has_host || r.host.empty())
      check(s == 400, "a missing Host is 400");
    if (s != 0)
      continue;

    if (r.has_origin) {
      check(r.origin != "null", "the null origin is never admitted");
      const bool configured =
          std::any_of(p.security.allowed_origins.begin(), p.security.allowed_origins.end(),
                      [&](const std::string &o) { return iequals(o, r.origin); });
      check(configured || admission_policy::is_loopback_origin(r.origin),
            "an admitted Origin is loopback or configured");
    } else {
      check(p.security.allow_missing_origin, "no Origin is admitted only when allowed");
    }
    if (p.listen.host == "127.0.0.1") {
      const bool extra =
          std::any_of(p.security.allowed_hosts.begin(), p.security.allowed_hosts.end(),
                      [&](const std::string &h) { return istarts_with(r.host, h); });
      check(extra || admission_policy::is_loopback_host(r.host),
            "on loopback an admitted Host is a loopback name or configured");
    }
    if (!p.security.access_tokens.empty()) {
      std::string presented = istarts_with(r.authorization, "Bearer ") && r.authorization.size() > 7
                                  ? std::string(r.authorization.substr(7))
                                  : token;
      check(std::find(p.security.access_tokens.begin(), p.security.access_tokens.end(),
                      presented) != p.security.access_tokens.end(),
            "with tokens an admitted request presented one");
    }
  }

  if (admission_policy::is_loopback_origin(r.origin))
    check(istarts_with(r.origin, "http://") || istarts_with(r.origin, "https://"),
          "a loopback origin is http or https");
  if (admission_policy::is_loopback_host(r.host)) {
    check(istarts_with(r.host, "localhost") || istarts_with(r.host, "127.") ||
              istarts_with(r.host, "["),
          "a loopback Host names localhost, 127/8 or a bracketed address");
    check(r.host.find('@') == std::string_view::npos && r.host.find('/') == std::string_view::npos,
          "a loopback Host has no userinfo or path");
  }

  constexpr std::string_view proxy_prefix = "/api/websocket/connect/";
  if (path.substr(0, proxy_prefix.size()) == proxy_prefix) {
    const std::string_view id = path.substr(proxy_prefix.size());
    check(is_valid_client_id(id) == client_id_by_definition(id), "client_id rule as documented");
  }
}

std::vector<std::string_view> lines_of(std::string_view input) {
  std::vector<std::string_view> lines;
  while (lines.size() < 4) {
    const auto nl = input.find('\n');
    lines.push_back(input.substr(0, nl));
    if (nl == std::string_view::npos)
      break;
    input.remove_prefix(nl + 1);
  }
  return lines;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char *>(data), size);

  // As the host reads it: Beast's parser with the default limits of limits_config.
  http::request_parser<http::string_body> parser;
  const limits_config limits;
  parser.header_limit(static_cast<std::uint32_t>(limits.max_http_header_bytes));
  parser.body_limit(limits.max_http_body_bytes);
  parser.eager(true);
  boost::beast::error_code ec;
  boost::asio::const_buffer rest(data, size);
  while (rest.size() > 0 && !parser.is_done()) {
    const std::size_t used = parser.put(rest, ec);
    if (ec)
      break;
    rest += used;
    if (used == 0)
      break;
  }
  if (parser.is_header_done()) {
    const auto &req = parser.get();
    check_request(admission_request::from(req, {}), req.target()); // the query comes from target
  }

  // The same bytes as lines: Origin, Host, Authorization, target.
  const auto lines = lines_of(input);
  admission_request a;
  a.has_origin = !lines.empty() && !lines[0].empty();
  a.origin = lines.empty() ? std::string_view{} : lines[0];
  a.has_host = lines.size() > 1;
  a.host = a.has_host ? lines[1] : std::string_view{};
  a.authorization = lines.size() > 2 ? lines[2] : std::string_view{};
  check_request(a, lines.size() > 3 ? lines[3] : std::string_view("/ws"));
  return 0;
}
