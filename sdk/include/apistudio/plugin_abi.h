/*
 * plugin_abi.h — the stable C contract between the API Studio host and its plugins.
 *
 * This header is the only thing a plugin and the host must agree on. It is plain C so that a
 * plugin built with another compiler or standard library, or written in C, loads and works.
 *
 * Naming: `apistudio_plugin_*` functions and `on_*` members are implemented by the PLUGIN;
 * `apistudio_host_api` members are implemented by the HOST.
 *
 * Ownership and lifetime rules (every pointer in this file follows them unless its comment says
 * otherwise):
 *  - Pointers passed INTO a hook are valid only during that call. Copy what you keep.
 *  - Pointers passed INTO a host callback are copied by the host before it returns.
 *  - Strings are (pointer, length) pairs, not NUL-terminated, unless the type is `const char *`
 *    documented as NUL-terminated.
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
#define APISTUDIO_SDK_VERSION_MINOR 0
#define APISTUDIO_SDK_VERSION_PATCH 0
/* Packed as (major << 16) | minor: what apistudio_plugin_abi_version() returns. */
#define APISTUDIO_SDK_ABI_VERSION                                                                  \
  ((uint32_t)((APISTUDIO_SDK_VERSION_MAJOR << 16) | APISTUDIO_SDK_VERSION_MINOR))

#define APISTUDIO_ENTRY_ABI_VERSION "apistudio_plugin_abi_version"
#define APISTUDIO_ENTRY_DESCRIPTOR "apistudio_plugin_descriptor_v1"

#if defined(_WIN32)
#define APISTUDIO_EXPORT __declspec(dllexport)
#else
#define APISTUDIO_EXPORT __attribute__((visibility("default")))
#endif

/* A borrowed byte string: not NUL-terminated, valid as the rule above says. */
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

/* What a message hook tells the host to do with the message. */
typedef enum apistudio_verdict {
  APISTUDIO_CONTINUE = 0, /* pass the (possibly replaced) message to the next plugin / the host */
  APISTUDIO_DROP = 1,     /* swallow the message silently; the chain stops */
  APISTUDIO_REPLACE =
      2,               /* payload replaced with apistudio_host_api.message_set_payload; continue */
  APISTUDIO_REPLY = 3, /* payload of message_set_reply is sent to the client; the chain stops */
  APISTUDIO_CLOSE = 4, /* close the client socket (code/reason from message_set_close) */
  APISTUDIO_FAIL = 5   /* the plugin failed: the session is closed with 1011 and it is logged */
} apistudio_verdict;

/* Opaque handles owned by the host. */
typedef struct apistudio_plugin_handle apistudio_plugin_handle; /* one per loaded plugin instance */
typedef struct apistudio_session apistudio_session;             /* valid during a hook call only */
typedef struct apistudio_message apistudio_message;             /* valid during a hook call only */
typedef struct apistudio_upstream_request apistudio_upstream_request; /* during the hook only */

/* Session ids are stable for the life of a client socket and never reused by one host process;
 * use them to reach a session outside a hook (timers, bus, other sessions). */
typedef uint64_t apistudio_session_id;

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

/* Filled by on_session_open to refuse the upgrade. `http_status` 0 means "accept". */
typedef struct apistudio_rejection {
  uint32_t struct_size;
  int http_status;
  char message[256]; /* NUL-terminated; goes into the JSON error body */
} apistudio_rejection;

/* Passed to on_upstream_opened / on_upstream_closed. */
typedef struct apistudio_upstream_info {
  uint32_t struct_size;
  apistudio_str connection_id; /* empty for the default upstream */
  apistudio_str url;
  apistudio_str subprotocol; /* negotiated; empty if none */
  int close_code;            /* on_upstream_closed only; 1006 when the peer vanished */
  apistudio_str close_reason;
} apistudio_upstream_info;

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

typedef void (*apistudio_timer_fn)(void *user_data);

/* Services the host provides. Every function is safe to call from any thread unless noted. */
typedef struct apistudio_host_api {
  uint32_t struct_size;
  uint32_t abi_version;

  void (*log)(apistudio_plugin_handle *plugin, apistudio_log_level level, const char *message,
              size_t size);
  /* Nonzero when `level` would be printed: check before formatting anything costly. */
  int (*log_enabled)(apistudio_plugin_handle *plugin, apistudio_log_level level);

  /* --- during a hook (the session pointer is valid only then) --- */
  apistudio_session_id (*session_id)(const apistudio_session *session);
  apistudio_str (*session_attribute)(const apistudio_session *session, apistudio_session_attr attr);
  void (*session_set_identity)(apistudio_session *session, const char *identity, size_t size);

  /* Message payload access and verdict details (during a message hook only). */
  apistudio_str (*message_payload)(const apistudio_message *message);
  int (*message_is_binary)(const apistudio_message *message);
  apistudio_str (*message_connection_id)(const apistudio_message *message); /* upstream side */
  void (*message_set_payload)(apistudio_message *message, const char *data, size_t size);
  void (*message_set_reply)(apistudio_message *message, const char *data, size_t size,
                            apistudio_frame_kind kind);
  void (*message_set_close)(apistudio_message *message, int close_code, const char *reason,
                            size_t reason_size);

  /* Upstream handshake request (during on_upstream_connect only). */
  apistudio_str (*upstream_request_url)(const apistudio_upstream_request *request);
  apistudio_str (*upstream_request_connection_id)(const apistudio_upstream_request *request);
  size_t (*upstream_request_header_count)(const apistudio_upstream_request *request);
  apistudio_header (*upstream_request_header_at)(const apistudio_upstream_request *request,
                                                 size_t index);
  size_t (*upstream_request_protocol_count)(const apistudio_upstream_request *request);
  apistudio_str (*upstream_request_protocol_at)(const apistudio_upstream_request *request,
                                                size_t index);
  /* Returns 0 if the name or value is not a valid header (CR, LF, NUL, separators). */
  int (*upstream_request_set_header)(apistudio_upstream_request *request, const char *name,
                                     size_t name_size, const char *value, size_t value_size,
                                     apistudio_header_mode mode);
  void (*upstream_request_remove_header)(apistudio_upstream_request *request, const char *name,
                                         size_t name_size);
  /* Refuse the connection: the client gets connection_error with this code and message. */
  void (*upstream_request_deny)(apistudio_upstream_request *request, const char *code,
                                const char *message);

  /* --- any time, any thread: reach a session by id; 0 when it no longer exists --- */
  int (*session_send)(apistudio_plugin_handle *plugin, apistudio_session_id session,
                      const char *data, size_t size, apistudio_frame_kind kind);
  int (*session_close)(apistudio_plugin_handle *plugin, apistudio_session_id session,
                       int close_code, const char *reason, size_t reason_size);

  /* Timers. With a session id the callback runs on that session's thread (never concurrently
   * with its hooks) and is cancelled when the session ends; with 0 it runs on any host thread.
   * `interval_ms` 0 fires once. Returns a timer id (never 0) for timer_cancel. The callback is
   * never called after timer_cancel returns on the session's own thread, nor after on_destroy. */
  uint64_t (*timer_start)(apistudio_plugin_handle *plugin, apistudio_session_id session,
                          uint64_t delay_ms, uint64_t interval_ms, apistudio_timer_fn fn,
                          void *user_data);
  void (*timer_cancel)(apistudio_plugin_handle *plugin, uint64_t timer_id);

  /* Publish/subscribe across sessions (and, in a later release, across hosts). A subscribed
   * session gets every publication on the topic through on_bus_message, on its own thread,
   * including its own. Subscriptions end with the session. */
  int (*bus_subscribe)(apistudio_plugin_handle *plugin, apistudio_session_id session,
                       const char *topic, size_t topic_size);
  void (*bus_unsubscribe)(apistudio_plugin_handle *plugin, apistudio_session_id session,
                          const char *topic, size_t topic_size);
  void (*bus_publish)(apistudio_plugin_handle *plugin, const char *topic, size_t topic_size,
                      const char *data, size_t size);

  /* Milliseconds of a monotonic clock (the host's injectable clock: tests may drive it). */
  uint64_t (*now_ms)(apistudio_plugin_handle *plugin);
} apistudio_host_api;

/* What a plugin provides. Any hook may be NULL (the host skips it at no cost). `instance` is what
 * on_create returned; `session_state` is what on_session_open stored (NULL if nothing). */
typedef struct apistudio_plugin_descriptor {
  uint32_t struct_size;
  uint32_t abi_version; /* APISTUDIO_SDK_ABI_VERSION the plugin was built with */
  const char *name;     /* NUL-terminated, static */
  const char *version;  /* NUL-terminated, static */

  /* Settings arrive as JSON text (the plugin's YAML block converted). Return NULL and write a
   * NUL-terminated message into error (at most error_size bytes) to refuse them. */
  void *(*on_create)(const apistudio_host_api *host, apistudio_plugin_handle *plugin,
                     const char *settings_json, size_t settings_size, char *error,
                     size_t error_size);
  void (*on_destroy)(void *instance);

  /* Before the WebSocket upgrade. Fill `rejection` (http_status != 0) to refuse it. */
  apistudio_verdict (*on_session_open)(void *instance, apistudio_session *session,
                                       const apistudio_session_info *info, void **session_state,
                                       apistudio_rejection *rejection);
  /* Always called once for every session whose on_session_open ran, rejected or not. */
  void (*on_session_close)(void *instance, apistudio_session_id session, void *session_state);

  apistudio_verdict (*on_client_message)(void *instance, apistudio_session *session,
                                         void *session_state, apistudio_message *message);
  apistudio_verdict (*on_upstream_connect)(void *instance, apistudio_session *session,
                                           void *session_state,
                                           apistudio_upstream_request *request);
  void (*on_upstream_opened)(void *instance, apistudio_session *session, void *session_state,
                             const apistudio_upstream_info *info);
  void (*on_upstream_closed)(void *instance, apistudio_session *session, void *session_state,
                             const apistudio_upstream_info *info);
  apistudio_verdict (*on_upstream_message)(void *instance, apistudio_session *session,
                                           void *session_state, apistudio_message *message);
  void (*on_bus_message)(void *instance, apistudio_session *session, void *session_state,
                         apistudio_str topic, apistudio_str payload);
} apistudio_plugin_descriptor;

/* The two exported entry points, for plugin authors writing C by hand. */
typedef uint32_t (*apistudio_plugin_abi_version_fn)(void);
typedef const apistudio_plugin_descriptor *(*apistudio_plugin_descriptor_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* APISTUDIO_PLUGIN_ABI_H */
