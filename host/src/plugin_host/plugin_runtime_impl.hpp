// plugin_runtime_impl.hpp — the runtime's private state, shared by plugin_loading.cpp (instances
// and chains), plugin_runtime.cpp (the pipeline) and host_api.cpp (the services plugins call).
// Not for use outside those files.
//
// The opaque C handles map onto host objects as follows:
//   apistudio_plugin_handle   -> the struct below, one per loaded plugin entry
//   apistudio_session         -> session_context          (reinterpret_cast, hook calls only)
//   apistudio_message         -> hook_message             (reinterpret_cast, hook calls only)
//   apistudio_upstream_request-> upstream_request_data    (reinterpret_cast, hook calls only)
//   apistudio_refusal         -> hook_refusal             (reinterpret_cast, hook calls only)
#pragma once

#include "plugin_host/plugin_library.hpp"
#include "plugin_host/plugin_runtime.hpp"
#include "plugin_host/plugin_timers.hpp"
#include "plugin_host/presence_service.hpp"
#include "plugin_host/shared_counters.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

// Declared (opaque) at global scope by plugin_abi.h, so it is defined there too.
struct apistudio_plugin_handle {
  std::string name;          // the entry's name in the configuration
  std::string log_component; // "plugin:<name>"
  std::string topic_prefix;  // "<name>/": plugins see only their own bus topics
  apistudio::logger *log = nullptr;
  apistudio::plugin_runtime::impl *runtime = nullptr;
  std::shared_ptr<const apistudio::plugin_library> library;
  apistudio::plugin_hooks hooks; // copied from the library for one less indirection per call
  void *instance = nullptr;      // what on_create returned
  std::size_t index = 0;         // its metrics slots (metrics_registry::plugin_slot, by name)
  std::string settings_json;     // the settings the instance holds now (on_create or on_settings)
  std::string path;              // the entry's `path` as written: another path, another library
};

namespace apistudio {

// The single table every plugin receives (static storage: valid as long as the host runs).
const apistudio_host_api &host_api_table() noexcept;

// The bus delivery whose on_bus_message hook runs on this thread, null outside one. A plugin that
// forwards part of the payload it was given (session_send from inside the hook) then queues a view
// of the delivery, which every recipient shares, instead of a copy per recipient (host_api.cpp).
// Per thread because a session's hooks run on its worker thread and deliveries never nest there
// (the bus posts them).
inline thread_local const std::shared_ptr<const bus_delivery> *delivery_in_hand = nullptr;

// Sets delivery_in_hand for the duration of one on_bus_message call.
class delivery_scope {
public:
  explicit delivery_scope(const std::shared_ptr<const bus_delivery> &d) noexcept
      : previous_(std::exchange(delivery_in_hand, &d)) {}
  ~delivery_scope() { delivery_in_hand = previous_; }
  delivery_scope(const delivery_scope &) = delete;
  delivery_scope &operator=(const delivery_scope &) = delete;

private:
  const std::shared_ptr<const bus_delivery> *previous_;
};

// The fields of a line from or about plugin `p`, in session `ctx` when there is one.
inline log_context plugin_log_fields(const apistudio_plugin_handle &p,
                                     const session_context *ctx = nullptr) noexcept {
  log_context fields;
  fields.plugin = p.name;
  if (ctx != nullptr) {
    fields.session_id = ctx->id;
    fields.client_id = ctx->client_id;
    fields.remote_address = ctx->remote_address;
  }
  return fields;
}

inline apistudio_session *as_session(session_context &ctx) noexcept {
  return reinterpret_cast<apistudio_session *>(&ctx);
}
inline apistudio_message *as_message(hook_message &msg) noexcept {
  return reinterpret_cast<apistudio_message *>(&msg);
}
inline apistudio_upstream_request *as_request(upstream_request_data &req) noexcept {
  return reinterpret_cast<apistudio_upstream_request *>(&req);
}

// One generation of the plugin chain: the instances, in configuration order, that the sessions
// opened under one configuration run through. A session holds its chain from session_open to
// session_close, so a reload changes the chain of new sessions only; an instance that no chain
// holds any more is retired (impl::retire) after the last session using it has closed.
struct plugin_chain {
  std::vector<std::shared_ptr<apistudio_plugin_handle>> plugins;
  std::uint64_t generation = 1;

  plugin_chain() = default;
  plugin_chain(const plugin_chain &) = delete;
  plugin_chain &operator=(const plugin_chain &) = delete;
  // Newest first, as on_create ran in configuration order.
  ~plugin_chain() {
    while (!plugins.empty())
      plugins.pop_back();
  }
};

// No exception may cross the C boundary, but a plugin not written with the SDK's C++ layer might
// let one out anyway: it counts as FAIL. (try costs nothing on the path that does not throw.)
template <class Call> apistudio_verdict guarded(Call &&call) noexcept {
  try {
    return call();
  } catch (...) {
    return APISTUDIO_FAIL;
  }
}
template <class Call> bool guarded_void(Call &&call) noexcept {
  try {
    call();
    return true;
  } catch (...) {
    return false;
  }
}

inline apistudio_refusal *as_refusal(hook_refusal &r) noexcept {
  return reinterpret_cast<apistudio_refusal *>(&r);
}

struct plugin_runtime::impl {
  impl(boost::asio::io_context &io, session_directory &sessions, message_bus &pubsub, logger &logs,
       const clock_source &time, metrics_registry *counts, presence_service *members,
       shared_counters *shared)
      : ioc(io), directory(sessions), bus(pubsub), log(logs), clock(time),
        own_metrics(counts ? nullptr : std::make_unique<metrics_registry>()),
        metrics(counts ? *counts : *own_metrics),
        own_counters(shared ? nullptr : make_local_shared_counters(time)),
        counters(shared ? *shared : *own_counters),
        timers(plugin_timers::create(io, sessions, logs)),
        own_presence(members ? nullptr : make_local_presence()),
        presence(members ? *members : *own_presence) {
    anchor->runtime = this;
    presence.on_gone([this](const presence_gone_event &gone) { report_gone(gone); });
  }
  ~impl();
  impl(const impl &) = delete;
  impl &operator=(const impl &) = delete;

  // Both throw plugin_load_error and then change nothing (plugin_loading.cpp).
  void load(const host_config &config);
  plugin_reload_summary reload(const host_config &config);
  void stop();

  // The chain new sessions open with.
  std::shared_ptr<const plugin_chain> chain() const {
    std::lock_guard lock(chain_mutex);
    return current;
  }

  // A new instance of `entry`'s plugin holding `settings`; its last reference retires it.
  std::shared_ptr<apistudio_plugin_handle> create_instance(const plugin_config &entry,
                                                           const std::string &plugin_dir,
                                                           const std::string &settings);
  // The handles' deleter: on_destroy once nothing can call the instance any more.
  void retire(apistudio_plugin_handle *plugin) noexcept;

  // What the handles' deleters reach the runtime through. The host closes every session before
  // its runtime goes, but a session context a test keeps past the runtime must find it gone
  // rather than freed: ~impl clears `runtime` (then such an instance is destroyed where its last
  // reference goes, with nothing of the runtime's).
  struct retire_anchor {
    std::mutex mutex;
    impl *runtime = nullptr;
  };
  std::shared_ptr<retire_anchor> anchor = std::make_shared<retire_anchor>();
  void destroy_instance(apistudio_plugin_handle &p, bool replaced) noexcept;

  // A member gone from a presence scope: on_presence_gone of the plugin's current instance, on
  // `ioc` (a host thread, never a session's, never inside another hook), holding the instance so
  // that it cannot be destroyed first (plugin_runtime.cpp).
  void report_gone(const presence_gone_event &gone) noexcept;

  boost::asio::io_context &ioc;
  session_directory &directory;
  message_bus &bus;
  logger &log;
  const clock_source &clock;
  std::unique_ptr<metrics_registry> own_metrics; // when the runtime was given none
  metrics_registry &metrics;
  std::unique_ptr<shared_counters> own_counters; // when the runtime was given none: local
  shared_counters &counters;                     // counter_add (SDK 1.2)
  std::shared_ptr<plugin_timers> timers;
  std::unique_ptr<presence_service> own_presence; // when the runtime was given none
  presence_service &presence;
  mutable std::mutex chain_mutex;
  std::shared_ptr<const plugin_chain> current; // new sessions' chain; never null once loaded
  std::atomic<bool> stopped{false};
};

} // namespace apistudio
