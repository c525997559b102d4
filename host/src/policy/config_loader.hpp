// config_loader.hpp — reads the operator's YAML into a host_config.
//
// Rules: ${ENV_VAR} is substituted in scalar values (an unset variable is an error unless written
// ${ENV_VAR:-default}); durations are "30s", "500ms", "2m", "1h" (or a bare integer of seconds);
// sizes are "1MiB", "64KiB", "1048576" (bytes), "1MB" (10^6). An unknown key, a wrong type or a bad
// value throws config_error whose what() is "FILE:LINE:COLUMN: KEY.PATH: what is wrong".
#pragma once

#include "policy/config_error.hpp"
#include "policy/host_config.hpp"

#include <string>

namespace apistudio {

// Throws config_error. `path` is shown in messages exactly as given.
host_config load_config(const std::string &path);

// The same, from text already in memory (tests, fuzzing); `source_name` stands in for the path.
host_config load_config_from_string(const std::string &yaml, const std::string &source_name);

// "30s" -> 30000ms, etc. Throws std::invalid_argument with a short reason.
std::chrono::milliseconds parse_duration(const std::string &text);
// "HOST:PORT" or "[IPV6]:PORT" (what server.listen and --listen take) into `out`.
// Throws std::invalid_argument with a short reason.
void parse_listen_address(const std::string &text, listen_config &out);
// "1MiB" -> 1048576, etc. Throws std::invalid_argument with a short reason.
std::size_t parse_size(const std::string &text);

} // namespace apistudio
