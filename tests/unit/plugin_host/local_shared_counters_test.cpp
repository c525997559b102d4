// local_shared_counters_test.cpp — the shared counters' window arithmetic (shared_counters.hpp)
// and the in-process implementation of backend local (local_shared_counters.cpp), on a wall
// clock the test moves by hand.
#include "base/clock.hpp"
#include "plugin_host/shared_counters.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace apistudio {
namespace {

class wall_clock final : public clock_source {
public:
  std::int64_t unix_ms() const override { return now.load(); }
  std::uint64_t steady_ms() const override { return 0; }
  std::atomic<std::int64_t> now{1'700'000'000'000}; // a whole multiple of 1000 ms
};

TEST(SharedCounterWindows, WindowsAreAlignedOnTheWallClock) {
  EXPECT_EQ(position_of(1'700'000'000'250, 1000).index, 1'700'000'000u);
  EXPECT_EQ(position_of(1'700'000'000'250, 1000).elapsed_ms, 250u);
  EXPECT_EQ(position_of(59'999, 60'000).index, 0u);
  EXPECT_EQ(position_of(60'000, 60'000).index, 1u);
  EXPECT_EQ(position_of(-5, 1000).index, 0u); // a clock before 1970 counts as 0
}

TEST(SharedCounterWindows, ThePreviousWindowCountsForWhatTheSlidingWindowStillCovers) {
  EXPECT_EQ(sliding_estimate(3, 10, {7, 0}, 1000), 13u);   // all of it at the boundary
  EXPECT_EQ(sliding_estimate(3, 10, {7, 250}, 1000), 10u); // 3 + 10 x 3/4 = 10.5, rounded down
  EXPECT_EQ(sliding_estimate(3, 10, {7, 999}, 1000), 3u);  // 3 + 0.01
  EXPECT_EQ(sliding_estimate(UINT64_MAX - 1, 10, {7, 0}, 1000), UINT64_MAX);  // saturates
  EXPECT_EQ(sliding_estimate(0, UINT64_MAX, {7, 500}, 1000), UINT64_MAX / 2); // no overflow
}

TEST(LocalSharedCounters, CountsByKeyAndWindowAndSlides) {
  wall_clock clock;
  const auto counters = make_local_shared_counters(clock);
  EXPECT_FALSE(counters->cluster_shared());
  EXPECT_EQ(counters->add("p:a", 1000, 1), 1u);
  EXPECT_EQ(counters->add("p:a", 1000, 2), 3u);
  EXPECT_EQ(counters->add("p:a", 1000, 0), 3u); // 0 only reads
  EXPECT_EQ(counters->add("p:b", 1000, 1), 1u);
  EXPECT_EQ(counters->add("p:a", 60'000, 1), 1u); // another window, another count
  clock.now += 1250;                              // the next window, a quarter in
  EXPECT_EQ(counters->add("p:a", 1000, 0), 2u);   // 3 x 3/4
  EXPECT_EQ(counters->add("p:a", 1000, 4), 6u);
  clock.now += 1000; // the one after: the 4 are the previous window now
  EXPECT_EQ(counters->add("p:a", 1000, 0), 3u);
  clock.now += 2000; // two windows without a count: nothing left
  EXPECT_EQ(counters->add("p:a", 1000, 0), 0u);
}

TEST(LocalSharedCounters, AClockThatGoesBackStandsStill) {
  wall_clock clock;
  const auto counters = make_local_shared_counters(clock);
  clock.now += 500;
  EXPECT_EQ(counters->add("k", 1000, 5), 5u);
  clock.now -= 3000;
  EXPECT_EQ(counters->add("k", 1000, 1), 6u); // not a fresh window
}

TEST(LocalSharedCounters, OutOfRangeArgumentsCountNothing) {
  wall_clock clock;
  const auto counters = make_local_shared_counters(clock);
  EXPECT_EQ(counters->add("k", 0, 1), counter_refused);
  EXPECT_EQ(counters->add("k", max_counter_window_ms + 1, 1), counter_refused);
  EXPECT_EQ(counters->add("", 1000, 1), counter_refused);
  EXPECT_EQ(counters->add("k", max_counter_window_ms, 1), 1u);
}

TEST(LocalSharedCounters, MemoryIsBoundedAndIdleKeysExpire) {
  wall_clock clock;
  const auto counters = make_local_shared_counters(clock, 160); // 10 per shard
  for (int i = 0; i < 1000; ++i)
    counters->add("k" + std::to_string(i), 1000, 1);
  // Past the bound a new key counts alone and is not kept.
  int kept = 0;
  for (int i = 0; i < 1000; ++i)
    kept += counters->add("k" + std::to_string(i), 1000, 0) == 1 ? 1 : 0;
  EXPECT_LE(kept, 160);
  EXPECT_GT(kept, 0);
  // Two windows later (and past the once-a-second sweep) every key has gone: new ones fit again.
  clock.now += 3000;
  for (int i = 1000; i < 1100; ++i)
    counters->add("k" + std::to_string(i), 1000, 1);
  int fresh = 0;
  for (int i = 1000; i < 1100; ++i)
    fresh += counters->add("k" + std::to_string(i), 1000, 0) == 1 ? 1 : 0;
  EXPECT_GE(fresh, 60); // 100 keys over 16 shards of 10: only a crowded shard turns some away
}

TEST(LocalSharedCounters, ConcurrentAddsAreAllCounted) {
  wall_clock clock;
  const auto counters = make_local_shared_counters(clock);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i)
        counters->add("hot", 60'000, 1);
    });
  for (auto &t : threads)
    t.join();
  EXPECT_EQ(counters->add("hot", 60'000, 0), 40'000u);
}

} // namespace
} // namespace apistudio
