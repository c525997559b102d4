// connection_slot.hpp — one client socket counted against limits.max_total_connections. Moves
// from the HTTP session to the WebSocket session that takes the socket over.
#pragma once

#include <atomic>
#include <cstddef>
#include <utility>

namespace apistudio {

class connection_slot {
public:
  connection_slot() = default;
  explicit connection_slot(std::atomic<std::size_t> &counter) : counter_(&counter) { ++*counter_; }
  connection_slot(connection_slot &&o) noexcept : counter_(std::exchange(o.counter_, nullptr)) {}
  connection_slot &operator=(connection_slot &&o) noexcept {
    if (this != &o) {
      release();
      counter_ = std::exchange(o.counter_, nullptr);
    }
    return *this;
  }
  ~connection_slot() { release(); }

private:
  void release() {
    if (counter_ != nullptr)
      --*counter_;
    counter_ = nullptr;
  }
  std::atomic<std::size_t> *counter_ = nullptr;
};

} // namespace apistudio
