// cluster_shared_counters.cpp — shared_counters of backend redis (docs/cluster.md, "Shared
// counters"): local admission with batched synchronisation, the way Kong's sync_rate does it.
//
// add() (any thread) adds to this host's pending count of the current fixed window and answers
// from memory: this host's own count plus the other hosts' as of the last synchronisation. No
// network on the calling thread, ever.
//
// Every cluster.counter_sync_interval the engine's thread sends one EVAL (sync_script) holding,
// for each live key, the current and the previous fixed windows: INCRBY of the pending delta
// (then PEXPIRE of two windows), or a GET when there is none, and reads back each window's
// cluster total. The other hosts' count of a window is that total minus what this host has sent
// for it. At most one batch is in flight; while the engine is down or a batch fails (timeout,
// link lost), the counts stay local (fail open: each host enforces the limit on its own traffic)
// and the pending deltas are kept, and sent by the next batch that succeeds while their window is
// still the current or the previous one.
//
// Bad input from Redis is refused and counted (apistudio_cluster_shared_count_errors_total{kind}),
// logged once per kind: a key of the wrong type (WRONGTYPE), a value that is not a non-negative
// integer, a reply not shaped as the script's. A refused key's own counts stay this host's.
#include "base/clock.hpp"
#include "base/logger.hpp"
#include "base/metrics.hpp"
#include "cluster/cluster_engine.hpp"
#include "plugin_host/shared_counters.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <charconv>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace apistudio {
namespace {

namespace net = boost::asio;

constexpr std::size_t shard_count = 16;
// Keys per batch (two Redis keys each): a script this long runs in about a millisecond on Redis;
// more live keys are synchronised over the next intervals, a shard at a time in turn.
constexpr std::size_t max_batch_entries = 1024;

// KEYS: the windows' keys. ARGV[2i-1]: the delta for KEYS[i], ARGV[2i]: its expiry in ms. Returns
// each key's total (an integer, a string from GET, nil when absent) or that key's error.
constexpr const char *sync_script =
    "local r = {} "
    "for i = 1, #KEYS do "
    "  local d = tonumber(ARGV[2 * i - 1]) "
    "  local v "
    "  if d > 0 then "
    "    v = redis.pcall('INCRBY', KEYS[i], d) "
    "    if type(v) == 'number' then redis.pcall('PEXPIRE', KEYS[i], ARGV[2 * i]) end "
    "  else "
    "    v = redis.pcall('GET', KEYS[i]) "
    "  end "
    "  r[i] = v "
    "end "
    "return r";

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

// One fixed window's counts of a key.
struct slot {
  std::uint64_t index = UINT64_MAX; // the fixed window; UINT64_MAX: unused
  std::uint64_t sent = 0;           // this host's counts Redis has (or refused: kept local)
  std::uint64_t in_flight = 0;      // in the batch on its way
  std::uint64_t pending = 0;        // not sent yet
  std::uint64_t others = 0;         // the other hosts', as of the last batch

  // Saturating: `others` comes from Redis, whatever it holds.
  std::uint64_t total() const noexcept {
    return saturating_add(saturating_add(sent, in_flight), saturating_add(pending, others));
  }
};

struct entry {
  std::uint64_t window_ms = 0;
  std::string name;          // the plugin-prefixed key
  std::uint64_t latest = 0;  // the newest window counted
  std::array<slot, 2> slots; // by window index % 2

  slot *find(std::uint64_t index) noexcept {
    slot &s = slots[index % 2];
    return s.index == index ? &s : nullptr;
  }
  slot &at(std::uint64_t index) noexcept {
    slot &s = slots[index % 2];
    if (s.index != index)
      s = slot{index};
    return s;
  }
};

enum class error_kind : std::size_t { wrong_type, malformed, failed, dropped };
constexpr std::array<const char *, 4> error_kind_words = {"wrong_type", "malformed", "failed",
                                                          "dropped"};
constexpr std::array<metric, 4> error_kind_metrics = {
    metric::cluster_counter_wrong_type, metric::cluster_counter_malformed,
    metric::cluster_counter_failed, metric::cluster_counter_dropped};

// One Redis key of a batch.
struct batch_item {
  std::string id; // the entry's
  std::uint64_t index = 0;
  std::uint64_t delta = 0;
};

struct counters_core : std::enable_shared_from_this<counters_core> {
  counters_core(cluster::cluster_engine &engine, const clock_source &clock,
                metrics_registry &metrics, logger &log, std::chrono::milliseconds interval,
                std::size_t max_keys)
      : engine(engine), clock(clock), metrics(metrics), log(log), interval(interval),
        max_per_shard(std::max<std::size_t>(1, max_keys / shard_count)), timer(engine.executor()) {}

  struct shard {
    std::mutex mutex;
    std::unordered_map<std::string, entry> entries; // by window_ms + ":" + name
  };

  cluster::cluster_engine &engine;
  const clock_source &clock;
  metrics_registry &metrics;
  logger &log;
  const std::chrono::milliseconds interval;
  const std::size_t max_per_shard;
  std::array<shard, shard_count> shards;
  std::atomic<bool> stopped{false};
  std::array<std::atomic<bool>, 4> error_logged{};
  // The engine's thread only.
  net::steady_timer timer;
  bool batch_in_flight = false;
  std::size_t next_shard = 0;

  void error(error_kind kind, const std::string &what) {
    const auto k = static_cast<std::size_t>(kind);
    metrics.add(error_kind_metrics[k]);
    if (!error_logged[k].exchange(true))
      log.warn("cluster", std::string("shared counters: ") + what +
                              ". Further errors of this kind are counted "
                              "(apistudio_cluster_shared_count_errors_total{kind=\"" +
                              error_kind_words[k] + "\"}), not logged");
  }

  std::uint64_t add(std::string_view key, std::uint64_t window_ms, std::uint64_t delta) {
    const std::int64_t now = clock.unix_ms();
    const std::string &id = counter_identity(key, window_ms);
    shard &s = shards[std::hash<std::string>{}(id) % shard_count];
    std::unique_lock lock(s.mutex);
    auto it = s.entries.find(id);
    if (it == s.entries.end()) {
      if (s.entries.size() >= max_per_shard) {
        lock.unlock();
        error(error_kind::dropped, std::to_string(max_per_shard * shard_count) +
                                       " keys are held already: a new key is counted on this "
                                       "host alone and not kept");
        return delta;
      }
      entry fresh;
      fresh.window_ms = window_ms;
      fresh.name = std::string(key);
      it = s.entries.emplace(id, std::move(fresh)).first;
    }
    entry &e = it->second;
    window_position at = position_of(now, window_ms);
    if (at.index < e.latest) // a wall clock that went back stands still
      at = {e.latest, 0};
    e.latest = at.index;
    slot &current = e.at(at.index);
    current.pending = saturating_add(current.pending, delta);
    const slot *previous = at.index > 0 ? e.find(at.index - 1) : nullptr;
    return sliding_estimate(current.total(), previous ? previous->total() : 0, at, window_ms);
  }

  void schedule() {
    if (stopped)
      return;
    timer.expires_after(interval);
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->stopped)
        return;
      self->tick();
      self->schedule();
    });
  }

  std::string redis_key(const entry &e, std::uint64_t index) const {
    return engine.key("counter:" + e.name + ":" + std::to_string(e.window_ms) + ":" +
                      std::to_string(index));
  }

  // The engine's thread: expire idle keys, then send one batch unless one is on its way.
  void tick() {
    if (batch_in_flight)
      return;
    const bool up = engine.connected();
    if (!up)
      engine.note_fail_open("not connected");
    const std::int64_t now = clock.unix_ms();
    std::vector<batch_item> items;
    std::vector<std::string> args{"EVAL", sync_script, "0"};
    std::vector<std::string> argv;
    for (std::size_t n = 0; n < shard_count; ++n) {
      const std::size_t which = (next_shard + n) % shard_count;
      shard &s = shards[which];
      std::lock_guard lock(s.mutex);
      std::erase_if(s.entries, [&](const auto &kv) {
        return position_of(now, kv.second.window_ms).index >= kv.second.latest + 2;
      });
      if (!up)
        continue;
      if (items.size() + 2 * s.entries.size() > 2 * max_batch_entries && !items.empty()) {
        next_shard = which; // the rest in the next batches
        break;
      }
      for (auto &[id, e] : s.entries) {
        const std::uint64_t index = std::max(position_of(now, e.window_ms).index, e.latest);
        for (const std::uint64_t w : {index, index - 1}) {
          if (w == UINT64_MAX)
            continue;
          slot &sl = e.at(w);
          items.push_back({id, w, sl.pending});
          sl.in_flight += sl.pending;
          sl.pending = 0;
          args.push_back(redis_key(e, w));
          argv.push_back(std::to_string(items.back().delta));
          argv.push_back(std::to_string(2 * e.window_ms));
        }
      }
    }
    if (items.empty())
      return;
    args[2] = std::to_string(items.size());
    for (auto &a : argv)
      args.push_back(std::move(a));
    batch_in_flight = true;
    engine.client().command(std::move(args), engine.executor(),
                            [self = shared_from_this(), items = std::move(items)](
                                boost::system::error_code ec, cluster::redis_reply reply) {
                              self->batch_in_flight = false;
                              self->answered(items, ec, reply);
                            });
  }

  // Finds the slot a batch item was for, if its window still counts.
  template <class Fn> void with_slot(const batch_item &item, Fn &&fn) {
    shard &s = shards[std::hash<std::string>{}(item.id) % shard_count];
    std::lock_guard lock(s.mutex);
    auto it = s.entries.find(item.id);
    if (it == s.entries.end())
      return;
    if (slot *sl = it->second.find(item.index))
      fn(*sl);
  }

  static bool parse_total(const cluster::redis_reply &r, std::uint64_t &total) {
    using kind = cluster::redis_reply::type;
    if (r.kind == kind::integer) {
      if (r.integer < 0)
        return false;
      total = static_cast<std::uint64_t>(r.integer);
      return true;
    }
    if (r.kind == kind::nil) {
      total = 0;
      return true;
    }
    if (r.kind != kind::string || r.text.empty() || r.text.size() > 20)
      return false;
    const char *end = r.text.data() + r.text.size();
    const auto [p, err] = std::from_chars(r.text.data(), end, total);
    return err == std::errc{} && p == end;
  }

  void answered(const std::vector<batch_item> &items, boost::system::error_code ec,
                const cluster::redis_reply &reply) {
    const bool shaped = !ec && reply.kind == cluster::redis_reply::type::array &&
                        reply.elements.size() == items.size();
    if (!shaped) {
      // Nothing of it is trusted: the deltas go back to pending, for the next batch.
      if (ec)
        engine.note_fail_open(ec.message());
      if (ec)
        error(error_kind::failed, "a batch failed (" + ec.message() +
                                      "); counts stay this host's own until one succeeds");
      else
        error(reply.is_error() ? error_kind::failed : error_kind::malformed,
              reply.is_error() ? "Redis refused a batch: " + reply.text.substr(0, 200)
                               : std::string("a batch's reply is not shaped as the script's"));
      for (const auto &item : items)
        with_slot(item, [&](slot &sl) {
          const std::uint64_t back = std::min(sl.in_flight, item.delta);
          sl.in_flight -= back;
          sl.pending = saturating_add(sl.pending, back);
        });
      return;
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      const auto &item = items[i];
      const auto &r = reply.elements[i];
      std::uint64_t total = 0;
      bool trusted = true;
      if (r.is_error()) {
        trusted = false;
        const bool wrong_type = r.text.rfind("WRONGTYPE", 0) == 0;
        error(wrong_type ? error_kind::wrong_type : error_kind::malformed,
              "Redis refused a counter key (" + r.text.substr(0, 200) +
                  "): it is not one of ours; counted on this host only");
      } else if (!parse_total(r, total) || (item.delta > 0 && total < item.delta)) {
        trusted = false;
        error(error_kind::malformed, "a counter key holds something other than a count; "
                                     "counted on this host only");
      }
      with_slot(item, [&](slot &sl) {
        const std::uint64_t done = std::min(sl.in_flight, item.delta);
        sl.in_flight -= done;
        sl.sent =
            saturating_add(sl.sent, done); // refused or not: this host's own counts stay counted
        if (trusted)
          sl.others = total > sl.sent ? total - sl.sent : 0;
      });
    }
  }
};

class cluster_shared_counters final : public shared_counters {
public:
  cluster_shared_counters(cluster::cluster_engine &engine, const clock_source &clock,
                          metrics_registry &metrics, logger &log,
                          std::chrono::milliseconds interval, std::size_t max_keys)
      : core_(std::make_shared<counters_core>(engine, clock, metrics, log, interval, max_keys)) {
    net::post(engine.executor(), [core = core_] { core->schedule(); });
  }
  ~cluster_shared_counters() override {
    core_->stopped = true;
    net::post(core_->engine.executor(), [core = core_] { core->timer.cancel(); });
  }
  cluster_shared_counters(const cluster_shared_counters &) = delete;
  cluster_shared_counters &operator=(const cluster_shared_counters &) = delete;

  std::uint64_t add(std::string_view key, std::uint64_t window_ms, std::uint64_t delta) override {
    if (window_ms == 0 || window_ms > max_counter_window_ms || key.empty())
      return counter_refused;
    return core_->add(key, window_ms, delta);
  }
  bool cluster_shared() const noexcept override { return true; }

private:
  std::shared_ptr<counters_core> core_;
};

} // namespace

std::unique_ptr<shared_counters>
make_cluster_shared_counters(cluster::cluster_engine &engine, const clock_source &clock,
                             metrics_registry &metrics, logger &log,
                             std::chrono::milliseconds sync_interval, std::size_t max_keys) {
  return std::make_unique<cluster_shared_counters>(engine, clock, metrics, log, sync_interval,
                                                   max_keys);
}

} // namespace apistudio
