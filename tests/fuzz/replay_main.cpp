// replay_main.cpp — runs a fuzz target's LLVMFuzzerTestOneInput over files, without libFuzzer, so
// the normal build (gcc, no fuzzing engine) replays every committed corpus input as a test: an
// input that once crashed a parser stays a regression test for good (tests/fuzz/CMakeLists.txt
// links it with each *_fuzz.cpp into <name>_replay, registered as fuzz_replay_<name>).
//
// Usage: <name>_replay PATH...   (files, or directories whose files are replayed, sorted)
// Exit status 0 when every input ran; 1 when no input was found (a missing corpus is an error).
// A failing property aborts inside the target, as under libFuzzer; the input is named first.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size);

int main(int argc, char **argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path path(argv[i]);
    if (fs::is_directory(path)) {
      for (const auto &entry : fs::recursive_directory_iterator(path))
        if (entry.is_regular_file())
          inputs.push_back(entry.path());
    } else if (fs::is_regular_file(path)) {
      inputs.push_back(path);
    } else {
      std::fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
      return 1;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  if (inputs.empty()) {
    std::fprintf(stderr, "replay: no inputs (usage: %s CORPUS_DIR_OR_FILE...)\n", argv[0]);
    return 1;
  }
  for (const auto &path : inputs) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", path.c_str(), bytes.size());
    std::fflush(stderr);
    // A copy of exactly `size` bytes, as libFuzzer gives, so reads past the end are caught by ASan.
    const std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(data.empty() ? nullptr : data.data(), data.size());
  }
  std::fprintf(stderr, "replay: %zu input(s) passed\n", inputs.size());
  return 0;
}
