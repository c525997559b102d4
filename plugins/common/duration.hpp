// duration.hpp — the duration syntax of the host's configuration ("500ms", "1s", "60s", "2m",
// "1h", or a bare integer of seconds), re-implemented here because plugins may not link host
// internals. Keep both in step; docs/configuration.md describes the syntax.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace apistudio::plugins::common {

// Milliseconds, or nullopt if `text` is not a positive duration in that syntax.
std::optional<std::uint64_t> parse_duration_ms(std::string_view text);

// A JSON string in the syntax above or a non-negative integer (seconds, as YAML `60` arrives).
std::optional<std::uint64_t> duration_ms_from_json(const nlohmann::json &value);

// The canonical short form used in messages: whole seconds as "60s", otherwise "1500ms".
std::string format_duration(std::uint64_t ms);

} // namespace apistudio::plugins::common
