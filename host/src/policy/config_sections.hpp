// config_sections.hpp — what each top-level key of the operator's YAML means: one reader per
// section (server, limits, keepalive, tls, egress, security, plugins, and the loose keys debug and
// plugin_dir), each setting with its range and its message when wrong.
//
// Internal to the configuration loader (config_loader.hpp is the public face);
// docs/configuration.md documents every key, and a key added here belongs there too.
#pragma once

#include "policy/host_config.hpp"
#include "policy/yaml_reader.hpp"

namespace apistudio::config_detail {

// Fills `config` from `root`, a non-null mapping returned by reader.load(); keys not written keep
// the value `config` already has. Throws config_error through `reader`.
void read_sections(const yaml_reader &reader, const YAML::Node &root, host_config &config);

} // namespace apistudio::config_detail
