// presence_store.hpp — who is online in which workspace, with what status, and through how many
// sessions. Shared by every /ws session of the plugin, so implementations are thread-safe.
//
// A user is online in a workspace while at least one of their sessions is in it; their status
// ("online" or "away", as last set by any of their sessions) is kept until the last session
// leaves, and a user who comes back starts "online" again. The interface is small so that a
// Redis implementation (several hosts) can replace the in-memory one.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace apistudio::plugins::collaboration {

enum class presence_status { online, away };
std::string_view to_string(presence_status s) noexcept;
std::optional<presence_status> parse_presence_status(std::string_view s) noexcept;

struct member_presence {
  std::string user_id;
  presence_status status;
};

struct join_result {
  bool first_session = false;          // the user was not online in the workspace before
  std::vector<member_presence> others; // every other online user of the workspace, by user id
};

class presence_store {
public:
  virtual ~presence_store() = default;
  virtual join_result join(std::string_view workspace, std::string_view user,
                           std::uint64_t session) = 0;
  // True when that was the user's last session in the workspace (they are now offline). Leaving
  // twice, or with an unknown session, changes nothing and returns false.
  virtual bool leave(std::string_view workspace, std::string_view user, std::uint64_t session) = 0;
  // False when the user is not online in the workspace.
  virtual bool set_status(std::string_view workspace, std::string_view user,
                          presence_status status) = 0;
  virtual std::vector<member_presence> members(std::string_view workspace) const = 0;
};

class in_memory_presence_store final : public presence_store {
public:
  join_result join(std::string_view workspace, std::string_view user,
                   std::uint64_t session) override;
  bool leave(std::string_view workspace, std::string_view user, std::uint64_t session) override;
  bool set_status(std::string_view workspace, std::string_view user,
                  presence_status status) override;
  std::vector<member_presence> members(std::string_view workspace) const override;
  std::size_t workspace_count() const;

private:
  struct user_entry {
    presence_status status = presence_status::online;
    std::set<std::uint64_t> sessions;
  };
  using workspace_entry = std::map<std::string, user_entry, std::less<>>;

  mutable std::mutex mutex_;
  std::map<std::string, workspace_entry, std::less<>> workspaces_;
};

} // namespace apistudio::plugins::collaboration
