// logger.cpp — formats one line per event and hands it to the sink under the mutex, so lines
// from different threads never interleave.
#include "base/logger.hpp"

#include "base/iso_timestamp.hpp"
#include "base/log_redaction.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>

namespace apistudio {

namespace {

std::string_view text_level_name(log_level level) noexcept {
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

std::string_view json_level_name(log_level level) noexcept {
  switch (level) {
  case log_level::debug:
    return "debug";
  case log_level::info:
    return "info";
  case log_level::warn:
    return "warn";
  case log_level::error:
    return "error";
  case log_level::off:
    break;
  }
  return "?";
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

// key=value for the text format; a value with spaces, quotes or '=' is quoted so the pairs stay
// readable and splittable.
void append_text_field(std::string &out, std::string_view key, std::string_view value) {
  out += ' ';
  out += key;
  out += '=';
  const bool quote = value.find_first_of(" \t\"=") != std::string_view::npos;
  if (!quote)
    return append_escaped(out, value);
  out += '"';
  for (const char c : value) {
    if (c == '"' || c == '\\')
      out += '\\';
    append_escaped(out, std::string_view(&c, 1));
  }
  out += '"';
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One line: `message` is already redacted. `repeated` > 0 makes it a repeat summary.
std::string format_line(log_format format, log_level level, std::string_view component,
                        std::string_view message, const log_context &ctx,
                        std::uint64_t repeated = 0, std::int64_t repeat_seconds = 0) {
  std::string summary;
  if (repeated > 0)
    summary = " (repeated " + std::to_string(repeated) + " more time" + (repeated == 1 ? "" : "s") +
              " in the last " + std::to_string(repeat_seconds) + "s)";

  if (format == log_format::json) {
    // ordered_json: the fields in reading order; error_handler replace: invalid UTF-8 from a
    // peer becomes U+FFFD instead of an exception or a line no JSON parser reads.
    nlohmann::ordered_json j;
    j["time"] = format_timestamp(now_unix_ms());
    j["level"] = json_level_name(level);
    j["component"] = component;
    j["message"] = std::string(message) + summary;
    if (ctx.session_id != 0)
      j["session_id"] = ctx.session_id;
    if (!ctx.client_id.empty())
      j["client_id"] = ctx.client_id;
    if (!ctx.connection_id.empty())
      j["connection_id"] = ctx.connection_id;
    if (!ctx.upstream_host.empty())
      j["upstream_host"] = ctx.upstream_host;
    if (!ctx.plugin.empty())
      j["plugin"] = ctx.plugin;
    if (!ctx.remote_address.empty())
      j["remote_address"] = ctx.remote_address;
    if (repeated > 0) {
      j["repeated"] = repeated;
      j["repeat_seconds"] = repeat_seconds;
    }
    std::string line = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    line += '\n';
    return line;
  }

  std::string line;
  line.reserve(24 + 1 + 5 + 3 + component.size() + 2 + message.size() + summary.size() + 1);
  line += format_timestamp(now_unix_ms());
  line += ' ';
  line += text_level_name(level);
  line += " [";
  append_escaped(line, component);
  line += "] ";
  append_escaped(line, message);
  line += summary;
  if (!ctx.empty()) {
    if (ctx.session_id != 0)
      append_text_field(line, "session_id", std::to_string(ctx.session_id));
    if (!ctx.client_id.empty())
      append_text_field(line, "client_id", ctx.client_id);
    if (!ctx.connection_id.empty())
      append_text_field(line, "connection_id", ctx.connection_id);
    if (!ctx.upstream_host.empty())
      append_text_field(line, "upstream_host", ctx.upstream_host);
    // "[plugin:<name>]" already says it: a plugin's own lines stay as they were.
    const bool named_by_component = component.size() == 7 + ctx.plugin.size() &&
                                    component.substr(0, 7) == "plugin:" &&
                                    component.substr(7) == ctx.plugin;
    if (!ctx.plugin.empty() && !named_by_component)
      append_text_field(line, "plugin", ctx.plugin);
    if (!ctx.remote_address.empty())
      append_text_field(line, "remote_address", ctx.remote_address);
  }
  line += '\n';
  return line;
}

} // namespace

void logger::set_sink(sink_fn sink) {
  std::lock_guard lock(mutex_);
  sink_ = std::move(sink);
}

void logger::set_clock(clock_fn now) {
  std::lock_guard lock(mutex_);
  clock_ = std::move(now);
}

void logger::set_repeat_window(std::chrono::milliseconds window) {
  std::lock_guard lock(mutex_);
  repeats_.set_window(window);
}

void logger::log(log_level level, std::string_view component, std::string_view message,
                 const log_context &context) {
  if (level == log_level::off)
    return;
  const std::string clean = redact_secrets(message);
  const log_format format = format_.load(std::memory_order_relaxed);
  const std::string line = format_line(format, level, component, clean, context);

  std::lock_guard lock(mutex_);
  const auto now = clock_ ? clock_() : std::chrono::steady_clock::now();
  for (const auto &s : repeats_.take_closed(now))
    write_locked(
        format_line(format, s.level, s.component, s.message, s.last.view(), s.count, s.seconds));
  if (repeats_.admit(level, component, clean, context, now))
    write_locked(line);
}

void logger::write_closed_repeats() { write_summaries(false); }
void logger::flush_repeats() { write_summaries(true); }

void logger::write_summaries(bool all) {
  const log_format format = format_.load(std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  const auto now = clock_ ? clock_() : std::chrono::steady_clock::now();
  for (const auto &s : repeats_.take_closed(now, all))
    write_locked(
        format_line(format, s.level, s.component, s.message, s.last.view(), s.count, s.seconds));
}

void logger::write_locked(std::string_view line) {
  if (sink_) {
    sink_(line);
  } else {
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

} // namespace apistudio
