// presence_service.hpp — who is present in which scope, for the SDK's presence functions
// (plugin_abi.h: presence_join, presence_set_status, presence_leave, on_presence_gone).
//
// Rules (the same for every implementation): a member is present in a scope while one of its
// sessions is; its status is the one it joined with when it was absent before, then the one last
// set by any of its sessions (a session joining a member already present keeps that status); a
// session is in a scope once, and joining again replaces its member. Scopes are keyed by plugin
// name too, so plugins never see each other's. When a member's last session leaves, the service
// reports it once through the gone handler (the runtime then calls the plugin's on_presence_gone).
//
// Thread-safety: every method may be called from any thread. The gone handler is called without
// any lock of the service held, possibly from inside a call to leave / leave_all.
#pragma once

#include <apistudio/plugin_abi.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apistudio {

class logger;
class metrics_registry;
namespace cluster {
class cluster_engine;
}

struct presence_join_result {
  bool first_session = false; // the member had no other session in the scope before this join
  std::vector<std::pair<std::string, std::string>> others; // (member, status), ordered by member
  bool complete = true; // false: only what this host knows (cluster engine unreachable)
};

struct presence_gone_event {
  std::string plugin;
  std::string scope;
  std::string member;
  std::string status; // the last status it had
};

class presence_service {
public:
  using join_done = std::function<void(presence_join_result)>;
  using gone_handler = std::function<void(const presence_gone_event &)>;

  virtual ~presence_service() = default;

  // Set once, before any session joins.
  virtual void on_gone(gone_handler handler) = 0;
  // `done` is called exactly once, on any thread (the local implementation: before join
  // returns); the caller posts it to the session's thread.
  virtual void join(std::string_view plugin, apistudio_session_id session, std::string_view scope,
                    std::string_view member, std::string_view status, join_done done) = 0;
  // False when `session` is not in `scope`.
  virtual bool set_status(std::string_view plugin, apistudio_session_id session,
                          std::string_view scope, std::string_view status) = 0;
  virtual void leave(std::string_view plugin, apistudio_session_id session,
                     std::string_view scope) = 0;
  // Every scope of every plugin `session` is in: when the session ends.
  virtual void leave_all(apistudio_session_id session) = 0;
};

// In-process presence (cluster.backend: local): gone is reported as the last session leaves.
std::unique_ptr<presence_service> make_local_presence();

// Presence in Redis through `engine` (cluster.backend: redis; cluster_presence.cpp, docs/cluster.md
// "Presence"): entries expire `ttl` after their host's last heartbeat. `engine`, `metrics` and
// `log` must outlive the engine's thread; the service itself may go first.
std::unique_ptr<presence_service> make_cluster_presence(cluster::cluster_engine &engine,
                                                        std::chrono::milliseconds ttl,
                                                        metrics_registry &metrics, logger &log);

} // namespace apistudio
