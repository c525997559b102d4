// iso_timestamp.cpp — the "timestamp" of every event. Every event carries one, so it is on the
// hot path: the date and time of day are computed once per second per thread (no gmtime, no
// locale), then only the milliseconds change.
#include "base/iso_timestamp.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace apistudio {

namespace {

constexpr std::int64_t first_ms = -62'167'219'200'000; // 0000-01-01T00:00:00.000Z
constexpr std::int64_t last_ms = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z
constexpr std::size_t seconds_length = 19;             // "YYYY-MM-DDTHH:MM:SS"

std::int64_t floor_div(std::int64_t value, std::int64_t divisor) {
  const std::int64_t quotient = value / divisor;
  return (value % divisor < 0) ? quotient - 1 : quotient;
}

void put_digits(char *at, std::int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// Howard Hinnant's days_from_civil inverse (proleptic Gregorian, day 0 = 1970-01-01).
void format_seconds(char *text, std::int64_t unix_seconds) {
  const std::int64_t days = floor_div(unix_seconds, 86'400);
  const std::int64_t second_of_day = unix_seconds - days * 86'400;
  const std::int64_t z = days + 719'468;
  const std::int64_t era = floor_div(z, 146'097);
  const std::int64_t day_of_era = z - era * 146'097;
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36'524 - day_of_era / 146'096) / 365;
  const std::int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t shifted_month = (5 * day_of_year + 2) / 153; // March = 0
  const std::int64_t day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  const std::int64_t month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  const std::int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);

  std::memcpy(text, "0000-00-00T00:00:00", seconds_length);
  put_digits(text, year, 4);
  put_digits(text + 5, month, 2);
  put_digits(text + 8, day, 2);
  put_digits(text + 11, second_of_day / 3600, 2);
  put_digits(text + 14, second_of_day / 60 % 60, 2);
  put_digits(text + 17, second_of_day % 60, 2);
}

struct second_cache {
  std::int64_t unix_seconds = std::numeric_limits<std::int64_t>::min();
  char text[seconds_length] = {};
};

} // namespace

void append_timestamp(std::string &out, std::int64_t unix_ms) {
  thread_local second_cache cache;
  unix_ms = std::clamp(unix_ms, first_ms, last_ms);
  const std::int64_t unix_seconds = floor_div(unix_ms, 1000);
  if (unix_seconds != cache.unix_seconds) {
    format_seconds(cache.text, unix_seconds);
    cache.unix_seconds = unix_seconds;
  }
  char text[seconds_length + 5];
  std::memcpy(text, cache.text, seconds_length);
  text[seconds_length] = '.';
  put_digits(text + seconds_length + 1, unix_ms - unix_seconds * 1000, 3);
  text[seconds_length + 4] = 'Z';
  out.append(text, sizeof text);
}

std::string format_timestamp(std::int64_t unix_ms) {
  std::string text;
  append_timestamp(text, unix_ms);
  return text;
}

} // namespace apistudio
