#include "rate_limiter/counter_store.hpp"

#include <algorithm>

namespace apistudio::plugins::rate_limiter {

in_memory_counter_store::in_memory_counter_store(std::vector<rate_limit> limits)
    : limits_(std::move(limits)) {
  for (const auto &l : limits_)
    longest_window_ms_ = std::max(longest_window_ms_, l.window_ms);
}

std::optional<std::size_t> in_memory_counter_store::try_admit(std::string_view key,
                                                              std::uint64_t now_ms) {
  std::lock_guard lock(mutex_);
  sweep_locked(now_ms);
  auto it = logs_.find(std::string(key));
  if (it == logs_.end())
    it = logs_.emplace(std::string(key), sliding_window_log(limits_)).first;
  return it->second.try_admit(now_ms);
}

void in_memory_counter_store::sweep_locked(std::uint64_t now_ms) {
  // Once per longest window: every call in between pays nothing, and a sweep removes exactly the
  // keys that carry no information any more.
  if (now_ms < last_sweep_ms_ + longest_window_ms_)
    return;
  last_sweep_ms_ = now_ms;
  std::erase_if(logs_, [&](const auto &entry) { return entry.second.idle(now_ms); });
}

std::size_t in_memory_counter_store::key_count() const {
  std::lock_guard lock(mutex_);
  return logs_.size();
}

} // namespace apistudio::plugins::rate_limiter
