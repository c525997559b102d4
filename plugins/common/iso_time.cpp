#include "common/iso_time.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace apistudio::plugins::common {

std::string iso8601_utc_ms(std::int64_t unix_ms) {
  // Floor division so times before 1970 still get a millisecond field in [0, 999].
  std::int64_t seconds = unix_ms / 1000;
  std::int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[96]; // room for any int in every field: -Wformat-truncation counts them
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buffer;
}

std::string iso8601_now() {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return iso8601_utc_ms(now.count());
}

} // namespace apistudio::plugins::common
