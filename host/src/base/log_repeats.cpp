// log_repeats.cpp — the window table behind log_repeats.hpp.
#include "base/log_repeats.hpp"

#include <algorithm>

namespace apistudio {

namespace {

// level, component, plugin and the message with digit runs folded, separated by bytes that
// cannot occur in a component or plugin name.
std::string repeat_key(log_level level, std::string_view component, std::string_view plugin,
                       std::string_view message) {
  std::string key;
  key.reserve(component.size() + plugin.size() + message.size() + 4);
  key += static_cast<char>('0' + static_cast<int>(level));
  key += component;
  key += '\x1f';
  key += plugin;
  key += '\x1f';
  bool in_digits = false;
  for (const char c : message) {
    const bool digit = c >= '0' && c <= '9';
    if (!digit)
      key += c;
    else if (!in_digits)
      key += '#';
    in_digits = digit;
  }
  return key;
}

} // namespace

bool log_repeats::admit(log_level level, std::string_view component, std::string_view message,
                        const log_context &context, time_point now) {
  if (window_.count() <= 0 || level < log_level::warn)
    return true;
  std::string key = repeat_key(level, component, context.plugin, message);
  if (const auto it = open_.find(key); it != open_.end()) {
    if (now - it->second.opened < window_) {
      ++it->second.count;
      it->second.last = owned_log_context(context);
      return false;
    }
    // Its window has passed but no one looked yet: the caller took the summary first
    // (take_closed before admit), so this only happens to a window without repeats.
    open_.erase(it);
  }
  if (open_.size() >= max_keys_)
    return true;
  window_state w{
      now, level, std::string(component), std::string(message), owned_log_context(context), 0};
  open_.emplace(std::move(key), std::move(w));
  next_close_ = std::min(next_close_, now + window_);
  return true;
}

std::vector<log_repeats::summary> log_repeats::take_closed(time_point now, bool all) {
  std::vector<summary> out;
  if (!all && now < next_close_)
    return out;
  next_close_ = time_point::max();
  for (auto it = open_.begin(); it != open_.end();) {
    window_state &w = it->second;
    const auto age = now - w.opened;
    if (!all && age < window_) {
      next_close_ = std::min(next_close_, w.opened + window_);
      ++it;
      continue;
    }
    if (w.count > 0) {
      const auto span = std::min<std::chrono::steady_clock::duration>(age, window_);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(span).count();
      out.push_back({w.level, std::move(w.component), std::move(w.message), std::move(w.last),
                     w.count, std::max<std::int64_t>(1, (ms + 999) / 1000)});
    }
    it = open_.erase(it);
  }
  std::sort(out.begin(), out.end(), [](const summary &a, const summary &b) {
    return a.component < b.component || (a.component == b.component && a.message < b.message);
  });
  return out;
}

} // namespace apistudio
