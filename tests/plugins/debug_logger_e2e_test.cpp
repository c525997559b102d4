// debug_logger through the real apistudio-host binary (issue 4): WEBSOCKET_DEBUG (true, 1, yes)
// or the config turn it on, and then every event is one line on stderr; canary secrets (headers,
// URL userinfo, query tokens, headers injected by auth_header_injector) never appear anywhere in
// that output; off means no line at all.
#include "child_process.hpp"
#include "plugin_e2e.hpp"

#include <csignal>
#include <map>
#include <sstream>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string host_binary = APISTUDIO_HOST_BINARY;
const std::string plugin_dir = APISTUDIO_PLUGIN_DIR;

const std::vector<std::string> canaries = {
    "AUTHCANARY111",  "COOKIECANARY222",   "APIKEYCANARY333",       "USERINFOCANARY444",
    "QUERYCANARY555", "INJECTEDCANARY666", "UPGRADEQUERYCANARY777", "UPGRADEAUTHCANARY888"};

std::string config_yaml(const std::string &enabled) {
  return "plugin_dir: \"" + plugin_dir +
         "\"\n"
         "plugins:\n"
         "  - name: auth_header_injector\n"
         "    settings:\n"
         "      rules:\n"
         "        - name: inject\n"
         "          set:\n"
         "            X-Upstream-Token: {env: APISTUDIO_E2E_INJECTED}\n"
         "  - name: debug_logger\n"
         "    settings:\n"
         "      enabled: " +
         enabled +
         "\n"
         "      max_payload_log_bytes: 64\n";
}

struct debug_run {
  std::string err;
  std::string plugin_lines; // only the debug logger's lines
  std::map<std::string, std::string> upstream_headers;
};

// Starts the binary, drives one proxy session full of secrets through it, stops it with SIGTERM.
debug_run run_session(const std::string &enabled, std::optional<std::string> websocket_debug) {
  test_upstream echo;
  const std::string config = temp_file("debug.yaml", config_yaml(enabled));
  child_process host({host_binary, "--config", config, "--listen", "127.0.0.1:0"},
                     {{"WEBSOCKET_DEBUG", websocket_debug},
                      {"APISTUDIO_E2E_INJECTED", std::string("INJECTEDCANARY666")}});
  debug_run out;
  const std::uint16_t port = host.wait_for_listen_port(10s);
  if (port == 0) {
    ADD_FAILURE() << "the host did not start:\n" << host.err();
    return out;
  }
  {
    ws_client c;
    if (!c.connect(port, "/api/websocket/connect/debugged?token=UPGRADEQUERYCANARY777&view=1",
                   {{"Authorization", "Bearer UPGRADEAUTHCANARY888"}})) {
      ADD_FAILURE() << "upgrade refused: " << c.handshake_status;
      return out;
    }
    c.send_json({{"type", "connect_external"},
                 {"url", echo.url("/feed?access_token=QUERYCANARY555&page=2")},
                 {"headers",
                  {{"Authorization", "Bearer AUTHCANARY111"},
                   {"Cookie", "sid=COOKIECANARY222"},
                   {"X-Api-Key", "APIKEYCANARY333"},
                   {"X-Trace", "visible-trace"}}}});
    EXPECT_EQ(c.read_until("connection_status")["status"], "connecting");
    EXPECT_EQ(c.read_until("connection_status")["status"], "connected");
    out.upstream_headers = echo.last_request_headers();
    c.send_json(send_message("hello debug"));
    EXPECT_EQ(c.read_until("message_received")["content"], "hello debug");
    // A URL with credentials: the host refuses it, and neither it nor the logger repeats them.
    c.send_json(
        {{"type", "connect_external"},
         {"connection_id", "second"},
         {"url", "ws://user:USERINFOCANARY444@127.0.0.1:" + std::to_string(echo.port()) + "/"}});
    EXPECT_EQ(c.read_until("connection_error")["code"], "INVALID_URL");
    EXPECT_EQ(c.read_until("connection_status")["status"], "error");
    c.send_json({{"type", "disconnect_external"}});
    EXPECT_EQ(c.read_until("connection_status")["status"], "disconnected");
    c.close();
  }
  // The session's close is the last event: wait for it (when on), then stop the host.
  std::string env = websocket_debug.value_or("");
  for (auto &ch : env)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const bool logging =
      enabled == "true" || (enabled == "auto" && (env == "true" || env == "1" || env == "yes"));
  if (logging) {
    EXPECT_TRUE(host.wait_for_err("closed: path=", 10s)) << host.err();
  }
  host.send_signal(SIGTERM);
  EXPECT_EQ(host.wait_exit(10s), std::optional<int>(0));
  out.err = host.err();
  std::istringstream lines(out.err);
  for (std::string line; std::getline(lines, line);)
    if (line.find("[plugin:debug_logger]") != std::string::npos)
      out.plugin_lines += line + "\n";
  return out;
}

void expect_no_canary(const debug_run &r) {
  for (const auto &canary : canaries)
    EXPECT_EQ(r.err.find(canary), std::string::npos) << canary << " leaked:\n" << r.err;
}

void expect_one_line_per_event(const debug_run &r) {
  const std::string &l = r.plugin_lines;
  EXPECT_EQ(count_of(l, " opened: path=/api/websocket/connect/debugged"), 1u) << l;
  // The host's first session: ids start at 1 (0 means "no session" in the ABI).
  EXPECT_NE(l.find("] session 1 opened: "), std::string::npos) << l;
  EXPECT_NE(l.find("remote=127.0.0.1"), std::string::npos) << l;
  EXPECT_NE(l.find("client_id=\"debugged\""), std::string::npos) << l;
  EXPECT_NE(l.find("token=[REDACTED]"), std::string::npos) << l;
  EXPECT_NE(l.find("view=1"), std::string::npos) << l;
  // connect_external x2, send_message, disconnect_external
  EXPECT_EQ(count_of(l, " client message: text "), 4u) << l;
  EXPECT_EQ(count_of(l, " upstream connect [default upstream]: url="), 1u) << l;
  EXPECT_NE(l.find("access_token=[REDACTED]&page=2"), std::string::npos) << l;
  EXPECT_NE(l.find("Authorization: [REDACTED]"), std::string::npos) << l;
  EXPECT_NE(l.find("Cookie: [REDACTED]"), std::string::npos) << l;
  EXPECT_NE(l.find("X-Api-Key: [REDACTED]"), std::string::npos) << l;
  EXPECT_NE(l.find("X-Upstream-Token: [REDACTED]"), std::string::npos) << l; // injected
  EXPECT_NE(l.find("X-Trace: visible-trace"), std::string::npos) << l;
  EXPECT_EQ(count_of(l, " upstream opened [default upstream]: url="), 1u) << l;
  EXPECT_EQ(count_of(l, " upstream message [default upstream]: text 11 bytes: hello debug"), 1u)
      << l;
  EXPECT_EQ(count_of(l, " upstream closed [default upstream]: url="), 1u) << l;
  EXPECT_EQ(count_of(l, " closed: path=/api/websocket/connect/debugged"), 1u) << l;
}

} // namespace

TEST(DebugLoggerE2E, WebsocketDebugTrueLogsEveryEventWithSecretsRedacted) {
  const debug_run r = run_session("auto", std::string("true"));
  // The session worked and the secrets really were on the wire to the upstream.
  EXPECT_EQ(r.upstream_headers.at("authorization"), "Bearer AUTHCANARY111");
  EXPECT_EQ(r.upstream_headers.at("x-upstream-token"), "INJECTEDCANARY666");
  expect_one_line_per_event(r);
  expect_no_canary(r);
}

TEST(DebugLoggerE2E, WebsocketDebugAcceptsOneAndYes) {
  for (const std::string v : {"1", "YES"}) {
    SCOPED_TRACE(v);
    const debug_run r = run_session("auto", v);
    EXPECT_EQ(count_of(r.plugin_lines, " closed: path="), 1u) << r.err;
    expect_no_canary(r);
  }
}

TEST(DebugLoggerE2E, ConfigForcesItOnWithoutTheEnvironment) {
  const debug_run r = run_session("true", std::nullopt);
  expect_one_line_per_event(r);
  expect_no_canary(r);
}

TEST(DebugLoggerE2E, OffMeansNoLines) {
  for (const auto &[enabled, env] : std::vector<std::pair<std::string, std::optional<std::string>>>{
           {"auto", std::nullopt},
           {"auto", std::string("false")},
           {"false", std::string("true")}}) {
    SCOPED_TRACE(enabled + " / " + env.value_or("<unset>"));
    const debug_run r = run_session(enabled, env);
    EXPECT_EQ(r.plugin_lines, "") << r.err;
    EXPECT_EQ(r.upstream_headers.at("x-upstream-token"), "INJECTEDCANARY666");
    expect_no_canary(r);
  }
}
