// counter_store.hpp — rate-limit state shared between connections (scope client_id or
// remote_address), keyed by a string.
//
// The interface is one atomic operation so that a Redis implementation can do the same in one
// Lua script (ZREMRANGEBYSCORE + ZCARD + ZADD per window, with the server's TIME as the clock
// since monotonic clocks differ between hosts). This release ships the in-memory implementation.
//
// Memory: a key whose admitted messages have all expired is indistinguishable from a new key, so
// the in-memory store drops such keys in a sweep at most once per longest window; the number of
// keys is bounded by the keys active during the last two longest windows.
#pragma once

#include "rate_limiter/sliding_window_log.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace apistudio::plugins::rate_limiter {

class counter_store {
public:
  virtual ~counter_store() = default;
  // Same contract as sliding_window_log::try_admit, for the log of `key`. Thread-safe.
  virtual std::optional<std::size_t> try_admit(std::string_view key, std::uint64_t now_ms) = 0;
};

class in_memory_counter_store final : public counter_store {
public:
  explicit in_memory_counter_store(std::vector<rate_limit> limits);
  std::optional<std::size_t> try_admit(std::string_view key, std::uint64_t now_ms) override;
  // Keys currently held (for tests and the bounded-memory claim).
  std::size_t key_count() const;

private:
  void sweep_locked(std::uint64_t now_ms);

  const std::vector<rate_limit> limits_;
  std::uint64_t longest_window_ms_ = 0;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, sliding_window_log> logs_;
  std::uint64_t last_sweep_ms_ = 0;
};

} // namespace apistudio::plugins::rate_limiter
