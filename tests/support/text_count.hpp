// text_count.hpp — how often a line or phrase appears in a log or an answer. Tests assert
// counts ("logged once", "no tick after the reload"), not only presence.
#pragma once

#include <cstddef>
#include <string>

namespace apistudio::testing {

// Occurrences of `needle` in `text`, overlapping ones included.
inline std::size_t count_of(const std::string &text, const std::string &needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

} // namespace apistudio::testing
