// plugin.hpp — the header-only C++ layer over plugin_abi.h.
//
// Derive from apistudio::sdk::plugin<State>, override the hooks you need, and export the class
// with
//     APISTUDIO_PLUGIN(my_plugin, "my_plugin", "1.0.0")
// in exactly one .cpp file. `State` is what the plugin keeps per session (omit it for none): the
// plugin's on_session_open creates it (the default one makes a default-constructed State), every
// hook of that session gets it (nullptr if none was made), and the SDK deletes it after
// on_session_close.
//
// A hook says no by returning sdk::refuse("CODE", "why"): the host answers the client with the
// protocol's own error event (see plugin_abi.h for what each hook's refusal becomes). Exceptions
// never cross into the host: a hook that throws is logged with the exception's text and hook name,
// and counts as verdict::fail (the host closes that session with 1011).
//
// Threading: hooks of one session never run concurrently; hooks of different sessions may.
// Anything a plugin shares between sessions (maps, counters) must be locked by the plugin.
// Lifetime: the plugin object lives from its constructor to on_destroy; the session, message and
// request objects passed into a hook are valid only during that hook.
#ifndef APISTUDIO_PLUGIN_HPP
#define APISTUDIO_PLUGIN_HPP

#include <apistudio/plugin_abi.h>
#include <apistudio/settings_error.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace apistudio::sdk {

using session_id = apistudio_session_id;

enum class verdict : int {
  continue_ = APISTUDIO_CONTINUE,
  handled = APISTUDIO_HANDLED,
  replace = APISTUDIO_REPLACE,
  reply = APISTUDIO_REPLY,
  close = APISTUDIO_CLOSE,
  fail = APISTUDIO_FAIL,
  refuse = APISTUDIO_REFUSE
};

enum class log_level : int {
  debug = APISTUDIO_LOG_DEBUG,
  info = APISTUDIO_LOG_INFO,
  warn = APISTUDIO_LOG_WARN,
  error = APISTUDIO_LOG_ERROR
};

enum class header_mode : int {
  overwrite = APISTUDIO_HEADER_OVERWRITE,
  append = APISTUDIO_HEADER_APPEND,
  if_absent = APISTUDIO_HEADER_IF_ABSENT
};

inline std::string_view view(apistudio_str s) noexcept {
  return s.data == nullptr ? std::string_view{} : std::string_view(s.data, s.size);
}
inline apistudio_str str(std::string_view s) noexcept { return {s.data(), s.size()}; }

// Why a hook said no. `code` is the protocol's error code the client sees (A-Z, 0-9, '_'; empty:
// the hook's default, PLUGIN_REFUSED); `http_status` matters only in on_session_open.
struct refusal {
  std::string code;
  std::string message;
  int http_status = 0;
};

// What a hook decides: a verdict, and for verdict::refuse the reason. Converts from both, so a
// hook returns `verdict::continue_` or `sdk::refuse(...)`.
class outcome {
public:
  outcome(verdict v) noexcept : decision_(v) {} // NOLINT: implicit by design
  outcome(refusal r)                            // NOLINT: implicit by design
      : decision_(verdict::refuse), refusal_(std::make_unique<refusal>(std::move(r))) {}
  verdict decision() const noexcept { return decision_; }
  const refusal *reason() const noexcept { return refusal_.get(); }

private:
  verdict decision_;
  std::unique_ptr<refusal> refusal_; // only for a refusal: the common path allocates nothing
};

inline refusal refuse(std::string code, std::string message, int http_status = 0) {
  return {std::move(code), std::move(message), http_status};
}

// A parsed upstream URL (the host parsed and validated it).
struct url {
  std::string_view scheme; // "ws" / "wss"
  std::string_view host;   // lower-cased, IPv6 without brackets
  std::uint32_t port = 0;  // explicit or the scheme's default
  std::string_view path;   // "/" at least
  std::string_view query;  // without '?'
};

inline url to_url(const apistudio_url &u) noexcept {
  return {view(u.scheme), view(u.host), u.port, view(u.path), view(u.query)};
}

// One member of a presence scope and its status.
struct presence_member {
  std::string member;
  std::string status;
};

// What host::join_presence completes with (owned copies: keep them as long as you like).
struct presence_snapshot {
  bool first_session = false;           // no other session of the member was in the scope
  std::vector<presence_member> members; // every other member, on every host, by member
  bool complete = true; // false: the cluster engine was not reached, this host's view only
};

// The host's services, bound to this plugin. Cheap to copy; valid until the plugin is destroyed.
// Every function may be called from any thread.
class host {
public:
  host(const apistudio_host_api *api, apistudio_plugin_host_ptr handle) noexcept
      : api_(api), handle_(handle) {}

  const apistudio_host_api &api() const noexcept { return *api_; }
  apistudio_plugin_host_ptr handle() const noexcept { return handle_; }

  bool log_enabled(log_level level) const noexcept {
    return api_->log_enabled(handle_, static_cast<apistudio_log_level>(level)) != 0;
  }
  void log(log_level level, std::string_view message) const noexcept {
    api_->log(handle_, static_cast<apistudio_log_level>(level), str(message));
  }
  bool send(session_id session, std::string_view data, bool binary = false) const noexcept {
    return api_->session_send(handle_, session, str(data),
                              binary ? APISTUDIO_FRAME_BINARY : APISTUDIO_FRAME_TEXT) != 0;
  }
  bool close(session_id session, int code, std::string_view reason) const noexcept {
    return api_->session_close(handle_, session, code, str(reason)) != 0;
  }

  // Runs `callback` after `delay_ms`, then every `interval_ms` (0: once). With a session id it
  // runs on that session's thread and ends with the session; with 0 on a host thread. Returns
  // the timer's id for cancel_timer, or 0 when nothing was started. The callback (and what it
  // captures) is destroyed when the timer can no longer fire, on any thread.
  std::uint64_t start_timer(session_id session, std::uint64_t delay_ms, std::uint64_t interval_ms,
                            std::function<void()> callback) const {
    auto *owned = new timer_callback{api_, handle_, std::move(callback)};
    return api_->timer_start(handle_, session, delay_ms, interval_ms, &run_timer, &release_timer,
                             owned);
  }
  void cancel_timer(std::uint64_t id) const noexcept { api_->timer_cancel(handle_, id); }

  bool subscribe(session_id session, std::string_view topic) const noexcept {
    return api_->bus_subscribe(handle_, session, str(topic)) != 0;
  }
  void unsubscribe(session_id session, std::string_view topic) const noexcept {
    api_->bus_unsubscribe(handle_, session, str(topic));
  }
  void publish(std::string_view topic, std::string_view payload) const noexcept {
    api_->bus_publish(handle_, str(topic), str(payload));
  }
  std::uint64_t now_ms() const noexcept { return api_->now_ms(handle_); }

  // ---- cluster-wide state (SDK 1.2; docs/plugin-sdk.md, "Shared counters and presence") ----

  // True when the host's table has the functions below (a 1.0 or 1.1 host's does not).
  bool has_cluster_services() const noexcept {
    return api_->struct_size >=
           offsetof(apistudio_host_api, presence_leave) + sizeof api_->presence_leave;
  }
  // True when the bus, presence and counters span every host (cluster.backend: redis).
  bool cluster_shared() const noexcept {
    return has_cluster_services() && api_->cluster_shared(handle_) != 0;
  }
  // Adds `delta` to `key`'s sliding-window count and returns the count of the last `window_ms`
  // as this host knows it (plugin_abi.h, counter_add). Never waits for the network. UINT64_MAX
  // for a window out of range, or on a host without the function.
  std::uint64_t count(std::string_view key, std::uint64_t window_ms,
                      std::uint64_t delta = 1) const noexcept {
    if (!has_cluster_services())
      return UINT64_MAX;
    return api_->counter_add(handle_, str(key), window_ms, delta);
  }
  // Puts `session` into `scope` as `member` with `status`; `done` runs once, on the session's
  // thread, with the snapshot — or with nullptr when the session ended first (or the join was
  // refused: then join_presence returns false). What `done` throws is logged and dropped.
  bool join_presence(session_id session, std::string_view scope, std::string_view member,
                     std::string_view status,
                     std::function<void(const presence_snapshot *)> done) const {
    auto *owned = new presence_callback{api_, handle_, std::move(done)};
    if (!has_cluster_services()) {
      run_presence(owned, session, nullptr);
      return false;
    }
    return api_->presence_join(handle_, session, str(scope), str(member), str(status),
                               &run_presence, owned) != 0;
  }
  bool set_presence_status(session_id session, std::string_view scope,
                           std::string_view status) const noexcept {
    return has_cluster_services() &&
           api_->presence_set_status(handle_, session, str(scope), str(status)) != 0;
  }
  void leave_presence(session_id session, std::string_view scope) const noexcept {
    if (has_cluster_services())
      api_->presence_leave(handle_, session, str(scope));
  }

private:
  struct presence_callback {
    const apistudio_host_api *api;
    apistudio_plugin_host_ptr handle;
    std::function<void(const presence_snapshot *)> run;
  };
  static void run_presence(void *data, apistudio_session_id,
                           const apistudio_presence_snapshot *snapshot) noexcept {
    std::unique_ptr<presence_callback> callback(static_cast<presence_callback *>(data));
    try {
      if (snapshot == nullptr) {
        if (callback->run)
          callback->run(nullptr);
        return;
      }
      presence_snapshot copy;
      copy.first_session = snapshot->first_session != 0;
      copy.complete = snapshot->complete != 0;
      copy.members.reserve(snapshot->member_count);
      for (std::size_t i = 0; i < snapshot->member_count; ++i)
        copy.members.push_back({std::string(view(snapshot->members[i].member)),
                                std::string(view(snapshot->members[i].status))});
      if (callback->run)
        callback->run(&copy);
    } catch (const std::exception &e) {
      log_throw(callback->api, callback->handle, "presence completion", e.what());
    } catch (...) {
      log_throw(callback->api, callback->handle, "presence completion",
                "an exception that is not a std::exception");
    }
  }

  struct timer_callback {
    const apistudio_host_api *api; // with `handle`: to log what the callback threw
    apistudio_plugin_host_ptr handle;
    std::function<void()> run;
  };
  // A timer has no one to answer, so what it throws is logged with its text and then dropped.
  static void run_timer(void *data) noexcept {
    auto *callback = static_cast<timer_callback *>(data);
    try {
      callback->run();
    } catch (const std::exception &e) {
      log_throw(callback->api, callback->handle, "timer callback", e.what());
    } catch (...) {
      log_throw(callback->api, callback->handle, "timer callback",
                "an exception that is not a std::exception");
    }
  }
  static void log_throw(const apistudio_host_api *api, apistudio_plugin_host_ptr handle,
                        const char *who, const char *what) noexcept {
    try {
      host(api, handle).log(log_level::error, std::string(who) + " threw: " + what);
    } catch (...) {
    }
  }
  static void release_timer(void *data) noexcept { delete static_cast<timer_callback *>(data); }

  const apistudio_host_api *api_;
  apistudio_plugin_host_ptr handle_;
};

// A counter or gauge of the plugin's own, exposed at GET /metrics as
// apistudio_plugin_<plugin>_<name> (docs/plugin-sdk.md, "Metrics"). Register it in the plugin's
// constructor (on_create); update it from any thread, without a lock. A refused one (bad name,
// too many, or a host older than the metrics functions) tests false and ignores updates; the
// host has logged why.
class metric {
public:
  metric() = default;
  explicit operator bool() const noexcept { return id_ != 0; }
  std::uint32_t id() const noexcept { return id_; }

  // True when the host's table has the metrics functions (a 1.0 host's does not).
  static bool supported(const apistudio_host_api &api) noexcept {
    return api.struct_size >= offsetof(apistudio_host_api, metric_set) + sizeof api.metric_set;
  }

protected:
  metric(const host &h, apistudio_metric_kind kind, std::string_view name, std::string_view help,
         std::string_view label_name) noexcept
      : api_(&h.api()), handle_(h.handle()) {
    if (supported(*api_))
      id_ = api_->metric_register(handle_, kind, str(name), str(help), str(label_name));
  }
  bool add_to(std::string_view label_value, std::int64_t delta) const noexcept {
    return id_ != 0 && api_->metric_add(handle_, id_, str(label_value), delta) != 0;
  }
  bool set_to(std::string_view label_value, std::int64_t value) const noexcept {
    return id_ != 0 && api_->metric_set(handle_, id_, str(label_value), value) != 0;
  }

private:
  const apistudio_host_api *api_ = nullptr;
  apistudio_plugin_host_ptr handle_ = nullptr;
  std::uint32_t id_ = 0;
};

// Only grows. With a label name, every add names the label's value.
class counter : public metric {
public:
  counter() = default;
  counter(const host &h, std::string_view name, std::string_view help,
          std::string_view label_name = {}) noexcept
      : metric(h, APISTUDIO_METRIC_COUNTER, name, help, label_name) {}
  bool add(std::int64_t n = 1) const noexcept { return add_to({}, n); }
  bool add(std::string_view label_value, std::int64_t n = 1) const noexcept {
    return add_to(label_value, n);
  }
};

// Goes up and down, or is set.
class gauge : public metric {
public:
  gauge() = default;
  gauge(const host &h, std::string_view name, std::string_view help,
        std::string_view label_name = {}) noexcept
      : metric(h, APISTUDIO_METRIC_GAUGE, name, help, label_name) {}
  bool add(std::int64_t n) const noexcept { return add_to({}, n); }
  bool add(std::string_view label_value, std::int64_t n) const noexcept {
    return add_to(label_value, n);
  }
  bool set(std::int64_t value) const noexcept { return set_to({}, value); }
  bool set(std::string_view label_value, std::int64_t value) const noexcept {
    return set_to(label_value, value);
  }
};

// A client socket, during a hook (valid only during that hook, on its thread).
class session {
public:
  session(const apistudio_host_api *api, apistudio_session_host_ptr s) noexcept
      : api_(api), s_(s) {}
  session_id id() const noexcept { return api_->session_id(s_); }
  std::string_view client_id() const noexcept { return attr(APISTUDIO_ATTR_CLIENT_ID); }
  std::string_view path() const noexcept { return attr(APISTUDIO_ATTR_PATH); }
  std::string_view query() const noexcept { return attr(APISTUDIO_ATTR_QUERY); }
  std::string_view remote_address() const noexcept { return attr(APISTUDIO_ATTR_REMOTE_ADDRESS); }
  std::string_view identity() const noexcept { return attr(APISTUDIO_ATTR_IDENTITY); }
  void set_identity(std::string_view id) noexcept { api_->session_set_identity(s_, str(id)); }

private:
  std::string_view attr(apistudio_session_attr a) const noexcept {
    return view(api_->session_attribute(s_, a));
  }
  const apistudio_host_api *api_;
  apistudio_session_host_ptr s_;
};

// A message travelling through the pipeline, during a message hook. payload() is a view into the
// host's buffer: no copy is made unless the plugin replaces it.
class message {
public:
  message(const apistudio_host_api *api, apistudio_message_host_ptr m) noexcept
      : api_(api), m_(m) {}
  std::string_view payload() const noexcept { return view(api_->message_payload(m_)); }
  bool is_binary() const noexcept { return api_->message_is_binary(m_) != 0; }
  // The upstream's connection_id (empty for the default upstream, and in on_client_message).
  std::string_view connection_id() const noexcept { return view(api_->message_connection_id(m_)); }
  // The send_message's request_id, in on_message_to_upstream.
  std::string_view request_id() const noexcept { return view(api_->message_request_id(m_)); }
  // Return verdict::replace after calling this (the host copies the bytes).
  void set_payload(std::string_view data) noexcept { api_->message_set_payload(m_, str(data)); }
  // Return verdict::reply after calling this.
  void set_reply(std::string_view data, bool binary = false) noexcept {
    api_->message_set_reply(m_, str(data), binary ? APISTUDIO_FRAME_BINARY : APISTUDIO_FRAME_TEXT);
  }
  // Return verdict::close after calling this (defaults: 1000, no reason).
  void set_close(int code, std::string_view reason) noexcept {
    api_->message_set_close(m_, code, str(reason));
  }

private:
  const apistudio_host_api *api_;
  apistudio_message_host_ptr m_;
};

struct header_view {
  std::string_view name;
  std::string_view value;
};

// The upstream handshake about to be sent, during on_upstream_connect.
class upstream_request {
public:
  upstream_request(const apistudio_host_api *api, apistudio_upstream_request_host_ptr r) noexcept
      : api_(api), r_(r) {}
  std::string_view url() const noexcept { return view(api_->upstream_request_url(r_)); }
  sdk::url url_parts() const noexcept { return to_url(api_->upstream_request_url_parts(r_)); }
  std::string_view connection_id() const noexcept {
    return view(api_->upstream_request_connection_id(r_));
  }
  std::vector<header_view> headers() const {
    std::vector<header_view> out;
    const std::size_t n = api_->upstream_request_header_count(r_);
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const apistudio_header h = api_->upstream_request_header_at(r_, i);
      out.push_back({view(h.name), view(h.value)});
    }
    return out;
  }
  std::vector<std::string_view> protocols() const {
    std::vector<std::string_view> out;
    const std::size_t n = api_->upstream_request_protocol_count(r_);
    for (std::size_t i = 0; i < n; ++i)
      out.push_back(view(api_->upstream_request_protocol_at(r_, i)));
    return out;
  }
  // False when the host refuses the header (invalid, or one of the handshake's own).
  bool set_header(std::string_view name, std::string_view value,
                  header_mode mode = header_mode::overwrite) noexcept {
    return api_->upstream_request_set_header(r_, str(name), str(value),
                                             static_cast<apistudio_header_mode>(mode)) != 0;
  }
  void remove_header(std::string_view name) noexcept {
    api_->upstream_request_remove_header(r_, str(name));
  }

private:
  const apistudio_host_api *api_;
  apistudio_upstream_request_host_ptr r_;
};

struct session_info {
  session_id id;
  std::string_view path;
  std::string_view query;
  std::string_view client_id;
  std::string_view remote_address;
  std::vector<header_view> headers;
  // Case-insensitive header look-up; empty when absent.
  std::string_view header(std::string_view name) const noexcept {
    for (const auto &h : headers) {
      if (h.name.size() != name.size())
        continue;
      bool same = true;
      for (std::size_t i = 0; i < name.size() && same; ++i) {
        char a = h.name[i], b = name[i];
        if (a >= 'A' && a <= 'Z')
          a = static_cast<char>(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
          b = static_cast<char>(b - 'A' + 'a');
        same = a == b;
      }
      if (same)
        return h.value;
    }
    return {};
  }
};

struct upstream_info {
  std::string_view connection_id;
  std::string_view url;
  sdk::url url_parts;
  std::string_view subprotocol;
  int close_code = 0;
  std::string_view close_reason;
};

// The State of a plugin that keeps nothing per session.
struct no_state {};

// Every plugin's non-template base: what the exporting code needs to know of any plugin.
class plugin_base {
public:
  explicit plugin_base(sdk::host h) noexcept : host_(h) {}
  virtual ~plugin_base() = default;
  plugin_base(const plugin_base &) = delete;
  plugin_base &operator=(const plugin_base &) = delete;

protected:
  const sdk::host &host() const noexcept { return host_; }

private:
  sdk::host host_;
};

template <class State = no_state> class plugin : public plugin_base {
public:
  using state_type = State;
  using plugin_base::plugin_base;

  // Before the upgrade; store the session's state in `state` (or leave it empty: the other hooks
  // then get nullptr). Without an override, a default-constructible State is made for every
  // session. Refusing answers the upgrade with the refusal's http_status (default 403).
  virtual outcome on_session_open(session &, const session_info &, std::unique_ptr<State> &state) {
    if constexpr (!std::is_same_v<State, no_state> && std::is_default_constructible_v<State>)
      state = std::make_unique<State>();
    return verdict::continue_;
  }
  // The session's last hook; the state is deleted right after it.
  virtual void on_session_close(session &, State *) {}
  // A frame from the client as it arrived (the JSON command on the proxy endpoint).
  virtual outcome on_client_message(session &, State *, message &) { return verdict::continue_; }
  // A send_message's decoded content, about to be written to its upstream.
  virtual outcome on_message_to_upstream(session &, State *, message &) {
    return verdict::continue_;
  }
  // What an upstream sent, decoded, before the host wraps it into message_received.
  virtual outcome on_message_from_upstream(session &, State *, message &) {
    return verdict::continue_;
  }
  virtual outcome on_upstream_connect(session &, State *, upstream_request &) {
    return verdict::continue_;
  }
  virtual void on_upstream_opened(session &, State *, const upstream_info &) {}
  virtual void on_upstream_closed(session &, State *, const upstream_info &) {}
  virtual void on_bus_message(session &, State *, std::string_view /*topic*/,
                              std::string_view /*payload*/) {}
  // New settings after a configuration reload (JSON, like the constructor's). Runs on the
  // reloading thread while this plugin's session hooks may be running on worker threads, so
  // publish them atomically (e.g. an immutable snapshot swapped under a mutex). Throw
  // settings_error to refuse them (the host keeps the old ones and rejects the reload). Without
  // an override the hook is not exported and the instance keeps its settings until a restart.
  virtual void on_settings(std::string_view /*settings_json*/) {}
  // SDK 1.2: `member` has no session left in presence scope `scope` on any host (it left, its
  // session ended, or its host died and its entries expired); `status` was its last. Called once
  // for the whole cluster, on a host thread, not a session's: announce it on the bus.
  virtual void on_presence_gone(std::string_view /*scope*/, std::string_view /*member*/,
                                std::string_view /*status*/) {}
};

namespace detail {

// The instance the host holds: the plugin object plus the host API it needs to build views.
template <class Plugin> struct instance {
  const apistudio_host_api *api;
  apistudio_plugin_host_ptr handle;
  std::unique_ptr<Plugin> object;
};

inline void refuse_with(const apistudio_host_api *api, apistudio_refusal_host_ptr refusal,
                        std::string_view code, std::string_view message,
                        std::uint32_t http_status = 0, std::string_view setting = {}) noexcept {
  apistudio_reason r{};
  r.struct_size = sizeof r;
  r.http_status = http_status;
  r.code = str(code);
  r.message = str(message);
  r.setting = str(setting);
  api->refuse(refusal, &r);
}

// Hands a hook's outcome to the host: the verdict, and the reason of a refusal.
inline apistudio_verdict deliver(const apistudio_host_api *api, apistudio_refusal_host_ptr refusal,
                                 const outcome &o) noexcept {
  if (const sdk::refusal *r = o.reason()) {
    refuse_with(api, refusal, r->code, r->message,
                r->http_status > 0 ? static_cast<std::uint32_t>(r->http_status) : 0u);
  }
  return static_cast<apistudio_verdict>(o.decision());
}

// Logs why a hook failed (the exception's own text) before the host logs what it does about it.
inline void log_failure(const apistudio_host_api *api, apistudio_plugin_host_ptr handle,
                        const char *hook, const char *what) noexcept {
  try {
    const std::string line = std::string(hook) + " threw: " + what;
    api->log(handle, APISTUDIO_LOG_ERROR, str(line));
  } catch (...) {
  }
}

// Runs a hook body; an exception becomes a log line with its text, and `on_throw`.
template <class Inst, class Fn, class R>
R guarded(const Inst *inst, const char *hook, R on_throw, Fn &&fn) noexcept {
  try {
    return fn();
  } catch (const std::exception &e) {
    log_failure(inst->api, inst->handle, hook, e.what());
  } catch (...) {
    log_failure(inst->api, inst->handle, hook, "an exception that is not a std::exception");
  }
  return on_throw;
}

inline upstream_info to_info(const apistudio_upstream_info *i) noexcept {
  return {view(i->connection_id), view(i->url),  to_url(i->url_parts),
          view(i->subprotocol),   i->close_code, view(i->close_reason)};
}

template <class Plugin> struct exports {
  static_assert(
      std::is_base_of_v<plugin_base, Plugin>,
      "APISTUDIO_PLUGIN(Class, ...): Class must derive from apistudio::sdk::plugin<State>");
  static_assert(std::is_constructible_v<Plugin, sdk::host, std::string_view>,
                "APISTUDIO_PLUGIN(Class, ...): Class needs a public constructor "
                "Class(apistudio::sdk::host, std::string_view settings_json)");
  using state = typename Plugin::state_type;
  using inst_t = instance<Plugin>;

  static inst_t *of(void *p) noexcept { return static_cast<inst_t *>(p); }
  static state *state_of(void *s) noexcept { return static_cast<state *>(s); }

  static void *create(const apistudio_host_api *api, apistudio_plugin_host_ptr handle,
                      apistudio_str settings, apistudio_refusal_host_ptr refusal) noexcept {
    try {
      auto inst = std::make_unique<inst_t>();
      inst->api = api;
      inst->handle = handle;
      inst->object = std::make_unique<Plugin>(sdk::host(api, handle), view(settings));
      return inst.release();
    } catch (const settings_error &e) {
      refuse_with(api, refusal, {}, e.what(), 0, e.pointer());
    } catch (const std::exception &e) {
      refuse_with(api, refusal, {}, e.what());
    } catch (...) {
      refuse_with(api, refusal, {}, "unknown exception while creating the plugin");
    }
    return nullptr;
  }
  static void destroy(void *p) noexcept {
    try {
      delete of(p);
    } catch (...) {
    }
  }
  static apistudio_verdict settings(void *p, apistudio_str json,
                                    apistudio_refusal_host_ptr refusal) noexcept {
    auto *inst = of(p);
    try {
      inst->object->on_settings(view(json));
      return APISTUDIO_CONTINUE;
    } catch (const settings_error &e) {
      refuse_with(inst->api, refusal, {}, e.what(), 0, e.pointer());
    } catch (const std::exception &e) {
      refuse_with(inst->api, refusal, {}, e.what());
    } catch (...) {
      refuse_with(inst->api, refusal, {}, "unknown exception while taking new settings");
    }
    return APISTUDIO_REFUSE;
  }
  static apistudio_verdict session_open(void *p, apistudio_session_host_ptr s,
                                        const apistudio_session_info *info, void **state_out,
                                        apistudio_refusal_host_ptr refusal) noexcept {
    auto *inst = of(p);
    return guarded(inst, "on_session_open", APISTUDIO_FAIL, [&] {
      session sess(inst->api, s);
      session_info si{info->session_id,      view(info->path),           view(info->query),
                      view(info->client_id), view(info->remote_address), {}};
      si.headers.reserve(info->header_count);
      for (std::size_t i = 0; i < info->header_count; ++i)
        si.headers.push_back({view(info->headers[i].name), view(info->headers[i].value)});
      std::unique_ptr<state> st;
      const outcome o = inst->object->on_session_open(sess, si, st);
      *state_out = st.release();
      return deliver(inst->api, refusal, o);
    });
  }
  static void session_close(void *p, apistudio_session_host_ptr s, void *st) noexcept {
    auto *inst = of(p);
    guarded(inst, "on_session_close", 0, [&] {
      session sess(inst->api, s);
      inst->object->on_session_close(sess, state_of(st));
      return 0;
    });
    delete state_of(st);
  }

  // The three message hooks share one shape.
  template <outcome (plugin<state>::*Hook)(session &, state *, message &)>
  static apistudio_verdict message_hook(const char *name, void *p, apistudio_session_host_ptr s,
                                        void *st, apistudio_message_host_ptr m,
                                        apistudio_refusal_host_ptr refusal) noexcept {
    auto *inst = of(p);
    return guarded(inst, name, APISTUDIO_FAIL, [&] {
      session sess(inst->api, s);
      message msg(inst->api, m);
      return deliver(inst->api, refusal, ((*inst->object).*Hook)(sess, state_of(st), msg));
    });
  }
  static apistudio_verdict client_message(void *p, apistudio_session_host_ptr s, void *st,
                                          apistudio_message_host_ptr m,
                                          apistudio_refusal_host_ptr r) noexcept {
    return message_hook<&plugin<state>::on_client_message>("on_client_message", p, s, st, m, r);
  }
  static apistudio_verdict to_upstream(void *p, apistudio_session_host_ptr s, void *st,
                                       apistudio_message_host_ptr m,
                                       apistudio_refusal_host_ptr r) noexcept {
    return message_hook<&plugin<state>::on_message_to_upstream>("on_message_to_upstream", p, s, st,
                                                                m, r);
  }
  static apistudio_verdict from_upstream(void *p, apistudio_session_host_ptr s, void *st,
                                         apistudio_message_host_ptr m,
                                         apistudio_refusal_host_ptr r) noexcept {
    return message_hook<&plugin<state>::on_message_from_upstream>("on_message_from_upstream", p, s,
                                                                  st, m, r);
  }
  static apistudio_verdict upstream_connect(void *p, apistudio_session_host_ptr s, void *st,
                                            apistudio_upstream_request_host_ptr r,
                                            apistudio_refusal_host_ptr refusal) noexcept {
    auto *inst = of(p);
    return guarded(inst, "on_upstream_connect", APISTUDIO_FAIL, [&] {
      session sess(inst->api, s);
      upstream_request req(inst->api, r);
      return deliver(inst->api, refusal,
                     inst->object->on_upstream_connect(sess, state_of(st), req));
    });
  }
  static void upstream_opened(void *p, apistudio_session_host_ptr s, void *st,
                              const apistudio_upstream_info *i) noexcept {
    auto *inst = of(p);
    guarded(inst, "on_upstream_opened", 0, [&] {
      session sess(inst->api, s);
      inst->object->on_upstream_opened(sess, state_of(st), to_info(i));
      return 0;
    });
  }
  static void upstream_closed(void *p, apistudio_session_host_ptr s, void *st,
                              const apistudio_upstream_info *i) noexcept {
    auto *inst = of(p);
    guarded(inst, "on_upstream_closed", 0, [&] {
      session sess(inst->api, s);
      inst->object->on_upstream_closed(sess, state_of(st), to_info(i));
      return 0;
    });
  }
  static void presence_gone(void *p, apistudio_str scope, apistudio_str member,
                            apistudio_str status) noexcept {
    auto *inst = of(p);
    guarded(inst, "on_presence_gone", 0, [&] {
      inst->object->on_presence_gone(view(scope), view(member), view(status));
      return 0;
    });
  }
  static void bus_message(void *p, apistudio_session_host_ptr s, void *st, apistudio_str topic,
                          apistudio_str payload) noexcept {
    auto *inst = of(p);
    guarded(inst, "on_bus_message", 0, [&] {
      session sess(inst->api, s);
      inst->object->on_bus_message(sess, state_of(st), view(topic), view(payload));
      return 0;
    });
  }

  // A hook the plugin does not override is exported as NULL, which the host skips at no cost: a
  // plugin pays per message only for the hooks it has. `&Plugin::hook` names the base's member
  // (and has the base's member-pointer type) exactly when no class from Plugin down overrides it.
  template <class Overridden, class Inherited>
  static constexpr bool overrides = !std::is_same_v<Overridden, Inherited>;
#define APISTUDIO_SDK_HOOK_IF_OVERRIDDEN(hook, exported)                                           \
  (overrides<decltype(&Plugin::hook), decltype(&plugin<state>::hook)> ? &exported : nullptr)
  // The state needs the session hooks even without an override: the default on_session_open
  // makes it, and session_close deletes it.
  static constexpr bool keeps_state = !std::is_same_v<state, no_state>;

  static const apistudio_plugin_descriptor *descriptor(std::string_view name,
                                                       std::string_view version) noexcept {
    static const apistudio_plugin_descriptor d = {
        sizeof(apistudio_plugin_descriptor),
        APISTUDIO_SDK_ABI_VERSION,
        str(name),
        str(version),
        &create,
        &destroy,
        keeps_state ? &session_open
                    : APISTUDIO_SDK_HOOK_IF_OVERRIDDEN(on_session_open, session_open),
        keeps_state ? &session_close
                    : APISTUDIO_SDK_HOOK_IF_OVERRIDDEN(on_session_close, session_close),
        APISTUDIO_SDK_HOOK_IF_OVERRIDDEN(on_client_message, client_message),
        APISTUDIO_SDK_HOOK_IF_OVERRIDDEN(on_message_to_upstream, to_upstream),
        APISTUDIO_SDK_HOOK_IF_OVERRIDDEN(on_message_from_upstream, from_upstream),
        APISTUDIO_SDK_HOOK_IF_OVERRIDDEN(on_upstream_connect, upstream_connect),
        APISTUDIO_SDK_HOOK_IF_OVERRIDDEN(on_upstream_opened, upstream_opened),
        APISTUDIO_SDK_HOOK_IF_OVERRIDDEN(on_upstream_closed, upstream_closed),
        APISTUDIO_SDK_HOOK_IF_OVERRIDDEN(on_bus_message, bus_message),
        APISTUDIO_SDK_HOOK_IF_OVERRIDDEN(on_settings, settings),
        APISTUDIO_SDK_HOOK_IF_OVERRIDDEN(on_presence_gone, presence_gone),
    };
#undef APISTUDIO_SDK_HOOK_IF_OVERRIDDEN
    return &d;
  }
};

} // namespace detail
} // namespace apistudio::sdk

// Export `Class` (derived from apistudio::sdk::plugin<State>, constructible from
// (apistudio::sdk::host, std::string_view settings_json)) as this library's plugin. Name and
// Version are string literals.
#define APISTUDIO_PLUGIN(Class, Name, Version)                                                     \
  extern "C" APISTUDIO_EXPORT uint32_t apistudio_plugin_abi_version(void) {                        \
    return APISTUDIO_SDK_ABI_VERSION;                                                              \
  }                                                                                                \
  extern "C" APISTUDIO_EXPORT const apistudio_plugin_descriptor *apistudio_plugin_descriptor_v1(   \
      void) {                                                                                      \
    return ::apistudio::sdk::detail::exports<Class>::descriptor(Name, Version);                    \
  }

#endif // APISTUDIO_PLUGIN_HPP
