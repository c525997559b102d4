// utf8_truncate.hpp — shortening text that came from a plugin without cutting a character.
#pragma once

#include <cstddef>
#include <string_view>

namespace apistudio {

// At most `max` bytes of `s`, cut at a UTF-8 character boundary so that what is kept (a close
// reason, a label value) stays valid text when `s` was.
inline std::string_view truncate_utf8(std::string_view s, std::size_t max) noexcept {
  if (s.size() <= max)
    return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
    --n;
  return s.substr(0, n);
}

} // namespace apistudio
