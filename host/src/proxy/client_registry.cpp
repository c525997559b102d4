#include "proxy/client_registry.hpp"

namespace apistudio {

bool client_registry::try_register(const std::string &client_id) {
  std::lock_guard lock(mutex_);
  return clients_.try_emplace(client_id).second;
}

void client_registry::release(const std::string &client_id) {
  std::lock_guard lock(mutex_);
  clients_.erase(client_id);
}

bool client_registry::try_reserve_upstream(const std::string &client_id, std::size_t limit) {
  std::lock_guard lock(mutex_);
  auto it = clients_.find(client_id);
  if (it == clients_.end() || it->second.reserved >= limit)
    return false;
  ++it->second.reserved;
  return true;
}

void client_registry::release_upstream(const std::string &client_id, bool was_open) {
  std::lock_guard lock(mutex_);
  auto it = clients_.find(client_id);
  if (it == clients_.end())
    return;
  if (it->second.reserved > 0)
    --it->second.reserved;
  if (was_open && it->second.open > 0)
    --it->second.open;
}

void client_registry::mark_upstream_open(const std::string &client_id) {
  std::lock_guard lock(mutex_);
  auto it = clients_.find(client_id);
  if (it != clients_.end())
    ++it->second.open;
}

client_registry::snapshot client_registry::list() const {
  std::lock_guard lock(mutex_);
  snapshot s;
  s.active.reserve(clients_.size());
  for (const auto &[id, e] : clients_) {
    s.active.push_back(id);
    if (e.open > 0)
      s.external.push_back(id);
  }
  return s;
}

} // namespace apistudio
