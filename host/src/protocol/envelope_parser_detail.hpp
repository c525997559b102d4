// envelope_parser_detail.hpp — the insides of parse_client_command(), exposed for the unit and
// fuzz tests that check its two parsers agree. Other host code uses envelope_codec.hpp only.
//
// parse_client_command() = scan_flat_command(), and parse_command_reference() when the scanner
// declines. Both only collect the top-level fields into envelope_fields; apply_command_rules()
// then decides, in one fixed order, so the two paths cannot disagree on which error wins.
// The scanner declines (scan_result::fallback) on anything it does not handle itself: nested
// values, escaped keys, exponents, over-long numbers, a BOM — and every syntax error, so that
// only the nlohmann path ever words a JSON error.
#pragma once

#include "protocol/envelope_codec.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace apistudio::detail {

inline constexpr std::size_t max_nesting_depth = 64; // the top-level object is level 1
inline constexpr std::size_t max_connection_id_bytes = 128;
inline constexpr std::size_t max_request_id_bytes = 256;
inline constexpr std::size_t max_list_entries = 64; // protocols, headers

enum class json_kind : std::uint8_t { absent, null, boolean, number, string, array, object };

enum class envelope_field : std::uint8_t {
  type,
  content,
  message_type,
  url,
  protocols,
  headers,
  tls_verify,
  connection_id,
  request_id,
  count // not a field we read
};

envelope_field field_from_key(std::string_view key) noexcept;

struct field_value {
  json_kind kind = json_kind::absent;
  bool boolean = false;
  bool escaped = false;    // string text still holds (validated) JSON escapes
  bool elements_ok = true; // protocols/headers: every element was a string
  bool too_many = false;   // protocols/headers: more than max_list_entries
  std::string_view text;   // string: the body between the quotes, or already decoded text
};

struct envelope_fields {
  std::array<field_value, static_cast<std::size_t>(envelope_field::count)> values{};
  field_value &operator[](envelope_field f) { return values[static_cast<std::size_t>(f)]; }
  const field_value &operator[](envelope_field f) const {
    return values[static_cast<std::size_t>(f)];
  }
};

// Decides the command from the collected fields. out must be reset() beforehand, except that
// the reference parser has already put the protocols/headers elements there.
bool apply_command_rules(const envelope_fields &fields, client_command &out);

// Sets out.kind = invalid and out.error = message, keeps the request_id if one was read.
void set_command_error(client_command &out, std::string_view message);

// Appends the decoded text of a JSON string body whose escapes are known to be valid.
void append_unescaped(std::string &out, std::string_view body);

enum class scan_result { parsed, fallback };

// The fast path for flat objects. On `parsed`, out holds the final answer (a command or a rule
// error); on `fallback`, out is untouched.
scan_result scan_flat_command(std::string_view frame, client_command &out);

// The nlohmann path (its SAX parser: no DOM, nesting refused past max_nesting_depth before it
// is entered). Handles everything, and is the reference the scanner is tested against.
bool parse_command_reference(std::string_view frame, client_command &out);

} // namespace apistudio::detail
