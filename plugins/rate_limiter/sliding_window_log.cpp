#include "rate_limiter/sliding_window_log.hpp"

#include "common/duration.hpp"

#include <algorithm>

namespace apistudio::plugins::rate_limiter {

std::string rate_limit::describe() const {
  return std::to_string(messages) + " messages per " + common::format_duration(window_ms);
}

sliding_window_log::sliding_window_log(const std::vector<rate_limit> &limits) {
  windows_.reserve(limits.size());
  for (const auto &l : limits)
    windows_.push_back({l.messages, l.window_ms, {}});
}

void sliding_window_log::expire(window &w, std::uint64_t now_ms) {
  // An entry admitted at t counts while now - t < window, i.e. it expires when t + W <= now.
  while (!w.admitted.empty() && w.admitted.front() + w.window_ms <= now_ms)
    w.admitted.pop_front();
}

std::optional<std::size_t> sliding_window_log::try_admit(std::uint64_t now_ms) {
  now_ms = std::max(now_ms, last_now_);
  last_now_ = now_ms;
  for (auto &w : windows_)
    expire(w, now_ms);
  for (std::size_t i = 0; i < windows_.size(); ++i)
    if (windows_[i].admitted.size() >= windows_[i].messages)
      return i;
  for (auto &w : windows_)
    w.admitted.push_back(now_ms);
  return std::nullopt;
}

std::size_t sliding_window_log::count(std::size_t index, std::uint64_t now_ms) const noexcept {
  const auto &w = windows_.at(index);
  now_ms = std::max(now_ms, last_now_);
  return static_cast<std::size_t>(
      std::count_if(w.admitted.begin(), w.admitted.end(),
                    [&](std::uint64_t t) { return t + w.window_ms > now_ms; }));
}

bool sliding_window_log::idle(std::uint64_t now_ms) const noexcept {
  now_ms = std::max(now_ms, last_now_);
  for (const auto &w : windows_)
    if (!w.admitted.empty() && w.admitted.back() + w.window_ms > now_ms)
      return false;
  return true;
}

} // namespace apistudio::plugins::rate_limiter
