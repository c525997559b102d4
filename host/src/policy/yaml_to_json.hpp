// yaml_to_json.hpp — a plugin's settings block, converted from YAML into the JSON the plugin
// receives.
//
// Rules: scalars follow the YAML 1.2 core schema after ${ENV} substitution (a plain `port: ${PORT}`
// is a number, a quoted one a string); anything JSON cannot hold (.inf, .nan, 2^64, invalid
// UTF-8, a duplicate key) throws config_error rather than changing silently. The conversion
// recurses: call it only on a tree that yaml_reader::load() has bounded. Internal to the
// configuration loader.
#pragma once

#include "policy/yaml_reader.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace apistudio::config_detail {

// Throws config_error through `reader`, pointing at the offending key or value.
nlohmann::json yaml_to_json(const yaml_reader &reader, const located &value);

// The same, and records where each mapping key and list item was written, so that a plugin's
// refusal can point at the setting itself: `locations` maps its RFC 6901 JSON Pointer relative to
// `value` ("/rules/0/header"; "" is `value` itself, at its key) to "FILE:LINE:COLUMN".
nlohmann::json yaml_to_json(const yaml_reader &reader, const located &value,
                            std::map<std::string, std::string> &locations);

} // namespace apistudio::config_detail
