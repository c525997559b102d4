// clock.hpp — time as the host sees it, injectable so tests can drive windows and timeouts.
#pragma once

#include <chrono>
#include <cstdint>

namespace apistudio {

class clock_source {
public:
  virtual ~clock_source() = default;
  // Wall clock, for event timestamps.
  virtual std::int64_t unix_ms() const = 0;
  // Monotonic milliseconds, for windows and durations (what plugins get from now_ms()).
  virtual std::uint64_t steady_ms() const = 0;
};

class system_clock_source final : public clock_source {
public:
  std::int64_t unix_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::uint64_t steady_ms() const override {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
  }
};

} // namespace apistudio
