// plugin_runtime.hpp — the loaded plugins and the pipeline that calls them.
//
// Loading (Boost.DLL): for each enabled entry of host_config::plugins, in order, the library is
// opened, apistudio_plugin_abi_version() is checked BEFORE anything else is called (same major,
// minor <= the host's), then the descriptor is read and on_create gets the settings as JSON.
// Any failure throws plugin_load_error naming the plugin, its file, the config location and
// (for version problems) both versions; the host exits 1 with that message.
//
// Pipeline (all hook calls on the session's thread): client->upstream hooks run in config order,
// upstream->client hooks in reverse order; every verdict but CONTINUE and REPLACE stops the chain.
// A FAIL (a plugin that threw or returned an error) is logged with the plugin's name; the caller
// closes the session with 1011. A no-op chain neither allocates nor copies the payload.
//
// Lifetime: every library stays loaded until the last object, timer or callback of it is gone.
#pragma once

#include "base/clock.hpp"
#include "base/logger.hpp"
#include "base/metrics.hpp"
#include "plugin_host/message_bus.hpp"
#include "plugin_host/plugin_load_error.hpp"
#include "plugin_host/presence_service.hpp"
#include "plugin_host/session_port.hpp"
#include "policy/host_config.hpp"
#include "protocol/upstream_target.hpp"

#include <apistudio/plugin_abi.h>

#include <boost/asio/io_context.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apistudio {

struct loaded_plugin_info {
  std::string name;
  std::string version;
  std::string sdk_version; // "1.0" as the plugin declared
  std::string file;        // absolute path of the library
};

// The host side of apistudio_refusal: what a plugin handed to refuse(). The runtime fills in the
// defaults (code PLUGIN_REFUSED, a message naming the plugin) when a chain stops with a refusal.
struct hook_refusal {
  std::uint32_t http_status = 0;
  std::string code; // empty, or 1-64 of A-Z 0-9 _ (a malformed code is dropped, not forwarded)
  std::string message;
  std::string setting; // on_create: JSON Pointer of the setting at fault
};

// The host side of apistudio_message.
struct hook_message {
  std::string_view payload; // current payload: the original, or `replacement` after a REPLACE
  bool binary = false;
  std::string_view connection_id;
  std::string_view request_id;
  std::string replacement;
  bool replaced = false;
  std::string reply;
  bool reply_binary = false;
  int close_code = 1000;
  std::string close_reason;
  hook_refusal refusal;
};

// The host side of apistudio_upstream_request.
struct upstream_request_data {
  std::string url;
  upstream_target target; // the URL as the host parsed it
  std::string connection_id;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> protocols;
  hook_refusal refusal;
};

// The chain's verdict: CONTINUE (forward msg.payload; msg.replaced says whether a plugin rewrote
// it), HANDLED, REPLY, CLOSE, FAIL or REFUSE; never REPLACE. On REFUSE the message's (or
// request's) refusal holds a code and a message, defaults filled in. upstream_connect and
// message_to_upstream report every refusing verdict (HANDLED, REPLY, REFUSE; CLOSE too for
// upstream_connect) as REFUSE: a command is never dropped unanswered.
struct chain_outcome {
  apistudio_verdict verdict = APISTUDIO_CONTINUE;
  std::string plugin; // which plugin decided (for logs), empty when all continued
};

struct open_outcome {
  int http_status =
      0;            // non-zero: refuse the upgrade (always 400-599; a plugin's other values: 403)
  std::string code; // the plugin's code, empty for the host's default
  std::string message;
  bool failed = false; // a plugin threw: answer 500
  std::string plugin;
};

struct request_header {
  std::string name;
  std::string value;
};

// The URL parts plugins see (apistudio_url), viewing `target`.
apistudio_url upstream_url_parts(const upstream_target &target) noexcept;

// What a reload did to the plugins, by entry name (for the log and the reload's answer).
struct plugin_reload_summary {
  std::vector<std::string> added;         // new entries, instances created
  std::vector<std::string> fresh;         // changed settings, no on_settings: new instance
  std::vector<std::string> took_settings; // changed settings, handed to the running instance
  std::vector<std::string> removed;       // gone from the chain; open sessions keep them
};

class shared_counters; // shared_counters.hpp

class plugin_runtime {
public:
  // Loads the plugins; throws plugin_load_error. `ioc` runs timers and global callbacks.
  // Hook calls, failures, times and refusals are counted into `metrics` (a private registry
  // when null). The SDK's presence functions use `presence` (an in-process one when null), and
  // plugins' counter_add goes to `counters` (this process's own counts when null: backend
  // local); both must outlive the runtime.
  plugin_runtime(const host_config &config, boost::asio::io_context &ioc,
                 session_directory &directory, message_bus &bus, logger &log,
                 const clock_source &clock, metrics_registry *metrics = nullptr,
                 presence_service *presence = nullptr, shared_counters *counters = nullptr);
  ~plugin_runtime();
  plugin_runtime(const plugin_runtime &) = delete;
  plugin_runtime &operator=(const plugin_runtime &) = delete;

  // Whether new sessions run any plugin, or whether session `ctx` does (the chain it opened with).
  bool empty() const noexcept;
  static bool empty(const session_context &ctx) noexcept;
  std::vector<loaded_plugin_info> plugins() const;

  // A reload's plugins, for the sessions opened from now on (docs/operations.md, "Live reload"):
  // an entry whose name, path and settings did not change keeps its running instance; one whose
  // settings changed hands them to the running instance when it exports on_settings, and gets a
  // fresh instance otherwise; entries added get instances, entries removed leave the chain. Open
  // sessions keep the chain they opened with; an instance leaves (on_destroy) when its last
  // session has closed. A refusal, a throw or a library that does not load throws
  // plugin_load_error naming the plugin and the file:line:column, after handing the plugins that
  // took new settings their previous ones back: nothing changed then. One call at a time.
  plugin_reload_summary reload(const host_config &config);

  // Before the upgrade. Gives the session the current chain and sizes ctx.plugin_states to it.
  // Stops at the first rejection or failure.
  open_outcome session_open(session_context &ctx, const std::vector<request_header> &headers);
  // For a hook call outside a WebSocket session (test-connection): every plugin takes part with
  // no state, and neither on_session_open nor on_session_close runs.
  void open_without_state(session_context &ctx);
  // Exactly once per session_open (whatever it returned): on_session_close for every plugin whose
  // on_session_open ran, then the session's timers and bus subscriptions end and it lets go of
  // its chain (the last session of a replaced instance retires it).
  void session_close(session_context &ctx);

  chain_outcome client_message(session_context &ctx, hook_message &msg);
  chain_outcome message_to_upstream(session_context &ctx, hook_message &msg);
  chain_outcome message_from_upstream(session_context &ctx, hook_message &msg);
  chain_outcome upstream_connect(session_context &ctx, upstream_request_data &request);
  void upstream_opened(session_context &ctx, std::string_view connection_id, std::string_view url,
                       const upstream_target &target, std::string_view subprotocol);
  void upstream_closed(session_context &ctx, std::string_view connection_id, std::string_view url,
                       const upstream_target &target, int close_code, std::string_view reason);
  // The hook may forward any part of the payload with session_send without it being copied: the
  // frame then holds a reference to `delivery` (see delivery_scope).
  void deliver_bus(session_context &ctx, const std::shared_ptr<const bus_delivery> &delivery);

  // Stops every timer (shutdown) and waits for callbacks in flight; after this no plugin callback
  // is started. Not from a timer callback. The destructor calls it, then on_destroy (reverse).
  void stop();

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace apistudio
