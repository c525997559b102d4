// sliding_window_log.hpp — the rate limiter's algorithm: an exact sliding log.
//
// For each configured limit (N messages per W ms) the log keeps the arrival times of the
// admitted messages still inside the window. A message arriving at `now` is admitted when, for
// every limit, fewer than N admitted messages arrived in (now - W, now]; it is then recorded in
// every limit's log. A message admitted at t stops counting at exactly t + W.
//
// Why a log and not a fixed window: a fixed window lets 2N through around a boundary; the log is
// exact and its memory is bounded by the limit itself (at most N timestamps per limit, and only
// as many as were actually admitted inside the window). Refused messages are not recorded: they
// never consume budget.
//
// Time comes from the caller (the host's injectable monotonic clock), so tests drive it. A clock
// that goes backwards is treated as standing still. Not thread-safe: one owner, or a lock.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace apistudio::plugins::rate_limiter {

struct rate_limit {
  std::uint64_t messages = 100;
  std::uint64_t window_ms = 60'000;
  // "100 messages per 60s": the wording of the RATE_LIMITED error.
  std::string describe() const;
  bool operator==(const rate_limit &) const = default;
};

class sliding_window_log {
public:
  explicit sliding_window_log(const std::vector<rate_limit> &limits);

  // nullopt: admitted and recorded. Otherwise the index (in `limits` order) of the first limit
  // that is full; nothing is recorded.
  std::optional<std::size_t> try_admit(std::uint64_t now_ms);

  // True when no admitted message still counts at `now_ms` (the log equals a fresh one).
  bool idle(std::uint64_t now_ms) const noexcept;

  // Admitted messages still counting for limit `index` at `now_ms`.
  std::size_t count(std::size_t index, std::uint64_t now_ms) const noexcept;

private:
  struct window {
    std::uint64_t messages;
    std::uint64_t window_ms;
    std::deque<std::uint64_t> admitted; // oldest first, never more than `messages` entries
  };
  static void expire(window &w, std::uint64_t now_ms);

  std::vector<window> windows_;
  std::uint64_t last_now_ = 0;
};

} // namespace apistudio::plugins::rate_limiter
