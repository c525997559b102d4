// iso_time.hpp — event timestamps in the spec's format: "2025-01-01T12:00:00.000Z".
//
// Plugins stamp events with the wall clock (the host's now_ms() is monotonic, good for windows
// but not for dates). Builders of events take the timestamp as a parameter so tests can pin it.
#pragma once

#include <cstdint>
#include <string>

namespace apistudio::plugins::common {

// Milliseconds since the Unix epoch, UTC, as ISO-8601 with milliseconds and a "Z".
std::string iso8601_utc_ms(std::int64_t unix_ms);

// The current wall-clock time in that format.
std::string iso8601_now();

} // namespace apistudio::plugins::common
