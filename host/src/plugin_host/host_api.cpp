// host_api.cpp — the apistudio_host_api table: the services the host offers plugins.
//
// Every function tolerates what a C caller may pass (NULL handle, NULL data with size 0, an
// out-of-range index or enum) and never throws: an exception must not cross the C boundary, so
// anything that may allocate is wrapped.
#include "plugin_host/plugin_runtime_impl.hpp"

#include "base/utf8_truncate.hpp"
#include "protocol/upstream_target.hpp" // is_valid_header_name / is_valid_header_value

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstddef>
#include <functional>

namespace apistudio {

namespace {

constexpr std::size_t max_identity_bytes = 1024;
constexpr std::size_t max_close_reason_bytes = 123; // RFC 6455: 125-byte control payload - code
constexpr std::size_t max_refusal_code_bytes = 64;
constexpr std::size_t max_refusal_message_bytes = 1024;
constexpr std::size_t max_setting_pointer_bytes = 1024;

std::string_view view(apistudio_str s) noexcept {
  return s.data == nullptr ? std::string_view{} : std::string_view(s.data, s.size);
}
apistudio_str to_str(std::string_view s) noexcept { return {s.data(), s.size()}; }

session_context &context_of(apistudio_session *s) noexcept {
  return *reinterpret_cast<session_context *>(s);
}
hook_message &message_of(apistudio_message *m) noexcept {
  return *reinterpret_cast<hook_message *>(m);
}
upstream_request_data &request_of(apistudio_upstream_request *r) noexcept {
  return *reinterpret_cast<upstream_request_data *>(r);
}
hook_refusal &refusal_of(apistudio_refusal *r) noexcept {
  return *reinterpret_cast<hook_refusal *>(r);
}

log_level to_level(apistudio_log_level level) noexcept {
  switch (level) {
  case APISTUDIO_LOG_DEBUG:
    return log_level::debug;
  case APISTUDIO_LOG_INFO:
    return log_level::info;
  case APISTUDIO_LOG_WARN:
    return log_level::warn;
  case APISTUDIO_LOG_ERROR:
    return log_level::error;
  }
  return log_level::error; // an unknown level is not silently lost
}

// Codes an endpoint may send (RFC 6455 7.4); anything else becomes a normal closure.
int sendable_close_code(int code) noexcept {
  const bool defined = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
  const bool application = code >= 3000 && code <= 4999;
  return defined || application ? code : 1000;
}

// std::less_equal: a total order even for pointers into different objects.
bool lies_within(std::string_view part, std::string_view whole) noexcept {
  const std::less_equal<const char *> at_or_before;
  return !part.empty() && at_or_before(whole.data(), part.data()) &&
         at_or_before(part.data() + part.size(), whole.data() + whole.size());
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

// The handshake belongs to the host: a plugin adding a second Host or its own Sec-WebSocket-Key
// would break the upgrade or smuggle a different target past the egress policy.
bool is_reserved_header(std::string_view name) noexcept {
  constexpr std::string_view ws_prefix = "sec-websocket-";
  return iequals(name, "host") || iequals(name, "upgrade") || iequals(name, "connection") ||
         (name.size() >= ws_prefix.size() && iequals(name.substr(0, ws_prefix.size()), ws_prefix));
}

// ---- logging --------------------------------------------------------------------------------

void host_log(apistudio_plugin_handle *plugin, apistudio_log_level level, apistudio_str message) {
  if (plugin == nullptr)
    return;
  const log_level l = to_level(level);
  if (!plugin->log->enabled(l))
    return;
  try {
    plugin->log->log(l, plugin->log_component, view(message), plugin_log_fields(*plugin));
  } catch (...) {
  }
}

int host_log_enabled(apistudio_plugin_handle *plugin, apistudio_log_level level) {
  return plugin != nullptr && plugin->log->enabled(to_level(level)) ? 1 : 0;
}

// ---- refusals, during a hook --------------------------------------------------------------------

// A code goes into JSON events verbatim and clients switch on it: only the documented shape.
bool is_valid_code(std::string_view code) noexcept {
  return !code.empty() && code.size() <= max_refusal_code_bytes &&
         std::all_of(code.begin(), code.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
         });
}

void host_refuse(apistudio_refusal *refusal, const apistudio_reason *reason) {
  if (refusal == nullptr || reason == nullptr)
    return;
  // A reason from an older minor SDK is shorter: read only what its struct_size covers.
  auto covers = [reason](std::size_t end) { return reason->struct_size >= end; };
  hook_refusal &r = refusal_of(refusal);
  try {
    r = hook_refusal{};
    if (covers(offsetof(apistudio_reason, http_status) + sizeof reason->http_status))
      r.http_status = reason->http_status;
    if (covers(offsetof(apistudio_reason, code) + sizeof reason->code) &&
        is_valid_code(view(reason->code)))
      r.code.assign(view(reason->code));
    if (covers(offsetof(apistudio_reason, message) + sizeof reason->message))
      r.message.assign(truncate_utf8(view(reason->message), max_refusal_message_bytes));
    if (covers(offsetof(apistudio_reason, setting) + sizeof reason->setting))
      r.setting.assign(truncate_utf8(view(reason->setting), max_setting_pointer_bytes));
  } catch (...) {
  }
}

// ---- session, during a hook -------------------------------------------------------------------

apistudio_session_id host_session_id(apistudio_session *session) {
  return session == nullptr ? 0 : context_of(session).id;
}

apistudio_str host_session_attribute(apistudio_session *session, apistudio_session_attr attr) {
  if (session == nullptr)
    return {};
  const session_context &ctx = context_of(session);
  switch (attr) {
  case APISTUDIO_ATTR_CLIENT_ID:
    return to_str(ctx.client_id);
  case APISTUDIO_ATTR_PATH:
    return to_str(ctx.path);
  case APISTUDIO_ATTR_REMOTE_ADDRESS:
    return to_str(ctx.remote_address);
  case APISTUDIO_ATTR_IDENTITY:
    return to_str(ctx.identity);
  case APISTUDIO_ATTR_QUERY:
    return to_str(ctx.query);
  }
  return {};
}

void host_session_set_identity(apistudio_session *session, apistudio_str identity) {
  if (session == nullptr)
    return;
  try {
    context_of(session).identity.assign(truncate_utf8(view(identity), max_identity_bytes));
  } catch (...) {
  }
}

// ---- message, during a message hook -----------------------------------------------------------

apistudio_str host_message_payload(apistudio_message *message) {
  return message == nullptr ? apistudio_str{} : to_str(message_of(message).payload);
}

int host_message_is_binary(apistudio_message *message) {
  return message != nullptr && message_of(message).binary ? 1 : 0;
}

apistudio_str host_message_connection_id(apistudio_message *message) {
  return message == nullptr ? apistudio_str{} : to_str(message_of(message).connection_id);
}

apistudio_str host_message_request_id(apistudio_message *message) {
  return message == nullptr ? apistudio_str{} : to_str(message_of(message).request_id);
}

void host_message_set_payload(apistudio_message *message, apistudio_str payload) {
  if (message == nullptr)
    return;
  hook_message &m = message_of(message);
  try {
    // assign() copes with `data` pointing into `replacement` itself (a plugin trimming the
    // payload it got from message_payload after an earlier REPLACE).
    m.replacement.assign(view(payload));
    m.payload = m.replacement;
    m.replaced = true;
  } catch (...) {
  }
}

void host_message_set_reply(apistudio_message *message, apistudio_str payload,
                            apistudio_frame_kind kind) {
  if (message == nullptr)
    return;
  hook_message &m = message_of(message);
  try {
    m.reply.assign(view(payload));
    m.reply_binary = kind == APISTUDIO_FRAME_BINARY;
  } catch (...) {
  }
}

void host_message_set_close(apistudio_message *message, int close_code, apistudio_str reason) {
  if (message == nullptr)
    return;
  hook_message &m = message_of(message);
  m.close_code = sendable_close_code(close_code);
  try {
    m.close_reason.assign(truncate_utf8(view(reason), max_close_reason_bytes));
  } catch (...) {
  }
}

// ---- upstream request, during on_upstream_connect ---------------------------------------------

apistudio_str host_request_url(apistudio_upstream_request *request) {
  return request == nullptr ? apistudio_str{} : to_str(request_of(request).url);
}

apistudio_url host_request_url_parts(apistudio_upstream_request *request) {
  return request == nullptr ? apistudio_url{} : upstream_url_parts(request_of(request).target);
}

apistudio_str host_request_connection_id(apistudio_upstream_request *request) {
  return request == nullptr ? apistudio_str{} : to_str(request_of(request).connection_id);
}

std::size_t host_request_header_count(apistudio_upstream_request *request) {
  return request == nullptr ? 0 : request_of(request).headers.size();
}

apistudio_header host_request_header_at(apistudio_upstream_request *request, std::size_t index) {
  if (request == nullptr)
    return {};
  const auto &headers = request_of(request).headers;
  if (index >= headers.size())
    return {};
  return {to_str(headers[index].first), to_str(headers[index].second)};
}

std::size_t host_request_protocol_count(apistudio_upstream_request *request) {
  return request == nullptr ? 0 : request_of(request).protocols.size();
}

apistudio_str host_request_protocol_at(apistudio_upstream_request *request, std::size_t index) {
  if (request == nullptr)
    return {};
  const auto &protocols = request_of(request).protocols;
  return index < protocols.size() ? to_str(protocols[index]) : apistudio_str{};
}

int host_request_set_header(apistudio_upstream_request *request, apistudio_str name,
                            apistudio_str value, apistudio_header_mode mode) {
  if (request == nullptr)
    return 0;
  const std::string_view n = view(name);
  const std::string_view v = view(value);
  if (!is_valid_header_name(n) || !is_valid_header_value(v) || is_reserved_header(n))
    return 0;
  if (mode != APISTUDIO_HEADER_OVERWRITE && mode != APISTUDIO_HEADER_APPEND &&
      mode != APISTUDIO_HEADER_IF_ABSENT) {
    return 0;
  }
  auto &headers = request_of(request).headers;
  try {
    auto same_name = [n](const auto &h) { return iequals(h.first, n); };
    auto first = std::find_if(headers.begin(), headers.end(), same_name);
    if (first == headers.end()) {
      headers.emplace_back(std::string(n), std::string(v));
      return 1;
    }
    switch (mode) {
    case APISTUDIO_HEADER_IF_ABSENT:
      break;
    case APISTUDIO_HEADER_APPEND:
      // One field with a list value (RFC 7230 3.2.2); Cookie is the one joined with "; ".
      first->second += iequals(n, "cookie") ? "; " : ", ";
      first->second += v;
      break;
    case APISTUDIO_HEADER_OVERWRITE:
      first->second.assign(v);
      headers.erase(std::remove_if(std::next(first), headers.end(), same_name), headers.end());
      break;
    }
    return 1;
  } catch (...) {
    return 0;
  }
}

void host_request_remove_header(apistudio_upstream_request *request, apistudio_str name) {
  if (request == nullptr)
    return;
  const std::string_view n = view(name);
  auto &headers = request_of(request).headers;
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [n](const auto &h) { return iequals(h.first, n); }),
                headers.end());
}

// ---- sessions by id, any thread -----------------------------------------------------------------

int host_session_send(apistudio_plugin_handle *plugin, apistudio_session_id session,
                      apistudio_str payload, apistudio_frame_kind kind) {
  if (plugin == nullptr)
    return 0;
  try {
    auto port = plugin->runtime->directory.find(session);
    if (!port)
      return 0;
    const std::string_view bytes = view(payload);
    const bool binary = kind == APISTUDIO_FRAME_BINARY;
    if (delivery_in_hand != nullptr && lies_within(bytes, (*delivery_in_hand)->payload)) {
      port->post_send(*delivery_in_hand, bytes, binary);
      return 1;
    }
    auto copy = std::make_shared<const std::string>(bytes);
    const std::string_view copied = *copy;
    port->post_send(std::move(copy), copied, binary);
    return 1;
  } catch (...) {
    return 0;
  }
}

int host_session_close(apistudio_plugin_handle *plugin, apistudio_session_id session,
                       int close_code, apistudio_str reason) {
  if (plugin == nullptr)
    return 0;
  try {
    auto port = plugin->runtime->directory.find(session);
    if (!port)
      return 0;
    port->post_close(sendable_close_code(close_code),
                     std::string(truncate_utf8(view(reason), max_close_reason_bytes)));
    return 1;
  } catch (...) {
    return 0;
  }
}

// ---- timers -------------------------------------------------------------------------------------

std::uint64_t host_timer_start(apistudio_plugin_handle *plugin, apistudio_session_id session,
                               std::uint64_t delay_ms, std::uint64_t interval_ms,
                               apistudio_timer_fn fn, apistudio_timer_release_fn release,
                               void *user_data) {
  if (plugin == nullptr) {
    if (release != nullptr)
      release(user_data);
    return 0;
  }
  try {
    return plugin->runtime->timers->start(plugin, plugin->library, plugin->name, session, delay_ms,
                                          interval_ms, fn, release, user_data);
  } catch (...) {
    return 0; // out of memory: the plugin's data is lost rather than the host
  }
}

void host_timer_cancel(apistudio_plugin_handle *plugin, std::uint64_t timer_id) {
  if (plugin == nullptr)
    return;
  try {
    plugin->runtime->timers->cancel(plugin, timer_id);
  } catch (...) {
  }
}

// ---- bus
// ------------------------------------------------------------------------------------------

int host_bus_subscribe(apistudio_plugin_handle *plugin, apistudio_session_id session,
                       apistudio_str topic) {
  if (plugin == nullptr)
    return 0;
  try {
    auto &rt = *plugin->runtime;
    if (!rt.directory.find(session))
      return 0;
    const std::string full = plugin->topic_prefix + std::string(view(topic));
    rt.bus.subscribe(full, session);
    // Subscriptions end in session_close(); a session that ended meanwhile would keep this one.
    if (!rt.directory.find(session)) {
      rt.bus.unsubscribe(full, session);
      return 0;
    }
    return 1;
  } catch (...) {
    return 0;
  }
}

void host_bus_unsubscribe(apistudio_plugin_handle *plugin, apistudio_session_id session,
                          apistudio_str topic) {
  if (plugin == nullptr)
    return;
  try {
    plugin->runtime->bus.unsubscribe(plugin->topic_prefix + std::string(view(topic)), session);
  } catch (...) {
  }
}

void host_bus_publish(apistudio_plugin_handle *plugin, apistudio_str topic, apistudio_str payload) {
  if (plugin == nullptr)
    return;
  try {
    plugin->runtime->metrics.add(metric::bus_publishes);
    plugin->runtime->bus.publish(plugin->topic_prefix + std::string(view(topic)), view(payload));
  } catch (...) {
  }
}

std::uint64_t host_now_ms(apistudio_plugin_handle *plugin) {
  return plugin == nullptr ? 0 : plugin->runtime->clock.steady_ms();
}

// ---- metrics of the plugin's own ---------------------------------------------------------------

std::uint32_t host_metric_register(apistudio_plugin_handle *plugin, apistudio_metric_kind kind,
                                   apistudio_str name, apistudio_str help,
                                   apistudio_str label_name) {
  if (plugin == nullptr)
    return 0;
  try {
    std::string why;
    const auto k = kind == APISTUDIO_METRIC_COUNTER ? plugin_metric_kind::counter
                   : kind == APISTUDIO_METRIC_GAUGE ? plugin_metric_kind::gauge
                                                    : static_cast<plugin_metric_kind>(255);
    const std::uint32_t handle = plugin->runtime->metrics.plugin_defined().register_metric(
        plugin->name, k, view(name), view(help), view(label_name), why);
    if (handle == 0)
      plugin->log->log(log_level::error, plugin->log_component, "metric refused: " + why,
                       plugin_log_fields(*plugin));
    return handle;
  } catch (...) {
    return 0;
  }
}

int host_metric_add(apistudio_plugin_handle *plugin, std::uint32_t metric,
                    apistudio_str label_value, std::int64_t delta) {
  return plugin != nullptr && plugin->runtime->metrics.plugin_defined().add(
                                  plugin->name, metric, view(label_value), delta)
             ? 1
             : 0;
}

int host_metric_set(apistudio_plugin_handle *plugin, std::uint32_t metric,
                    apistudio_str label_value, std::int64_t value) {
  return plugin != nullptr && plugin->runtime->metrics.plugin_defined().set(
                                  plugin->name, metric, view(label_value), value)
             ? 1
             : 0;
}

// ---- cluster-wide state (1.2) -------------------------------------------------------------------

int host_cluster_shared(apistudio_plugin_handle *plugin) {
  return plugin != nullptr && plugin->runtime->counters.cluster_shared() ? 1 : 0;
}

// ---- shared counters (1.2)

// The key becomes "<plugin name>:<key>": plugins never count into each other's keys.
std::uint64_t host_counter_add(apistudio_plugin_handle *plugin, apistudio_str key,
                               std::uint64_t window_ms, std::uint64_t delta) {
  if (plugin == nullptr || key.size == 0 || key.size > max_counter_key || key.data == nullptr)
    return counter_refused;
  try {
    // Per thread and reused: a message's count allocates nothing once the buffer has grown.
    thread_local std::string full;
    full.assign(plugin->name);
    full += ':';
    full += view(key);
    return plugin->runtime->counters.add(full, window_ms, delta);
  } catch (...) {
    return counter_refused; // out of memory: counted nothing
  }
}

// ---- presence (1.2)

// The lengths plugin_abi.h gives; anything else is refused before the service sees it.
bool valid_presence_part(apistudio_str s, std::size_t max) noexcept {
  return s.data != nullptr && s.size >= 1 && s.size <= max;
}
constexpr std::size_t max_presence_scope_bytes = 1024;
constexpr std::size_t max_presence_member_bytes = 1024;
constexpr std::size_t max_presence_status_bytes = 64;

// The join's answer, handed to the plugin on the session's thread while the session lives (its
// chain is reset in session_close, which runs there too), else with NULL only to free user_data.
void complete_join(const std::weak_ptr<session_port> &weak, apistudio_session_id session,
                   apistudio_presence_fn done, void *user_data,
                   const presence_join_result &result) noexcept {
  const auto port = weak.lock();
  if (port == nullptr || port->context().chain == nullptr) {
    guarded_void([&] { done(user_data, session, nullptr); });
    return;
  }
  std::vector<apistudio_presence_member> members;
  if (!guarded_void([&] {
        members.reserve(result.others.size());
        for (const auto &[member, status] : result.others)
          members.push_back({to_str(member), to_str(status)});
      })) {
    guarded_void([&] { done(user_data, session, nullptr); });
    return;
  }
  apistudio_presence_snapshot snapshot{};
  snapshot.struct_size = sizeof snapshot;
  snapshot.first_session = result.first_session ? 1 : 0;
  snapshot.members = members.data();
  snapshot.member_count = members.size();
  snapshot.complete = result.complete ? 1 : 0;
  guarded_void([&] { done(user_data, session, &snapshot); });
}

int host_presence_join(apistudio_plugin_handle *plugin, apistudio_session_id session,
                       apistudio_str scope, apistudio_str member, apistudio_str status,
                       apistudio_presence_fn done, apistudio_callback_data_plugin_ptr user_data) {
  if (done == nullptr)
    return 0; // nobody to answer: joining would leave the plugin unaware of its own entry
  auto refused = [&] {
    guarded_void([&] { done(user_data, session, nullptr); });
    return 0;
  };
  if (plugin == nullptr || !valid_presence_part(scope, max_presence_scope_bytes) ||
      !valid_presence_part(member, max_presence_member_bytes) ||
      !valid_presence_part(status, max_presence_status_bytes))
    return refused();
  auto &rt = *plugin->runtime;
  std::shared_ptr<session_port> port;
  boost::asio::any_io_executor executor;
  try {
    port = rt.directory.find(session);
    if (port)
      executor = port->executor();
  } catch (...) {
  }
  if (!port || !executor)
    return refused();
  try {
    // The library stays loaded until the completion ran: `done` is its code.
    rt.presence.join(plugin->name, session, view(scope), view(member), view(status),
                     [weak = std::weak_ptr<session_port>(port), executor, library = plugin->library,
                      session, done, user_data](presence_join_result result) {
                       boost::asio::post(executor, [weak, library, session, done, user_data,
                                                    result = std::move(result)] {
                         complete_join(weak, session, done, user_data, result);
                       });
                     });
    // A session that ended meanwhile has already left its scopes: this entry would outlive it.
    if (!rt.directory.find(session))
      rt.presence.leave(plugin->name, session, view(scope));
    return 1;
  } catch (...) {
    return 0; // out of memory; the completion may be lost with it
  }
}

int host_presence_set_status(apistudio_plugin_handle *plugin, apistudio_session_id session,
                             apistudio_str scope, apistudio_str status) {
  if (plugin == nullptr || !valid_presence_part(scope, max_presence_scope_bytes) ||
      !valid_presence_part(status, max_presence_status_bytes))
    return 0;
  try {
    return plugin->runtime->presence.set_status(plugin->name, session, view(scope), view(status))
               ? 1
               : 0;
  } catch (...) {
    return 0;
  }
}

void host_presence_leave(apistudio_plugin_handle *plugin, apistudio_session_id session,
                         apistudio_str scope) {
  if (plugin == nullptr || !valid_presence_part(scope, max_presence_scope_bytes))
    return;
  try {
    plugin->runtime->presence.leave(plugin->name, session, view(scope));
  } catch (...) {
  }
}

// C++20 designated initializers: a member out of order is a compile error, and one added to the
// struct without a function here is too under our -Wextra -Werror, never a silently shifted table.
constexpr apistudio_host_api table = {
    .struct_size = sizeof(apistudio_host_api),
    .abi_version = APISTUDIO_SDK_ABI_VERSION,
    .log = &host_log,
    .log_enabled = &host_log_enabled,
    .refuse = &host_refuse,
    .session_id = &host_session_id,
    .session_attribute = &host_session_attribute,
    .session_set_identity = &host_session_set_identity,
    .message_payload = &host_message_payload,
    .message_is_binary = &host_message_is_binary,
    .message_connection_id = &host_message_connection_id,
    .message_request_id = &host_message_request_id,
    .message_set_payload = &host_message_set_payload,
    .message_set_reply = &host_message_set_reply,
    .message_set_close = &host_message_set_close,
    .upstream_request_url = &host_request_url,
    .upstream_request_url_parts = &host_request_url_parts,
    .upstream_request_connection_id = &host_request_connection_id,
    .upstream_request_header_count = &host_request_header_count,
    .upstream_request_header_at = &host_request_header_at,
    .upstream_request_protocol_count = &host_request_protocol_count,
    .upstream_request_protocol_at = &host_request_protocol_at,
    .upstream_request_set_header = &host_request_set_header,
    .upstream_request_remove_header = &host_request_remove_header,
    .session_send = &host_session_send,
    .session_close = &host_session_close,
    .timer_start = &host_timer_start,
    .timer_cancel = &host_timer_cancel,
    .bus_subscribe = &host_bus_subscribe,
    .bus_unsubscribe = &host_bus_unsubscribe,
    .bus_publish = &host_bus_publish,
    .now_ms = &host_now_ms,
    .metric_register = &host_metric_register,
    .metric_add = &host_metric_add,
    .metric_set = &host_metric_set,
    .cluster_shared = &host_cluster_shared,
    .counter_add = &host_counter_add,
    .presence_join = &host_presence_join,
    .presence_set_status = &host_presence_set_status,
    .presence_leave = &host_presence_leave,
};

} // namespace

const apistudio_host_api &host_api_table() noexcept { return table; }

} // namespace apistudio
