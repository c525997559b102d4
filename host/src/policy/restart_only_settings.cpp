#include "policy/restart_only_settings.hpp"

namespace apistudio {

namespace {

bool same_servers(const std::vector<name_server> &a, const std::vector<name_server> &b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].address != b[i].address || a[i].port != b[i].port)
      return false;
  return true;
}

template <class T>
void keep(const char *key, const T &running, T &next, bool same,
          std::vector<std::string> &changed) {
  if (same)
    return;
  next = running;
  changed.emplace_back(key);
}

} // namespace

std::vector<std::string> keep_restart_only_settings(const host_config &running, host_config &next) {
  std::vector<std::string> changed;
  const bool same_listen =
      running.listen.host == next.listen.host && running.listen.port == next.listen.port;
  if (!same_listen) {
    next.listen.host = running.listen.host;
    next.listen.port = running.listen.port;
    changed.emplace_back("server.listen");
  }
  if (running.admin.host != next.admin.host || running.admin.port != next.admin.port) {
    next.admin = running.admin;
    changed.emplace_back("admin.listen");
  }
  keep("server.worker_threads", running.worker_threads, next.worker_threads,
       running.worker_threads == next.worker_threads, changed);
  keep("tls.verify", running.tls.verify, next.tls.verify, running.tls.verify == next.tls.verify,
       changed);
  keep("tls.ca_file", running.tls.ca_file, next.tls.ca_file,
       running.tls.ca_file == next.tls.ca_file, changed);
  keep("resolver", running.resolver, next.resolver,
       same_servers(running.resolver.servers, next.resolver.servers) &&
           running.resolver.max_lookups_per_client == next.resolver.max_lookups_per_client &&
           running.resolver.max_lookups_per_worker == next.resolver.max_lookups_per_worker,
       changed);
  // The engine is connected once, before the listener opens; a new one would need every lease,
  // subscription and presence entry moved over (docs/cluster.md).
  keep("cluster", running.cluster, next.cluster, running.cluster == next.cluster, changed);
  keep("debug", running.debug, next.debug, running.debug == next.debug, changed);
  keep("plugin_dir", running.plugin_dir, next.plugin_dir, running.plugin_dir == next.plugin_dir,
       changed);
  return changed;
}

} // namespace apistudio
