// hex_digit.hpp — the value of one hexadecimal digit, for the decoders that read %XX and \uXXXX
// escapes (admission's query string, the envelope scanner). ASCII only, whatever the locale.
#pragma once

namespace apistudio {

// 0..15 for '0'-'9', 'a'-'f', 'A'-'F'; -1 for anything else.
constexpr int hex_digit_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace apistudio
