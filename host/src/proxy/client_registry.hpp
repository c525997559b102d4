// client_registry.hpp — the spec's ConnectionManager: which client_ids hold a proxy socket and
// how many upstreams each has. Thread-safe; sessions register before the upgrade (so two racing
// upgrades for one client_id cannot both pass) and release in their destructor.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace apistudio {

class client_registry {
public:
  // False when the client_id already has a live socket (answer 409).
  bool try_register(const std::string &client_id);
  void release(const std::string &client_id);

  // Reserves one external connection slot (connecting or open) for the client; false at `limit`.
  bool try_reserve_upstream(const std::string &client_id, std::size_t limit);
  void release_upstream(const std::string &client_id, bool was_open);
  void mark_upstream_open(const std::string &client_id);

  struct snapshot {
    std::vector<std::string> active;   // client_ids with a live socket
    std::vector<std::string> external; // client_ids with at least one open upstream
  };
  snapshot list() const;

private:
  struct entry {
    std::size_t reserved = 0; // connecting + open
    std::size_t open = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::string, entry> clients_; // ordered: stable listings
};

} // namespace apistudio
