#include "common/duration.hpp"

#include <limits>

namespace apistudio::plugins::common {

std::optional<std::uint64_t> parse_duration_ms(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t number = 0;
  constexpr std::uint64_t max_number = std::numeric_limits<std::uint32_t>::max();
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    number = number * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (number > max_number)
      return std::nullopt;
    ++i;
  }
  if (i == 0)
    return std::nullopt;
  const std::string_view unit = text.substr(i);
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "ms")
    scale = 1;
  else if (unit == "m")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  else
    return std::nullopt;
  if (number == 0)
    return std::nullopt;
  return number * scale;
}

std::optional<std::uint64_t> duration_ms_from_json(const nlohmann::json &value) {
  if (value.is_string())
    return parse_duration_ms(value.get_ref<const std::string &>());
  if (value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() > 0)) {
    const auto seconds = value.get<std::uint64_t>();
    if (seconds == 0 || seconds > std::numeric_limits<std::uint32_t>::max())
      return std::nullopt;
    return seconds * 1000;
  }
  return std::nullopt;
}

std::string format_duration(std::uint64_t ms) {
  if (ms % 1000 == 0)
    return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

} // namespace apistudio::plugins::common
