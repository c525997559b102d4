// upstream_target.hpp — validating what connect_external / test-connection ask for, before
// anything is resolved or dialled: the ws:// or wss:// URL and the custom handshake headers.
#pragma once

#include "policy/host_config.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apistudio {

struct upstream_target {
  bool tls = false;        // wss
  std::string host;        // name or address, without IPv6 brackets, lower-cased
  std::uint16_t port = 0;  // explicit or 80/443
  std::string target;      // path + query, "/" when empty; the fragment is dropped
  std::string host_header; // what goes in Host: host[:port] (port only when not the default)
  bool host_is_address = false;
};

// Boost.URL does the parsing. Refuses (false, `error` says why; code INVALID_URL): anything not
// ws/wss, userinfo (credentials in the URL), an empty host, a bad port, spaces or control bytes.
bool parse_upstream_url(std::string_view url, upstream_target &out, std::string &error);

// The URL as the host may show it (events, REST answers): userinfo and the values of query and
// fragment parameters that look like credentials (names containing token, key, secret, pass,
// pwd, auth, session, sig, jwt, credential or code, any case) become "[REDACTED]". Works on any
// text, parseable or not; the rest is kept byte for byte.
std::string redacted_url(std::string_view url);

// RFC 7230 token characters only.
bool is_valid_header_name(std::string_view name);
// No CR, LF or NUL (Beast 1.81 does not reject them itself); other controls but HTAB refused too.
bool is_valid_header_value(std::string_view value);
// A subprotocol is an RFC 7230 token.
bool is_valid_subprotocol(std::string_view protocol);

// Checks the headers a client asked for, in place: refuses reserved handshake headers (Host,
// Upgrade, Connection, Sec-WebSocket-Key/-Version/-Accept/-Extensions), invalid names or values,
// values over limits.max_header_value_bytes and more than limits.max_handshake_headers headers.
// A Sec-WebSocket-Protocol header is removed and its comma-separated values merged (without
// duplicates) into `protocols`, which are then validated as tokens too.
// Returns false with a message naming the header at fault (never its value: it may be a secret).
bool validate_handshake(std::vector<std::pair<std::string, std::string>> &headers,
                        std::vector<std::string> &protocols, const limits_config &limits,
                        std::string &error);

} // namespace apistudio
