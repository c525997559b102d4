// cluster_presence.cpp — presence_service of cluster.backend: redis (docs/cluster.md, "Presence").
//
// Redis model, per scope of a plugin (keys built from the plugin name's length, the name and the
// scope, so no two pairs share a key):
//   <prefix>presence:<len>:<plugin>:<scope>         ZSET of entries
//   "<node_id>\n<session>\n<member>"
//                                                   scored by their expiry (Redis TIME, in ms)
//   <prefix>presence-status:<len>:<plugin>:<scope>  HASH member -> status
// An entry is live while its score is in the future. The HASH field of a member is the token that
// makes "gone" happen once: whoever deletes it (a leave finding no live entry left, or a sweep
// removing expired entries of a member without live ones) reports the member gone, and only the
// one whose HDEL returned 1 does. Every change is a Lua script, atomic in Redis.
//
// This host keeps its own entries (a local mirror): heartbeats re-score them every ttl/3 (and so
// re-add them after an outage), sweeps every ttl/4 remove expired entries of the scopes it is in,
// and when Redis cannot answer, joins complete with complete=false from the mirror and leaves
// decide "gone" from it. Redis work runs on the engine's thread; no caller ever waits for it.
//
// Bad data is refused and counted (apistudio_cluster_presence_errors_total{kind}), logged once
// per kind: a key of another type (WRONGTYPE), entries not shaped as above (skipped in the
// scripts and counted), replies not shaped as the scripts return them.
#include "base/logger.hpp"
#include "base/metrics.hpp"
#include "cluster/cluster_engine.hpp"
#include "plugin_host/presence_service.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <set>

namespace apistudio {
namespace {

namespace net = boost::asio;
using cluster::redis_reply;

constexpr std::size_t max_member_bytes = 1024;
constexpr std::size_t max_status_bytes = 64;

// The scripts' shared part: the server's time, and the members of the live entries.
constexpr std::string_view lua_prelude =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "local malformed = 0 "
    "local function member_of(e) "
    "  local a = string.find(e, '\\n', 1, true) "
    "  if not a then return nil end "
    "  local b = string.find(e, '\\n', a + 1, true) "
    "  if not b or b == #e then return nil end "
    "  return string.sub(e, b + 1) "
    "end "
    "local function live_members() "
    "  local present = {} "
    "  for _, e in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do "
    "    local m = member_of(e) "
    "    if m then present[m] = true else malformed = malformed + 1 end "
    "  end "
    "  return present "
    "end ";

// ARGV: entry, member, status, ttl ms. -> {first (0/1), malformed, member, status, ...}
constexpr std::string_view lua_join =
    "local present = live_members() "
    "local first = present[ARGV[2]] and 0 or 1 "
    "local ttl = tonumber(ARGV[4]) "
    "redis.call('ZADD', KEYS[1], now + ttl, ARGV[1]) "
    "if first == 1 then redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) end "
    "redis.call('PEXPIRE', KEYS[1], 2 * ttl) redis.call('PEXPIRE', KEYS[2], 2 * ttl) "
    "local out = {first, malformed} "
    "for m, _ in pairs(present) do "
    "  if m ~= ARGV[2] then "
    "    out[#out + 1] = m "
    "    out[#out + 1] = redis.call('HGET', KEYS[2], m) or '' "
    "  end "
    "end "
    "return out";

// ARGV: entry, member. -> {1, status} when the member is gone (this call removed its token),
// else {0}.
constexpr std::string_view lua_leave =
    "redis.call('ZREM', KEYS[1], ARGV[1]) "
    "if live_members()[ARGV[2]] then return {0} end "
    "local status = redis.call('HGET', KEYS[2], ARGV[2]) "
    "if redis.call('HDEL', KEYS[2], ARGV[2]) == 1 then return {1, status or ''} end "
    "return {0}";

// -> {malformed, member, status, ...}: the members whose last entries expired, taken out once.
constexpr std::string_view lua_sweep =
    "local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now) "
    "if #dead == 0 then return {0} end "
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) "
    "local present = live_members() "
    "local out = {0} "
    "for _, e in ipairs(dead) do "
    "  local m = member_of(e) "
    "  if not m then malformed = malformed + 1 "
    "  elseif not present[m] then "
    "    local status = redis.call('HGET', KEYS[2], m) "
    "    if redis.call('HDEL', KEYS[2], m) == 1 then "
    "      out[#out + 1] = m "
    "      out[#out + 1] = status or '' "
    "    end "
    "  end "
    "end "
    "out[1] = malformed "
    "return out";

// ARGV: ttl ms, then (entry, member, status) per entry of this host: re-scored, or re-added.
constexpr std::string_view lua_heartbeat =
    "local ttl = tonumber(ARGV[1]) "
    "for i = 2, #ARGV, 3 do "
    "  redis.call('ZADD', KEYS[1], now + ttl, ARGV[i]) "
    "  redis.call('HSETNX', KEYS[2], ARGV[i + 1], ARGV[i + 2]) "
    "end "
    "redis.call('PEXPIRE', KEYS[1], 2 * ttl) redis.call('PEXPIRE', KEYS[2], 2 * ttl) "
    "return 1";

// ARGV: member, status. Only a member still present gets a status (never resurrected).
constexpr std::string_view lua_set_status = "if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then "
                                            "  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end "
                                            "return 1";

std::string script(std::string_view body) {
  std::string s(lua_prelude);
  s += body;
  return s;
}

enum class fault { wrong_type, malformed, count_ };

struct local_scope {
  std::string plugin, scope, zkey, hkey;
  std::map<apistudio_session_id, std::string> sessions; // -> member
  std::map<std::string, std::string> status;            // member -> status (this host's view)

  bool has_member(std::string_view member) const {
    for (const auto &[id, m] : sessions)
      if (m == member)
        return true;
    return false;
  }
};

struct presence_core : std::enable_shared_from_this<presence_core> {
  presence_core(cluster::cluster_engine &e, std::chrono::milliseconds t, metrics_registry &m,
                logger &l)
      : engine(e), ttl(t), metrics(m), log(l), heartbeat_timer(e.executor()),
        sweep_timer(e.executor()), join_script(script(lua_join)), leave_script(script(lua_leave)),
        sweep_script(script(lua_sweep)), heartbeat_script(script(lua_heartbeat)),
        status_script(script(lua_set_status)) {}

  cluster::cluster_engine &engine;
  const std::chrono::milliseconds ttl;
  metrics_registry &metrics;
  logger &log;
  net::steady_timer heartbeat_timer; // engine thread only
  net::steady_timer sweep_timer;
  const std::string join_script, leave_script, sweep_script, heartbeat_script, status_script;

  std::mutex mutex; // guards everything below
  bool open = true;
  presence_service::gone_handler gone;
  std::map<std::string, local_scope> scopes; // by zkey
  std::map<apistudio_session_id, std::set<std::string>> session_scopes;
  std::array<std::atomic<bool>, static_cast<std::size_t>(fault::count_)> logged{};

  std::string entry(apistudio_session_id session, std::string_view member) const {
    std::string e = engine.node_id();
    e += '\n';
    e += std::to_string(session);
    e += '\n';
    e += member;
    return e;
  }

  void refused(fault kind, const std::string &what) {
    metrics.add(kind == fault::wrong_type ? metric::cluster_presence_wrong_type
                                          : metric::cluster_presence_malformed);
    if (!logged[static_cast<std::size_t>(kind)].exchange(true))
      log.warn("cluster", "presence: refused data from Redis: " + what +
                              "; this host's own view is used instead. Further refusals of this "
                              "kind are counted (apistudio_cluster_presence_errors_total), not "
                              "logged");
  }

  // A reply that is an error or not an array: counted when it is bad data, and false.
  bool usable(boost::system::error_code ec, const redis_reply &reply, const std::string &key) {
    if (ec) {
      engine.note_fail_open("presence: " + ec.message());
      return false;
    }
    if (reply.is_error()) {
      if (reply.text.find("WRONGTYPE") != std::string::npos)
        refused(fault::wrong_type, "a presence key of another type (" + key + ")");
      else
        refused(fault::malformed, "Redis answered an error for " + key + ": " + reply.text);
      return false;
    }
    if (reply.kind != redis_reply::type::array || reply.elements.empty() ||
        reply.elements[0].kind != redis_reply::type::integer) {
      refused(fault::malformed, "a reply not shaped as the script returns it (" + key + ")");
      return false;
    }
    return true;
  }

  // (member, status) pairs from elements [from, end), each checked; bad ones dropped, counted.
  std::vector<std::pair<std::string, std::string>> pairs(const redis_reply &reply, std::size_t from,
                                                         const std::string &key) {
    std::vector<std::pair<std::string, std::string>> out;
    const auto &e = reply.elements;
    if ((e.size() - from) % 2 != 0)
      refused(fault::malformed, "an odd member list (" + key + ")");
    for (std::size_t i = from; i + 1 < e.size(); i += 2) {
      const bool ok = e[i].kind == redis_reply::type::string &&
                      e[i + 1].kind == redis_reply::type::string && !e[i].text.empty() &&
                      e[i].text.size() <= max_member_bytes && !e[i + 1].text.empty() &&
                      e[i + 1].text.size() <= max_status_bytes;
      if (!ok) {
        refused(fault::malformed, "a member or status out of bounds (" + key + ")");
        continue;
      }
      out.emplace_back(e[i].text, e[i + 1].text);
    }
    return out;
  }

  void count_malformed(const redis_reply &reply, const std::string &key) {
    if (reply.elements.size() > 1 && reply.elements[1].kind == redis_reply::type::integer &&
        reply.elements[1].integer > 0) {
      for (long long i = 0; i < reply.elements[1].integer; ++i)
        refused(fault::malformed,
                "an entry not shaped <node>\\n<session>\\n<member> (" + key + ")");
    }
  }

  void report(const presence_gone_event &g) {
    presence_service::gone_handler notify;
    {
      std::lock_guard lock(mutex);
      if (!open)
        return;
      notify = gone;
    }
    if (notify)
      notify(g);
  }

  // ---- timers, engine thread ----

  void start_timers() {
    net::post(engine.executor(), [self = shared_from_this()] {
      self->schedule_heartbeat();
      self->schedule_sweep();
    });
  }

  void schedule_heartbeat() {
    heartbeat_timer.expires_after(ttl / 3);
    heartbeat_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || !self->still_open())
        return;
      self->heartbeat();
      self->schedule_heartbeat();
    });
  }

  void schedule_sweep() {
    sweep_timer.expires_after(ttl / 4);
    sweep_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || !self->still_open())
        return;
      self->sweep();
      self->schedule_sweep();
    });
  }

  bool still_open() {
    std::lock_guard lock(mutex);
    return open;
  }

  void heartbeat() {
    if (!engine.connected())
      return;
    std::vector<std::vector<std::string>> commands;
    {
      std::lock_guard lock(mutex);
      for (const auto &[zkey, s] : scopes) {
        std::vector<std::string> args{"EVAL", heartbeat_script, "2",
                                      s.zkey, s.hkey,           std::to_string(ttl.count())};
        for (const auto &[session, member] : s.sessions) {
          args.push_back(entry(session, member));
          args.push_back(member);
          const auto st = s.status.find(member);
          args.push_back(st == s.status.end() ? std::string("online") : st->second);
        }
        commands.push_back(std::move(args));
      }
    }
    for (auto &args : commands) {
      const std::string key = args[3];
      engine.client().command(
          std::move(args), engine.executor(),
          [self = shared_from_this(), key](boost::system::error_code ec, redis_reply reply) {
            if (!ec && reply.is_error())
              self->usable(ec, reply, key); // counts it
          });
    }
  }

  void sweep() {
    if (!engine.connected())
      return;
    std::vector<local_scope> targets;
    {
      std::lock_guard lock(mutex);
      for (const auto &[zkey, s] : scopes)
        targets.push_back({s.plugin, s.scope, s.zkey, s.hkey, {}, {}});
    }
    for (auto &t : targets) {
      engine.client().command(
          {"EVAL", sweep_script, "2", t.zkey, t.hkey}, engine.executor(),
          [self = shared_from_this(), t](boost::system::error_code ec, redis_reply reply) {
            if (!self->usable(ec, reply, t.zkey))
              return;
            if (reply.elements[0].integer > 0)
              self->count_malformed_first(reply, t.zkey);
            for (auto &[member, status] : self->pairs(reply, 1, t.zkey))
              self->report({t.plugin, t.scope, member, status});
          });
    }
  }

  void count_malformed_first(const redis_reply &reply, const std::string &key) {
    for (long long i = 0; i < reply.elements[0].integer; ++i)
      refused(fault::malformed, "an entry not shaped <node>\\n<session>\\n<member> (" + key + ")");
  }
};

class cluster_presence final : public presence_service {
public:
  cluster_presence(cluster::cluster_engine &engine, std::chrono::milliseconds ttl,
                   metrics_registry &metrics, logger &log)
      : core_(std::make_shared<presence_core>(engine, ttl, metrics, log)) {
    core_->start_timers();
  }

  ~cluster_presence() override {
    {
      std::lock_guard lock(core_->mutex);
      core_->open = false;
      core_->gone = nullptr;
    }
    net::post(core_->engine.executor(), [core = core_] {
      core->heartbeat_timer.cancel();
      core->sweep_timer.cancel();
    });
  }

  void on_gone(gone_handler handler) override {
    std::lock_guard lock(core_->mutex);
    core_->gone = std::move(handler);
  }

  void join(std::string_view plugin, apistudio_session_id session, std::string_view scope,
            std::string_view member, std::string_view status, join_done done) override {
    const std::string zkey = key("presence:", plugin, scope);
    const std::string hkey = key("presence-status:", plugin, scope);
    bool replaces = false;
    {
      std::lock_guard lock(core_->mutex);
      const auto s = core_->scopes.find(zkey);
      if (s != core_->scopes.end()) {
        const auto m = s->second.sessions.find(session);
        replaces = m != s->second.sessions.end() && m->second != member;
      }
    }
    if (replaces) // joining again as another member: the old entry leaves first
      leave_key(zkey, session, false);
    presence_join_result local;
    std::string entry;
    {
      std::lock_guard lock(core_->mutex);
      auto &s = core_->scopes[zkey];
      if (s.zkey.empty())
        s = local_scope{std::string(plugin), std::string(scope), zkey, hkey, {}, {}};
      local.first_session = !s.has_member(member);
      if (local.first_session)
        s.status[std::string(member)] = std::string(status);
      for (const auto &[m, st] : s.status)
        if (m != member)
          local.others.emplace_back(m, st);
      local.complete = false;
      s.sessions[session] = std::string(member);
      core_->session_scopes[session].insert(zkey);
      entry = core_->entry(session, member);
    }
    auto &engine = core_->engine;
    if (!engine.connected()) {
      engine.note_fail_open("presence: the cluster engine is not connected");
      done(std::move(local));
      return;
    }
    engine.client().command(
        {"EVAL", core_->join_script, "2", zkey, hkey, entry, std::string(member),
         std::string(status), std::to_string(core_->ttl.count())},
        engine.executor(),
        [core = core_, zkey, local = std::move(local),
         done = std::move(done)](boost::system::error_code ec, redis_reply reply) mutable {
          if (!core->usable(ec, reply, zkey) || reply.elements.size() < 2) {
            done(std::move(local));
            return;
          }
          core->count_malformed(reply, zkey);
          presence_join_result result;
          result.first_session = reply.elements[0].integer == 1;
          result.others = core->pairs(reply, 2, zkey);
          std::sort(result.others.begin(), result.others.end());
          result.complete = true;
          done(std::move(result));
        });
  }

  bool set_status(std::string_view plugin, apistudio_session_id session, std::string_view scope,
                  std::string_view status) override {
    const std::string zkey = key("presence:", plugin, scope);
    std::string member;
    std::string hkey;
    {
      std::lock_guard lock(core_->mutex);
      const auto s = core_->scopes.find(zkey);
      if (s == core_->scopes.end())
        return false;
      const auto m = s->second.sessions.find(session);
      if (m == s->second.sessions.end())
        return false;
      member = m->second;
      hkey = s->second.hkey;
      s->second.status[member] = std::string(status);
    }
    auto &engine = core_->engine;
    if (engine.connected())
      engine.client().command(
          {"EVAL", core_->status_script, "2", zkey, hkey, member, std::string(status)},
          engine.executor(), [core = core_, zkey](boost::system::error_code ec, redis_reply r) {
            if (!ec && r.is_error())
              core->usable(ec, r, zkey);
          });
    return true;
  }

  void leave(std::string_view plugin, apistudio_session_id session,
             std::string_view scope) override {
    leave_key(key("presence:", plugin, scope), session, true);
  }

  void leave_all(apistudio_session_id session) override {
    std::set<std::string> keys;
    {
      std::lock_guard lock(core_->mutex);
      const auto it = core_->session_scopes.find(session);
      if (it == core_->session_scopes.end())
        return;
      keys = std::move(it->second);
      core_->session_scopes.erase(it);
    }
    for (const auto &zkey : keys)
      leave_key(zkey, session, false);
  }

private:
  std::string key(std::string_view kind, std::string_view plugin, std::string_view scope) const {
    std::string name(kind);
    name += std::to_string(plugin.size());
    name += ':';
    name += plugin;
    name += ':';
    name += scope;
    return core_->engine.key(name);
  }

  void leave_key(const std::string &zkey, apistudio_session_id session, bool forget_session) {
    presence_gone_event local_gone;
    bool gone_here = false;
    std::string hkey, entry, member;
    {
      std::lock_guard lock(core_->mutex);
      const auto s = core_->scopes.find(zkey);
      if (s == core_->scopes.end())
        return;
      const auto m = s->second.sessions.find(session);
      if (m == s->second.sessions.end())
        return;
      member = m->second;
      s->second.sessions.erase(m);
      hkey = s->second.hkey;
      entry = core_->entry(session, member);
      local_gone = {s->second.plugin, s->second.scope, member, s->second.status[member]};
      gone_here = !s->second.has_member(member);
      if (gone_here)
        s->second.status.erase(member);
      if (s->second.sessions.empty())
        core_->scopes.erase(s);
      if (forget_session) {
        if (auto k = core_->session_scopes.find(session); k != core_->session_scopes.end()) {
          k->second.erase(zkey);
          if (k->second.empty())
            core_->session_scopes.erase(k);
        }
      }
    }
    auto &engine = core_->engine;
    if (!engine.connected()) {
      // Decided here: the other hosts' sessions of the member are not known now.
      engine.note_fail_open("presence: the cluster engine is not connected");
      if (gone_here)
        core_->report(local_gone);
      return;
    }
    engine.client().command(
        {"EVAL", core_->leave_script, "2", zkey, hkey, entry, member}, engine.executor(),
        [core = core_, zkey, local_gone, gone_here](boost::system::error_code ec,
                                                    redis_reply reply) {
          if (!core->usable(ec, reply, zkey)) {
            if (gone_here)
              core->report(local_gone);
            return;
          }
          if (reply.elements[0].integer != 1)
            return; // another session of the member, here or elsewhere, is still in
          auto gone = local_gone;
          if (reply.elements.size() > 1 && reply.elements[1].kind == redis_reply::type::string &&
              !reply.elements[1].text.empty() && reply.elements[1].text.size() <= max_status_bytes)
            gone.status = reply.elements[1].text;
          core->report(gone);
        });
  }

  std::shared_ptr<presence_core> core_;
};

} // namespace

std::unique_ptr<presence_service> make_cluster_presence(cluster::cluster_engine &engine,
                                                        std::chrono::milliseconds ttl,
                                                        metrics_registry &metrics, logger &log) {
  return std::make_unique<cluster_presence>(engine, ttl, metrics, log);
}

} // namespace apistudio
