// json_depth.hpp — a cheap pre-check before parsing JSON from the network.
//
// nlohmann/json parses iteratively but dump() and comparisons recurse, so a megabyte of '['
// would overflow the stack when re-serialised. Plugins that parse client frames and dump them
// again check the nesting first.
#pragma once

#include <cstddef>
#include <string_view>

namespace apistudio::plugins::common {

// True when `text` opens more than `max_depth` arrays/objects at once (brackets inside strings
// are ignored). Does not validate anything else.
bool json_nesting_exceeds(std::string_view text, std::size_t max_depth) noexcept;

} // namespace apistudio::plugins::common
