// Which settings a live reload keeps at their running value (restart_only_settings.hpp), and that
// every other setting goes through untouched.
#include "policy/config_error.hpp"
#include "policy/live_settings.hpp"
#include "policy/restart_only_settings.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace apistudio;
using strings = std::vector<std::string>;

namespace {

host_config running() {
  host_config c;
  c.listen.host = "127.0.0.1";
  c.listen.port = 58123;
  c.worker_threads = 2;
  c.plugin_dir = "/usr/lib/apistudio/plugins";
  plugin_config p;
  p.name = "rate_limiter";
  p.settings = {{"limits", nlohmann::json::array()}};
  p.location = "a.yaml:10:5";
  c.plugins.push_back(p);
  return c;
}

} // namespace

TEST(RestartOnlySettings, NothingChangedNamesNothing) {
  host_config next = running();
  next.plugins[0].location = "a.yaml:12:5"; // moved in the file, same meaning
  EXPECT_TRUE(keep_restart_only_settings(running(), next).empty());
}

TEST(RestartOnlySettings, ReloadableSettingsPassThrough) {
  host_config next = running();
  next.limits.max_message_bytes = 4096;
  next.keepalive.idle_timeout = std::chrono::seconds(5);
  next.security.access_tokens = {"t"};
  next.security.allowed_origins = {"https://app.example"};
  next.egress.deny.push_back({"10.0.0.0/8", 3});
  next.tls.allow_insecure_opt_out = true;
  next.listen.allow_public_without_auth = true;
  EXPECT_TRUE(keep_restart_only_settings(running(), next).empty());
  EXPECT_EQ(next.limits.max_message_bytes, 4096u);
  EXPECT_EQ(next.keepalive.idle_timeout, std::chrono::seconds(5));
  EXPECT_EQ(next.security.access_tokens, strings{"t"});
  EXPECT_EQ(next.egress.deny.size(), 1u);
  EXPECT_TRUE(next.tls.allow_insecure_opt_out);
  EXPECT_TRUE(next.listen.allow_public_without_auth);
}

TEST(RestartOnlySettings, EachRestartOnlySettingIsNamedAndKeepsItsRunningValue) {
  host_config next = running();
  next.listen.port = 9000;
  next.worker_threads = 8;
  next.tls.verify = false;
  next.tls.ca_file = "/etc/ssl/extra.pem";
  next.resolver.servers = {{"10.0.0.53", 53}};
  next.cluster.backend = cluster_backend::redis;
  next.cluster.url = "redis://127.0.0.1:6379/0";
  next.debug = true;
  next.plugin_dir = "/opt/plugins";
  next.limits.max_message_bytes = 1234; // reloadable, alongside
  EXPECT_EQ(keep_restart_only_settings(running(), next),
            (strings{"server.listen", "server.worker_threads", "tls.verify", "tls.ca_file",
                     "resolver", "cluster", "debug", "plugin_dir"}));
  const host_config r = running();
  EXPECT_EQ(next.listen.port, r.listen.port);
  EXPECT_EQ(next.worker_threads, r.worker_threads);
  EXPECT_EQ(next.tls.verify, r.tls.verify);
  EXPECT_EQ(next.tls.ca_file, r.tls.ca_file);
  EXPECT_TRUE(next.resolver.servers.empty());
  EXPECT_EQ(next.cluster.backend, cluster_backend::local);
  EXPECT_TRUE(next.cluster.url.empty());
  EXPECT_FALSE(next.debug);
  EXPECT_EQ(next.plugin_dir, r.plugin_dir);
  EXPECT_EQ(next.limits.max_message_bytes, 1234u);
}

// The plugins list is not restart-only: its settings, entries added, removed, disabled or given
// another path all go to the reload (plugin_runtime builds new sessions' chain from them).
TEST(RestartOnlySettings, ThePluginsListIsLeftToTheReload) {
  host_config next = running();
  next.plugins[0].settings = {{"limits", {{{"messages", 5}}}}};
  next.plugins[0].path = "/usr/lib/apistudio/plugins/other.so";
  next.plugins.push_back(next.plugins[0]);
  next.plugins[1].name = "other";
  next.plugins[1].enabled = false;
  EXPECT_TRUE(keep_restart_only_settings(running(), next).empty());
  ASSERT_EQ(next.plugins.size(), 2u);
  EXPECT_EQ(next.plugins[0].settings["limits"][0]["messages"], 5);
  EXPECT_EQ(next.plugins[0].path, "/usr/lib/apistudio/plugins/other.so");
  EXPECT_FALSE(next.plugins[1].enabled);

  host_config removed = running();
  removed.plugins.clear();
  EXPECT_TRUE(keep_restart_only_settings(running(), removed).empty());
  EXPECT_TRUE(removed.plugins.empty());
}

TEST(LiveSettings, ReadersKeepTheSnapshotTheyTookAcrossAPublish) {
  host_config first;
  first.limits.max_message_bytes = 100;
  live_settings live(std::make_shared<const settings_snapshot>(first, own_endpoints{}, 1));
  const auto held = live.current();
  host_config second;
  second.limits.max_message_bytes = 200;
  second.security.access_tokens = {"tok"};
  live.publish(std::make_shared<const settings_snapshot>(second, own_endpoints{}, 2));
  EXPECT_EQ(held->config.limits.max_message_bytes, 100u);
  EXPECT_EQ(held->generation, 1u);
  EXPECT_EQ(live.current()->config.limits.max_message_bytes, 200u);
  EXPECT_EQ(live.current()->generation, 2u);
  // The snapshot's admission policy reads its own configuration's tokens.
  admission_request req;
  req.host = "127.0.0.1";
  req.has_host = true;
  EXPECT_EQ(held->admission.check(req).status, 0);
  EXPECT_EQ(live.current()->admission.check(req).status, 401);
}

TEST(LiveSettings, ABadEgressRuleThrowsBeforeAnythingIsPublished) {
  host_config bad;
  bad.egress.deny.push_back({"not a pattern!", 7});
  EXPECT_THROW(settings_snapshot(bad, own_endpoints{}, 2), config_error);
}

TEST(RestartOnlySettings, AdminListenIsNamedAndKeepsItsRunningValue) {
  host_config next = running();
  next.admin.host = "127.0.0.1";
  next.admin.port = 9901;
  EXPECT_EQ(keep_restart_only_settings(running(), next), strings{"admin.listen"});
  EXPECT_FALSE(next.admin.enabled());
}

TEST(RestartOnlySettings, EveryClusterKeyIsRestartOnly) {
  const std::vector<void (*)(cluster_config &)> changes = {
      [](cluster_config &c) { c.backend = cluster_backend::redis; },
      [](cluster_config &c) { c.url = "redis://10.0.0.1:6379/0"; },
      [](cluster_config &c) { c.redis_host = "10.0.0.1"; },
      [](cluster_config &c) { c.redis_port = 6380; },
      [](cluster_config &c) { c.redis_db = 2; },
      [](cluster_config &c) { c.password = "other"; },
      [](cluster_config &c) { c.node_id = "b"; },
      [](cluster_config &c) { c.key_prefix = "x:"; },
      [](cluster_config &c) { c.connect_timeout = std::chrono::seconds(9); },
      [](cluster_config &c) { c.command_timeout = std::chrono::seconds(9); },
      [](cluster_config &c) { c.lease_ttl = std::chrono::seconds(9); },
      [](cluster_config &c) { c.presence_ttl = std::chrono::seconds(9); },
      [](cluster_config &c) { c.counter_sync_interval = std::chrono::seconds(9); },
      [](cluster_config &c) { c.start_without_engine = true; },
  };
  for (std::size_t i = 0; i < changes.size(); ++i) {
    SCOPED_TRACE(i);
    host_config next = running();
    changes[i](next.cluster);
    EXPECT_EQ(keep_restart_only_settings(running(), next), strings{"cluster"});
    EXPECT_EQ(next.cluster, running().cluster);
  }
}
