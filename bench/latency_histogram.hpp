// latency_histogram.hpp — a fixed-size log-linear histogram of durations in nanoseconds for the
// load generator (HdrHistogram's layout, two significant digits): recording is an array
// increment, so it costs nothing next to a round trip, and per-thread histograms merge by adding.
//
// Values below 128 ns have their own bucket; above, each power of two is split into 64 buckets,
// so a reported percentile is within 1/64 (1.6 %) of the true value. Not thread-safe: one per
// thread, merge() at the end.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace apistudio::bench {

class latency_histogram {
public:
  void record(std::uint64_t ns) noexcept {
    ++counts_[index_of(ns)];
    ++total_;
    max_ = std::max(max_, ns);
    min_ = std::min(min_, ns);
    sum_ += ns;
  }

  void merge(const latency_histogram &other) noexcept {
    for (std::size_t i = 0; i < counts_.size(); ++i)
      counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
    min_ = std::min(min_, other.min_);
    sum_ += other.sum_;
  }

  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return total_ ? max_ : 0; }
  std::uint64_t min() const noexcept { return total_ ? min_ : 0; }
  double mean() const noexcept { return total_ ? static_cast<double>(sum_) / total_ : 0.0; }

  // The value at quantile q (0..1): the middle of the bucket holding the q-th value, but never
  // above the largest value recorded. 0 when empty.
  std::uint64_t percentile(double q) const noexcept {
    if (total_ == 0)
      return 0;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank)
        return std::min(middle_of(i), max_);
    }
    return max_;
  }

private:
  static constexpr std::size_t linear = 128; // values below this are exact
  static constexpr std::size_t buckets = 58 * 64 + 128;

  static std::size_t index_of(std::uint64_t v) noexcept {
    if (v < linear)
      return static_cast<std::size_t>(v);
    const int msb = 63 - std::countl_zero(v);
    const int e = msb - 6; // >= 1: v >> e lies in [64, 128)
    return static_cast<std::size_t>(e) * 64 + static_cast<std::size_t>(v >> e);
  }
  static std::uint64_t middle_of(std::size_t i) noexcept {
    if (i < linear)
      return i;
    const std::size_t e = i / 64 - 1;
    const std::uint64_t lower = static_cast<std::uint64_t>(i % 64 + 64) << e;
    return lower + ((std::uint64_t{1} << e) >> 1);
  }

  std::array<std::uint64_t, buckets> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t sum_ = 0;
};

} // namespace apistudio::bench
