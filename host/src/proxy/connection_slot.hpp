// connection_slot.hpp — one socket counted against limits.max_total_connections: a client socket
// (moves from the HTTP session to the WebSocket session that takes the socket over), or the
// upstream socket a test-connection opens on a client's behalf. Also per_address_count: what one
// client address holds at once (concurrent test-connection dials), for per-address caps.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
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

// Counts per client address; any thread. Entries go when their count returns to zero, so the
// table holds only addresses with something in flight.
class per_address_count {
public:
  class slot {
  public:
    slot() = default;
    slot(slot &&o) noexcept
        : owner_(std::exchange(o.owner_, nullptr)), address_(std::move(o.address_)) {}
    slot &operator=(slot &&) = delete;
    slot(const slot &) = delete;
    ~slot() {
      if (owner_ != nullptr)
        owner_->release(address_);
    }
    explicit operator bool() const noexcept { return owner_ != nullptr; }

  private:
    friend class per_address_count;
    slot(per_address_count &owner, std::string address)
        : owner_(&owner), address_(std::move(address)) {}
    per_address_count *owner_ = nullptr;
    std::string address_;
  };

  // A held slot, or an empty one when `address` already holds `cap`.
  slot try_take(const std::string &address, std::size_t cap) {
    std::lock_guard lock(mutex_);
    std::size_t &held = held_[address];
    if (held >= cap) {
      if (held == 0)
        held_.erase(address);
      return {};
    }
    ++held;
    return slot(*this, address);
  }

  std::size_t held(const std::string &address) const {
    std::lock_guard lock(mutex_);
    const auto it = held_.find(address);
    return it == held_.end() ? 0 : it->second;
  }

private:
  void release(const std::string &address) {
    std::lock_guard lock(mutex_);
    const auto it = held_.find(address);
    if (it != held_.end() && --it->second == 0)
      held_.erase(it);
  }
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::size_t> held_;
};

} // namespace apistudio
