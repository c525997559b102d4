// encoder_fuzz.cpp — libFuzzer target for the event encoder: any upstream payload, text or
// binary, must give valid JSON that brings the payload back (properties in
// encoder_fuzz_check.hpp).
//
// Build and run: scripts/fuzz.sh SECONDS (tests/fuzz/CMakeLists.txt builds encoder_fuzz with
// clang and libFuzzer). Every input that once broke it becomes a file in
// tests/fuzz/corpus/encoder/, which CTest replays (fuzz_replay_encoder) and so do the unit tests.
#include "encoder_fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string failure =
      apistudio::fuzz::check_encoder(std::string_view(reinterpret_cast<const char *>(data), size));
  if (!failure.empty()) {
    std::fprintf(stderr, "encoder_fuzz: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
