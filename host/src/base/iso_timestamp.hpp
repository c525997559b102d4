// iso_timestamp.hpp — the time format of every event's "timestamp" and of every log line.
#pragma once

#include <cstdint>
#include <string>

namespace apistudio {

// ISO-8601 UTC with milliseconds and Z: "2025-01-01T12:00:00.000Z" (24 chars). Times outside
// years 0000..9999 are clamped to that range. Cheap: the text up to the seconds is cached.
std::string format_timestamp(std::int64_t unix_ms);
void append_timestamp(std::string &out, std::int64_t unix_ms);

} // namespace apistudio
