// log_repeats.hpp — "logged once with a count": warnings and errors that repeat within a window
// are counted instead of written, so a flood of one failure cannot fill the disk.
//
// Two lines are the same when their level, component, plugin and message agree, with every run
// of digits in the message read as one: "client 17 ..." and "client 18 ..." are the same line,
// so session ids, byte counts and ports do not make a flood look new. The first occurrence is
// written and opens a window; repeats inside it are only counted. Once the window has passed,
// the next look (any later line, or the host's tick) yields one summary with the count and the
// context of the last repeat; a window without repeats closes silently. Debug and info lines are
// events, not failures, and are never held back (WEBSOCKET_DEBUG still shows every event).
// At most max_keys windows are open at once; past that, new lines are written uncounted.
// Not thread-safe: the logger calls it under its mutex.
#pragma once

#include "base/log_context.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace apistudio {

class log_repeats {
public:
  using time_point = std::chrono::steady_clock::time_point;

  struct summary {
    log_level level = log_level::info;
    std::string component;
    std::string message; // as the first occurrence was written
    owned_log_context last;
    std::uint64_t count = 0;  // repeats held back after the first occurrence
    std::int64_t seconds = 0; // over how long (the window, or less when flushed early)
  };

  explicit log_repeats(std::chrono::milliseconds window = std::chrono::seconds(10),
                       std::size_t max_keys = 1024)
      : window_(window), max_keys_(max_keys) {}

  // 0: every line is written.
  void set_window(std::chrono::milliseconds window) noexcept { window_ = window; }
  std::chrono::milliseconds window() const noexcept { return window_; }

  // True when the line is to be written; false when it was counted as a repeat.
  bool admit(log_level level, std::string_view component, std::string_view message,
             const log_context &context, time_point now);

  // The summaries of windows that closed by `now` (of every open window when `all`),
  // sorted by component and message; those windows are forgotten.
  std::vector<summary> take_closed(time_point now, bool all = false);

private:
  struct window_state {
    time_point opened;
    log_level level;
    std::string component;
    std::string message;
    owned_log_context last;
    std::uint64_t count = 0;
  };

  std::chrono::milliseconds window_;
  std::size_t max_keys_;
  std::unordered_map<std::string, window_state> open_;
  time_point next_close_ = time_point::max(); // earliest end of an open window
};

} // namespace apistudio
