// pending_acks.hpp — the request_ids of the messages queued to one upstream, in order, so that
// each gets its answer: message_sent once the upstream reports the frame written, or send_error
// if the upstream never opens. Protocol state: the transport's frames do not carry it.
//
// A ring of strings that keep their capacity: a steady stream of messages allocates nothing.
// One per upstream, on the session's worker thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apistudio {

class pending_acks {
public:
  bool empty() const noexcept { return count_ == 0; }

  // `request_id` may be empty (the message_sent then has none).
  void push(std::string_view request_id) {
    if (count_ == ring_.size())
      grow();
    ring_[(head_ + count_) % ring_.size()].assign(request_id);
    ++count_;
  }
  const std::string &front() const noexcept { return ring_[head_]; }
  void pop() noexcept {
    head_ = (head_ + 1) % ring_.size();
    --count_;
  }

private:
  // Only when full: oldest first, then room at the end (strings move, buffers stay).
  void grow() {
    std::rotate(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(head_), ring_.end());
    head_ = 0;
    ring_.resize(ring_.empty() ? 4 : ring_.size() * 2);
  }

  std::vector<std::string> ring_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

} // namespace apistudio
