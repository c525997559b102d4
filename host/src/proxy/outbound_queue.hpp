// outbound_queue.hpp — the frames waiting to be written to one peer, bounded in bytes.
//
// One write is in flight at a time (Beast asserts on overlapping writes): the owner fills the
// slot emplace() returns, commit()s it, starts a write when none is in flight, and pops in its
// on_write. The byte count drives the watermarks: above `high` the owner stops reading from the
// other side, below `low` it resumes (Envoy's flow control; flow_control.hpp records who is
// paused). Strings of popped frames are kept for reuse so that a steady stream of messages
// allocates nothing. A frame is bytes only: what the protocol owes once it is written (a
// message_sent) is remembered on the protocol's side (pending_acks.hpp).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace apistudio {

struct outbound_frame {
  std::string owned;                         // frame bytes owned by the queue...
  std::shared_ptr<const std::string> shared; // ...or one payload shared by many recipients
  bool binary = false;
  std::string_view bytes() const noexcept { return shared ? std::string_view(*shared) : owned; }
};

class outbound_queue {
public:
  explicit outbound_queue(std::size_t high_watermark = 4 << 20)
      : high_(high_watermark), low_(high_watermark / 2) {}

  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }
  std::size_t bytes() const noexcept { return bytes_; }
  bool above_high() const noexcept { return bytes_ >= high_; }
  bool below_low() const noexcept { return bytes_ <= low_; }

  // A frame to fill: its `owned` string keeps the capacity of the frame that used the slot before.
  outbound_frame &emplace() {
    if (count_ == ring_.size())
      grow();
    outbound_frame &f = ring_[(head_ + count_) % ring_.size()];
    f.owned.clear();
    f.shared.reset();
    f.binary = false;
    return f;
  }
  // Makes the frame returned by emplace() part of the queue (after it was filled).
  void commit() {
    bytes_ += ring_[(head_ + count_) % ring_.size()].bytes().size();
    ++count_;
  }

  outbound_frame &front() noexcept { return ring_[head_]; }

  void pop() {
    outbound_frame &f = ring_[head_];
    bytes_ -= f.bytes().size();
    f.shared.reset();
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
      ring_[last].shared.reset();
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
  std::size_t high_;
  std::size_t low_;
};

} // namespace apistudio
