// Live reload (docs/operations.md, "Live reload") through an in-process host started from a real
// configuration file: the file is rewritten and host_server::reload() — what SIGHUP calls — runs.
// Open sessions must keep working on the same socket; new requests, dials and sessions see the new
// settings; an invalid file changes nothing and its error names FILE:LINE:COLUMN.
#include "proxy_test_util.hpp"
#include "raw_socket.hpp"
#include "text_count.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

// A configuration file the test rewrites between reloads. Every version starts with the same
// head (loopback port 0, two workers, the test CA), as an operator's file would keep them.
class config_file {
public:
  explicit config_file(const std::string &body) : path_(make_path()) { write(body); }
  ~config_file() { std::remove(path_.c_str()); }

  void write(const std::string &body, int worker_threads = 2) const {
    std::ofstream out(path_, std::ios::trunc);
    out << head(worker_threads) << body;
  }
  const std::string &path() const { return path_; }
  // Lines in head(): a body's first line is line head_lines() + 1.
  static int head_lines() { return 5; }

  host_options options() const {
    host_options o;
    o.reload_source = [path = path_] { return load_config(path); };
    return o;
  }

private:
  static std::string make_path() {
    static int counter = 0;
    return ::testing::TempDir() + "apistudio_reload_" + std::to_string(::getpid()) + "_" +
           std::to_string(++counter) + ".yaml";
  }
  static std::string head(int worker_threads) {
    return "server:\n"
           "  listen: \"127.0.0.1:0\"\n"
           "  worker_threads: " +
           std::to_string(worker_threads) +
           "\n"
           "tls:\n"
           "  ca_file: \"" +
           test_data_dir() + "/tls/ca.pem\"\n";
  }
  std::string path_;
};

struct reload_host {
  config_file file;
  host_instance host;
  explicit reload_host(const std::string &body)
      : file(body), host(load_config(file.path()), file.options()) {}
  std::uint16_t port() { return host.port(); }
};

// One message to the echo upstream and back on an open session.
void expect_round_trip(ws_client &c, const std::string &content, const std::string &cid = "") {
  json cmd = {{"type", "send_message"}, {"content", content}};
  if (!cid.empty())
    cmd["connection_id"] = cid;
  c.send_json(cmd);
  const auto [sent, got] = read_round_trip(c); // fails the test on anything else
  ASSERT_TRUE(sent.is_object() && got.is_object());
  EXPECT_EQ(got.value("content", ""), content) << got.dump().substr(0, 300);
}

// One GET on a connection kept alive between requests; the status, 0 if no answer.
int status_on(raw_socket &s, const std::string &origin) {
  if (!s.send("GET /api/websocket/active-connections HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " +
              origin + "\r\n\r\n"))
    return 0;
  std::string bytes; // the head, and whatever part of the body came with it
  if (!s.read_until(bytes, "\r\n\r\n", std::chrono::seconds(5)))
    return 0;
  const std::size_t head_end = bytes.find("\r\n\r\n") + 4;
  std::string head = bytes.substr(0, head_end);
  for (auto &ch : head)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const auto at = head.find("content-length:");
  if (at == std::string::npos)
    return 0;
  std::string body = bytes.substr(head_end); // the whole body, so the next response starts clean
  if (!s.read_exactly(body, std::stoul(head.substr(at + 15)), std::chrono::seconds(5)))
    return 0;
  return std::stoi(head.substr(head.find(' ') + 1, 3));
}

int status_of(std::uint16_t port, const std::vector<std::pair<std::string, std::string>> &h = {}) {
  return http_request(port, "GET", "/api/websocket/active-connections", h).status;
}

} // namespace

TEST(LiveReload, AddedAccessTokenAppliesToNewRequestsWhileTheOpenSessionGoesOn) {
  test_upstream echo;
  reload_host h("");
  proxy_client c(h.port(), "before-reload");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  expect_round_trip(c.ws, "hello before");
  EXPECT_EQ(status_of(h.port()), 200);

  h.file.write("security:\n  access_tokens: [\"reload-token-1\"]\n");
  const reload_outcome r = h.host.server().reload();
  ASSERT_TRUE(r.applied) << r.error;
  EXPECT_TRUE(r.restart_needed.empty());

  // New requests need the token now; the session admitted before goes on on the same socket.
  EXPECT_EQ(status_of(h.port()), 401);
  EXPECT_EQ(status_of(h.port(), {{"Authorization", "Bearer reload-token-1"}}), 200);
  ws_client refused;
  EXPECT_FALSE(refused.connect(h.port(), "/api/websocket/connect/after-reload"));
  EXPECT_EQ(refused.handshake_status, 401);
  ws_client admitted;
  EXPECT_TRUE(admitted.connect(h.port(), "/api/websocket/connect/after-reload",
                               {{"Authorization", "Bearer reload-token-1"}}))
      << admitted.handshake_status;
  expect_round_trip(c.ws, "hello after");
  EXPECT_FALSE(c.ws.closed());
  const json active = http_request(h.port(), "GET", "/api/websocket/active-connections",
                                   {{"Authorization", "Bearer reload-token-1"}})
                          .json();
  EXPECT_NE(active.dump().find("before-reload"), std::string::npos) << active.dump();

  EXPECT_EQ(h.host.server().reload_stats().applied, 1u);
  EXPECT_EQ(h.host.server().reload_stats().failed, 0u);
  EXPECT_EQ(h.host.server().settings()->generation, 2u);
  EXPECT_TRUE(h.host.log_contains("configuration reloaded from " + h.file.path()));
}

TEST(LiveReload, AllowedOriginsChangeForTheNextRequestOnAKeptAliveConnection) {
  reload_host h("");
  const std::string origin = "https://app.example";
  raw_socket kept(h.port());
  ASSERT_TRUE(kept.connected());
  EXPECT_EQ(status_on(kept, origin), 403);
  h.file.write("security:\n  allowed_origins: [\"" + origin + "\"]\n");
  ASSERT_TRUE(h.host.server().reload().applied);
  // The connection was already waiting for its next request when the reload came.
  EXPECT_EQ(status_on(kept, origin), 200);
  EXPECT_EQ(status_of(h.port(), {{"Origin", origin}}), 200);
  ws_client page;
  EXPECT_TRUE(page.connect(h.port(), "/api/websocket/connect/page", {{"Origin", origin}}))
      << page.handshake_status;

  // Taken away again: new requests are refused, the page's open session stays.
  h.file.write("security:\n  allow_missing_origin: false\n");
  ASSERT_TRUE(h.host.server().reload().applied);
  EXPECT_EQ(status_of(h.port(), {{"Origin", origin}}), 403);
  EXPECT_EQ(status_of(h.port()), 403); // no Origin at all is refused now
  EXPECT_FALSE(page.closed());         // the page's open session is not dropped
}

TEST(LiveReload, TighterEgressDeniesTheNextDialButKeepsOpenUpstreams) {
  test_upstream echo;
  reload_host h("");
  proxy_client c(h.port(), "egress");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url(), {{"connection_id", "old"}})["status"], "connected");

  h.file.write("egress:\n  deny: [\"127.0.0.1\"]\n");
  ASSERT_TRUE(h.host.server().reload().applied);

  // The same session's next dial sees the rule at once.
  c.ws.send_json({{"type", "connect_external"},
                  {"url", echo.url()},
                  {"connection_id", "new"},
                  {"request_id", "r-new"}});
  const json err = c.ws.read_until("connection_error");
  EXPECT_EQ(err["code"], "DESTINATION_DENIED") << err.dump();
  EXPECT_EQ(err["connection_id"], "new") << err.dump();
  // "connecting", then the final status of "new" ("error"): both read, so only the echo follows.
  EXPECT_EQ(c.ws.read_until("connection_status")["status"], "connecting");
  EXPECT_EQ(c.ws.read_until("connection_status")["status"], "error");
  const std::size_t accepted_before = echo.accepted();
  // So does a test-connection.
  const http_result t =
      http_request(h.port(), "POST", "/api/websocket/test-connection",
                   {{"Content-Type", "application/json"}}, json{{"url", echo.url()}}.dump());
  EXPECT_EQ(t.json().value("code", ""), "DESTINATION_DENIED") << t.body;
  EXPECT_EQ(echo.accepted(), accepted_before);
  // The upstream opened before the reload still carries messages.
  expect_round_trip(c.ws, "still flowing", "old");
}

TEST(LiveReload, NewLimitsApplyToNewSessionsWhileOpenOnesKeepTheirs) {
  test_upstream echo;
  reload_host h("limits:\n  max_message_size: 64KiB\n");
  proxy_client old_session(h.port(), "old-limits");
  ASSERT_TRUE(old_session.ok);
  ASSERT_EQ(open_upstream(old_session.ws, echo.url())["status"], "connected");

  h.file.write("limits:\n  max_message_size: 16KiB\n");
  ASSERT_TRUE(h.host.server().reload().applied);
  EXPECT_EQ(h.host.server().settings()->config.limits.max_message_bytes, 16u * 1024);

  const std::string content(32 * 1024, 'm'); // between the old and the new limit
  proxy_client new_session(h.port(), "new-limits");
  ASSERT_TRUE(new_session.ok);
  ASSERT_EQ(open_upstream(new_session.ws, echo.url())["status"], "connected");
  new_session.ws.send_json(
      {{"type", "send_message"}, {"content", content}, {"request_id", "too-big-now"}});
  const json e = next_event(new_session.ws);
  EXPECT_EQ(e["type"], "send_error") << e.dump().substr(0, 300);
  EXPECT_EQ(e["code"], "MESSAGE_TOO_LARGE");

  // The session opened before the reload still has its 64 KiB: the same message goes through.
  expect_round_trip(old_session.ws, content);
}

TEST(LiveReload, InvalidFileChangesNothingAndNamesFileLineAndColumn) {
  test_upstream echo;
  reload_host h("security:\n  access_tokens: [\"first-token\"]\n");
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"Authorization", "Bearer first-token"}};
  ws_client c;
  ASSERT_TRUE(c.connect(h.port(), "/api/websocket/connect/kept", auth));

  // Line 3 of the body, column 21: the bad value. The token change before it must not apply.
  h.file.write("security:\n"
               "  access_tokens: [\"second-token\"]\n"
               "limits:\n"
               "  max_message_size: lots\n");
  const reload_outcome r = h.host.server().reload();
  EXPECT_FALSE(r.applied);
  const std::string where =
      h.file.path() + ":" + std::to_string(config_file::head_lines() + 4) + ":21:";
  EXPECT_NE(r.error.find(where), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("limits.max_message_size"), std::string::npos) << r.error;
  EXPECT_TRUE(h.host.log_contains("configuration not reloaded")) << h.host.log_text();
  EXPECT_TRUE(h.host.log_contains(where)) << h.host.log_text();
  EXPECT_EQ(h.host.server().reload_stats().failed, 1u);
  EXPECT_EQ(h.host.server().reload_stats().applied, 0u);
  EXPECT_EQ(h.host.server().settings()->generation, 1u);

  // Still the old token, not the new one; the open session is untouched.
  EXPECT_EQ(status_of(h.port(), auth), 200);
  EXPECT_EQ(status_of(h.port(), {{"Authorization", "Bearer second-token"}}), 401);
  c.send_json({{"type", "connect_external"}, {"url", echo.url()}});
  EXPECT_EQ(c.read_until("connection_status")["status"], "connecting");
  EXPECT_EQ(c.read_until("connection_status")["status"], "connected");

  // A file that does not exist any more is the same: logged, counted, nothing changes.
  std::remove(h.file.path().c_str());
  EXPECT_FALSE(h.host.server().reload().applied);
  EXPECT_EQ(h.host.server().reload_stats().failed, 2u);
  EXPECT_EQ(status_of(h.port(), auth), 200);

  // What an operator's alert watches: both failures, no success, on GET /metrics.
  const std::string metrics = http_request(h.port(), "GET", "/metrics", auth).body;
  EXPECT_NE(metrics.find("apistudio_config_reloads_total{result=\"failed\"} 2\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("apistudio_config_reloads_total{result=\"applied\"} 0\n"),
            std::string::npos)
      << metrics;
}

TEST(LiveReload, RestartOnlySettingsKeepTheirRunningValueAndAreNamed) {
  reload_host h("");
  // worker_threads 2 -> 3 needs a restart; the limit and the added plugin apply.
  h.file.write(std::string("limits:\n  max_connections_per_client: 3\n"
                           "plugins:\n  - name: test_recorder\n    path: \"") +
                   APISTUDIO_PLUGIN_DIR + "/libtest_recorder.so\"\n",
               3);
  const reload_outcome r = h.host.server().reload();
  ASSERT_TRUE(r.applied) << r.error;
  EXPECT_EQ(r.restart_needed, (std::vector<std::string>{"server.worker_threads"}));
  const auto now = h.host.server().settings();
  EXPECT_EQ(now->config.worker_threads, 2);
  EXPECT_EQ(now->config.plugins.size(), 1u);
  EXPECT_EQ(now->config.limits.max_connections_per_client, 3u);
  EXPECT_TRUE(h.host.log_contains("server.worker_threads changed in " + h.file.path() +
                                  " but needs a restart"))
      << h.host.log_text();
  EXPECT_TRUE(h.host.log_contains("run the added plugin(s) 'test_recorder'")) << h.host.log_text();
}

TEST(LiveReload, LogSettingsApplyToTheNextLine) {
  reload_host h("log:\n  format: text\n");
  // Switched to JSON: the reload's own report is already written in the new format.
  h.file.write("log:\n  format: json\n  level: info\n");
  ASSERT_TRUE(h.host.server().reload().applied);
  EXPECT_TRUE(h.host.log_contains("\"message\":\"configuration reloaded from "))
      << h.host.log_text();
  // Raised to error: a refused request (a warning) is no longer written.
  h.file.write("log:\n  format: json\n  level: error\n");
  ASSERT_TRUE(h.host.server().reload().applied);
  EXPECT_EQ(status_of(h.port(), {{"Origin", "https://not-allowed.example"}}), 403);
  EXPECT_FALSE(h.host.log_contains("refused a request with 403")) << h.host.log_text();
  h.file.write("log:\n  format: json\n  level: warn\n");
  ASSERT_TRUE(h.host.server().reload().applied);
  EXPECT_EQ(status_of(h.port(), {{"Origin", "https://not-allowed.example"}}), 403);
  EXPECT_TRUE(h.host.log_contains("refused a request with 403")) << h.host.log_text();
}

namespace {

// The plugins block of a file whose plugins are the fixtures in APISTUDIO_PLUGIN_DIR.
std::string live_settings_plugins(const std::string &live_settings_body,
                                  const std::string &recorder_tag = "R") {
  return std::string("plugin_dir: \"") + APISTUDIO_PLUGIN_DIR +
         "\"\n"
         "plugins:\n"
         "  - name: test_live_settings\n"
         "    settings:\n" +
         live_settings_body +
         "  - name: test_recorder\n"
         "    settings:\n"
         "      tag: " +
         recorder_tag + "\n";
}

// One message to the echo upstream; what the client got back (the plugins' stamps appended).
std::string echoed(ws_client &c, const std::string &content) {
  c.send_json({{"type", "send_message"}, {"content", content}});
  const auto [sent, got] = read_round_trip(c);
  return got.is_object() ? got.value("content", "") : "";
}

} // namespace

// A plugin exporting on_settings takes a reload's settings on its running instance: the session
// opened before the reload sees them on its next message, on the same socket.
TEST(LiveReload, PluginWithOnSettingsTakesNewSettingsOnItsRunningInstance) {
  test_upstream echo;
  reload_host h(live_settings_plugins("      tag: one\n"));
  proxy_client c(h.port(), "before-reload");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  EXPECT_EQ(echoed(c.ws, "hi"), "hi|one");

  h.file.write(live_settings_plugins("      tag: two\n"));
  const reload_outcome r = h.host.server().reload();
  ASSERT_TRUE(r.applied) << r.error;
  EXPECT_TRUE(r.restart_needed.empty());
  EXPECT_EQ(echoed(c.ws, "again"), "again|two"); // same session, same instance, new settings
  EXPECT_TRUE(h.host.log_contains("two settings")) << h.host.log_text();
  EXPECT_TRUE(h.host.log_contains("took its new settings")) << h.host.log_text();
  EXPECT_FALSE(h.host.log_contains("one destroyed")) << h.host.log_text(); // not a new instance

  proxy_client fresh(h.port(), "after-reload");
  ASSERT_TRUE(fresh.ok);
  ASSERT_EQ(open_upstream(fresh.ws, echo.url())["status"], "connected");
  EXPECT_EQ(echoed(fresh.ws, "new"), "new|two");
  EXPECT_EQ(active_connections(h.port()).size(), 2u); // nobody was dropped
}

// A plugin refusing its new settings fails the whole reload: its error names the key's
// file:line:column, the running settings stay, and a plugin without on_settings is left alone.
TEST(LiveReload, RefusedPluginSettingsChangeNothing) {
  test_upstream echo;
  reload_host h(live_settings_plugins("      tag: one\n"));
  proxy_client c(h.port(), "before-reload");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");

  // The recorder's tag changes too, and a limit: none of it applies.
  h.file.write("limits:\n  max_connections_per_client: 3\n" +
               live_settings_plugins("      tag: two\n      refuse: true\n", "R2"));
  const reload_outcome r = h.host.server().reload();
  EXPECT_FALSE(r.applied);
  // After the head: limits (2 lines), plugin_dir, plugins, name, settings, tag, then refuse.
  const std::string at = h.file.path() + ":" + std::to_string(config_file::head_lines() + 8) + ":";
  EXPECT_NE(r.error.find("plugin 'test_live_settings'"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("refused its new settings at " + at), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("told to refuse these settings"), std::string::npos) << r.error;
  EXPECT_EQ(h.host.server().reload_stats().failed, 1u);
  EXPECT_NE(h.host.server().settings()->config.limits.max_connections_per_client, 3u);
  EXPECT_EQ(echoed(c.ws, "still"), "still|one"); // the session goes on with the old settings

  // Valid again: the recorder has no on_settings, so new sessions get a fresh instance of it
  // while this session keeps the one it opened with; nothing needs a restart.
  h.file.write(live_settings_plugins("      tag: three\n", "R2"));
  const reload_outcome ok = h.host.server().reload();
  ASSERT_TRUE(ok.applied) << ok.error;
  EXPECT_TRUE(ok.restart_needed.empty());
  EXPECT_EQ(echoed(c.ws, "later"), "later|three");
  EXPECT_TRUE(h.host.log_contains("fresh instance of 'test_recorder'")) << h.host.log_text();
}

namespace {

// The host's log, polled until it holds `needle` (retiring an instance is queued on a worker).
bool log_shows(host_instance &host, const std::string &needle,
               std::chrono::milliseconds within = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (!host.log_contains(needle)) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// The recorder stamping "|<tag>" on what upstreams send, with a session-less timer logging
// "<tag> global_timer" every 20 ms for as long as its instance lives.
std::string recorder_plugins(const std::string &tag) {
  return std::string("plugin_dir: \"") + APISTUDIO_PLUGIN_DIR +
         "\"\n"
         "plugins:\n"
         "  - name: test_recorder\n"
         "    settings:\n"
         "      tag: " +
         tag +
         "\n"
         "      upstream_verdict: append_tag\n"
         "      global_timer_ms: 20\n"
         "      global_timer_interval_ms: 20\n";
}

} // namespace

// A plugin without on_settings whose settings change: sessions opened from then on run a fresh
// instance with the new settings, the open session keeps the old instance, and the old instance
// (its timers too) goes when that session closes, not before.
TEST(LiveReload, PluginWithoutOnSettingsGetsAFreshInstanceForNewSessions) {
  test_upstream echo;
  reload_host h(recorder_plugins("R1"));
  auto before = std::make_unique<proxy_client>(h.port(), "before-reload");
  ASSERT_TRUE(before->ok);
  ASSERT_EQ(open_upstream(before->ws, echo.url())["status"], "connected");
  EXPECT_EQ(echoed(before->ws, "a"), "a|R1");

  h.file.write(recorder_plugins("R2"));
  const reload_outcome r = h.host.server().reload();
  ASSERT_TRUE(r.applied) << r.error;
  EXPECT_TRUE(r.restart_needed.empty());

  proxy_client after(h.port(), "after-reload");
  ASSERT_TRUE(after.ok);
  ASSERT_EQ(open_upstream(after.ws, echo.url())["status"], "connected");
  EXPECT_EQ(echoed(after.ws, "b"), "b|R2");
  EXPECT_EQ(echoed(before->ws, "c"), "c|R1"); // same socket, the instance it opened with
  EXPECT_TRUE(log_shows(h.host, "R2 global_timer")) << h.host.log_text();
  EXPECT_FALSE(h.host.log_contains("R1 destroyed")) << h.host.log_text();

  before->ws.close();
  before.reset();
  ASSERT_TRUE(log_shows(h.host, "R1 destroyed")) << h.host.log_text();
  EXPECT_TRUE(h.host.log_contains("that a reload replaced or removed")) << h.host.log_text();
  // Its session-less timer ended with it; the new instance's goes on.
  const std::size_t r1_ticks = count_of(h.host.log_text(), "R1 global_timer");
  const std::size_t r2_ticks = count_of(h.host.log_text(), "R2 global_timer");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(count_of(h.host.log_text(), "R1 global_timer"), r1_ticks);
  EXPECT_GT(count_of(h.host.log_text(), "R2 global_timer"), r2_ticks);
  EXPECT_FALSE(h.host.log_contains("R2 destroyed"));
  EXPECT_EQ(echoed(after.ws, "d"), "d|R2");
}

// Plugins added to or removed from the file apply to the sessions opened after the reload; the
// sessions opened before go on through the chain they opened with.
TEST(LiveReload, PluginsAddedOrRemovedApplyToNewSessions) {
  test_upstream echo;
  reload_host h(std::string("plugin_dir: \"") + APISTUDIO_PLUGIN_DIR +
                "\"\n"
                "plugins:\n"
                "  - name: test_live_settings\n"
                "    settings:\n"
                "      tag: one\n");
  auto before = std::make_unique<proxy_client>(h.port(), "before-reload");
  ASSERT_TRUE(before->ok);
  ASSERT_EQ(open_upstream(before->ws, echo.url())["status"], "connected");
  EXPECT_EQ(echoed(before->ws, "a"), "a|one");

  // test_live_settings removed, test_recorder added.
  h.file.write(recorder_plugins("R"));
  const reload_outcome r = h.host.server().reload();
  ASSERT_TRUE(r.applied) << r.error;
  EXPECT_TRUE(r.restart_needed.empty());
  EXPECT_TRUE(h.host.log_contains("run the added plugin(s) 'test_recorder'")) << h.host.log_text();
  EXPECT_TRUE(h.host.log_contains("no longer run 'test_live_settings'")) << h.host.log_text();

  proxy_client after(h.port(), "after-reload");
  ASSERT_TRUE(after.ok);
  ASSERT_EQ(open_upstream(after.ws, echo.url())["status"], "connected");
  EXPECT_EQ(echoed(after.ws, "b"), "b|R");
  EXPECT_EQ(echoed(before->ws, "c"), "c|one");
  EXPECT_FALSE(h.host.log_contains("one destroyed"));

  before->ws.close();
  before.reset();
  EXPECT_TRUE(log_shows(h.host, "one destroyed")) << h.host.log_text();
  EXPECT_EQ(echoed(after.ws, "d"), "d|R");

  // And every plugin removed: new sessions run none.
  h.file.write("");
  ASSERT_TRUE(h.host.server().reload().applied);
  proxy_client bare(h.port(), "no-plugins");
  ASSERT_TRUE(bare.ok);
  ASSERT_EQ(open_upstream(bare.ws, echo.url())["status"], "connected");
  EXPECT_EQ(echoed(bare.ws, "e"), "e");
  EXPECT_EQ(echoed(after.ws, "f"), "f|R");
}

// A reload naming a plugin that cannot be loaded changes nothing: the error names the entry's
// file:line:column, the running chain stays for new sessions, the failure is counted.
TEST(LiveReload, APluginThatDoesNotLoadChangesNothing) {
  test_upstream echo;
  reload_host h(recorder_plugins("R"));
  h.file.write(recorder_plugins("R") + "  - name: missing_plugin\n"
                                       "    path: \"/nonexistent/libmissing.so\"\n");
  const reload_outcome r = h.host.server().reload();
  EXPECT_FALSE(r.applied);
  EXPECT_NE(r.error.find("missing_plugin"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(h.file.path() + ":"), std::string::npos) << r.error;
  EXPECT_EQ(h.host.server().reload_stats().failed, 1u);

  proxy_client c(h.port(), "after-failed-reload");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  EXPECT_EQ(echoed(c.ws, "a"), "a|R");
  EXPECT_FALSE(h.host.log_contains("R destroyed"));
}
