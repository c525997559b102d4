// fuzz_invariant.hpp — how a fuzz target reports a broken property: a line naming it, then
// abort(), which libFuzzer (and the corpus replay under CTest) treats as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace apistudio::fuzz {

inline void check(bool condition, const char *what) {
  if (!condition) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

} // namespace apistudio::fuzz
