#include "policy/admission.hpp"
#include "base/hex_digit.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cctype>

namespace apistudio {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 5 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "host[:port]" or "[v6][:port]" -> host without brackets; false when malformed.
bool split_host_port(std::string_view in, std::string_view &host) {
  if (in.empty())
    return false;
  if (in.front() == '[') {
    const auto close = in.find(']');
    if (close == std::string_view::npos)
      return false;
    host = in.substr(1, close - 1);
    const auto rest = in.substr(close + 1);
    return rest.empty() || (rest.front() == ':' && all_digits(rest.substr(1)));
  }
  const auto colon = in.find(':');
  host = in.substr(0, colon);
  return colon == std::string_view::npos || all_digits(in.substr(colon + 1));
}

bool is_loopback_name(std::string_view host) {
  if (iequals(host, "localhost") || iequals(host, "localhost."))
    return true;
  // Only what a name or an IP literal can hold. make_address takes "::1%<anything>" as ::1 with
  // a zone, and reads a C string, so "::1<NUL>@evil" was ::1 too (both found by
  // tests/fuzz/http_request_fuzz.cpp); no browser sends either.
  for (const char c : host) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '.' || c == ':' || c == '-';
    if (!ok)
      return false;
  }
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(host), ec);
  return !ec && address.is_loopback();
}

// Compares without an early exit, so a token cannot be guessed byte by byte from timings.
bool constant_time_equals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

} // namespace

std::string query_parameter(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != name)
      continue;
    std::string_view raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    std::string out;
    out.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        out.push_back(' ');
      } else if (raw[i] == '%' && i + 2 < raw.size() && hex_digit_value(raw[i + 1]) >= 0 &&
                 hex_digit_value(raw[i + 2]) >= 0) {
        out.push_back(
            static_cast<char>(hex_digit_value(raw[i + 1]) * 16 + hex_digit_value(raw[i + 2])));
        i += 2;
      } else {
        out.push_back(raw[i]);
      }
    }
    return out;
  }
  return {};
}

admission_policy::admission_policy(const security_config &security, const listen_config &listen)
    : security_(security), listener_is_loopback_(is_loopback_name(listen.host)) {}

bool admission_policy::is_loopback_origin(std::string_view origin) {
  std::string_view rest;
  if (origin.substr(0, 7) == "http://")
    rest = origin.substr(7);
  else if (origin.substr(0, 8) == "https://")
    rest = origin.substr(8);
  else
    return false;
  std::string_view host;
  return split_host_port(rest, host) && is_loopback_name(host);
}

admission_request admission_request::from(const boost::beast::http::fields &headers,
                                          std::string_view query) {
  namespace http = boost::beast::http;
  admission_request a;
  a.has_origin = headers.find(http::field::origin) != headers.end();
  a.origin = headers[http::field::origin];
  a.has_host = headers.find(http::field::host) != headers.end();
  a.host = headers[http::field::host];
  a.authorization = headers[http::field::authorization];
  a.query = query;
  return a;
}

bool admission_policy::is_loopback_host(std::string_view host_header) {
  std::string_view host;
  return split_host_port(host_header, host) && is_loopback_name(host);
}

admission_result admission_policy::check(const admission_request &r) const {
  if (!r.has_host || r.host.empty())
    return {400, "MISSING_HOST", "The request has no Host header"};

  if (r.has_origin) {
    bool allowed = r.origin != "null" && is_loopback_origin(r.origin);
    for (const auto &o : security_.allowed_origins)
      if (!allowed && iequals(o, r.origin))
        allowed = true;
    if (!allowed)
      return {403, "ORIGIN_DENIED",
              "Origin not allowed; add it to security.allowed_origins to permit it"};
  } else if (!security_.allow_missing_origin) {
    return {403, "ORIGIN_REQUIRED", "Requests without an Origin header are not allowed"};
  }

  if (listener_is_loopback_) {
    bool allowed = is_loopback_host(r.host);
    std::string_view name;
    if (!allowed && split_host_port(r.host, name))
      for (const auto &h : security_.allowed_hosts)
        if (iequals(h, name) || iequals(h, r.host))
          allowed = true;
    if (!allowed)
      return {403, "HOST_DENIED",
              "Host header not allowed (DNS rebinding protection); use localhost or 127.0.0.1"};
  }

  if (!security_.access_tokens.empty()) {
    std::string token;
    if (r.authorization.size() > 7 && iequals(r.authorization.substr(0, 7), "Bearer "))
      token = std::string(r.authorization.substr(7));
    else
      token = query_parameter(r.query, "token");
    bool ok = false;
    for (const auto &t : security_.access_tokens)
      ok |= constant_time_equals(t, token);
    if (!ok)
      return {401, "UNAUTHORIZED", "A valid access token is required (Authorization: Bearer …)"};
  }
  return {};
}

admission_result admission_policy::check_admin(const admission_request &r) const {
  if (!r.has_host || r.host.empty())
    return {400, "MISSING_HOST", "The request has no Host header"};
  if (r.has_origin && (r.origin == "null" || !is_loopback_origin(r.origin)))
    return {403, "ORIGIN_DENIED",
            "The admin endpoints take no request from a browser page of "
            "another origin"};
  if (!is_loopback_host(r.host))
    return {403, "HOST_DENIED",
            "Host header not allowed (DNS rebinding protection); use localhost or 127.0.0.1"};
  return {};
}

bool is_valid_client_id(std::string_view id) {
  if (id.empty() || id.size() > 128)
    return false;
  for (const char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '~' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

} // namespace apistudio
