// encoder_fuzz.cpp — libFuzzer target for the event encoder: any upstream payload, text or
// binary, must give valid JSON that brings the payload back (properties in
// encoder_fuzz_check.hpp).
//
// Build: clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I host/src \
//          tests/fuzz/encoder_fuzz.cpp host/src/event_encoder.cpp host/src/base64.cpp \
//          host/src/iso_timestamp.cpp -o encoder_fuzz
// Run:   ./encoder_fuzz -max_total_time=60 tests/fuzz/corpus/encoder
// Every input that once broke it becomes a file in tests/fuzz/corpus/encoder/, which the unit
// tests replay.
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
