#include "policy/live_settings.hpp"

namespace apistudio {

settings_snapshot::settings_snapshot(host_config c, const own_endpoints &own, std::uint64_t gen)
    : config(std::move(c)), admission(config.security, config.listen), egress(config.egress, own),
      generation(gen) {}

live_settings::live_settings(std::shared_ptr<const settings_snapshot> first)
    : current_(std::move(first)) {}

std::shared_ptr<const settings_snapshot> live_settings::current() const {
  // A mutex rather than std::atomic<std::shared_ptr>: taken once per HTTP request, dial or new
  // session (never per message), it costs nothing measurable and every tool understands it.
  std::lock_guard lock(mutex_);
  return current_;
}

void live_settings::publish(std::shared_ptr<const settings_snapshot> next) {
  std::shared_ptr<const settings_snapshot> old;
  {
    std::lock_guard lock(mutex_);
    old = std::exchange(current_, std::move(next));
  }
  // `old` is released here, outside the lock (its last holder may be this thread).
}

} // namespace apistudio
