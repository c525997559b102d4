// shared_counters_bench.cpp — what a shared-scope rate limit costs per message (issue 15): the
// rate limiter's admission on a cluster is two counter_add calls per limit (a read with delta 0,
// then the count), answered from memory; the batch to Redis runs on the engine's thread once per
// cluster.counter_sync_interval, not per message. Compared with the exact in-memory sliding log
// the rate limiter keeps with backend local (in_memory_counter_store, one mutex).
//
//   build/bin/shared_counters_bench
//
// The cluster implementation is measured with its engine pointed at a port where nothing listens
// (connection refused at once): its add() is the same code whether Redis answers or not, and the
// synchronisation's own cost is per interval, on another thread. Keys: one per client, 1,000
// clients in turn, so that shards and hash maps see a realistic spread.
#include "allocation_counter.hpp"
#include "base/clock.hpp"
#include "base/logger.hpp"
#include "base/metrics.hpp"
#include "cluster/cluster_engine.hpp"
#include "plugin_host/shared_counters.hpp"
#include "rate_limiter/counter_store.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

using namespace apistudio;

std::vector<std::string> client_keys() {
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i)
    keys.push_back("rate_limiter:client_id:client-" + std::to_string(i) + "#0");
  return keys;
}

// One message through the rate limiter's shared-scope admission: read, then count.
void admit(benchmark::State &state, shared_counters &counters) {
  const auto keys = client_keys();
  std::size_t i = 0;
  const std::size_t before = bench::allocations_so_far();
  for (auto _ : state) {
    const std::string &key = keys[i++ % keys.size()];
    if (counters.add(key, 60'000, 0) < 1'000'000'000)
      benchmark::DoNotOptimize(counters.add(key, 60'000, 1));
  }
  state.counters["allocs_per_iter"] =
      benchmark::Counter(static_cast<double>(bench::allocations_so_far() - before),
                         benchmark::Counter::kAvgIterations);
}

void BM_local_shared_counters(benchmark::State &state) {
  system_clock_source clock;
  const auto counters = make_local_shared_counters(clock);
  admit(state, *counters);
}
BENCHMARK(BM_local_shared_counters)->UseRealTime();

void BM_cluster_shared_counters(benchmark::State &state) {
  system_clock_source clock;
  logger log(log_level::error);
  metrics_registry metrics;
  cluster_config c;
  c.backend = cluster_backend::redis;
  c.url = "redis://127.0.0.1:1/0";
  c.redis_host = "127.0.0.1";
  c.redis_port = 1;
  c.connect_timeout = std::chrono::milliseconds(200);
  cluster::cluster_engine engine(c, log, &metrics);
  engine.connect_first();
  {
    const auto counters =
        make_cluster_shared_counters(engine, clock, metrics, log, std::chrono::milliseconds(100));
    admit(state, *counters);
  }
  engine.stop();
}
BENCHMARK(BM_cluster_shared_counters)->UseRealTime();

// Today's exact log for the same scopes with backend local (one limit of 1e9 per 60 s: never
// full, so every message is recorded, the log growing as it would under a real limit).
void BM_rate_limiter_exact_store(benchmark::State &state) {
  plugins::rate_limiter::in_memory_counter_store store({{1'000'000'000, 60'000}});
  const auto keys = client_keys();
  system_clock_source clock;
  std::size_t i = 0;
  const std::size_t before = bench::allocations_so_far();
  for (auto _ : state)
    benchmark::DoNotOptimize(store.try_admit(keys[i++ % keys.size()], clock.steady_ms()));
  state.counters["allocs_per_iter"] =
      benchmark::Counter(static_cast<double>(bench::allocations_so_far() - before),
                         benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_rate_limiter_exact_store)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
