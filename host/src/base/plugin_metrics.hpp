// plugin_metrics.hpp — counters and gauges that plugins register through the SDK
// (apistudio_host_api.metric_register / metric_add / metric_set; docs/plugin-sdk.md, "Metrics").
//
// Storage: unlike the host's own counters (per-thread blocks summed at scrape, metrics.hpp),
// a plugin metric is one atomic per series on the metric's own cache-line-aligned block. A
// gauge's set() must land in one place (a per-thread sum cannot express "the value is now 7"),
// and keeping one layout for both kinds keeps this small. The cost falls only on plugins that
// use it: an update is one relaxed atomic add on a line shared only by threads updating that
// same metric, and a plugin that registers nothing costs nothing.
//
// Label values are found without a lock: each metric has a fixed array of label slots, each
// published with a release store of the count once its text is written; a lookup scans the
// published ones. A new value takes the mutex once. Everything is bounded: metrics per plugin,
// metrics in all, label values per metric (the last slot is "other" for every later value).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace apistudio {

enum class plugin_metric_kind : std::uint8_t { counter, gauge };

// Why a metric's name, help or label name is refused; empty when they are acceptable.
// `name` is the plugin's part of the name (the host prefixes it).
std::string plugin_metric_refusal(std::string_view name, std::string_view help,
                                  std::string_view label_name);

// The exposed family name: "apistudio_plugin_<plugin>_<name>", the plugin's configured name
// with every character outside [A-Za-z0-9_] replaced by '_'.
std::string plugin_metric_family_name(std::string_view plugin, std::string_view name);

class plugin_metrics {
public:
  static constexpr std::size_t max_metrics_per_plugin = 16;
  static constexpr std::size_t max_metrics = 256;     // all plugins together
  static constexpr std::size_t max_label_values = 16; // the 16th is "other"
  static constexpr std::size_t max_label_value_bytes = 128;

  plugin_metrics() = default;
  ~plugin_metrics();
  plugin_metrics(const plugin_metrics &) = delete;
  plugin_metrics &operator=(const plugin_metrics &) = delete;

  // Registers a metric of the plugin entry `plugin` (its configured name: only that entry may
  // update it). Returns its handle, never 0, or 0 with `why` set. The same entry registering the
  // same metric again (a fresh instance of it, after a reload) gets the same handle, so counts
  // continue and old and new instances count into one series.
  std::uint32_t register_metric(std::string_view plugin, plugin_metric_kind kind,
                                std::string_view name, std::string_view help,
                                std::string_view label_name, std::string &why);

  // Any thread. A handle that is unknown or not `plugin`'s, a negative counter delta and set()
  // on a counter are ignored (returning false).
  bool add(std::string_view plugin, std::uint32_t handle, std::string_view label_value,
           std::int64_t delta) noexcept;
  bool set(std::string_view plugin, std::uint32_t handle, std::string_view label_value,
           std::int64_t value) noexcept;

  struct series {
    std::string label_value;
    std::int64_t value;
  };
  struct family {
    std::string name, help, label_name;
    plugin_metric_kind kind;
    std::vector<series> values; // label slots in first-use order; one with no label name
  };
  std::vector<family> collect() const;

private:
  struct label_slot {
    std::string text; // written once, before the slot is published
    std::atomic<std::int64_t> value{0};
  };
  struct alignas(64) metric_block {
    std::string plugin; // the owning entry's configured name
    std::string name, help, label_name;
    plugin_metric_kind kind = plugin_metric_kind::counter;
    std::atomic<std::size_t> published{0}; // label slots readable without the mutex
    std::array<label_slot, max_label_values> slots;
  };

  metric_block *find(std::string_view plugin, std::uint32_t handle) const noexcept;
  std::atomic<std::int64_t> *slot_of(metric_block &m, std::string_view label_value) noexcept;

  mutable std::mutex mutex_; // registration and new label values: never on an update
  std::array<std::unique_ptr<metric_block>, max_metrics> metrics_{};
  std::atomic<std::size_t> count_{0};
};

} // namespace apistudio
