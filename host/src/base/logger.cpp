// logger.cpp — formats one line per event and hands it to the sink under the mutex, so lines
// from different threads never interleave.
#include "base/logger.hpp"

#include "base/iso_timestamp.hpp"

#include <chrono>
#include <cstdio>

namespace apistudio {

namespace {

std::string_view level_name(log_level level) noexcept {
  switch (level) {
  case log_level::debug:
    return "DEBUG";
  case log_level::info:
    return "INFO ";
  case log_level::warn:
    return "WARN ";
  case log_level::error:
    return "ERROR";
  case log_level::off:
    break;
  }
  return "?    ";
}

// Messages carry text from peers and plugins: a CR or LF in them would let whoever controls that
// text forge a whole log line, and an ESC could rewrite the operator's terminal. Control bytes are
// written as visible escapes instead (TAB is kept: it cannot start a line).
void append_escaped(std::string &out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if ((u < 0x20 && c != '\t') || u == 0x7f) {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0x0f];
    } else {
      out += c;
    }
  }
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

void logger::set_sink(sink_fn sink) {
  std::lock_guard lock(mutex_);
  sink_ = std::move(sink);
}

void logger::log(log_level level, std::string_view component, std::string_view message) {
  if (level == log_level::off)
    return;
  std::string line;
  line.reserve(24 + 1 + 5 + 3 + component.size() + 2 + message.size() + 1);
  line += format_timestamp(now_unix_ms());
  line += ' ';
  line += level_name(level);
  line += " [";
  append_escaped(line, component);
  line += "] ";
  append_escaped(line, message);
  line += '\n';

  std::lock_guard lock(mutex_);
  if (sink_) {
    sink_(line);
  } else {
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

} // namespace apistudio
