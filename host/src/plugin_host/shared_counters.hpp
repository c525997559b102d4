// shared_counters.hpp — the host service behind the SDK's counter_add (plugin_abi.h, 1.2):
// sliding-window counts by key, this process's own (backend local) or shared by every host of a
// cluster (backend redis, docs/cluster.md "Shared counters").
//
// The window: two fixed windows aligned on the wall clock (unix ms / window_ms), the estimate
// being the current fixed window's count plus the previous one's weighted by the share of it the
// sliding window still covers (Kong's and Cloudflare's sliding windows). Why the wall clock: hosts
// agree on window boundaries without talking to each other (monotonic clocks differ between
// machines); a host whose clock is off by s ms counts into the neighbouring window for s ms per
// boundary, which docs/cluster.md includes in the bound.
//
// Rules of use: add() from any thread; it never waits for the network (the Redis implementation
// synchronises in batches on the cluster engine's thread). Keys arrive already prefixed with the
// plugin's name by host_api.cpp, so plugins never see each other's counts.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace apistudio {

class clock_source;
class logger;
class metrics_registry;
namespace cluster {
class cluster_engine;
}

// The bounds of the ABI's contract: past them add() returns counter_refused and counts nothing.
inline constexpr std::uint64_t max_counter_window_ms = 3'600'000; // one hour
inline constexpr std::size_t max_counter_key = 256;               // bytes, the plugin's part
inline constexpr std::uint64_t counter_refused = UINT64_MAX;

// What both implementations key a count by: the window is part of the identity, so one key
// counted over two windows is two counts. Built in a per-thread buffer, reused, so that counting
// an existing key allocates nothing; valid until the thread's next call.
inline const std::string &counter_identity(std::string_view key, std::uint64_t window_ms) {
  thread_local std::string id;
  id.assign(std::to_string(window_ms));
  id += ':';
  id += key;
  return id;
}

// Where `unix_ms` falls among the fixed windows of `window_ms` (> 0).
struct window_position {
  std::uint64_t index = 0;      // unix_ms / window_ms
  std::uint64_t elapsed_ms = 0; // since the start of window `index`: 0 .. window_ms - 1
};
inline window_position position_of(std::int64_t unix_ms, std::uint64_t window_ms) noexcept {
  const std::uint64_t t = unix_ms < 0 ? 0 : static_cast<std::uint64_t>(unix_ms);
  return {t / window_ms, t % window_ms};
}

// The sliding window's estimate: current + previous x (window_ms - elapsed_ms) / window_ms,
// rounded down, saturating.
inline std::uint64_t sliding_estimate(std::uint64_t current, std::uint64_t previous,
                                      window_position at, std::uint64_t window_ms) noexcept {
  // previous = q x window + r, so that nothing overflows (window_ms <= an hour keeps r x window
  // far below 2^64), and the sum is at most `previous`.
  const std::uint64_t share = window_ms - at.elapsed_ms;
  const std::uint64_t weighted =
      previous / window_ms * share + previous % window_ms * share / window_ms;
  return current > UINT64_MAX - weighted ? UINT64_MAX : current + weighted;
}

class shared_counters {
public:
  virtual ~shared_counters() = default;
  // Any thread, never blocking on the network. Adds `delta` to `key`'s count in the current
  // window and returns the sliding estimate, `delta` included. `window_ms` 1 .. one hour and
  // `key` 1 .. max_counter_key + the plugin prefix, else counter_refused.
  virtual std::uint64_t add(std::string_view key, std::uint64_t window_ms, std::uint64_t delta) = 0;
  // Whether the counts span every host (backend redis).
  virtual bool cluster_shared() const noexcept = 0;
};

// In-process counts (backend local, and a runtime built without a service: tests). Keys expire
// two windows after their last count; at most `max_keys` are held (past it a new key counts
// alone, as if nobody else had counted, and is not kept).
std::unique_ptr<shared_counters> make_local_shared_counters(const clock_source &clock,
                                                            std::size_t max_keys = 100'000);

// Counts shared through `engine`'s Redis (cluster_shared_counters.cpp): local admission, one
// batch every `sync_interval` on the engine's thread. `engine`, `metrics` and `log` must outlive
// the engine's thread; the service itself may go first. At most `max_keys` keys are held.
std::unique_ptr<shared_counters> make_cluster_shared_counters(
    cluster::cluster_engine &engine, const clock_source &clock, metrics_registry &metrics,
    logger &log, std::chrono::milliseconds sync_interval, std::size_t max_keys = 10'000);

} // namespace apistudio
