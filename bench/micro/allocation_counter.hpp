// allocation_counter.hpp — how many times operator new has run in this process, for the
// allocs_per_iter counters of the micro-benchmarks. Linking allocation_counter.cpp replaces the
// global operator new/delete, so link it into benchmark executables only.
#pragma once

#include <cstddef>

namespace apistudio::bench {

std::size_t allocations_so_far();

} // namespace apistudio::bench
