/*
 * plugin_abi.h — the stable C contract between the API Studio host and its plugins.
 *
 * This header is the only thing a plugin and the host must agree on. It is plain C so that a
 * plugin built with another compiler or standard library, or written in C, loads and works.
 *
 * Naming: `apistudio_plugin_*` functions and `on_*` members are implemented by the PLUGIN;
 * `apistudio_host_api` members are implemented by the HOST.
 *
 * Ownership is in the names of the handles (as Envoy's dynamic-module ABI names them):
 *  - `*_host_ptr`: made, owned and freed by the host. A plugin never frees one, and keeps one
 *    only as long as its comment says (most are valid during one hook call).
 *  - `*_plugin_ptr`: made, owned and freed by the plugin. The host only hands it back.
 * Strings are `apistudio_str` (pointer + length, not NUL-terminated) everywhere:
 *  - those passed INTO a hook are valid only during that call: copy what you keep;
 *  - those passed INTO a host function are copied by the host before it returns.
 *
 * Threads: every hook of one session runs on that session's thread, never two at once. Each host
 * function says where it may be called: "in a hook" (only during a hook call, on its thread, with
 * the handle that hook received) or "any thread" (also from timers and threads of your own).
 *
 * Saying no: every hook that can refuse gets an `apistudio_refusal_host_ptr`. Call
 * `apistudio_host_api.refuse` on it with a reason, then return APISTUDIO_REFUSE. The host answers
 * the client in the protocol's own way (see each hook); without a reason it uses a default one.
 *
 * Versioning: structs only grow at their end and carry their own size in `struct_size`; a reader
 * must check `struct_size` before touching a member added in a later minor version. A major
 * version change means an incompatible layout. See docs/plugin-sdk.md.
 *
 * Entry points a plugin library exports (and nothing else needs to be exported):
 *   uint32_t apistudio_plugin_abi_version(void);            -- checked before anything else
 *   const apistudio_plugin_descriptor *apistudio_plugin_descriptor_v1(void);
 */
#ifndef APISTUDIO_PLUGIN_ABI_H
#define APISTUDIO_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define APISTUDIO_SDK_VERSION_MAJOR 1
#define APISTUDIO_SDK_VERSION_MINOR 2
#define APISTUDIO_SDK_VERSION_PATCH 0
/* (major << 16) | minor, what apistudio_plugin_abi_version() returns. Written without a cast so
 * that C++ code compiled with -Wold-style-cast includes it without a warning. */
#define APISTUDIO_SDK_ABI_VERSION                                                                  \
  (APISTUDIO_SDK_VERSION_MAJOR * 65536u + APISTUDIO_SDK_VERSION_MINOR)

#define APISTUDIO_ENTRY_ABI_VERSION "apistudio_plugin_abi_version"
#define APISTUDIO_ENTRY_DESCRIPTOR "apistudio_plugin_descriptor_v1"

#if defined(_WIN32)
#define APISTUDIO_EXPORT __declspec(dllexport)
#else
#define APISTUDIO_EXPORT __attribute__((visibility("default")))
#endif

/* A borrowed byte string: not NUL-terminated; who owns it and for how long is said above. */
typedef struct apistudio_str {
  const char *data;
  size_t size;
} apistudio_str;

/* One HTTP header (borrowed). */
typedef struct apistudio_header {
  apistudio_str name;
  apistudio_str value;
} apistudio_header;

typedef enum apistudio_log_level {
  APISTUDIO_LOG_DEBUG = 0,
  APISTUDIO_LOG_INFO = 1,
  APISTUDIO_LOG_WARN = 2,
  APISTUDIO_LOG_ERROR = 3
} apistudio_log_level;

/* What a hook tells the host to do. Every value other than CONTINUE and REPLACE stops the chain:
 * the plugins after this one do not see the message. */
typedef enum apistudio_verdict {
  APISTUDIO_CONTINUE = 0, /* pass the message on unchanged (or as an earlier plugin replaced it) */
  APISTUDIO_HANDLED = 1,  /* the plugin took the message and answered it itself, or it needs no
                             answer (a /ws event the plugin consumed); the host sends nothing */
  APISTUDIO_REPLACE = 2,  /* continue with the payload set through message_set_payload */
  APISTUDIO_REPLY = 3,    /* send the message_set_reply payload to the client instead */
  APISTUDIO_CLOSE = 4,    /* close the client socket (code and reason from message_set_close) */
  APISTUDIO_FAIL = 5,     /* the plugin failed: logged, and the session is closed with 1011 */
  APISTUDIO_REFUSE = 6    /* refused with the reason given to refuse(): the host answers it */
} apistudio_verdict;

/* ---- handles ----------------------------------------------------------------------------------
 */

/* Host-owned. One per loaded plugin; valid from on_create until on_destroy has returned. */
typedef struct apistudio_plugin_handle *apistudio_plugin_host_ptr;
/* Host-owned, valid during one hook call: the client socket the hook is about. */
typedef struct apistudio_session *apistudio_session_host_ptr;
/* Host-owned, valid during one message hook call: the message travelling through the chain. */
typedef struct apistudio_message *apistudio_message_host_ptr;
/* Host-owned, valid during on_upstream_connect: the upstream handshake about to be sent. */
typedef struct apistudio_upstream_request *apistudio_upstream_request_host_ptr;
/* Host-owned, valid during one hook call: where that hook's refusal reason goes. */
typedef struct apistudio_refusal *apistudio_refusal_host_ptr;

/* Plugin-owned: what on_create returned; the host hands it to every hook, and to on_destroy. */
typedef void *apistudio_instance_plugin_ptr;
/* Plugin-owned: what on_session_open stored; handed to the session's hooks, and to
 * on_session_close, where the plugin frees it. */
typedef void *apistudio_session_state_plugin_ptr;
/* Plugin-owned: the user_data of a timer; the host hands it to the timer's callbacks. */
typedef void *apistudio_timer_data_plugin_ptr;
/* Plugin-owned: the user_data of an asynchronous host call; handed to its completion. */
typedef void *apistudio_callback_data_plugin_ptr;

/* Session ids are stable for the life of a client socket and never reused by one host process;
 * use them to reach a session outside a hook (timers, bus, other sessions). */
typedef uint64_t apistudio_session_id;

/* ---- structs a hook receives (host-owned, valid during that hook) ---------------------------- */

/* Session attributes readable with apistudio_host_api.session_attribute. */
typedef enum apistudio_session_attr {
  APISTUDIO_ATTR_CLIENT_ID = 0,      /* the {client_id} of a proxy socket; empty on /ws */
  APISTUDIO_ATTR_PATH = 1,           /* request target path, without query */
  APISTUDIO_ATTR_REMOTE_ADDRESS = 2, /* peer IP address as text */
  APISTUDIO_ATTR_IDENTITY = 3,       /* set by a plugin with session_set_identity; empty if none */
  APISTUDIO_ATTR_QUERY = 4           /* raw query string without '?', may be empty */
} apistudio_session_attr;

/* Passed to on_session_open: the upgrade request of a client socket. */
typedef struct apistudio_session_info {
  uint32_t struct_size;
  apistudio_session_id session_id;
  apistudio_str path;
  apistudio_str query;
  apistudio_str client_id;
  apistudio_str remote_address;
  const apistudio_header *headers;
  size_t header_count;
} apistudio_session_info;

/* An upstream URL as the host parsed and validated it: no plugin needs to parse it again. */
typedef struct apistudio_url {
  apistudio_str scheme; /* "ws" or "wss" */
  apistudio_str host;   /* lower-cased name or address, IPv6 without brackets */
  uint32_t port;        /* as written, or the scheme's default (80 / 443) */
  apistudio_str path;   /* "/" at least; percent-encoding kept as written */
  apistudio_str query;  /* without '?', may be empty; the fragment is never sent */
} apistudio_url;

/* Passed to on_upstream_opened / on_upstream_closed. */
typedef struct apistudio_upstream_info {
  uint32_t struct_size;
  apistudio_str connection_id; /* empty for the default upstream */
  apistudio_str url;           /* as the client wrote it */
  apistudio_url url_parts;
  apistudio_str subprotocol; /* negotiated; empty if none */
  int close_code;            /* on_upstream_closed only; 1006 when the peer vanished */
  apistudio_str close_reason;
} apistudio_upstream_info;

/* The reason of a refusal, passed to apistudio_host_api.refuse (copied by the host). */
typedef struct apistudio_reason {
  uint32_t struct_size;
  /* on_session_open: the HTTP status of the refused upgrade (400-599; anything else is 403).
   * Ignored by the other hooks. */
  uint32_t http_status;
  /* The protocol's error code the client sees: 1-64 of A-Z, 0-9, '_' (e.g. "FORBIDDEN_CONTENT").
   * Empty or malformed: the hook's default code. Ignored by on_create. */
  apistudio_str code;
  /* Human text for the client (and the log): at most 1024 bytes are kept. */
  apistudio_str message;
  /* on_create only: the RFC 6901 JSON Pointer of the setting that is wrong, e.g.
   * "/rules/0/header"; the host prints that key's own FILE:LINE:COLUMN. Empty: the whole block. */
  apistudio_str setting;
} apistudio_reason;

/* How session_send / message_set_reply frame their bytes. */
typedef enum apistudio_frame_kind {
  APISTUDIO_FRAME_TEXT = 0,
  APISTUDIO_FRAME_BINARY = 1
} apistudio_frame_kind;

/* How upstream_request_set_header treats a header the client already sent. */
typedef enum apistudio_header_mode {
  APISTUDIO_HEADER_OVERWRITE = 0, /* replace every existing value */
  APISTUDIO_HEADER_APPEND = 1,    /* add another value (or comma-join for the same name) */
  APISTUDIO_HEADER_IF_ABSENT = 2  /* set only if the client did not send it */
} apistudio_header_mode;

/* A timer's callback, called each time the timer fires. Its release (may be NULL) is called
 * exactly once, when the timer can no longer fire (after a one-shot fired, after timer_cancel,
 * when its session ended, at shutdown), on any thread, possibly after on_destroy (the library
 * stays loaded until then): free user_data there. */
typedef void (*apistudio_timer_fn)(apistudio_timer_data_plugin_ptr user_data);
typedef void (*apistudio_timer_release_fn)(apistudio_timer_data_plugin_ptr user_data);

/* What metric_register registers. */
typedef enum apistudio_metric_kind {
  APISTUDIO_METRIC_COUNTER = 0, /* only grows: metric_add with a delta >= 0 */
  APISTUDIO_METRIC_GAUGE = 1    /* goes up and down: metric_add (any sign) and metric_set */
} apistudio_metric_kind;

/* One member of a presence scope, as a presence_join's completion lists them. */
typedef struct apistudio_presence_member {
  apistudio_str member;
  apistudio_str status;
} apistudio_presence_member;

/* What presence_join completes with; valid during the completion call only. */
typedef struct apistudio_presence_snapshot {
  uint32_t struct_size;
  /* 1 when the member had no other session in the scope, on any host, before this join: the
   * plugin announces it. */
  int first_session;
  /* Every other member of the scope and its status, on every host, ordered by member. */
  const apistudio_presence_member *members;
  size_t member_count;
  /* 0 when the cluster engine could not be asked (down, or no answer within its timeout): then
   * first_session and members are what this host alone knows. Always 1 with backend local. */
  int complete;
} apistudio_presence_snapshot;

/* The completion of presence_join, called exactly once: on the joining session's thread (never
 * concurrently with its hooks) while the session lives; if it ended before the answer came, on a
 * host thread with `snapshot` NULL, only so that user_data can be freed. */
typedef void (*apistudio_presence_fn)(apistudio_callback_data_plugin_ptr user_data,
                                      apistudio_session_id session,
                                      const apistudio_presence_snapshot *snapshot);

/* ---- services the host provides ----------------------------------------------------------------
 */

typedef struct apistudio_host_api {
  uint32_t struct_size;
  uint32_t abi_version;

  /* Any thread. Lines go to the host's log as "plugin:<name>". */
  void (*log)(apistudio_plugin_host_ptr plugin, apistudio_log_level level, apistudio_str message);
  /* Any thread. Nonzero when `level` would be printed: check before formatting anything costly. */
  int (*log_enabled)(apistudio_plugin_host_ptr plugin, apistudio_log_level level);

  /* In a hook that received `refusal`: the reason for APISTUDIO_REFUSE. A second call replaces
   * the first. */
  void (*refuse)(apistudio_refusal_host_ptr refusal, const apistudio_reason *reason);

  /* In a hook: the session the hook is about. */
  apistudio_session_id (*session_id)(apistudio_session_host_ptr session);
  apistudio_str (*session_attribute)(apistudio_session_host_ptr session,
                                     apistudio_session_attr attr);
  /* In a hook: name the session's user (at most 1024 bytes kept); read back as ATTR_IDENTITY. */
  void (*session_set_identity)(apistudio_session_host_ptr session, apistudio_str identity);

  /* In a message hook: the message. Its payload is a view into the host's buffer. */
  apistudio_str (*message_payload)(apistudio_message_host_ptr message);
  int (*message_is_binary)(apistudio_message_host_ptr message);
  /* The upstream's connection_id (empty for the default upstream); empty in on_client_message. */
  apistudio_str (*message_connection_id)(apistudio_message_host_ptr message);
  /* The send_message's request_id in on_message_to_upstream; empty elsewhere or when none. */
  apistudio_str (*message_request_id)(apistudio_message_host_ptr message);
  /* In a message hook: return APISTUDIO_REPLACE / REPLY / CLOSE after calling these. */
  void (*message_set_payload)(apistudio_message_host_ptr message, apistudio_str payload);
  void (*message_set_reply)(apistudio_message_host_ptr message, apistudio_str payload,
                            apistudio_frame_kind kind);
  void (*message_set_close)(apistudio_message_host_ptr message, int close_code,
                            apistudio_str reason);

  /* In on_upstream_connect: the handshake about to be sent. */
  apistudio_str (*upstream_request_url)(apistudio_upstream_request_host_ptr request);
  apistudio_url (*upstream_request_url_parts)(apistudio_upstream_request_host_ptr request);
  apistudio_str (*upstream_request_connection_id)(apistudio_upstream_request_host_ptr request);
  size_t (*upstream_request_header_count)(apistudio_upstream_request_host_ptr request);
  apistudio_header (*upstream_request_header_at)(apistudio_upstream_request_host_ptr request,
                                                 size_t index);
  size_t (*upstream_request_protocol_count)(apistudio_upstream_request_host_ptr request);
  apistudio_str (*upstream_request_protocol_at)(apistudio_upstream_request_host_ptr request,
                                                size_t index);
  /* Returns 0 if the name or value is not a valid header (CR, LF, NUL, separators) or the header
   * is the host's own (Host, Upgrade, Connection, Sec-WebSocket-*). */
  int (*upstream_request_set_header)(apistudio_upstream_request_host_ptr request,
                                     apistudio_str name, apistudio_str value,
                                     apistudio_header_mode mode);
  void (*upstream_request_remove_header)(apistudio_upstream_request_host_ptr request,
                                         apistudio_str name);

  /* Any thread: reach a session by id. Return 0 when it no longer exists. */
  int (*session_send)(apistudio_plugin_host_ptr plugin, apistudio_session_id session,
                      apistudio_str payload, apistudio_frame_kind kind);
  int (*session_close)(apistudio_plugin_host_ptr plugin, apistudio_session_id session,
                       int close_code, apistudio_str reason);

  /* Any thread. With a session id the callback runs on that session's thread (never concurrently
   * with its hooks) and the timer ends with the session; with 0 it runs on a host thread.
   * `interval_ms` 0 fires once. Returns a timer id (never 0), or 0 when nothing was started (then
   * `release` has already been called). The callback is never called after timer_cancel returns
   * on the session's own thread, nor after on_destroy. */
  uint64_t (*timer_start)(apistudio_plugin_host_ptr plugin, apistudio_session_id session,
                          uint64_t delay_ms, uint64_t interval_ms, apistudio_timer_fn fn,
                          apistudio_timer_release_fn release,
                          apistudio_timer_data_plugin_ptr user_data);
  /* Any thread. */
  void (*timer_cancel)(apistudio_plugin_host_ptr plugin, uint64_t timer_id);

  /* Any thread. Publish/subscribe across sessions (and, in a later release, across hosts). A
   * subscribed session gets every publication on the topic through on_bus_message, on its own
   * thread, including its own. Topics are the plugin's own; subscriptions end with the session. */
  int (*bus_subscribe)(apistudio_plugin_host_ptr plugin, apistudio_session_id session,
                       apistudio_str topic);
  void (*bus_unsubscribe)(apistudio_plugin_host_ptr plugin, apistudio_session_id session,
                          apistudio_str topic);
  void (*bus_publish)(apistudio_plugin_host_ptr plugin, apistudio_str topic, apistudio_str payload);

  /* Any thread. Milliseconds of a monotonic clock (the host's injectable clock: tests drive it). */
  uint64_t (*now_ms)(apistudio_plugin_host_ptr plugin);

  /* ---- added in 1.1: check struct_size before calling (a 1.0 host's table ends above) ---- */

  /* In on_create (main thread). A counter or gauge of the plugin's own, exposed at GET /metrics
   * as apistudio_plugin_<plugin>_<name> (the plugin's configured name, other characters than
   * [A-Za-z0-9_] as '_'). `name`: 1-64 of [A-Za-z0-9_], not starting with a digit (end a
   * counter's in _total); `help`: 1-512 bytes without control characters or '\'; `label_name`:
   * empty for none, else one label of the same shape. Returns a handle (never 0), or 0 when
   * refused: a bad name, help or label, a name already taken, more than 16 metrics in one plugin;
   * the host logs why under the plugin's name. */
  uint32_t (*metric_register)(apistudio_plugin_host_ptr plugin, apistudio_metric_kind kind,
                              apistudio_str name, apistudio_str help, apistudio_str label_name);
  /* Any thread, lock-free. Adds `delta` to the series of `label_value` (ignored without a label
   * name; at most 128 bytes kept). A metric holds 15 label values; later ones count as "other".
   * Returns 0 (and changes nothing) for an unknown handle or a negative delta on a counter. */
  int (*metric_add)(apistudio_plugin_host_ptr plugin, uint32_t metric, apistudio_str label_value,
                    int64_t delta);
  /* Any thread, lock-free. Gauges only (0 for a counter): the series' value becomes `value`. */
  int (*metric_set)(apistudio_plugin_host_ptr plugin, uint32_t metric, apistudio_str label_value,
                    int64_t value);

  /* ---- added in 1.2, cluster mode (docs/cluster.md): check struct_size before calling ---- */

  /* Any thread. 1 when the bus, presence and counters below span every host of a cluster
   * (cluster.backend: redis, whether or not the engine is reachable right now); 0 when they are
   * this process's own (cluster.backend: local). */
  int (*cluster_shared)(apistudio_plugin_host_ptr plugin);

  /* Any thread; never waits for the network. A sliding-window counter shared by every host:
   * adds `delta` (0 only reads) to the count of `key` and returns the count of the last
   * `window_ms` (1 ms to 1 hour; other values return UINT64_MAX and count nothing), `delta`
   * included. Keys (1-256 bytes) are the plugin's own. The window is approximated the way Kong's
   * and Cloudflare's sliding windows are: the current fixed window's count plus the previous
   * one's, weighted by how much of it the sliding window still covers. With backend local the
   * counts are this process's; with backend redis they are this host's own plus the other hosts'
   * as of the last synchronisation (every cluster.counter_sync_interval): docs/cluster.md says
   * how far past a limit a client spread over N hosts can get. Keys expire after two windows
   * without a count. */
  uint64_t (*counter_add)(apistudio_plugin_host_ptr plugin, apistudio_str key, uint64_t window_ms,
                          uint64_t delta);

  /* Any thread. Presence: puts `session` into the scope `scope` (1-1024 bytes, e.g. a workspace)
   * as `member` (1-1024 bytes, e.g. a user id) with `status` (1-64 bytes, the plugin's own word,
   * e.g. "online"). A member is present in a scope while one of its sessions is, on any host;
   * its status is the one last set by any of its sessions. A session is in a scope once: joining
   * again replaces its member and status. The entry ends with the session or presence_leave;
   * with backend redis each host keeps its entries alive with heartbeats, so those of a host that
   * died expire within cluster.presence_ttl. `done` is called exactly once (apistudio_presence_fn).
   * Returns 0 when refused (bad lengths, no such session); `done` was then called with NULL. */
  int (*presence_join)(apistudio_plugin_host_ptr plugin, apistudio_session_id session,
                       apistudio_str scope, apistudio_str member, apistudio_str status,
                       apistudio_presence_fn done, apistudio_callback_data_plugin_ptr user_data);
  /* Any thread. The status of the member `session` is in `scope` as; 0 when it is not in it. */
  int (*presence_set_status)(apistudio_plugin_host_ptr plugin, apistudio_session_id session,
                             apistudio_str scope, apistudio_str status);
  /* Any thread. Takes `session` out of `scope` (the host does it when the session ends). */
  void (*presence_leave)(apistudio_plugin_host_ptr plugin, apistudio_session_id session,
                         apistudio_str scope);
} apistudio_host_api;

/* ---- what a plugin provides --------------------------------------------------------------------
 */

/* Any hook may be NULL (the host skips it at no cost). Every hook of a session runs on that
 * session's thread; on_create and on_destroy run on the host's main thread. */
typedef struct apistudio_plugin_descriptor {
  uint32_t struct_size;
  uint32_t abi_version; /* APISTUDIO_SDK_ABI_VERSION the plugin was built with */
  apistudio_str name;   /* static storage */
  apistudio_str version;

  /* Settings arrive as JSON text (the plugin's YAML block converted). Return NULL to refuse them,
   * after refuse() with a message and, if it is about one key, its JSON Pointer in `setting`;
   * the host then does not start. */
  apistudio_instance_plugin_ptr (*on_create)(const apistudio_host_api *host,
                                             apistudio_plugin_host_ptr plugin,
                                             apistudio_str settings_json,
                                             apistudio_refusal_host_ptr refusal);
  void (*on_destroy)(apistudio_instance_plugin_ptr instance);

  /* Before the WebSocket upgrade. REFUSE (or HANDLED / REPLY / CLOSE) refuses the upgrade with the
   * reason's http_status (default 403) and the host's JSON error body with code and message
   * (default code REJECTED, UNAUTHORIZED for 401). Store per-session state in *state. */
  apistudio_verdict (*on_session_open)(apistudio_instance_plugin_ptr instance,
                                       apistudio_session_host_ptr session,
                                       const apistudio_session_info *info,
                                       apistudio_session_state_plugin_ptr *state,
                                       apistudio_refusal_host_ptr refusal);
  /* Always called once for every session whose on_session_open ran, refused or not; the last
   * hook of the session. Free `state` here. */
  void (*on_session_close)(apistudio_instance_plugin_ptr instance,
                           apistudio_session_host_ptr session,
                           apistudio_session_state_plugin_ptr state);

  /* Every frame a client sends, as it arrived (on the proxy endpoint: the JSON command). REFUSE
   * is answered with the protocol's error event (send_error for a send_message, else error),
   * echoing the command's request_id and connection_id; the default code is PLUGIN_REFUSED. */
  apistudio_verdict (*on_client_message)(apistudio_instance_plugin_ptr instance,
                                         apistudio_session_host_ptr session,
                                         apistudio_session_state_plugin_ptr state,
                                         apistudio_message_host_ptr message,
                                         apistudio_refusal_host_ptr refusal);
  /* A message about to be written to an upstream (proxy endpoint): the send_message's decoded
   * content (binary: the decoded bytes), after the command was parsed and validated. REPLACE
   * changes what is written (and what message_sent echoes). Any stop verdict but CLOSE and FAIL
   * is answered with send_error (request_id and connection_id echoed; default code
   * PLUGIN_REFUSED): a send_message is never dropped silently. */
  apistudio_verdict (*on_message_to_upstream)(apistudio_instance_plugin_ptr instance,
                                              apistudio_session_host_ptr session,
                                              apistudio_session_state_plugin_ptr state,
                                              apistudio_message_host_ptr message,
                                              apistudio_refusal_host_ptr refusal);
  /* A message an upstream sent, decoded, before it is wrapped into message_received. HANDLED
   * withholds it silently; REFUSE withholds it and tells the client with an error event (code,
   * message, connection_id; default code PLUGIN_REFUSED). */
  apistudio_verdict (*on_message_from_upstream)(apistudio_instance_plugin_ptr instance,
                                                apistudio_session_host_ptr session,
                                                apistudio_session_state_plugin_ptr state,
                                                apistudio_message_host_ptr message,
                                                apistudio_refusal_host_ptr refusal);
  /* Before an upstream handshake (connect_external, and the test-connection endpoint). Any stop
   * verdict but FAIL refuses this connection only: connection_error with the reason (default code
   * PLUGIN_REFUSED), then connection_status "error". */
  apistudio_verdict (*on_upstream_connect)(apistudio_instance_plugin_ptr instance,
                                           apistudio_session_host_ptr session,
                                           apistudio_session_state_plugin_ptr state,
                                           apistudio_upstream_request_host_ptr request,
                                           apistudio_refusal_host_ptr refusal);
  void (*on_upstream_opened)(apistudio_instance_plugin_ptr instance,
                             apistudio_session_host_ptr session,
                             apistudio_session_state_plugin_ptr state,
                             const apistudio_upstream_info *info);
  void (*on_upstream_closed)(apistudio_instance_plugin_ptr instance,
                             apistudio_session_host_ptr session,
                             apistudio_session_state_plugin_ptr state,
                             const apistudio_upstream_info *info);
  /* A publication on a topic the session subscribed to. */
  void (*on_bus_message)(apistudio_instance_plugin_ptr instance, apistudio_session_host_ptr session,
                         apistudio_session_state_plugin_ptr state, apistudio_str topic,
                         apistudio_str payload);

  /* ---- added in 1.1: the host reads a member only when struct_size covers it ---- */

  /* New settings for this instance after a configuration reload, as JSON text like on_create's.
   * Return APISTUDIO_CONTINUE to take them, or APISTUDIO_REFUSE after refuse() (message, and the
   * JSON Pointer of the wrong key in `setting`) to keep the old ones; the host then rejects the
   * whole reload. Runs on the thread doing the reload (SIGHUP: the host's main thread), never
   * together with on_create, on_destroy or another on_settings of the instance, but while its
   * session hooks may run on worker threads: publish the new settings atomically (e.g. swap an
   * immutable snapshot). NULL: the instance keeps its settings until the host restarts. */
  apistudio_verdict (*on_settings)(apistudio_instance_plugin_ptr instance,
                                   apistudio_str settings_json, apistudio_refusal_host_ptr refusal);

  /* ---- added in 1.2 ---- */

  /* A member of a presence scope (presence_join) has no session left in it on any host: its last
   * session left or ended, or the host it was on stopped its heartbeats (killed) and its entries
   * expired. Called once for the whole cluster, on the host where that was found, on a host
   * thread (not a session's: publish on the bus to tell sessions), never after on_destroy.
   * `status` is the last status the member had. */
  void (*on_presence_gone)(apistudio_instance_plugin_ptr instance, apistudio_str scope,
                           apistudio_str member, apistudio_str status);
} apistudio_plugin_descriptor;

/* The two exported entry points, for plugin authors writing C by hand. */
typedef uint32_t (*apistudio_plugin_abi_version_fn)(void);
typedef const apistudio_plugin_descriptor *(*apistudio_plugin_descriptor_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* APISTUDIO_PLUGIN_ABI_H */
