// config_fuzz.cpp — libFuzzer target for the YAML configuration loader.
//
// The loader reads operator input, which may be anything: the only acceptable outcomes are a
// host_config or a config_error. Any other exception escapes and aborts (libFuzzer reports it),
// as do crashes, hangs and sanitizer findings. A loaded config must also be usable downstream:
// plugin settings are dumped, as the plugin runtime does, which throws on invalid UTF-8.
//
// Build and run: scripts/fuzz.sh SECONDS (tests/fuzz/CMakeLists.txt builds config_fuzz with
// clang and libFuzzer). Every crash found becomes a file in tests/fuzz/corpus/config/, which CTest
// replays (fuzz_replay_config) and so do the unit tests.
#include "policy/config_loader.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string yaml(reinterpret_cast<const char *>(data), size);
  try {
    const apistudio::host_config config = apistudio::load_config_from_string(yaml, "fuzz.yaml");
    for (const apistudio::plugin_config &plugin : config.plugins)
      (void)plugin.settings.dump();
  } catch (const apistudio::config_error &) {
    // A refusal with a message is the correct answer to bad input.
  }
  return 0;
}
