// codec_bench.cpp — micro-benchmarks of the envelope codec, the measurement behind writing it by
// hand: a proxied round trip parses one send_message and encodes message_sent plus
// message_received, and the host's whole budget for that is 25,000 instructions.
// BM_round_trip_nlohmann_dom is the baseline that justified the scanner and the encoder.
//
// Every benchmark reports allocs_per_iter (a counting global operator new). To count
// instructions where hardware counters are not available, fix the iterations and let callgrind
// count one benchmark function, then divide the reported Ir by the iterations:
//   APISTUDIO_BENCH_ITERATIONS=20000 valgrind --tool=callgrind --collect-atstart=no
//     --toggle-collect='*BM_parse_send_message*' ./codec_bench
//     --benchmark_filter=BM_parse_send_message$
#include "allocation_counter.hpp"
#include "base/iso_timestamp.hpp"
#include "protocol/envelope_codec.hpp"

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

using namespace apistudio;

constexpr std::int64_t unix_ms = 1735732800123;

// A typical client frame: 120 bytes.
const std::string send_message_frame =
    R"({"type":"send_message","content":"{\"op\":\"subscribe\",\"channel\":\"btc\"}",)"
    R"("message_type":"text","request_id":"r-42"})";

// What a client sends next to it in the same round trip, for the encoders.
const std::string upstream_text_64 =
    R"({"channel":"ticker","price":"42109.55","qty":"0.0210","seq":91})";

std::string text_payload(std::size_t size) {
  std::string payload;
  while (payload.size() < size)
    payload += R"({"k":"value","n":12345,"s":"some \"quoted\" text"},)";
  payload.resize(size);
  return payload;
}

// Plain ASCII with nothing to escape: what bench/load_generator sends (letters and digits).
std::string plain_payload(std::size_t size) {
  std::string payload(size, 'a');
  for (std::size_t i = 0; i < size; ++i)
    payload[i] = static_cast<char>('a' + (i * 7) % 26);
  return payload;
}

std::string binary_payload(std::size_t size) {
  std::string payload(size, '\0');
  for (std::size_t i = 0; i < size; ++i)
    payload[i] = static_cast<char>(i * 131 + 7);
  return payload;
}

// Runs the loop body and reports allocations per iteration.
template <typename Body> void run_counting(benchmark::State &state, Body &&body) {
  body(); // warm up buffers: steady state is what matters
  const std::size_t before = bench::allocations_so_far();
  for (auto _ : state)
    body();
  const std::size_t allocations = bench::allocations_so_far() - before;
  state.counters["allocs_per_iter"] =
      benchmark::Counter(static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
}

void BM_parse_send_message(benchmark::State &state) {
  client_command command;
  run_counting(state, [&] {
    const bool ok = parse_client_command(send_message_frame, command);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(command.content.data());
  });
  state.SetBytesProcessed(
      static_cast<std::int64_t>(state.iterations() * send_message_frame.size()));
  state.counters["frame_bytes"] = static_cast<double>(send_message_frame.size());
}

// message_received of a text payload made by `make` (state.range(0) bytes).
void encode_text_event(benchmark::State &state, std::string (*make)(std::size_t)) {
  const std::string payload = make(static_cast<std::size_t>(state.range(0)));
  std::string out;
  run_counting(state, [&] {
    out.clear();
    encode_message_received(out, payload, false, {"upstream-1", ""}, unix_ms);
    benchmark::DoNotOptimize(out.data());
  });
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload.size()));
}

void BM_encode_message_received_text(benchmark::State &state) {
  encode_text_event(state, text_payload);
}

void BM_encode_message_received_plain(benchmark::State &state) {
  encode_text_event(state, plain_payload);
}

// The large workload's client frame: a send_message around 16 KiB of plain text.
void BM_parse_send_message_plain(benchmark::State &state) {
  const std::string frame = R"({"type":"send_message","content":")" +
                            plain_payload(static_cast<std::size_t>(state.range(0))) + R"("})";
  client_command command;
  run_counting(state, [&] {
    const bool ok = parse_client_command(frame, command);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(command.content.data());
  });
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame.size()));
}

void BM_encode_message_received_binary(benchmark::State &state) {
  const std::string payload = binary_payload(static_cast<std::size_t>(state.range(0)));
  std::string out;
  run_counting(state, [&] {
    out.clear();
    encode_message_received(out, payload, true, {"upstream-1", ""}, unix_ms);
    benchmark::DoNotOptimize(out.data());
  });
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload.size()));
}

void BM_encode_message_sent(benchmark::State &state) {
  const std::string content = R"({"op":"subscribe","channel":"ticker"})";
  std::string out;
  run_counting(state, [&] {
    out.clear();
    encode_message_sent(out, content, false, {"upstream-1", "r-000042"}, unix_ms);
    benchmark::DoNotOptimize(out.data());
  });
}

// The codec's share of one proxied round trip: parse the client's frame, confirm it
// (message_sent), forward the upstream's answer (message_received).
void BM_round_trip_codec(benchmark::State &state) {
  client_command command;
  std::string sent;
  std::string received;
  run_counting(state, [&] {
    parse_client_command(send_message_frame, command);
    const event_ids ids{"", command.request_id ? std::string_view(*command.request_id) : ""};
    sent.clear();
    encode_message_sent(sent, command.content, command.binary, ids, unix_ms);
    received.clear();
    encode_message_received(received, upstream_text_64, false, {}, unix_ms);
    benchmark::DoNotOptimize(sent.data());
    benchmark::DoNotOptimize(received.data());
  });
}

// The baseline: the same round trip through nlohmann's DOM.
void BM_parse_send_message_nlohmann_dom(benchmark::State &state) {
  using nlohmann::json;
  run_counting(state, [&] {
    const json frame = json::parse(send_message_frame);
    const std::string &content = frame.at("content").get_ref<const std::string &>();
    const std::string timestamp = format_timestamp(unix_ms);
    json sent = {{"type", "message_sent"},
                 {"content", content},
                 {"message_type", frame.value("message_type", "text")},
                 {"request_id", frame.at("request_id")},
                 {"timestamp", timestamp}};
    json received = {{"type", "message_received"},
                     {"content", upstream_text_64},
                     {"message_type", "text"},
                     {"timestamp", timestamp}};
    std::string sent_text = sent.dump();
    std::string received_text = received.dump();
    benchmark::DoNotOptimize(sent_text.data());
    benchmark::DoNotOptimize(received_text.data());
  });
}

} // namespace

// Registered by hand so APISTUDIO_BENCH_ITERATIONS can fix the iteration count (for callgrind).
int main(int argc, char **argv) {
  std::vector<benchmark::internal::Benchmark *> all = {
      benchmark::RegisterBenchmark("BM_parse_send_message", BM_parse_send_message),
      benchmark::RegisterBenchmark("BM_encode_message_received_text",
                                   BM_encode_message_received_text)
          ->Arg(64)
          ->Arg(16 * 1024),
      benchmark::RegisterBenchmark("BM_encode_message_received_plain",
                                   BM_encode_message_received_plain)
          ->Arg(64)
          ->Arg(16 * 1024),
      benchmark::RegisterBenchmark("BM_parse_send_message_plain", BM_parse_send_message_plain)
          ->Arg(16 * 1024),
      benchmark::RegisterBenchmark("BM_encode_message_received_binary",
                                   BM_encode_message_received_binary)
          ->Arg(64)
          ->Arg(16 * 1024),
      benchmark::RegisterBenchmark("BM_encode_message_sent", BM_encode_message_sent),
      benchmark::RegisterBenchmark("BM_round_trip_codec", BM_round_trip_codec),
      benchmark::RegisterBenchmark("BM_parse_send_message_nlohmann_dom",
                                   BM_parse_send_message_nlohmann_dom),
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
