// logger.hpp — one line per event on stderr, safe from any thread.
//
// Lines look like: 2025-01-01T12:00:00.000Z INFO  [component] message
// Formatting happens only when the level is enabled: check enabled() first on hot paths.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace apistudio {

enum class log_level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

class logger {
public:
  using sink_fn = std::function<void(std::string_view line)>;

  explicit logger(log_level threshold = log_level::info) : threshold_(threshold) {}

  bool enabled(log_level level) const noexcept {
    return static_cast<int>(level) >= static_cast<int>(threshold_.load(std::memory_order_relaxed));
  }
  void set_threshold(log_level level) noexcept { threshold_.store(level); }
  // Tests capture output; the default sink writes to stderr.
  void set_sink(sink_fn sink);

  void log(log_level level, std::string_view component, std::string_view message);
  void debug(std::string_view c, std::string_view m) {
    if (enabled(log_level::debug))
      log(log_level::debug, c, m);
  }
  void info(std::string_view c, std::string_view m) {
    if (enabled(log_level::info))
      log(log_level::info, c, m);
  }
  void warn(std::string_view c, std::string_view m) {
    if (enabled(log_level::warn))
      log(log_level::warn, c, m);
  }
  void error(std::string_view c, std::string_view m) {
    if (enabled(log_level::error))
      log(log_level::error, c, m);
  }

private:
  std::atomic<log_level> threshold_;
  std::mutex mutex_;
  sink_fn sink_;
};

} // namespace apistudio
