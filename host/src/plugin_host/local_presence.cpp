// local_presence.cpp — presence within one process (cluster.backend: local): the rules of
// presence_service.hpp over maps under one mutex. Scopes are few and small (a team's
// workspaces), so one lock is simpler than anything finer and never contended for long.
#include "plugin_host/presence_service.hpp"

#include <map>
#include <mutex>
#include <set>

namespace apistudio {

namespace {

class local_presence final : public presence_service {
public:
  void on_gone(gone_handler handler) override {
    std::lock_guard lock(mutex_);
    gone_ = std::move(handler);
  }

  void join(std::string_view plugin, apistudio_session_id session, std::string_view scope,
            std::string_view member, std::string_view status, join_done done) override {
    presence_join_result result;
    std::vector<presence_gone_event> gone;
    gone_handler notify;
    {
      std::lock_guard lock(mutex_);
      const std::string key = scope_key(plugin, scope);
      auto &entry = scopes_[key];
      // Joining again replaces the session's member: the old one may be gone by that.
      if (auto s = entry.sessions.find(session); s != entry.sessions.end() && s->second != member)
        remove_locked(entry, plugin, scope, session, gone);
      for (const auto &[id, m] : entry.members)
        if (id != member)
          result.others.emplace_back(id, m.status);
      auto m = entry.members.find(member);
      if (m == entry.members.end())
        m = entry.members.emplace(std::string(member), member_entry{std::string(status), {}}).first;
      result.first_session = m->second.sessions.empty();
      m->second.sessions.insert(session);
      entry.sessions[session] = m->first;
      session_scopes_[session].insert(key);
      notify = gone_;
    }
    report(notify, gone);
    done(std::move(result));
  }

  bool set_status(std::string_view plugin, apistudio_session_id session, std::string_view scope,
                  std::string_view status) override {
    std::lock_guard lock(mutex_);
    const auto entry = scopes_.find(scope_key(plugin, scope));
    if (entry == scopes_.end())
      return false;
    const auto s = entry->second.sessions.find(session);
    if (s == entry->second.sessions.end())
      return false;
    entry->second.members.find(s->second)->second.status.assign(status);
    return true;
  }

  void leave(std::string_view plugin, apistudio_session_id session,
             std::string_view scope) override {
    std::vector<presence_gone_event> gone;
    gone_handler notify;
    {
      std::lock_guard lock(mutex_);
      const std::string key = scope_key(plugin, scope);
      const auto entry = scopes_.find(key);
      if (entry == scopes_.end())
        return;
      remove_locked(entry->second, plugin, scope, session, gone);
      forget_locked(entry, session, key);
      notify = gone_;
    }
    report(notify, gone);
  }

  void leave_all(apistudio_session_id session) override {
    std::vector<presence_gone_event> gone;
    gone_handler notify;
    {
      std::lock_guard lock(mutex_);
      const auto keys = session_scopes_.find(session);
      if (keys == session_scopes_.end())
        return;
      const std::set<std::string> copy = std::move(keys->second);
      session_scopes_.erase(keys);
      for (const auto &key : copy) {
        const auto entry = scopes_.find(key);
        if (entry == scopes_.end())
          continue;
        const auto split = key.find('\0');
        remove_locked(entry->second, std::string_view(key).substr(0, split),
                      std::string_view(key).substr(split + 1), session, gone);
        if (entry->second.members.empty())
          scopes_.erase(entry);
      }
      notify = gone_;
    }
    report(notify, gone);
  }

private:
  struct member_entry {
    std::string status;
    std::set<apistudio_session_id> sessions;
  };
  struct scope_entry {
    std::map<std::string, member_entry, std::less<>> members; // ordered: snapshots by member
    std::map<apistudio_session_id, std::string> sessions;     // which member each session is
  };

  // A plugin name never holds a NUL (a configuration key), so the pair cannot be confused.
  static std::string scope_key(std::string_view plugin, std::string_view scope) {
    std::string key;
    key.reserve(plugin.size() + 1 + scope.size());
    key.append(plugin).push_back('\0');
    key.append(scope);
    return key;
  }

  static void remove_locked(scope_entry &entry, std::string_view plugin, std::string_view scope,
                            apistudio_session_id session, std::vector<presence_gone_event> &gone) {
    const auto s = entry.sessions.find(session);
    if (s == entry.sessions.end())
      return;
    const auto m = entry.members.find(s->second);
    entry.sessions.erase(s);
    if (m == entry.members.end())
      return;
    m->second.sessions.erase(session);
    if (!m->second.sessions.empty())
      return;
    gone.push_back({std::string(plugin), std::string(scope), m->first, m->second.status});
    entry.members.erase(m);
  }

  void forget_locked(std::map<std::string, scope_entry, std::less<>>::iterator entry,
                     apistudio_session_id session, const std::string &key) {
    if (entry->second.members.empty())
      scopes_.erase(entry);
    if (auto keys = session_scopes_.find(session); keys != session_scopes_.end()) {
      keys->second.erase(key);
      if (keys->second.empty())
        session_scopes_.erase(keys);
    }
  }

  static void report(const gone_handler &notify, const std::vector<presence_gone_event> &gone) {
    if (!notify)
      return;
    for (const auto &g : gone)
      notify(g);
  }

  std::mutex mutex_;
  gone_handler gone_;
  std::map<std::string, scope_entry, std::less<>> scopes_; // by scope_key
  std::map<apistudio_session_id, std::set<std::string>> session_scopes_;
};

} // namespace

std::unique_ptr<presence_service> make_local_presence() {
  return std::make_unique<local_presence>();
}

} // namespace apistudio
