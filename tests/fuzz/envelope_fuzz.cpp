// envelope_fuzz.cpp — libFuzzer target for parse_client_command(): the hand-written scanner and
// the nlohmann path must agree on every input, and nothing may crash, hang or leak
// (properties in envelope_fuzz_check.hpp).
//
// Build and run: scripts/fuzz.sh SECONDS (tests/fuzz/CMakeLists.txt builds envelope_fuzz with
// clang and libFuzzer; the script passes -dict=tests/fuzz/envelope.dict). Every input that once
// broke it becomes a file in tests/fuzz/corpus/envelope/, which CTest replays
// (fuzz_replay_envelope) and so do the unit tests.
#include "envelope_fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string failure =
      apistudio::fuzz::check_envelope(std::string_view(reinterpret_cast<const char *>(data), size));
  if (!failure.empty()) {
    std::fprintf(stderr, "envelope_fuzz: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
