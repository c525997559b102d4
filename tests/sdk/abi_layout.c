/* abi_layout.c — the SDK's C ABI layout, frozen: sizeof and offsetof of every public struct of
 * plugin_abi.h against the values recorded when SDK 1.0 was released (LP64: Linux x86-64 and
 * arm64). A change that moves, resizes or removes a member fails the build here; a member added
 * at a struct's end (the only change a minor version may make) fails too, and is recorded by
 * adding its line and updating the struct's size, which is the review this file exists for.
 *
 * C, not C++: a plugin written in C sees exactly this layout. */
#include <apistudio/plugin_abi.h>

#include <stddef.h>
#include <stdint.h>

#if UINTPTR_MAX != 0xFFFFFFFFFFFFFFFFu
#error "the recorded layout is LP64's; record the layout of this platform before building on it"
#endif

#define SIZE(type, bytes) _Static_assert(sizeof(type) == (bytes), "sizeof(" #type ") changed")
#define AT(type, member, offset)                                                                   \
  _Static_assert(offsetof(type, member) == (offset), "offsetof(" #type ", " #member ") changed")

SIZE(apistudio_str, 16);
AT(apistudio_str, data, 0);
AT(apistudio_str, size, 8);

SIZE(apistudio_header, 32);
AT(apistudio_header, name, 0);
AT(apistudio_header, value, 16);

SIZE(apistudio_session_info, 96);
AT(apistudio_session_info, struct_size, 0);
AT(apistudio_session_info, session_id, 8);
AT(apistudio_session_info, path, 16);
AT(apistudio_session_info, query, 32);
AT(apistudio_session_info, client_id, 48);
AT(apistudio_session_info, remote_address, 64);
AT(apistudio_session_info, headers, 80);
AT(apistudio_session_info, header_count, 88);

SIZE(apistudio_url, 72);
AT(apistudio_url, scheme, 0);
AT(apistudio_url, host, 16);
AT(apistudio_url, port, 32);
AT(apistudio_url, path, 40);
AT(apistudio_url, query, 56);

SIZE(apistudio_upstream_info, 152);
AT(apistudio_upstream_info, struct_size, 0);
AT(apistudio_upstream_info, connection_id, 8);
AT(apistudio_upstream_info, url, 24);
AT(apistudio_upstream_info, url_parts, 40);
AT(apistudio_upstream_info, subprotocol, 112);
AT(apistudio_upstream_info, close_code, 128);
AT(apistudio_upstream_info, close_reason, 136);

SIZE(apistudio_reason, 56);
AT(apistudio_reason, struct_size, 0);
AT(apistudio_reason, http_status, 4);
AT(apistudio_reason, code, 8);
AT(apistudio_reason, message, 24);
AT(apistudio_reason, setting, 40);

SIZE(apistudio_host_api, 312);
AT(apistudio_host_api, struct_size, 0);
AT(apistudio_host_api, abi_version, 4);
AT(apistudio_host_api, log, 8);
AT(apistudio_host_api, log_enabled, 16);
AT(apistudio_host_api, refuse, 24);
AT(apistudio_host_api, session_id, 32);
AT(apistudio_host_api, session_attribute, 40);
AT(apistudio_host_api, session_set_identity, 48);
AT(apistudio_host_api, message_payload, 56);
AT(apistudio_host_api, message_is_binary, 64);
AT(apistudio_host_api, message_connection_id, 72);
AT(apistudio_host_api, message_request_id, 80);
AT(apistudio_host_api, message_set_payload, 88);
AT(apistudio_host_api, message_set_reply, 96);
AT(apistudio_host_api, message_set_close, 104);
AT(apistudio_host_api, upstream_request_url, 112);
AT(apistudio_host_api, upstream_request_url_parts, 120);
AT(apistudio_host_api, upstream_request_connection_id, 128);
AT(apistudio_host_api, upstream_request_header_count, 136);
AT(apistudio_host_api, upstream_request_header_at, 144);
AT(apistudio_host_api, upstream_request_protocol_count, 152);
AT(apistudio_host_api, upstream_request_protocol_at, 160);
AT(apistudio_host_api, upstream_request_set_header, 168);
AT(apistudio_host_api, upstream_request_remove_header, 176);
AT(apistudio_host_api, session_send, 184);
AT(apistudio_host_api, session_close, 192);
AT(apistudio_host_api, timer_start, 200);
AT(apistudio_host_api, timer_cancel, 208);
AT(apistudio_host_api, bus_subscribe, 216);
AT(apistudio_host_api, bus_unsubscribe, 224);
AT(apistudio_host_api, bus_publish, 232);
AT(apistudio_host_api, now_ms, 240);
AT(apistudio_host_api, metric_register, 248);
AT(apistudio_host_api, metric_add, 256);
AT(apistudio_host_api, metric_set, 264);
/* 1.2 */
AT(apistudio_host_api, cluster_shared, 272);
AT(apistudio_host_api, counter_add, 280);
AT(apistudio_host_api, presence_join, 288);
AT(apistudio_host_api, presence_set_status, 296);
AT(apistudio_host_api, presence_leave, 304);

SIZE(apistudio_plugin_descriptor, 144);
AT(apistudio_plugin_descriptor, struct_size, 0);
AT(apistudio_plugin_descriptor, abi_version, 4);
AT(apistudio_plugin_descriptor, name, 8);
AT(apistudio_plugin_descriptor, version, 24);
AT(apistudio_plugin_descriptor, on_create, 40);
AT(apistudio_plugin_descriptor, on_destroy, 48);
AT(apistudio_plugin_descriptor, on_session_open, 56);
AT(apistudio_plugin_descriptor, on_session_close, 64);
AT(apistudio_plugin_descriptor, on_client_message, 72);
AT(apistudio_plugin_descriptor, on_message_to_upstream, 80);
AT(apistudio_plugin_descriptor, on_message_from_upstream, 88);
AT(apistudio_plugin_descriptor, on_upstream_connect, 96);
AT(apistudio_plugin_descriptor, on_upstream_opened, 104);
AT(apistudio_plugin_descriptor, on_upstream_closed, 112);
AT(apistudio_plugin_descriptor, on_bus_message, 120);
AT(apistudio_plugin_descriptor, on_settings, 128);
/* 1.2 */
AT(apistudio_plugin_descriptor, on_presence_gone, 136);

SIZE(apistudio_presence_member, 32);
AT(apistudio_presence_member, member, 0);
AT(apistudio_presence_member, status, 16);

SIZE(apistudio_presence_snapshot, 32);
AT(apistudio_presence_snapshot, struct_size, 0);
AT(apistudio_presence_snapshot, first_session, 4);
AT(apistudio_presence_snapshot, members, 8);
AT(apistudio_presence_snapshot, member_count, 16);
AT(apistudio_presence_snapshot, complete, 24);

/* Enums travel as int-sized values; their numbers are part of the contract too. */
SIZE(apistudio_verdict, 4);
SIZE(apistudio_log_level, 4);
SIZE(apistudio_session_attr, 4);
SIZE(apistudio_frame_kind, 4);
SIZE(apistudio_header_mode, 4);
SIZE(apistudio_metric_kind, 4);
_Static_assert(APISTUDIO_CONTINUE == 0 && APISTUDIO_HANDLED == 1 && APISTUDIO_REPLACE == 2 &&
                   APISTUDIO_REPLY == 3 && APISTUDIO_CLOSE == 4 && APISTUDIO_FAIL == 5 &&
                   APISTUDIO_REFUSE == 6,
               "verdict numbers changed");
_Static_assert(APISTUDIO_LOG_DEBUG == 0 && APISTUDIO_LOG_INFO == 1 && APISTUDIO_LOG_WARN == 2 &&
                   APISTUDIO_LOG_ERROR == 3,
               "log level numbers changed");
_Static_assert(APISTUDIO_ATTR_CLIENT_ID == 0 && APISTUDIO_ATTR_PATH == 1 &&
                   APISTUDIO_ATTR_REMOTE_ADDRESS == 2 && APISTUDIO_ATTR_IDENTITY == 3 &&
                   APISTUDIO_ATTR_QUERY == 4,
               "session attribute numbers changed");
_Static_assert(APISTUDIO_FRAME_TEXT == 0 && APISTUDIO_FRAME_BINARY == 1, "frame kinds changed");
_Static_assert(APISTUDIO_METRIC_COUNTER == 0 && APISTUDIO_METRIC_GAUGE == 1,
               "metric kinds changed");
_Static_assert(APISTUDIO_HEADER_OVERWRITE == 0 && APISTUDIO_HEADER_APPEND == 1 &&
                   APISTUDIO_HEADER_IF_ABSENT == 2,
               "header modes changed");
_Static_assert(APISTUDIO_SDK_ABI_VERSION ==
                   ((APISTUDIO_SDK_VERSION_MAJOR << 16) | APISTUDIO_SDK_VERSION_MINOR),
               "the packed version is (major << 16) | minor");

/* Something to run, so the check shows up in CTest as well as in the build. */
int main(void) { return 0; }
