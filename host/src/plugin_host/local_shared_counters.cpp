// local_shared_counters.cpp — shared_counters of backend local: the process's own counts.
//
// Sharded by key hash so that sessions on different workers counting different keys rarely meet
// on a mutex; a shard holds for each (window, key) the current and previous fixed windows'
// counts. Expiry: a shard sweeps out entries idle for two windows at most once a second, so
// memory follows the keys active recently, and never exceeds max_keys entries.
#include "base/clock.hpp"
#include "plugin_host/shared_counters.hpp"

#include <array>
#include <mutex>
#include <string>
#include <unordered_map>

namespace apistudio {
namespace {

constexpr std::size_t shard_count = 16;
constexpr std::int64_t sweep_every_ms = 1000;

struct entry {
  std::uint64_t window_ms = 0;
  std::uint64_t index = 0; // the fixed window `current` counts
  std::uint64_t current = 0;
  std::uint64_t previous = 0; // window index - 1
};

// Moves `e` to window `at.index`: one step shifts current into previous, more clears both. A wall
// clock that went back is treated as standing still at the entry's window.
window_position roll(entry &e, window_position at) noexcept {
  if (at.index < e.index)
    return {e.index, 0};
  if (at.index == e.index + 1) {
    e.previous = e.current;
    e.current = 0;
  } else if (at.index > e.index + 1) {
    e.previous = 0;
    e.current = 0;
  }
  e.index = at.index;
  return at;
}

class local_shared_counters final : public shared_counters {
public:
  local_shared_counters(const clock_source &clock, std::size_t max_keys)
      : clock_(clock), max_per_shard_(std::max<std::size_t>(1, max_keys / shard_count)) {}

  std::uint64_t add(std::string_view key, std::uint64_t window_ms, std::uint64_t delta) override {
    if (window_ms == 0 || window_ms > max_counter_window_ms || key.empty())
      return counter_refused;
    const std::int64_t now = clock_.unix_ms();
    const std::string &id = counter_identity(key, window_ms);
    shard &s = shards_[std::hash<std::string>{}(id) % shard_count];
    std::lock_guard lock(s.mutex);
    if (now >= s.next_sweep_ms) {
      s.next_sweep_ms = now + sweep_every_ms;
      std::erase_if(s.entries, [&](const auto &kv) {
        return position_of(now, kv.second.window_ms).index >= kv.second.index + 2;
      });
    }
    auto it = s.entries.find(id);
    if (it == s.entries.end()) {
      if (s.entries.size() >= max_per_shard_)
        return delta; // bounded memory: counted alone, not kept
      it = s.entries.emplace(id, entry{window_ms, 0, 0, 0}).first;
    }
    entry &e = it->second;
    const window_position at = roll(e, position_of(now, window_ms));
    e.current = e.current > UINT64_MAX - delta ? UINT64_MAX : e.current + delta;
    return sliding_estimate(e.current, e.previous, at, window_ms);
  }

  bool cluster_shared() const noexcept override { return false; }

private:
  struct shard {
    std::mutex mutex;
    std::unordered_map<std::string, entry> entries;
    std::int64_t next_sweep_ms = 0;
  };
  const clock_source &clock_;
  const std::size_t max_per_shard_;
  std::array<shard, shard_count> shards_;
};

} // namespace

std::unique_ptr<shared_counters> make_local_shared_counters(const clock_source &clock,
                                                            std::size_t max_keys) {
  return std::make_unique<local_shared_counters>(clock, max_keys);
}

} // namespace apistudio
