// allocation_counter.cpp — a counting global operator new (see allocation_counter.hpp). In its
// own file so the compiler cannot inline these into callers and misreport new/free pairs.
#include "allocation_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<std::size_t> allocation_count{0};

void *counted_malloc(std::size_t size) noexcept {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}

} // namespace

std::size_t apistudio::bench::allocations_so_far() {
  return allocation_count.load(std::memory_order_relaxed);
}

void *operator new(std::size_t size) {
  if (void *p = counted_malloc(size))
    return p;
  throw std::bad_alloc();
}
void *operator new[](std::size_t size) {
  if (void *p = counted_malloc(size))
    return p;
  throw std::bad_alloc();
}
void *operator new(std::size_t size, const std::nothrow_t &) noexcept {
  return counted_malloc(size);
}
void *operator new[](std::size_t size, const std::nothrow_t &) noexcept {
  return counted_malloc(size);
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t) noexcept { std::free(p); }
void operator delete(void *p, const std::nothrow_t &) noexcept { std::free(p); }
void operator delete[](void *p, const std::nothrow_t &) noexcept { std::free(p); }
