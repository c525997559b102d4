// metrics.hpp — the host's counters, gauges and hook-time histograms, counted without locks
// and without shared cache lines (docs/architecture.md, "Metrics").
//
// Every thread that counts gets its own block of slots (in practice: one per worker, since a
// session, its upstreams and its plugin hooks all run on one worker), allocated the first time
// it counts and found again through a thread_local. Only that thread writes its block: an
// increment is a relaxed load, an add and a relaxed store, no locked instruction and no cache
// line any other writer touches. A scrape (metrics_registry::collect, any thread) sums every
// block with relaxed loads, so it may see a block mid-update of other slots but never a torn
// value. Gauges are signed deltas summed the same way: what one thread adds (a session opened)
// the same thread takes away (it closed), so the sum is the live count.
//
// Label values that are not known at compile time (error codes, close codes, plugin names with
// their refusal codes) are "keyed" slots: the first use of a value on a thread looks it up in
// the registry under its mutex and remembers the slot in that thread's block; later uses are a
// hash lookup in the thread's own map. Each keyed family holds at most max_keys_per_family
// values; further values are counted under "other", so a peer choosing codes cannot grow memory.
//
// Counting compiles away when APISTUDIO_METRICS is 0 (the benchmark's baseline,
// docs/performance.md); the registry and the endpoint stay, reporting zeros.
#pragma once

#include "base/plugin_metrics.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#ifndef APISTUDIO_METRICS
#define APISTUDIO_METRICS 1
#endif

namespace apistudio {

inline constexpr bool metrics_counting = APISTUDIO_METRICS != 0;

// Counters and gauges whose labels are fixed. The exposition (metrics_exposition.cpp) gives
// each its name, type and labels; keep the two lists in the same order.
enum class metric : std::uint16_t {
  // client sessions, per endpoint
  sessions_open_proxy,   // gauge
  sessions_open_ws,      // gauge
  sessions_opened_proxy, // upgrades completed
  sessions_opened_ws,
  slow_consumer_closes,
  write_stall_closes_client,
  write_stall_closes_upstream,
  // upstreams
  upstreams_open, // gauge
  upstream_connect_attempts,
  // relayed proxy messages and their payload bytes
  messages_client_to_upstream,
  messages_upstream_to_client,
  message_bytes_client_to_upstream,
  message_bytes_upstream_to_client,
  // WebSocket frames on client sockets (both endpoints, events included)
  client_frames_received,
  client_frames_sent,
  client_frame_bytes_received,
  client_frame_bytes_sent,
  // outbound queues (gauges: bytes waiting)
  queue_bytes_client,
  queue_bytes_upstream,
  egress_denials,
  // the bus
  bus_publishes,
  bus_deliveries,
  // SIGHUP reloads of the configuration file
  config_reloads_applied,
  config_reloads_failed,
  // the cross-host bus (cluster.backend: redis, docs/cluster.md)
  cluster_bus_published,    // handed to Redis and accepted
  cluster_bus_received,     // from another node, delivered to this host's subscribers
  cluster_bus_dropped,      // meant for other hosts, not sent (no engine, bound, too large, failed)
  cluster_bus_refused,      // from Redis but not a valid envelope
  cluster_engine_connected, // gauge: 1 while the engine's connection is up
  // presence in Redis: what was refused rather than trusted (docs/cluster.md, "Presence")
  cluster_presence_wrong_type, // a presence key of another type (WRONGTYPE)
  cluster_presence_malformed,  // a malformed entry, status or reply
  // the shared counters (SDK counter_add, backend redis): errors by kind
  cluster_counter_wrong_type, // a counter key of another type (WRONGTYPE): refused
  cluster_counter_malformed,  // a value or reply that is not a count: refused
  cluster_counter_failed,     // a batch not answered (timeout, link lost) or refused by Redis
  cluster_counter_dropped,    // a new key past the bound of keys held: counted on this host only
  count_
};

// Highest value one queue reached (queue_gauge below; the scrape takes the maximum).
enum class high_water : std::uint8_t { queue_bytes_client, queue_bytes_upstream, count_ };

// Counters labelled by a value known only at run time.
enum class keyed : std::uint8_t {
  sessions_closed_proxy, // key: close code
  sessions_closed_ws,
  upstream_connect_failures, // key: dial error code
  upstream_closes,           // key: close code
  send_error_events,         // key: error code
  error_events,
  connection_error_events,
  admission_refusals, // key: code (ORIGIN_DENIED, HOST_DENIED, UNAUTHORIZED, ...)
  plugin_refusals,    // key: plugin name, '\n', code
  plugin_closes,      // key: plugin name, '\n', close code (the rate limiter's 1008)
  count_
};

// The hooks a plugin may implement, for its call counts and times.
enum class hook_kind : std::uint8_t {
  on_session_open,
  on_session_close,
  on_client_message,
  on_message_to_upstream,
  on_message_from_upstream,
  on_upstream_connect,
  on_upstream_opened,
  on_upstream_closed,
  on_bus_message,
  count_
};

std::string_view hook_kind_name(hook_kind hook) noexcept;

// What one outbound queue holds now and the most it has held, written by the queue's owner
// (relaxed stores, one writer) and summed by the scrape. Queues are not counted in the thread's
// block: a queue changes twice per frame on every hop, and a store into the queue's own memory
// costs one instruction where a block update costs a dozen (docs/performance.md, "Metrics cost").
struct queue_gauge {
  std::atomic<std::int64_t> bytes{0};
  std::atomic<std::int64_t> peak{0};
  high_water kind = high_water::queue_bytes_client;
};

class metrics_registry {
public:
  static constexpr std::size_t metric_count = static_cast<std::size_t>(metric::count_);
  static constexpr std::size_t high_water_count = static_cast<std::size_t>(high_water::count_);
  static constexpr std::size_t keyed_families = static_cast<std::size_t>(keyed::count_);
  static constexpr std::size_t max_keys_per_family = 64; // the 64th is "other"
  static constexpr std::size_t max_plugins = 16;         // plugins past this are not counted
  static constexpr std::size_t hook_count = static_cast<std::size_t>(hook_kind::count_);
  // Upper bounds of the hook-time histogram, in seconds (and the +Inf bucket after them).
  static constexpr std::array<double, 12> hook_buckets = {1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4,
                                                          1e-3, 5e-3, 1e-2, 5e-2, 1e-1, 1.0};
  // One hook call in this many per thread is timed (two steady_clock reads cost about as much
  // as the whole no-op chain; docs/architecture.md, "Metrics").
  static constexpr std::uint32_t hook_time_sample_every = 64;

  metrics_registry();
  ~metrics_registry();
  metrics_registry(const metrics_registry &) = delete;
  metrics_registry &operator=(const metrics_registry &) = delete;

  void add(metric m, std::int64_t n = 1) noexcept {
    if constexpr (metrics_counting)
      bump(local().values[static_cast<std::size_t>(m)], n);
  }
  // Two counts with one look-up of this thread's block (a message and its bytes).
  void add(metric a, std::int64_t na, metric b, std::int64_t nb) noexcept {
    if constexpr (metrics_counting) {
      block &local_block = local();
      bump(local_block.values[static_cast<std::size_t>(a)], na);
      bump(local_block.values[static_cast<std::size_t>(b)], nb);
    }
  }
  void add(keyed family, std::string_view key, std::int64_t n = 1) {
    if constexpr (metrics_counting)
      bump(local().keyed_values[slot_of(family, key)], n);
  }
  void add_code(keyed family, int code) {
    if constexpr (metrics_counting) {
      char text[16];
      add(family, format_code(text, code));
    }
  }
  void add_plugin_refusal(std::string_view plugin, std::string_view code) {
    add_pair(keyed::plugin_refusals, plugin, code);
  }
  void add_plugin_close(std::string_view plugin, int code) {
    char text[16];
    add_pair(keyed::plugin_closes, plugin, format_code(text, code));
  }
  void add_pair(keyed family, std::string_view first, std::string_view second);

  // The slot of plugin `name`'s hook counts (hook_called and friends), the same for every instance
  // of that name (a reload's fresh instance goes on counting where the old one stopped). Names
  // get slots in the order first seen; past max_plugins the slot is max_plugins: not counted.
  std::size_t plugin_slot(std::string_view name);
  class hook_walk;
  // The counting of one walk along a hook chain (plugin_runtime.cpp).
  hook_walk walk(hook_kind hook) noexcept;
  void hook_timed(std::size_t plugin, hook_kind hook, std::chrono::nanoseconds took) noexcept;

  // A queue's gauge is part of every scrape from track() to untrack() (both take the registry's
  // lock: once per queue, never per frame).
  void track(queue_gauge &gauge);
  void untrack(queue_gauge &gauge);

  // ---- the scrape ----
  struct keyed_value {
    keyed family;
    std::string key;
    std::int64_t value;
  };
  struct hook_stats {
    std::string plugin;
    hook_kind hook;
    std::int64_t calls = 0, failures = 0;
    std::array<std::int64_t, hook_buckets.size() + 1> buckets{}; // not cumulative; last: +Inf
    std::int64_t timed = 0;
    double seconds = 0;
  };
  struct snapshot {
    std::array<std::int64_t, metric_count> values{};
    std::array<std::int64_t, high_water_count> high_waters{};
    std::vector<keyed_value> keyed; // in first-use order
    std::vector<hook_stats> hooks;  // plugins with at least one call of that hook
    std::vector<plugin_metrics::family> plugin_families; // registered by plugins
  };
  snapshot collect() const;

  // Counters and gauges plugins register through the SDK (their own storage: plugin_metrics.hpp).
  plugin_metrics &plugin_defined() noexcept { return plugin_defined_; }

private:
  struct hook_slots {
    std::atomic<std::int64_t> failures{0}, timed{0}, nanoseconds{0};
    std::array<std::atomic<std::int64_t>, hook_buckets.size() + 1> buckets{};
  };
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  // One thread's slots. Cache-line aligned so that no two threads' slots share a line.
  struct alignas(64) block {
    std::array<std::atomic<std::int64_t>, metric_count> values{};
    std::array<std::atomic<std::int64_t>, keyed_families * max_keys_per_family> keyed_values{};
    std::array<std::array<hook_slots, hook_count>, max_plugins> hooks{};
    // Calls per hook and plugin, apart from the rest so that a walk counts into one dense row;
    // the last column takes the plugins past max_plugins and is never reported.
    std::array<std::array<std::atomic<std::int64_t>, max_plugins + 1>, hook_count> hook_calls{};
    std::uint32_t hook_sample_tick = 0;
    // This thread's memory of keyed slots (only the owner reads or writes it).
    std::array<std::unordered_map<std::string, std::uint16_t, string_hash, std::equal_to<>>,
               keyed_families>
        slots;
  };

  [[gnu::always_inline]] static void bump(std::atomic<std::int64_t> &slot,
                                          std::int64_t n) noexcept {
    // One writer per slot: no read-modify-write instruction needed.
    slot.store(slot.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static std::string_view format_code(char (&text)[16], int code) noexcept;

  [[gnu::always_inline]] block &local() noexcept;
  block &attach_this_thread();
  std::size_t slot_of(keyed family, std::string_view key);
  // The slot of `key` in `family`, and whether it is the key's own (false: "other").
  std::pair<std::size_t, bool> intern(keyed family, std::string_view key);

  const std::uint64_t generation_; // tells this registry from an earlier one at the same address
  mutable std::mutex mutex_;       // blocks_, owners_, keys_, plugin_names_: never on the count
  std::vector<std::unique_ptr<block>> blocks_;
  std::unordered_map<std::thread::id, block *> owners_;
  std::array<std::vector<std::string>, keyed_families> keys_; // slot index within the family
  std::vector<std::string> plugin_names_;
  std::unordered_set<const queue_gauge *> queues_;             // live queues (under mutex_)
  std::array<std::int64_t, high_water_count> retired_peaks_{}; // of queues gone (under mutex_)
  plugin_metrics plugin_defined_;
};

// What a thread remembers of the registry it counts into (one at a time; a thread that counts
// into another registry looks its block up again).
struct metrics_thread_cache {
  std::uint64_t generation = 0;
  void *block = nullptr;
};
extern constinit thread_local metrics_thread_cache metrics_this_thread
    __attribute__((tls_model("initial-exec")));

inline metrics_registry::block &metrics_registry::local() noexcept {
  metrics_thread_cache &c = metrics_this_thread;
  if (c.generation == generation_) [[likely]]
    return *static_cast<block *>(c.block);
  return attach_this_thread();
}

// One walk along a hook chain, counted: the thread's block is looked up once per walk (not once
// per plugin), and one walk in hook_time_sample_every has every call in it timed, which keeps the
// per-call cost to one increment (the +3 % of docs/performance.md's first measurement was mostly
// the per-call look-ups and sampling ticks).
class metrics_registry::hook_walk {
public:
  // Counts one call of the walk's hook in `plugin`; true when the call is to be timed.
  bool called(std::size_t plugin) noexcept {
    if constexpr (metrics_counting) {
      // The walk's first call looks the block up: a walk past no plugin costs nothing.
      if (calls_ == nullptr) [[unlikely]]
        begin();
      bump(calls_[plugin], 1); // plugin <= max_plugins (plugin_slot)
      return timed_;
    }
    return false;
  }
  void failed(std::size_t plugin) noexcept {
    if constexpr (metrics_counting)
      if (plugin < max_plugins)
        bump(registry_->local().hooks[plugin][hook_index_].failures, 1);
  }
  void took(std::size_t plugin, std::chrono::nanoseconds time) noexcept {
    registry_->hook_timed(plugin, static_cast<hook_kind>(hook_index_), time);
  }

private:
  friend class metrics_registry;
  hook_walk(metrics_registry &registry, hook_kind hook) noexcept
      : registry_(&registry), hook_index_(static_cast<std::size_t>(hook)) {}
  void begin() noexcept {
    block &b = registry_->local();
    calls_ = b.hook_calls[hook_index_].data();
    timed_ = ++b.hook_sample_tick % hook_time_sample_every == 0;
  }

  metrics_registry *registry_;
  std::atomic<std::int64_t> *calls_ = nullptr;
  std::size_t hook_index_;
  bool timed_ = false;
};

inline metrics_registry::hook_walk metrics_registry::walk(hook_kind hook) noexcept {
  return hook_walk(*this, hook);
}

inline std::size_t metrics_registry::slot_of(keyed family, std::string_view key) {
  const auto f = static_cast<std::size_t>(family);
  auto &known = local().slots[f];
  if (auto it = known.find(key); it != known.end())
    return it->second;
  const auto [slot, own] = intern(family, key);
  if (own) // a value counted under "other" is not remembered: the map stays bounded too
    known.emplace(std::string(key), static_cast<std::uint16_t>(slot));
  return slot;
}

} // namespace apistudio
