// plugin.hpp — the header-only C++ layer over plugin_abi.h.
//
// Derive from apistudio::sdk::plugin, override the hooks you need, and export it with
//     APISTUDIO_PLUGIN(my_plugin, "my_plugin", "1.0.0")
// in exactly one .cpp file. The macro generates the two C entry points; every hook call goes
// through a wrapper that catches exceptions, so none crosses the C boundary: a throwing hook
// becomes APISTUDIO_FAIL (the host closes that session with 1011 and logs the plugin's name).
//
// Threading: hooks for one session never run concurrently; hooks for different sessions may.
// Anything a plugin shares between sessions (maps, counters) must be locked by the plugin.
// Lifetime: the plugin object lives from on_create to on_destroy; references passed into a hook
// (session, message, request) are valid only during that hook.
#ifndef APISTUDIO_PLUGIN_HPP
#define APISTUDIO_PLUGIN_HPP

#include <apistudio/plugin_abi.h>
#include <apistudio/settings_error.hpp>

#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace apistudio::sdk {

using session_id = apistudio_session_id;

enum class verdict : int {
  continue_ = APISTUDIO_CONTINUE,
  drop = APISTUDIO_DROP,
  replace = APISTUDIO_REPLACE,
  reply = APISTUDIO_REPLY,
  close = APISTUDIO_CLOSE,
  fail = APISTUDIO_FAIL
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

inline std::string_view view(apistudio_str s) noexcept { return {s.data, s.size}; }

// The host's services, bound to this plugin. Cheap to copy; valid until the plugin is destroyed.
class host {
public:
  host(const apistudio_host_api *api, apistudio_plugin_handle *handle) noexcept
      : api_(api), handle_(handle) {}

  const apistudio_host_api &api() const noexcept { return *api_; }
  apistudio_plugin_handle *handle() const noexcept { return handle_; }

  bool log_enabled(log_level level) const noexcept {
    return api_->log_enabled(handle_, static_cast<apistudio_log_level>(level)) != 0;
  }
  void log(log_level level, std::string_view message) const noexcept {
    api_->log(handle_, static_cast<apistudio_log_level>(level), message.data(), message.size());
  }
  bool send(session_id session, std::string_view data, bool binary = false) const noexcept {
    return api_->session_send(handle_, session, data.data(), data.size(),
                              binary ? APISTUDIO_FRAME_BINARY : APISTUDIO_FRAME_TEXT) != 0;
  }
  bool close(session_id session, int code, std::string_view reason) const noexcept {
    return api_->session_close(handle_, session, code, reason.data(), reason.size()) != 0;
  }
  // Timer callbacks are plain functions; see apistudio_host_api.timer_start for the rules.
  std::uint64_t start_timer(session_id session, std::uint64_t delay_ms, std::uint64_t interval_ms,
                            apistudio_timer_fn fn, void *user_data) const noexcept {
    return api_->timer_start(handle_, session, delay_ms, interval_ms, fn, user_data);
  }
  void cancel_timer(std::uint64_t id) const noexcept { api_->timer_cancel(handle_, id); }
  bool subscribe(session_id session, std::string_view topic) const noexcept {
    return api_->bus_subscribe(handle_, session, topic.data(), topic.size()) != 0;
  }
  void unsubscribe(session_id session, std::string_view topic) const noexcept {
    api_->bus_unsubscribe(handle_, session, topic.data(), topic.size());
  }
  void publish(std::string_view topic, std::string_view payload) const noexcept {
    api_->bus_publish(handle_, topic.data(), topic.size(), payload.data(), payload.size());
  }
  std::uint64_t now_ms() const noexcept { return api_->now_ms(handle_); }

private:
  const apistudio_host_api *api_;
  apistudio_plugin_handle *handle_;
};

// A client socket, during a hook.
class session {
public:
  session(const apistudio_host_api *api, apistudio_session *s) noexcept : api_(api), s_(s) {}
  session_id id() const noexcept { return api_->session_id(s_); }
  std::string_view client_id() const noexcept { return attr(APISTUDIO_ATTR_CLIENT_ID); }
  std::string_view path() const noexcept { return attr(APISTUDIO_ATTR_PATH); }
  std::string_view query() const noexcept { return attr(APISTUDIO_ATTR_QUERY); }
  std::string_view remote_address() const noexcept { return attr(APISTUDIO_ATTR_REMOTE_ADDRESS); }
  std::string_view identity() const noexcept { return attr(APISTUDIO_ATTR_IDENTITY); }
  void set_identity(std::string_view id) noexcept {
    api_->session_set_identity(s_, id.data(), id.size());
  }

private:
  std::string_view attr(apistudio_session_attr a) const noexcept {
    return view(api_->session_attribute(s_, a));
  }
  const apistudio_host_api *api_;
  apistudio_session *s_;
};

// A frame travelling through the pipeline, during a message hook. payload() is a view into the
// host's buffer: no copy is made unless the plugin replaces it.
class message {
public:
  message(const apistudio_host_api *api, apistudio_message *m) noexcept : api_(api), m_(m) {}
  std::string_view payload() const noexcept { return view(api_->message_payload(m_)); }
  bool is_binary() const noexcept { return api_->message_is_binary(m_) != 0; }
  // The upstream's connection_id on the upstream side (empty for the default upstream).
  std::string_view connection_id() const noexcept { return view(api_->message_connection_id(m_)); }
  // Return verdict::replace after calling this.
  void set_payload(std::string_view data) noexcept {
    api_->message_set_payload(m_, data.data(), data.size());
  }
  // Return verdict::reply after calling this.
  void set_reply(std::string_view data, bool binary = false) noexcept {
    api_->message_set_reply(m_, data.data(), data.size(),
                            binary ? APISTUDIO_FRAME_BINARY : APISTUDIO_FRAME_TEXT);
  }
  // Return verdict::close after calling this (defaults: 1000, no reason).
  void set_close(int code, std::string_view reason) noexcept {
    api_->message_set_close(m_, code, reason.data(), reason.size());
  }

private:
  const apistudio_host_api *api_;
  apistudio_message *m_;
};

struct header_view {
  std::string_view name;
  std::string_view value;
};

// The upstream handshake about to be sent, during on_upstream_connect.
class upstream_request {
public:
  upstream_request(const apistudio_host_api *api, apistudio_upstream_request *r) noexcept
      : api_(api), r_(r) {}
  std::string_view url() const noexcept { return view(api_->upstream_request_url(r_)); }
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
  bool set_header(std::string_view name, std::string_view value,
                  header_mode mode = header_mode::overwrite) noexcept {
    return api_->upstream_request_set_header(r_, name.data(), name.size(), value.data(),
                                             value.size(),
                                             static_cast<apistudio_header_mode>(mode)) != 0;
  }
  void remove_header(std::string_view name) noexcept {
    api_->upstream_request_remove_header(r_, name.data(), name.size());
  }
  // Return verdict::close (or drop) after calling this; the client gets connection_error.
  void deny(const std::string &code, const std::string &message) noexcept {
    api_->upstream_request_deny(r_, code.c_str(), message.c_str());
  }

private:
  const apistudio_host_api *api_;
  apistudio_upstream_request *r_;
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
  std::string_view subprotocol;
  int close_code = 0;
  std::string_view close_reason;
};

// What on_session_open decides.
struct open_result {
  int http_status = 0; // non-zero refuses the upgrade with this status
  std::string message; // goes into the JSON error body
  static open_result accept() { return {}; }
  static open_result reject(int status, std::string why) { return {status, std::move(why)}; }
};

// Per-session state a plugin keeps; destroyed by the host after on_session_close.
struct session_state {
  virtual ~session_state() = default;
};

class plugin {
public:
  explicit plugin(sdk::host h) : host_(h) {}
  virtual ~plugin() = default;
  plugin(const plugin &) = delete;
  plugin &operator=(const plugin &) = delete;

  virtual open_result on_session_open(session &, const session_info &,
                                      std::unique_ptr<session_state> &) {
    return open_result::accept();
  }
  virtual void on_session_close(session_id, session_state *) {}
  virtual verdict on_client_message(session &, session_state *, message &) {
    return verdict::continue_;
  }
  virtual verdict on_upstream_connect(session &, session_state *, upstream_request &) {
    return verdict::continue_;
  }
  virtual void on_upstream_opened(session &, session_state *, const upstream_info &) {}
  virtual void on_upstream_closed(session &, session_state *, const upstream_info &) {}
  virtual verdict on_upstream_message(session &, session_state *, message &) {
    return verdict::continue_;
  }
  virtual void on_bus_message(session &, session_state *, std::string_view /*topic*/,
                              std::string_view /*payload*/) {}

protected:
  const sdk::host &host() const noexcept { return host_; }

private:
  sdk::host host_;
};

namespace detail {

// The instance the host holds: the plugin object plus the host API it needs to build views.
struct instance {
  const apistudio_host_api *api;
  std::unique_ptr<plugin> object;
};

inline void copy_message(char *out, std::size_t size, const char *text) noexcept {
  if (out == nullptr || size == 0)
    return;
  std::size_t n = std::strlen(text);
  if (n >= size)
    n = size - 1;
  std::memcpy(out, text, n);
  out[n] = '\0';
}

inline upstream_info to_info(const apistudio_upstream_info *i) noexcept {
  return {view(i->connection_id), view(i->url), view(i->subprotocol), i->close_code,
          view(i->close_reason)};
}

template <class Fn> apistudio_verdict guarded(const apistudio_host_api *api, Fn &&fn) noexcept {
  (void)api;
  try {
    return static_cast<apistudio_verdict>(fn());
  } catch (...) {
    return APISTUDIO_FAIL;
  }
}

template <class Plugin> struct exports {
  static void *create(const apistudio_host_api *api, apistudio_plugin_handle *handle,
                      const char *settings, std::size_t size, char *error,
                      std::size_t error_size) noexcept {
    try {
      auto inst = std::make_unique<instance>();
      inst->api = api;
      inst->object = std::make_unique<Plugin>(host(api, handle), std::string_view(settings, size));
      return inst.release();
    } catch (const std::exception &e) {
      copy_message(error, error_size, e.what());
    } catch (...) {
      copy_message(error, error_size, "unknown exception while creating the plugin");
    }
    return nullptr;
  }
  static void destroy(void *p) noexcept {
    try {
      delete static_cast<instance *>(p);
    } catch (...) {
    }
  }
  static apistudio_verdict session_open(void *p, apistudio_session *s,
                                        const apistudio_session_info *info, void **state,
                                        apistudio_rejection *rej) noexcept {
    auto *inst = static_cast<instance *>(p);
    try {
      session sess(inst->api, s);
      session_info si{info->session_id,      view(info->path),           view(info->query),
                      view(info->client_id), view(info->remote_address), {}};
      si.headers.reserve(info->header_count);
      for (std::size_t i = 0; i < info->header_count; ++i)
        si.headers.push_back({view(info->headers[i].name), view(info->headers[i].value)});
      std::unique_ptr<session_state> st;
      open_result r = inst->object->on_session_open(sess, si, st);
      *state = st.release();
      if (r.http_status != 0) {
        rej->http_status = r.http_status;
        copy_message(rej->message, sizeof rej->message, r.message.c_str());
      }
      return APISTUDIO_CONTINUE;
    } catch (...) {
      return APISTUDIO_FAIL;
    }
  }
  static void session_close(void *p, apistudio_session_id id, void *state) noexcept {
    auto *inst = static_cast<instance *>(p);
    auto *st = static_cast<session_state *>(state);
    try {
      inst->object->on_session_close(id, st);
    } catch (...) {
    }
    delete st;
  }
  static apistudio_verdict client_message(void *p, apistudio_session *s, void *state,
                                          apistudio_message *m) noexcept {
    auto *inst = static_cast<instance *>(p);
    return guarded(inst->api, [&] {
      session sess(inst->api, s);
      message msg(inst->api, m);
      return inst->object->on_client_message(sess, static_cast<session_state *>(state), msg);
    });
  }
  static apistudio_verdict upstream_connect(void *p, apistudio_session *s, void *state,
                                            apistudio_upstream_request *r) noexcept {
    auto *inst = static_cast<instance *>(p);
    return guarded(inst->api, [&] {
      session sess(inst->api, s);
      upstream_request req(inst->api, r);
      return inst->object->on_upstream_connect(sess, static_cast<session_state *>(state), req);
    });
  }
  static void upstream_opened(void *p, apistudio_session *s, void *state,
                              const apistudio_upstream_info *i) noexcept {
    auto *inst = static_cast<instance *>(p);
    try {
      session sess(inst->api, s);
      inst->object->on_upstream_opened(sess, static_cast<session_state *>(state), to_info(i));
    } catch (...) {
    }
  }
  static void upstream_closed(void *p, apistudio_session *s, void *state,
                              const apistudio_upstream_info *i) noexcept {
    auto *inst = static_cast<instance *>(p);
    try {
      session sess(inst->api, s);
      inst->object->on_upstream_closed(sess, static_cast<session_state *>(state), to_info(i));
    } catch (...) {
    }
  }
  static apistudio_verdict upstream_message(void *p, apistudio_session *s, void *state,
                                            apistudio_message *m) noexcept {
    auto *inst = static_cast<instance *>(p);
    return guarded(inst->api, [&] {
      session sess(inst->api, s);
      message msg(inst->api, m);
      return inst->object->on_upstream_message(sess, static_cast<session_state *>(state), msg);
    });
  }
  static void bus_message(void *p, apistudio_session *s, void *state, apistudio_str topic,
                          apistudio_str payload) noexcept {
    auto *inst = static_cast<instance *>(p);
    try {
      session sess(inst->api, s);
      inst->object->on_bus_message(sess, static_cast<session_state *>(state), view(topic),
                                   view(payload));
    } catch (...) {
    }
  }

  static const apistudio_plugin_descriptor *descriptor(const char *name,
                                                       const char *version) noexcept {
    static const apistudio_plugin_descriptor d = {
        sizeof(apistudio_plugin_descriptor),
        APISTUDIO_SDK_ABI_VERSION,
        name,
        version,
        &create,
        &destroy,
        &session_open,
        &session_close,
        &client_message,
        &upstream_connect,
        &upstream_opened,
        &upstream_closed,
        &upstream_message,
        &bus_message,
    };
    return &d;
  }
};

} // namespace detail
} // namespace apistudio::sdk

// Export `Class` (derived from apistudio::sdk::plugin, constructible from
// (apistudio::sdk::host, std::string_view settings_json)) as this library's plugin.
#define APISTUDIO_PLUGIN(Class, Name, Version)                                                     \
  extern "C" APISTUDIO_EXPORT uint32_t apistudio_plugin_abi_version(void) {                        \
    return APISTUDIO_SDK_ABI_VERSION;                                                              \
  }                                                                                                \
  extern "C" APISTUDIO_EXPORT const apistudio_plugin_descriptor *apistudio_plugin_descriptor_v1(   \
      void) {                                                                                      \
    return ::apistudio::sdk::detail::exports<Class>::descriptor(Name, Version);                    \
  }

#endif // APISTUDIO_PLUGIN_HPP
