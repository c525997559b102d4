#include "base/plugin_metrics.hpp"

#include "base/utf8_truncate.hpp"

#include <algorithm>

namespace apistudio {

namespace {

constexpr std::size_t max_name_bytes = 64;
constexpr std::size_t max_help_bytes = 512;
constexpr std::string_view other_value = "other";

// The families the host itself exposes under the same prefix: a plugin's must not collide.
constexpr std::array<std::string_view, 5> host_families = {
    "apistudio_plugin_refusals_total", "apistudio_plugin_closes_total",
    "apistudio_plugin_hook_calls_total", "apistudio_plugin_hook_failures_total",
    "apistudio_plugin_hook_duration_seconds"};

bool is_identifier(std::string_view s) noexcept {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9'))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

} // namespace

std::string plugin_metric_refusal(std::string_view name, std::string_view help,
                                  std::string_view label_name) {
  if (!is_identifier(name) || name.size() > max_name_bytes)
    return "the metric name \"" + std::string(truncate_utf8(name, max_name_bytes)) +
           "\" is not 1-64 characters of [a-zA-Z0-9_] starting with a letter or '_'";
  if (help.empty() || help.size() > max_help_bytes)
    return "the help text of \"" + std::string(name) + "\" must be 1-512 bytes";
  if (std::any_of(help.begin(), help.end(),
                  [](char c) { return c == '\\' || static_cast<unsigned char>(c) < 0x20; }))
    return "the help text of \"" + std::string(name) +
           "\" must not contain control characters or '\\'";
  if (!label_name.empty()) {
    if (!is_identifier(label_name) || label_name.size() > max_name_bytes ||
        label_name.starts_with("__"))
      return "the label name \"" + std::string(truncate_utf8(label_name, max_name_bytes)) +
             "\" of \"" + std::string(name) +
             "\" is not 1-64 characters of [a-zA-Z0-9_] starting with a letter or one '_'";
    if (label_name == "le" || label_name == "quantile")
      return "the label name \"" + std::string(label_name) + "\" is reserved by Prometheus";
  }
  return {};
}

std::string plugin_metric_family_name(std::string_view plugin, std::string_view name) {
  std::string out = "apistudio_plugin_";
  for (const char c : plugin)
    out.push_back(is_identifier(std::string_view(&c, 1)) || (c >= '0' && c <= '9') ? c : '_');
  out.append(1, '_').append(name);
  return out;
}

plugin_metrics::~plugin_metrics() = default;

std::uint32_t plugin_metrics::register_metric(std::string_view plugin, plugin_metric_kind kind,
                                              std::string_view name, std::string_view help,
                                              std::string_view label_name, std::string &why) {
  why = plugin_metric_refusal(name, help, label_name);
  if (!why.empty())
    return 0;
  if (kind != plugin_metric_kind::counter && kind != plugin_metric_kind::gauge) {
    why = "the kind of \"" + std::string(name) + "\" is neither COUNTER nor GAUGE";
    return 0;
  }
  std::string full = plugin_metric_family_name(plugin, name);
  std::lock_guard lock(mutex_);
  const std::size_t n = count_.load(std::memory_order_relaxed);
  std::size_t owned = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const metric_block &m = *metrics_[i];
    if (m.name == full) {
      if (m.plugin == plugin && m.kind == kind && m.label_name == label_name)
        return static_cast<std::uint32_t>(i + 1); // the same entry again (a fresh instance)
      why = "the metric \"" + full + "\" is already registered" +
            (m.plugin == plugin ? " with another kind or label" : " by plugin '" + m.plugin + "'");
      return 0;
    }
    owned += m.plugin == plugin ? 1 : 0;
  }
  if (std::find(host_families.begin(), host_families.end(), full) != host_families.end()) {
    why = "the metric \"" + full + "\" is one of the host's own";
    return 0;
  }
  if (owned >= max_metrics_per_plugin) {
    why = "a plugin may register at most " + std::to_string(max_metrics_per_plugin) + " metrics";
    return 0;
  }
  if (n >= max_metrics) {
    why = "the host holds at most " + std::to_string(max_metrics) + " plugin metrics";
    return 0;
  }
  auto m = std::make_unique<metric_block>();
  m->plugin.assign(plugin);
  m->name = std::move(full);
  m->help.assign(help);
  m->label_name.assign(label_name);
  m->kind = kind;
  m->published.store(label_name.empty() ? 1 : 0, std::memory_order_relaxed); // slot 0: no label
  metrics_[n] = std::move(m);
  count_.store(n + 1, std::memory_order_release);
  return static_cast<std::uint32_t>(n + 1);
}

plugin_metrics::metric_block *plugin_metrics::find(std::string_view plugin,
                                                   std::uint32_t handle) const noexcept {
  if (handle == 0 || handle > count_.load(std::memory_order_acquire))
    return nullptr;
  metric_block *m = metrics_[handle - 1].get();
  return m->plugin == plugin ? m : nullptr;
}

std::atomic<std::int64_t> *plugin_metrics::slot_of(metric_block &m,
                                                   std::string_view label_value) noexcept {
  if (m.label_name.empty())
    return &m.slots[0].value;
  label_value = truncate_utf8(label_value, max_label_value_bytes);
  auto scan = [&m, label_value](std::size_t n) -> std::atomic<std::int64_t> * {
    for (std::size_t i = 0; i < n; ++i)
      if (m.slots[i].text == label_value)
        return &m.slots[i].value;
    return nullptr;
  };
  const std::size_t seen = m.published.load(std::memory_order_acquire);
  if (auto *slot = scan(seen))
    return slot;
  try {
    std::lock_guard lock(mutex_);
    const std::size_t n = m.published.load(std::memory_order_relaxed);
    if (auto *slot = scan(n))
      return slot;
    // The last slot is "other": once it is taken, every new value is counted there.
    if (n == max_label_values)
      return &m.slots[max_label_values - 1].value;
    m.slots[n].text.assign(n + 1 == max_label_values ? other_value : label_value);
    m.published.store(n + 1, std::memory_order_release);
    return &m.slots[n].value;
  } catch (...) {
    return nullptr; // out of memory for the label text: this update is lost, not the host
  }
}

bool plugin_metrics::add(std::string_view plugin, std::uint32_t handle,
                         std::string_view label_value, std::int64_t delta) noexcept {
  metric_block *m = find(plugin, handle);
  if (m == nullptr || (m->kind == plugin_metric_kind::counter && delta < 0))
    return false;
  auto *slot = slot_of(*m, label_value);
  if (slot == nullptr)
    return false;
  slot->fetch_add(delta, std::memory_order_relaxed);
  return true;
}

bool plugin_metrics::set(std::string_view plugin, std::uint32_t handle,
                         std::string_view label_value, std::int64_t value) noexcept {
  metric_block *m = find(plugin, handle);
  if (m == nullptr || m->kind != plugin_metric_kind::gauge)
    return false;
  auto *slot = slot_of(*m, label_value);
  if (slot == nullptr)
    return false;
  slot->store(value, std::memory_order_relaxed);
  return true;
}

std::vector<plugin_metrics::family> plugin_metrics::collect() const {
  std::vector<family> out;
  const std::size_t n = count_.load(std::memory_order_acquire);
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const metric_block &m = *metrics_[i];
    family f{m.name, m.help, m.label_name, m.kind, {}};
    const std::size_t labels = m.published.load(std::memory_order_acquire);
    for (std::size_t s = 0; s < labels; ++s)
      f.values.push_back({m.slots[s].text, m.slots[s].value.load(std::memory_order_relaxed)});
    out.push_back(std::move(f));
  }
  return out;
}

} // namespace apistudio
