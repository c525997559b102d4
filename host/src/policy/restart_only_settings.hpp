// restart_only_settings.hpp — the settings a live reload cannot change in a running host.
//
// They are built into things that exist once per process: the bound listening socket
// (server.listen), the worker threads (server.worker_threads), the upstream TLS contexts
// (tls.verify, tls.ca_file), the name resolver's channels (resolver), the folder plugin names are
// looked up in (plugin_dir) and the log threshold (debug). A reload applies everything else (the
// `plugins` list included: plugin_runtime::reload builds new sessions' chain from it) and keeps
// the running value of these (nginx keeps the old master's listening sockets the same way),
// naming each one that changed so the operator knows to restart.
#pragma once

#include "policy/host_config.hpp"

#include <string>
#include <vector>

namespace apistudio {

// For each restart-only setting whose value in `next` differs from `running`: puts the running
// value back into `next` and returns the setting's key as written in the YAML ("server.listen").
std::vector<std::string> keep_restart_only_settings(const host_config &running, host_config &next);

} // namespace apistudio
