// text.hpp — ASCII helpers shared by the plugins: case-insensitive comparison (header names,
// query parameter names) and escaping for one-line log output.
//
// Everything here is locale-independent on purpose: HTTP names are ASCII, and std::tolower would
// depend on the process locale.
#pragma once

#include <string>
#include <string_view>

namespace apistudio::plugins::common {

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b) noexcept;
bool istarts_with(std::string_view s, std::string_view prefix) noexcept;
bool iends_with(std::string_view s, std::string_view suffix) noexcept;
// `needle` must already be lower case.
bool icontains(std::string_view haystack, std::string_view lower_needle) noexcept;
std::string_view trim(std::string_view s) noexcept;

// Makes `s` safe for a single log line: CR, LF, TAB, backslash and other control bytes become
// escapes (\n, \r, \t, \\, \xNN). Bytes >= 0x80 are kept (UTF-8 text stays readable).
std::string escape_for_log(std::string_view s);

// The longest prefix of `s` of at most `max_bytes` that does not end inside a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) noexcept;

// Lower-case hex of every byte.
std::string to_hex(std::string_view bytes);

} // namespace apistudio::plugins::common
