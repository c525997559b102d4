// metrics_registry: per-thread blocks summed at the scrape, keyed values bounded by "other",
// a new registry never sees an old one's counts, and the exposition's escaping and histogram.
#include "base/metrics.hpp"
#include "base/metrics_exposition.hpp"
#include "proxy/outbound_queue.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

using namespace apistudio;

namespace {
std::int64_t value(const metrics_registry &m, metric which) {
  return m.collect().values[static_cast<std::size_t>(which)];
}
} // namespace

TEST(MetricsRegistry, CountsOfEveryThreadAreSummed) {
  metrics_registry m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i)
        m.add(metric::messages_client_to_upstream);
      m.add(metric::sessions_open_proxy, 2);
      m.add(metric::sessions_open_proxy, -1);
      m.add(keyed::send_error_events, "NOT_CONNECTED");
    });
  for (auto &t : threads)
    t.join();
  const auto s = m.collect();
  EXPECT_EQ(s.values[static_cast<std::size_t>(metric::messages_client_to_upstream)], 40000);
  EXPECT_EQ(s.values[static_cast<std::size_t>(metric::sessions_open_proxy)], 4);
  ASSERT_EQ(s.keyed.size(), 1u);
  EXPECT_EQ(s.keyed[0].key, "NOT_CONNECTED");
  EXPECT_EQ(s.keyed[0].value, 4);
}

TEST(MetricsRegistry, AFreshRegistryStartsAtZeroOnAThreadThatCountedBefore) {
  auto first = std::make_unique<metrics_registry>();
  first->add(metric::bus_publishes, 7);
  EXPECT_EQ(value(*first, metric::bus_publishes), 7);
  first.reset();
  metrics_registry second; // may reuse the address: the generation tells them apart
  EXPECT_EQ(value(second, metric::bus_publishes), 0);
  second.add(metric::bus_publishes);
  EXPECT_EQ(value(second, metric::bus_publishes), 1);
}

TEST(MetricsRegistry, KeyedValuesPastTheBoundAreCountedAsOther) {
  metrics_registry m;
  for (int i = 0; i < 200; ++i)
    m.add(keyed::error_events, "CODE_" + std::to_string(i));
  m.add(keyed::error_events, "CODE_0");
  const auto s = m.collect();
  ASSERT_EQ(s.keyed.size(), metrics_registry::max_keys_per_family);
  EXPECT_EQ(s.keyed.front().key, "CODE_0");
  EXPECT_EQ(s.keyed.front().value, 2);
  EXPECT_EQ(s.keyed.back().key, "other");
  EXPECT_EQ(s.keyed.back().value, 200 - (metrics_registry::max_keys_per_family - 1));
}

TEST(MetricsExposition, EscapesLabelValuesAndWritesCumulativeBuckets) {
  metrics_registry m;
  ASSERT_EQ(m.plugin_slot("quote\"back\\slash"), 0u);
  m.add_plugin_refusal("quote\"back\\slash", "NO\nPE");
  m.walk(hook_kind::on_client_message).called(0);
  m.hook_timed(0, hook_kind::on_client_message, std::chrono::microseconds(3));
  m.hook_timed(0, hook_kind::on_client_message, std::chrono::seconds(2));
  const std::string text = render_metrics(m.collect(), {}, "9.9.9");
  EXPECT_NE(
      text.find(R"(apistudio_plugin_refusals_total{plugin="quote\"back\\slash",code="NO\nPE"} 1)"),
      std::string::npos)
      << text;
  const std::string series = R"({plugin="quote\"back\\slash",hook="on_client_message")";
  EXPECT_NE(
      text.find("apistudio_plugin_hook_duration_seconds_bucket" + series + R"(,le="1e-06"} 0)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find("apistudio_plugin_hook_duration_seconds_bucket" + series + R"(,le="5e-06"} 1)"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("apistudio_plugin_hook_duration_seconds_bucket" + series + R"(,le="1"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("apistudio_plugin_hook_duration_seconds_bucket" + series + R"(,le="+Inf"} 2)"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("apistudio_plugin_hook_duration_seconds_count" + series + "} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("apistudio_build_info{version=\"9.9.9\"} 1"), std::string::npos);
  EXPECT_EQ(text.find("process_"), std::string::npos); // no process figures given
}

// A reload's fresh instance of a plugin counts into its predecessor's slot; a plugin added by a
// reload gets the next one; past max_plugins nothing is counted rather than mixed up.
TEST(MetricsRegistry, PluginSlotsFollowNamesAcrossReloads) {
  metrics_registry m;
  EXPECT_EQ(m.plugin_slot("a"), 0u);
  EXPECT_EQ(m.plugin_slot("b"), 1u);
  EXPECT_EQ(m.plugin_slot("a"), 0u);
  for (std::size_t i = 2; i < metrics_registry::max_plugins; ++i)
    EXPECT_EQ(m.plugin_slot("p" + std::to_string(i)), i);
  EXPECT_EQ(m.plugin_slot("one-too-many"), metrics_registry::max_plugins);
  auto walk = m.walk(hook_kind::on_client_message);
  for (std::size_t i = 0; i < metrics_registry::hook_time_sample_every; ++i)
    EXPECT_FALSE(walk.called(metrics_registry::max_plugins));
  EXPECT_TRUE(m.collect().hooks.empty());
  EXPECT_EQ(m.plugin_slot("b"), 1u);
}

// Hook times are sampled per chain walk: one walk in hook_time_sample_every has every call in it
// timed, the others none; every call is counted either way.
TEST(MetricsRegistry, OneWalkInEverySamplePeriodIsTimedWhole) {
  metrics_registry m;
  ASSERT_EQ(m.plugin_slot("a"), 0u);
  ASSERT_EQ(m.plugin_slot("b"), 1u);
  std::size_t timed_walks = 0, timed_calls = 0;
  for (std::size_t w = 0; w < 2 * metrics_registry::hook_time_sample_every; ++w) {
    auto walk = m.walk(hook_kind::on_message_from_upstream);
    const bool first = walk.called(0), second = walk.called(1);
    EXPECT_EQ(first, second);
    timed_walks += first ? 1 : 0;
    timed_calls += (first ? 1 : 0) + (second ? 1 : 0);
  }
  EXPECT_EQ(timed_walks, 2u);
  EXPECT_EQ(timed_calls, 4u);
  const auto s = m.collect();
  ASSERT_EQ(s.hooks.size(), 2u);
  EXPECT_EQ(s.hooks[0].calls,
            static_cast<std::int64_t>(2 * metrics_registry::hook_time_sample_every));
  EXPECT_EQ(s.hooks[1].calls,
            static_cast<std::int64_t>(2 * metrics_registry::hook_time_sample_every));
}

// Queues report their bytes through their own gauge: the scrape sums the live queues per peer and
// keeps the highest any queue held, also after that queue is gone.
TEST(MetricsRegistry, QueueBytesAreWhatLiveQueuesHoldAndTheirPeakOutlivesThem) {
  metrics_registry m;
  const auto bytes = [&](metric which) { return value(m, which); };
  const auto peak = [&](high_water which) {
    return m.collect().high_waters[static_cast<std::size_t>(which)];
  };
  outbound_queue upstream(1 << 20, {&m, high_water::queue_bytes_upstream});
  {
    outbound_queue client(1 << 20, {&m, high_water::queue_bytes_client});
    for (const std::size_t n : {100u, 250u}) {
      client.emplace().owned.assign(n, 'x');
      client.commit();
    }
    upstream.emplace().owned.assign(7, 'y');
    upstream.commit();
    EXPECT_EQ(bytes(metric::queue_bytes_client), 350);
    EXPECT_EQ(bytes(metric::queue_bytes_upstream), 7);
    client.pop();
    EXPECT_EQ(bytes(metric::queue_bytes_client), 250);
    EXPECT_EQ(peak(high_water::queue_bytes_client), 350);
  }
  EXPECT_EQ(bytes(metric::queue_bytes_client), 0);
  EXPECT_EQ(peak(high_water::queue_bytes_client), 350);
  EXPECT_EQ(bytes(metric::queue_bytes_upstream), 7);
  EXPECT_EQ(peak(high_water::queue_bytes_upstream), 7);
}
