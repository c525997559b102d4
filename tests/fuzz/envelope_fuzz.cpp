// envelope_fuzz.cpp — libFuzzer target for parse_client_command(): the hand-written scanner and
// the nlohmann path must agree on every input, and nothing may crash, hang or leak
// (properties in envelope_fuzz_check.hpp).
//
// Build: clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I host/src \
//          tests/fuzz/envelope_fuzz.cpp host/src/client_command.cpp host/src/envelope_scanner.cpp \
//          host/src/envelope_reference_parser.cpp host/src/event_encoder.cpp host/src/base64.cpp \
//          host/src/iso_timestamp.cpp -o envelope_fuzz
// Run:   ./envelope_fuzz -max_total_time=60 -max_len=4096 -dict=tests/fuzz/envelope.dict \
//          tests/fuzz/corpus/envelope
// Every input that once broke it becomes a file in tests/fuzz/corpus/envelope/, which the unit
// tests replay.
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
