// live_settings.hpp — the settings a reload can change, one immutable generation at a time.
//
// A settings_snapshot is built once (the configuration, and the admission and egress policies
// made from it) and never changed afterwards, so any number of worker threads read it without
// locks. live_settings holds the current one: a reload builds a new snapshot and publishes it;
// readers take a shared_ptr copy (one short lock) and keep using that copy as long as they like.
// Who reads when (docs/operations.md, "Live reload"):
//  - admission (tokens, Origin, Host) and the egress rules: the current snapshot, per HTTP request
//    and per dial, so a reload applies to them at once;
//  - limits and keepalive: the snapshot a client session started with, for its whole life.
#pragma once

#include "policy/admission.hpp"
#include "policy/egress_policy.hpp"
#include "policy/host_config.hpp"

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace apistudio {

using own_endpoints = std::vector<std::pair<boost::asio::ip::address, std::uint16_t>>;

struct settings_snapshot {
  // Throws config_error (a bad egress rule). `own` are the host's listeners (egress denies them).
  settings_snapshot(host_config config, const own_endpoints &own, std::uint64_t generation);
  settings_snapshot(const settings_snapshot &) = delete; // admission refers into `config`
  settings_snapshot &operator=(const settings_snapshot &) = delete;

  const host_config config;
  const admission_policy admission;
  const egress_policy egress;
  const std::uint64_t generation; // 1 at start, +1 per applied reload
};

class live_settings {
public:
  explicit live_settings(std::shared_ptr<const settings_snapshot> first);

  // Any thread. The snapshot stays valid for as long as the caller holds it.
  std::shared_ptr<const settings_snapshot> current() const;
  // Any thread. Readers that already hold the old snapshot keep it.
  void publish(std::shared_ptr<const settings_snapshot> next);

private:
  mutable std::mutex mutex_;
  std::shared_ptr<const settings_snapshot> current_;
};

} // namespace apistudio
