#include "collaboration/presence_store.hpp"

namespace apistudio::plugins::collaboration {

std::string_view to_string(presence_status s) noexcept {
  return s == presence_status::away ? "away" : "online";
}

std::optional<presence_status> parse_presence_status(std::string_view s) noexcept {
  if (s == "online")
    return presence_status::online;
  if (s == "away")
    return presence_status::away;
  return std::nullopt;
}

join_result in_memory_presence_store::join(std::string_view workspace, std::string_view user,
                                           std::uint64_t session) {
  std::lock_guard lock(mutex_);
  auto ws = workspaces_.find(workspace);
  if (ws == workspaces_.end())
    ws = workspaces_.emplace(std::string(workspace), workspace_entry{}).first;
  join_result result;
  for (const auto &[id, entry] : ws->second)
    if (id != user)
      result.others.push_back({id, entry.status});
  auto u = ws->second.find(user);
  if (u == ws->second.end())
    u = ws->second.emplace(std::string(user), user_entry{}).first;
  result.first_session = u->second.sessions.empty();
  u->second.sessions.insert(session);
  return result;
}

bool in_memory_presence_store::leave(std::string_view workspace, std::string_view user,
                                     std::uint64_t session) {
  std::lock_guard lock(mutex_);
  const auto ws = workspaces_.find(workspace);
  if (ws == workspaces_.end())
    return false;
  const auto u = ws->second.find(user);
  if (u == ws->second.end() || u->second.sessions.erase(session) == 0)
    return false;
  if (!u->second.sessions.empty())
    return false;
  ws->second.erase(u);
  if (ws->second.empty())
    workspaces_.erase(ws);
  return true;
}

bool in_memory_presence_store::set_status(std::string_view workspace, std::string_view user,
                                          presence_status status) {
  std::lock_guard lock(mutex_);
  const auto ws = workspaces_.find(workspace);
  if (ws == workspaces_.end())
    return false;
  const auto u = ws->second.find(user);
  if (u == ws->second.end())
    return false;
  u->second.status = status;
  return true;
}

std::vector<member_presence> in_memory_presence_store::members(std::string_view workspace) const {
  std::lock_guard lock(mutex_);
  std::vector<member_presence> out;
  const auto ws = workspaces_.find(workspace);
  if (ws == workspaces_.end())
    return out;
  for (const auto &[id, entry] : ws->second)
    out.push_back({id, entry.status});
  return out;
}

std::size_t in_memory_presence_store::workspace_count() const {
  std::lock_guard lock(mutex_);
  return workspaces_.size();
}

} // namespace apistudio::plugins::collaboration
