/* noop_plugin — a plugin that looks at every message and lets it through, for
 * plugin_chain_bench: its hooks are present (a NULL hook would be skipped by the host at no cost),
 * so the benchmark measures what the host pays per plugin per message: the call through the ABI,
 * the verdict check and the payload accessors. Written in C against plugin_abi.h alone. */
#include <apistudio/plugin_abi.h>

#include <stddef.h>

typedef struct noop_plugin {
  const apistudio_host_api *host;
  size_t bytes_seen;
} noop_plugin;

static noop_plugin instances[16];
static size_t instance_count;

static apistudio_instance_plugin_ptr on_create(const apistudio_host_api *host,
                                               apistudio_plugin_host_ptr handle,
                                               apistudio_str settings_json,
                                               apistudio_refusal_host_ptr refusal) {
  (void)handle;
  (void)settings_json;
  (void)refusal;
  if (instance_count == sizeof instances / sizeof instances[0])
    return NULL;
  instances[instance_count].host = host;
  return &instances[instance_count++];
}

static void on_destroy(apistudio_instance_plugin_ptr instance) { (void)instance; }

/* Reads the payload as a real filter would, then continues. */
static apistudio_verdict look(apistudio_instance_plugin_ptr instance,
                              apistudio_message_host_ptr message) {
  noop_plugin *self = (noop_plugin *)instance;
  self->bytes_seen += self->host->message_payload(message).size;
  return APISTUDIO_CONTINUE;
}

static apistudio_verdict on_message(apistudio_instance_plugin_ptr instance,
                                    apistudio_session_host_ptr session,
                                    apistudio_session_state_plugin_ptr session_state,
                                    apistudio_message_host_ptr message,
                                    apistudio_refusal_host_ptr refusal) {
  (void)session;
  (void)session_state;
  (void)refusal;
  return look(instance, message);
}

static const apistudio_plugin_descriptor descriptor = {
    sizeof(apistudio_plugin_descriptor),
    APISTUDIO_SDK_ABI_VERSION,
    {"bench_noop", sizeof "bench_noop" - 1},
    {"1.0.0", sizeof "1.0.0" - 1},
    on_create,
    on_destroy,
    NULL,       /* on_session_open */
    NULL,       /* on_session_close */
    on_message, /* on_client_message */
    on_message, /* on_message_to_upstream */
    on_message, /* on_message_from_upstream */
    NULL,       /* on_upstream_connect */
    NULL,       /* on_upstream_opened */
    NULL,       /* on_upstream_closed */
    NULL,       /* on_bus_message */
    NULL,       /* on_settings */
    NULL,       /* on_presence_gone */
};

APISTUDIO_EXPORT uint32_t apistudio_plugin_abi_version(void) { return APISTUDIO_SDK_ABI_VERSION; }

APISTUDIO_EXPORT const apistudio_plugin_descriptor *apistudio_plugin_descriptor_v1(void) {
  return &descriptor;
}
