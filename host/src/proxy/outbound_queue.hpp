// outbound_queue.hpp — the frames waiting to be written to one peer, bounded in bytes.
//
// One write is in flight at a time (Beast asserts on overlapping writes): the owner fills the
// slot emplace() returns, commit()s it, starts a write when none is in flight, and pops in its
// on_write. The byte count drives the watermarks and the limit, all from one number,
// `limits.max_outbound_queue`:
//  - above `high` (half of it) the owner stops reading from the other side, below `low` (a
//    quarter) it resumes (Envoy's flow control; flow_control.hpp records who is paused);
//  - past the limit itself nothing more is queued: commit_within_limit() refuses the frame and
//    the owner closes the peer as a slow consumer. Pausing at half leaves the other half for what
//    was already on its way when reads paused (a read in flight, acknowledgements), so a peer that
//    reads, however slowly, is paused rather than closed.
// A frame always fits into an empty queue, whatever its size: the limit counts the bytes already
// waiting, so one message bigger than the limit (a 1 MiB message in a base64 envelope is 1.4 MiB;
// the limit may be 64 KiB) is still delivered to a client that reads.
// Strings of popped frames are kept for reuse so that a steady stream of messages allocates
// nothing. A frame is bytes only: what the protocol owes once it is written (a message_sent) is
// remembered on the protocol's side (pending_acks.hpp).
// The queue reports its bytes to the metrics (apistudio_queue_bytes and its high-water mark) when
// given a registry: it keeps them in its own queue_gauge, which the scrape reads
// (base/metrics.hpp), so a frame costs a store, no lock and no look-up.
#pragma once

#include "base/metrics.hpp"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apistudio {

struct outbound_frame {
  std::string owned;                  // frame bytes owned by the queue...
  std::shared_ptr<const void> shared; // ...or a payload shared by many recipients, kept alive
  std::string_view shared_bytes;      // the part of `shared` this frame sends
  bool binary = false;
  std::string_view bytes() const noexcept {
    return shared ? shared_bytes : std::string_view(owned);
  }
  // Points the frame at `bytes` inside `owner` (no copy): every recipient of one bus delivery
  // queues the same bytes.
  void share(std::shared_ptr<const void> owner, std::string_view part) noexcept {
    shared = std::move(owner);
    shared_bytes = part;
  }
  void release_shared() noexcept {
    shared.reset();
    shared_bytes = {};
  }
};

// Where a queue counts its bytes: none, or a registry and which peer's queue it is.
struct queue_metrics {
  metrics_registry *registry = nullptr;
  high_water peer = high_water::queue_bytes_client;
};

class outbound_queue {
public:
  explicit outbound_queue(std::size_t limit = 4 << 20, queue_metrics metrics = {})
      : limit_(limit), high_(limit / 2), low_(limit / 4), registry_(metrics.registry) {
    gauge_.kind = metrics.peer;
    if (registry_ != nullptr)
      registry_->track(gauge_);
  }
  ~outbound_queue() {
    if (registry_ != nullptr)
      registry_->untrack(gauge_);
  }
  outbound_queue(const outbound_queue &) = delete;
  outbound_queue &operator=(const outbound_queue &) = delete;

  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t limit() const noexcept { return limit_; }
  bool above_high() const noexcept { return bytes_ >= high_; }
  bool below_low() const noexcept { return bytes_ <= low_; }

  // A frame to fill: its `owned` string keeps the capacity of the frame that used the slot before.
  outbound_frame &emplace() {
    if (count_ == ring_.size())
      grow();
    outbound_frame &f = slot();
    f.owned.clear();
    f.release_shared();
    f.binary = false;
    return f;
  }
  // Makes the frame returned by emplace() part of the queue (after it was filled).
  void commit() {
    const std::size_t n = slot().bytes().size();
    bytes_ += n;
    ++count_;
    published();
    if constexpr (metrics_counting) {
      const auto now = static_cast<std::int64_t>(bytes_);
      if (now > gauge_.peak.load(std::memory_order_relaxed))
        gauge_.peak.store(now, std::memory_order_relaxed);
    }
  }
  // commit(), unless the frame would take a queue that already holds something past the limit:
  // then the frame is dropped (discard()) and the answer is false.
  bool commit_within_limit() {
    const std::size_t n = slot().bytes().size();
    if (bytes_ != 0 && n > limit_ - std::min(bytes_, limit_)) {
      discard();
      return false;
    }
    commit();
    return true;
  }
  // Drops the frame returned by emplace() without queueing it, and its memory with it.
  void discard() {
    outbound_frame &f = slot();
    f.release_shared();
    std::string().swap(f.owned);
  }

  outbound_frame &front() noexcept { return ring_[head_]; }

  void pop() {
    outbound_frame &f = ring_[head_];
    bytes_ -= f.bytes().size();
    published();
    f.release_shared();
    // Keep ordinary buffers; let a rare huge one go so an idle session stays small.
    if (f.owned.capacity() > kept_capacity)
      std::string().swap(f.owned);
    head_ = (head_ + 1) % ring_.size();
    --count_;
  }

  void clear() {
    while (!empty())
      pop();
  }

  // Drops every frame but the first: the one a write in flight is still reading from.
  void clear_after_front() {
    while (count_ > 1) {
      const std::size_t last = (head_ + count_ - 1) % ring_.size();
      bytes_ -= ring_[last].bytes().size();
      published();
      ring_[last].release_shared();
      --count_;
    }
  }

  // Releases every buffer (idle sessions should not hold memory).
  void shrink() {
    if (!empty())
      return;
    std::vector<outbound_frame>().swap(ring_);
    head_ = 0;
  }

private:
  static constexpr std::size_t kept_capacity = 64 * 1024;

  void published() noexcept {
    if constexpr (metrics_counting)
      gauge_.bytes.store(static_cast<std::int64_t>(bytes_), std::memory_order_relaxed);
  }

  outbound_frame &slot() noexcept { return ring_[(head_ + count_) % ring_.size()]; }

  void grow() {
    std::vector<outbound_frame> bigger(ring_.empty() ? 4 : ring_.size() * 2);
    for (std::size_t i = 0; i < count_; ++i)
      bigger[i] = std::move(ring_[(head_ + i) % ring_.size()]);
    ring_.swap(bigger);
    head_ = 0;
  }

  std::vector<outbound_frame> ring_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
  std::size_t limit_;
  std::size_t high_;
  std::size_t low_;
  metrics_registry *registry_;
  queue_gauge gauge_;
};

} // namespace apistudio
