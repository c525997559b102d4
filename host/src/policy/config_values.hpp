// config_values.hpp — the grammars of single configuration values (listen addresses, origins,
// ${ENV} substitution, the number-and-unit split behind durations and sizes) and the text helpers
// the configuration's messages are made with.
//
// Internal to the configuration loader; other code uses config_loader.hpp. Nothing here knows
// where a value was written: parsers throw std::invalid_argument with a short reason, and the
// caller, which knows the file, line and key, turns it into a config_error.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apistudio::config_detail {

inline constexpr std::size_t kib = 1024;
inline constexpr std::size_t mib = 1024 * kib;
inline constexpr std::size_t gib = 1024 * mib;

// ASCII only, whatever the locale: the configuration's grammar is ASCII.
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
std::string lower(std::string_view text);

// A value as shown in a message: quoted, control bytes escaped, long values cut (at a character
// boundary, so the message stays valid UTF-8).
std::string shown(std::string_view text, char quote = '"');
bool valid_utf8(std::string_view text);
// " (did you mean 'x'?)" for a near miss, else the list of what is accepted.
std::string key_hint(std::string_view key, const std::vector<std::string_view> &known);

// The largest unit that divides the value exactly: 600000ms -> "10m", 1048576 -> "1MiB".
std::string format_duration(std::chrono::milliseconds value);
std::string format_size(std::size_t value);

// "123abc" -> {123, "abc"}; shared by durations and sizes, which both start with a whole number.
// `what` ("duration", "size") names the value in the reasons thrown.
std::pair<std::uint64_t, std::string_view> split_number(std::string_view text, const char *what);

// ${NAME} and ${NAME:-default} replaced by the environment's value; $$ is a literal $. The value of
// a variable is inserted as is: it is never substituted again, so it cannot smuggle in ${...}.
std::string substitute_env(std::string_view text);

struct host_port {
  std::string host;
  std::uint16_t port = 0;
};

// "HOST:PORT" or "[IPV6]:PORT". Port 0 asks the system for a free port (tests use it).
host_port parse_listen(std::string_view text);

// A name server: "IP", "IP:PORT", an IPv6 address bare ("::1") or in brackets ("[::1]",
// "[::1]:5353"). An address only, never a name (looking up the name server would need one).
// The port defaults to 53 and must be 1..65535. The address comes back without brackets.
host_port parse_name_server(std::string_view text);

// "redis://HOST[:PORT][/DB]": port 6379 and database 0 by default. No user or password in the URL
// (cluster.password holds it, so the URL can be shown in messages), no other scheme, no query.
struct redis_endpoint {
  std::string host; // an IPv6 address without brackets
  std::uint16_t port = 6379;
  int db = 0;
};
redis_endpoint parse_redis_url(std::string_view text);

// Origins are compared with what browsers send: lower case, no path, no default port.
std::string canonical_origin(std::string_view text);

} // namespace apistudio::config_detail
