// logger.hpp — one line per event on stderr, safe from any thread.
//
// Two formats (log.format, docs/operations.md "Logs"):
//   text  2025-01-01T12:00:00.000Z INFO  [component] message session_id=3 client_id=abc
//   json  {"time":"2025-01-01T12:00:00.000Z","level":"info","component":"...","message":"...",
//          "session_id":3,"client_id":"abc"}
// The context fields (log_context.hpp) are written where the caller knows them. Every message
// passes redact_secrets() (log_redaction.hpp) before it is written, whoever wrote it. Warnings
// and errors that repeat within the repeat window are counted, not written (log_repeats.hpp);
// the count follows in a summary line.
// Formatting happens only when the level is enabled: check enabled() first on hot paths.
#pragma once

#include "base/log_context.hpp"
#include "base/log_repeats.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace apistudio {

class logger {
public:
  using sink_fn = std::function<void(std::string_view line)>;
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;

  explicit logger(log_level threshold = log_level::info) : threshold_(threshold) {}

  bool enabled(log_level level) const noexcept {
    return static_cast<int>(level) >= static_cast<int>(threshold_.load(std::memory_order_relaxed));
  }
  void set_threshold(log_level level) noexcept { threshold_.store(level); }
  void set_format(log_format format) noexcept { format_.store(format); }
  // 0: every warning and error is written.
  void set_repeat_window(std::chrono::milliseconds window);
  // Tests capture output; the default sink writes to stderr.
  void set_sink(sink_fn sink);
  // Tests move time for the repeat windows; the default is std::chrono::steady_clock.
  void set_clock(clock_fn now);

  void log(log_level level, std::string_view component, std::string_view message) {
    log(level, component, message, log_context{});
  }
  void log(log_level level, std::string_view component, std::string_view message,
           const log_context &context);

  void debug(std::string_view c, std::string_view m, const log_context &x = {}) {
    if (enabled(log_level::debug))
      log(log_level::debug, c, m, x);
  }
  void info(std::string_view c, std::string_view m, const log_context &x = {}) {
    if (enabled(log_level::info))
      log(log_level::info, c, m, x);
  }
  void warn(std::string_view c, std::string_view m, const log_context &x = {}) {
    if (enabled(log_level::warn))
      log(log_level::warn, c, m, x);
  }
  void error(std::string_view c, std::string_view m, const log_context &x = {}) {
    if (enabled(log_level::error))
      log(log_level::error, c, m, x);
  }

  // Writes the summaries of repeat windows that have closed: the host calls this once a second,
  // so a count appears even when nothing else is logged after a flood.
  void write_closed_repeats();
  // Writes the summaries of every open repeat window (at shutdown).
  void flush_repeats();

private:
  void write_summaries(bool all);
  void write_locked(std::string_view line);

  std::atomic<log_level> threshold_;
  std::atomic<log_format> format_{log_format::text};
  std::mutex mutex_;
  sink_fn sink_;
  clock_fn clock_;
  log_repeats repeats_;
};

} // namespace apistudio
