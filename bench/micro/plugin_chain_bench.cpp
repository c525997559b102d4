// plugin_chain_bench — what the plugin pipeline costs per proxied message: one client->upstream
// and one upstream->client pass through plugin_runtime, with N instances of a no-op plugin
// (noop_plugin.c: both message hooks present, each reads the payload and continues) loaded from a
// real .so, against N = 0 (the runtime with no plugins; the host itself does not even call it
// then). The issue's target: four plugins cost at most 5 % of the no-plugin throughput.
//
// BM_round_trip_with_chain adds the codec work of the same round trip (parse send_message,
// encode message_sent and message_received) so the chain's share of the host's per-message work
// is visible. Every benchmark reports allocs_per_iter (counting operator new): a no-op chain must
// not allocate.
#include "allocation_counter.hpp"
#include "plugin_host/message_bus.hpp"
#include "plugin_host/plugin_runtime.hpp"
#include "protocol/envelope_codec.hpp"

#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#ifndef APISTUDIO_BENCH_NOOP_PLUGIN
#error "APISTUDIO_BENCH_NOOP_PLUGIN must name the no-op plugin library"
#endif

namespace {

using namespace apistudio;

constexpr std::int64_t unix_ms = 1735732800123;

const std::string send_message_frame =
    R"({"type":"send_message","content":"{\"op\":\"subscribe\",\"channel\":\"btc\"}",)"
    R"("message_type":"text","request_id":"r-42"})";
const std::string upstream_text_64 =
    R"({"channel":"ticker","price":"42109.55","qty":"0.0210","seq":91})";

// A runtime with `n` no-op plugins and one session opened through it.
struct chain_fixture {
  explicit chain_fixture(std::size_t n)
      : log(log_level::warn), bus(make_local_message_bus(directory)) {
    host_config config;
    for (std::size_t i = 0; i < n; ++i) {
      plugin_config p;
      p.name = "noop" + std::to_string(i);
      p.path = APISTUDIO_BENCH_NOOP_PLUGIN;
      p.location = "bench:" + std::to_string(i + 1) + ":1";
      config.plugins.push_back(std::move(p));
    }
    runtime = std::make_unique<plugin_runtime>(config, ioc, directory, *bus, log, clock);
    session.id = 1;
    session.path = "/api/websocket/connect/bench";
    session.client_id = "bench";
    session.remote_address = "127.0.0.1";
    const auto outcome = runtime->session_open(session, {});
    if (outcome.failed || outcome.http_status != 0)
      std::abort();
  }
  ~chain_fixture() { runtime->session_close(session); }

  boost::asio::io_context ioc;
  session_directory directory;
  logger log;
  system_clock_source clock;
  std::unique_ptr<message_bus> bus;
  std::unique_ptr<plugin_runtime> runtime;
  session_context session;
};

template <typename Body> void run_counting(benchmark::State &state, Body &&body) {
  body(); // warm up buffers: steady state is what matters
  const std::size_t before = bench::allocations_so_far();
  for (auto _ : state)
    body();
  const std::size_t allocations = bench::allocations_so_far() - before;
  state.counters["allocs_per_iter"] =
      benchmark::Counter(static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
}

// Both directions of one round trip through the chain, as client_session calls it.
void BM_message_through_chain(benchmark::State &state) {
  chain_fixture f(static_cast<std::size_t>(state.range(0)));
  hook_message msg;
  run_counting(state, [&] {
    msg = hook_message{};
    msg.payload = send_message_frame;
    const chain_outcome in = f.runtime->client_message(f.session, msg);
    msg = hook_message{};
    msg.payload = upstream_text_64;
    msg.connection_id = "upstream-1";
    const chain_outcome out = f.runtime->message_from_upstream(f.session, msg);
    benchmark::DoNotOptimize(in.verdict);
    benchmark::DoNotOptimize(out.verdict);
  });
  state.counters["plugins"] = static_cast<double>(state.range(0));
}

// The same plus the codec: the host's message work per proxied round trip, minus the sockets.
void BM_round_trip_with_chain(benchmark::State &state) {
  chain_fixture f(static_cast<std::size_t>(state.range(0)));
  hook_message msg;
  client_command command;
  std::string sent;
  std::string received;
  run_counting(state, [&] {
    msg = hook_message{};
    msg.payload = send_message_frame;
    f.runtime->client_message(f.session, msg);
    parse_client_command(msg.payload, command);
    sent.clear();
    encode_message_sent(sent, command.content, command.binary,
                        {"", command.request_id ? std::string_view(*command.request_id) : ""},
                        unix_ms);
    msg = hook_message{};
    msg.payload = upstream_text_64;
    f.runtime->message_from_upstream(f.session, msg);
    received.clear();
    encode_message_received(received, msg.payload, false, {}, unix_ms);
    benchmark::DoNotOptimize(sent.data());
    benchmark::DoNotOptimize(received.data());
  });
  state.counters["plugins"] = static_cast<double>(state.range(0));
}

} // namespace

// Registered by hand so APISTUDIO_BENCH_ITERATIONS can fix the iteration count (for callgrind).
int main(int argc, char **argv) {
  std::vector<benchmark::internal::Benchmark *> all = {
      benchmark::RegisterBenchmark("BM_message_through_chain", BM_message_through_chain)
          ->Arg(0)
          ->Arg(4),
      benchmark::RegisterBenchmark("BM_round_trip_with_chain", BM_round_trip_with_chain)
          ->Arg(0)
          ->Arg(4),
  };
  if (const char *fixed = std::getenv("APISTUDIO_BENCH_ITERATIONS")) {
    for (benchmark::internal::Benchmark *b : all)
      b->Iterations(std::strtoll(fixed, nullptr, 10));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
