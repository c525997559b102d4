#include "base/metrics.hpp"

#include <algorithm>
#include <charconv>

namespace apistudio {

constinit thread_local metrics_thread_cache metrics_this_thread
    __attribute__((tls_model("initial-exec")));

namespace {
// Starts at 1: a thread that never counted has generation 0 and matches no registry.
std::atomic<std::uint64_t> next_generation{1};
constexpr std::string_view other_key = "other";
} // namespace

std::string_view hook_kind_name(hook_kind hook) noexcept {
  switch (hook) {
  case hook_kind::on_session_open:
    return "on_session_open";
  case hook_kind::on_session_close:
    return "on_session_close";
  case hook_kind::on_client_message:
    return "on_client_message";
  case hook_kind::on_message_to_upstream:
    return "on_message_to_upstream";
  case hook_kind::on_message_from_upstream:
    return "on_message_from_upstream";
  case hook_kind::on_upstream_connect:
    return "on_upstream_connect";
  case hook_kind::on_upstream_opened:
    return "on_upstream_opened";
  case hook_kind::on_upstream_closed:
    return "on_upstream_closed";
  case hook_kind::on_bus_message:
  case hook_kind::count_:
    break;
  }
  return "on_bus_message";
}

metrics_registry::metrics_registry() : generation_(next_generation.fetch_add(1)) {}

metrics_registry::~metrics_registry() = default;

std::string_view metrics_registry::format_code(char (&text)[16], int code) noexcept {
  const auto r = std::to_chars(text, text + sizeof text, code);
  return {text, static_cast<std::size_t>(r.ptr - text)};
}

metrics_registry::block &metrics_registry::attach_this_thread() {
  std::lock_guard lock(mutex_);
  block *&mine = owners_[std::this_thread::get_id()];
  if (mine == nullptr) {
    blocks_.push_back(std::make_unique<block>());
    mine = blocks_.back().get();
  }
  metrics_this_thread = {generation_, mine};
  return *mine;
}

std::pair<std::size_t, bool> metrics_registry::intern(keyed family, std::string_view key) {
  const auto f = static_cast<std::size_t>(family);
  std::lock_guard lock(mutex_);
  auto &keys = keys_[f];
  std::size_t index = 0;
  for (; index < keys.size(); ++index)
    if (keys[index] == key)
      return {f * max_keys_per_family + index, true};
  if (keys.size() + 1 < max_keys_per_family) {
    keys.emplace_back(key);
    return {f * max_keys_per_family + index, true};
  }
  // Full: the last slot is "other", for this value and every later one.
  if (keys.size() + 1 == max_keys_per_family)
    keys.emplace_back(other_key);
  return {f * max_keys_per_family + max_keys_per_family - 1, false};
}

void metrics_registry::add_pair(keyed family, std::string_view first, std::string_view second) {
  if constexpr (metrics_counting) {
    std::string key;
    key.reserve(first.size() + 1 + second.size());
    key.append(first).append(1, '\n').append(second);
    add(family, key);
  }
}

std::size_t metrics_registry::plugin_slot(std::string_view name) {
  std::lock_guard lock(mutex_);
  const auto found = std::find(plugin_names_.begin(), plugin_names_.end(), name);
  if (found != plugin_names_.end())
    return static_cast<std::size_t>(found - plugin_names_.begin());
  if (plugin_names_.size() >= max_plugins)
    return max_plugins;
  plugin_names_.emplace_back(name);
  return plugin_names_.size() - 1;
}

void metrics_registry::hook_timed(std::size_t plugin, hook_kind hook,
                                  std::chrono::nanoseconds took) noexcept {
  if constexpr (metrics_counting) {
    if (plugin >= max_plugins)
      return;
    hook_slots &h = local().hooks[plugin][static_cast<std::size_t>(hook)];
    const double seconds = std::chrono::duration<double>(took).count();
    std::size_t bucket = 0;
    while (bucket < hook_buckets.size() && seconds > hook_buckets[bucket])
      ++bucket;
    bump(h.buckets[bucket], 1);
    bump(h.timed, 1);
    bump(h.nanoseconds, took.count());
  }
}

void metrics_registry::track(queue_gauge &gauge) {
  if constexpr (metrics_counting) {
    std::lock_guard lock(mutex_);
    queues_.insert(&gauge);
  }
}

void metrics_registry::untrack(queue_gauge &gauge) {
  if constexpr (metrics_counting) {
    std::lock_guard lock(mutex_);
    if (queues_.erase(&gauge) != 0) {
      auto &retired = retired_peaks_[static_cast<std::size_t>(gauge.kind)];
      retired = std::max(retired, gauge.peak.load(std::memory_order_relaxed));
    }
  }
}

// The queue gauge of each peer, and the metric that reports its bytes.
static metric queue_bytes_metric(high_water kind) noexcept {
  return kind == high_water::queue_bytes_client ? metric::queue_bytes_client
                                                : metric::queue_bytes_upstream;
}

metrics_registry::snapshot metrics_registry::collect() const {
  snapshot s;
  std::lock_guard lock(mutex_);
  constexpr auto relaxed = std::memory_order_relaxed;
  for (const auto &b : blocks_) {
    for (std::size_t i = 0; i < metric_count; ++i)
      s.values[i] += b->values[i].load(relaxed);
  }
  for (std::size_t i = 0; i < high_water_count; ++i)
    s.high_waters[i] = std::max(s.high_waters[i], retired_peaks_[i]);
  for (const queue_gauge *q : queues_) {
    const auto kind = static_cast<std::size_t>(q->kind);
    s.values[static_cast<std::size_t>(queue_bytes_metric(q->kind))] += q->bytes.load(relaxed);
    s.high_waters[kind] = std::max(s.high_waters[kind], q->peak.load(relaxed));
  }
  for (std::size_t f = 0; f < keyed_families; ++f) {
    for (std::size_t k = 0; k < keys_[f].size(); ++k) {
      std::int64_t sum = 0;
      for (const auto &b : blocks_)
        sum += b->keyed_values[f * max_keys_per_family + k].load(relaxed);
      if (sum != 0)
        s.keyed.push_back({static_cast<keyed>(f), keys_[f][k], sum});
    }
  }
  for (std::size_t p = 0; p < std::min(plugin_names_.size(), max_plugins); ++p) {
    for (std::size_t h = 0; h < hook_count; ++h) {
      hook_stats stats;
      stats.plugin = plugin_names_[p];
      stats.hook = static_cast<hook_kind>(h);
      std::int64_t nanoseconds = 0;
      for (const auto &b : blocks_) {
        const hook_slots &slots = b->hooks[p][h];
        stats.calls += b->hook_calls[h][p].load(relaxed);
        stats.failures += slots.failures.load(relaxed);
        stats.timed += slots.timed.load(relaxed);
        nanoseconds += slots.nanoseconds.load(relaxed);
        for (std::size_t i = 0; i < stats.buckets.size(); ++i)
          stats.buckets[i] += slots.buckets[i].load(relaxed);
      }
      stats.seconds = static_cast<double>(nanoseconds) / 1e9;
      if (stats.calls != 0)
        s.hooks.push_back(std::move(stats));
    }
  }
  s.plugin_families = plugin_defined_.collect();
  return s;
}

} // namespace apistudio
