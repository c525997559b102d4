// The loader and the command line through the real apistudio-host binary (issues 3 and 2): what an
// operator sees on the terminal and in the exit code when a plugin cannot be loaded, the flags,
// and a graceful stop on SIGTERM.
#include "child_process.hpp"
#include "plugin_e2e.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <csignal>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string host_binary = APISTUDIO_HOST_BINARY;
const std::string plugin_dir = APISTUDIO_PLUGIN_DIR;

// A configuration whose one plugin entry (`name`, optional `path` and settings lines) starts on
// line 4, column 5: "plugins:" is line 3.
std::string one_plugin_yaml(const std::string &name, const std::string &path,
                            const std::string &settings = "") {
  std::string y = "# written by host_binary_test\nplugin_dir: \"" + plugin_dir + "\"\nplugins:\n";
  y += "  - name: " + name + "\n";
  if (!path.empty())
    y += "    path: " + path + "\n";
  if (!settings.empty())
    y += "    settings: " + settings + "\n";
  return y;
}

struct load_failure {
  std::string fixture; // library file name in the plugin dir
  std::string problem; // what the message must say
};

void expect_refused(const std::string &yaml, const std::string &library_file,
                    const std::vector<std::string> &needles) {
  const std::string config = temp_file("config.yaml", yaml);
  const std::string where = config + ":4:5";
  for (const bool check_only : {true, false}) {
    SCOPED_TRACE(check_only ? "--check-config" : "start");
    std::vector<std::string> argv = {host_binary, "--config", config, "--listen", "127.0.0.1:0"};
    if (check_only)
      argv.push_back("--check-config");
    const process_result r = run_process(argv);
    ASSERT_TRUE(r.exit_code.has_value()) << "the host did not stop; stderr:\n" << r.err;
    EXPECT_EQ(*r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("plugin 'broken'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(plugin_dir + "/" + library_file), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(where), std::string::npos) << r.err;
    for (const auto &n : needles)
      EXPECT_NE(r.err.find(n), std::string::npos) << n << "\n" << r.err;
    EXPECT_EQ(r.err.find("listening on"), std::string::npos) << r.err; // it never started
  }
}

} // namespace

TEST(HostBinary, EachBrokenPluginIsRefusedWithNameFileLocationAndReason) {
  const std::vector<load_failure> cases = {
      {"libtest_wrong_major.so", "was built for plugin SDK 2.0 but this host implements SDK 1.2"},
      {"libtest_newer_minor.so", "built for plugin SDK 1.99, newer than this host's SDK 1.2"},
      {"libtest_no_version.so", "does not export apistudio_plugin_abi_version()"},
      {"libtest_no_descriptor.so", "does not export apistudio_plugin_descriptor_v1()"},
      {"libtest_descriptor_null.so", "returned no descriptor (NULL)"},
      {"libtest_descriptor_small.so", "smaller than the"},
      {"libtest_descriptor_mismatch.so", "declares plugin SDK 1.3 in its descriptor but 1.2"},
      {"libtest_descriptor_no_name.so", "has a descriptor without a name"},
      {"libtest_descriptor_no_create.so", "has a descriptor without on_create"},
      {"libdoes_not_exist.so", "does not exist"},
  };
  for (const auto &c : cases) {
    SCOPED_TRACE(c.fixture);
    expect_refused(one_plugin_yaml("broken", c.fixture), c.fixture, {c.problem});
  }
}

TEST(HostBinary, VersionProblemsShowBothVersionsAndWhatToDo) {
  expect_refused(one_plugin_yaml("broken", "libtest_wrong_major.so"), "libtest_wrong_major.so",
                 {"SDK 2.0", "SDK 1.2", "rebuild the plugin against SDK 1.2"});
  expect_refused(one_plugin_yaml("broken", "libtest_newer_minor.so"), "libtest_newer_minor.so",
                 {"SDK 1.99", "SDK 1.2", "upgrade the host"});
}

TEST(HostBinary, AFileThatIsNotALibraryIsRefusedWithTheLoadersReason) {
  const std::string junk = temp_file("libjunk.so", "this is not an ELF file\n");
  const std::string yaml = one_plugin_yaml("broken", junk);
  const std::string config = temp_file("config.yaml", yaml);
  const process_result r = run_process({host_binary, "--config", config, "--check-config"});
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 1);
  EXPECT_NE(r.err.find("plugin 'broken' (" + junk + ")"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("could not be loaded"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(config + ":4:5"), std::string::npos) << r.err;
}

TEST(HostBinary, RefusedSettingsShowThePluginsMessageAndTheLocation) {
  const std::string yaml = one_plugin_yaml("broken", "libtest_refuses_settings.so", "{y: 1}");
  expect_refused(yaml, "libtest_refuses_settings.so",
                 {"refused its settings at", "setting 'x' is required"});
  // The same plugin with acceptable settings loads.
  const std::string ok =
      temp_file("ok.yaml", one_plugin_yaml("fine", "libtest_refuses_settings.so", "{x: 1}"));
  const process_result r = run_process({host_binary, "--config", ok, "--check-config"});
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 0) << r.err;
}

TEST(HostBinary, ShippedPluginRefusingItsSettingsStopsTheHost) {
  const std::string yaml =
      one_plugin_yaml("rate_limiter", "", "{limits: [{messages: 0, window: 60s}]}");
  const std::string config = temp_file("rl.yaml", yaml);
  const process_result r = run_process({host_binary, "--config", config, "--check-config"});
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 1) << r.err;
  // The key the plugin named (limits[0].messages, on the settings line), not the entry (4:5).
  EXPECT_NE(r.err.find("plugin 'rate_limiter' (" + plugin_dir +
                       "/librate_limiter.so) refused "
                       "its settings at " +
                       config + ":5:26: rate_limiter: limits[0].messages"),
            std::string::npos)
      << r.err;
}

// Issue 13: a refused nested setting is reported at that key's own FILE:LINE:COLUMN, not at the
// plugin's entry (line 4), and a secret written as a key never appears in the message.
TEST(HostBinary, RefusedNestedSettingPointsAtTheKeysOwnLine) {
  const std::string head =
      "# written by host_binary_test\nplugin_dir: \"" + plugin_dir + "\"\nplugins:\n";
  const std::string nested = head + "  - name: auth_header_injector\n" // line 4
                                    "    settings:\n"
                                    "      rules:\n"
                                    "        - name: github\n"
                                    "          match:\n"
                                    "            host: \"*.github.com\"\n"
                                    "            port: 0\n" // line 10, column 13
                                    "          set: {X-Api-Key: abc}\n";
  const std::string config = temp_file("nested.yaml", nested);
  for (const bool check_only : {true, false}) {
    SCOPED_TRACE(check_only ? "--check-config" : "start");
    std::vector<std::string> argv = {host_binary, "--config", config, "--listen", "127.0.0.1:0"};
    if (check_only)
      argv.push_back("--check-config");
    const process_result r = run_process(argv);
    ASSERT_TRUE(r.exit_code.has_value()) << "the host did not stop; stderr:\n" << r.err;
    EXPECT_EQ(*r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("plugin 'auth_header_injector' (" + plugin_dir +
                         "/libauth_header_injector.so) refused its settings at " + config +
                         ":10:13: auth_header_injector: rules[0] (github).match.port: must be an "
                         "integer from 1 to 65535"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find(config + ":4:5"), std::string::npos) << r.err; // not the entry
    EXPECT_EQ(r.err.find("listening on"), std::string::npos) << r.err;
  }
  const std::string secret =
      temp_file("secret.yaml", head + "  - name: collaboration\n"
                                      "    settings:\n"
                                      "      tokens:\n"
                                      "        super-secret-token-key: {user_id: \"a b\", "
                                      "workspaces: [w]}\n"); // line 7, column 34
  const process_result r = run_process({host_binary, "--config", secret, "--check-config"});
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(secret + ":7:34: collaboration: tokens entry 1.user_id: must be 1-128"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("super-secret"), std::string::npos) << r.err;
}

TEST(HostBinary, GoodConfigChecksOkAndListsPlugins) {
  const std::string yaml = "plugin_dir: \"" + plugin_dir +
                           "\"\nplugins:\n"
                           "  - name: test_c_plugin\n"
                           "  - name: second\n    path: libtest_recorder.so\n"
                           "  - name: off\n    path: libtest_wrong_major.so\n    enabled: false\n";
  const std::string config = temp_file("good.yaml", yaml);
  const process_result check = run_process({host_binary, "--config", config, "--check-config"});
  ASSERT_TRUE(check.exit_code.has_value());
  EXPECT_EQ(*check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find(config + ": OK (2 plugin(s) loaded)"), std::string::npos) << check.out;

  child_process host({host_binary, "--config", config, "--listen", "127.0.0.1:0"});
  const std::uint16_t port = host.wait_for_listen_port(10s);
  ASSERT_NE(port, 0) << host.err();
  const http_result r = http_request(port, "GET", "/api/plugins");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json(), (json{{"plugins",
                             {{{"name", "test_c_plugin"},
                               {"version", "0.1.0"},
                               {"sdk_version", "1.2"},
                               {"file", plugin_dir + "/libtest_c_plugin.so"}},
                              {{"name", "second"},
                               {"version", "1.2.3"},
                               {"sdk_version", "1.2"},
                               {"file", plugin_dir + "/libtest_recorder.so"}}}}}))
      << r.body;
  host.send_signal(SIGTERM);
  EXPECT_EQ(host.wait_exit(5s), std::optional<int>(0)) << host.err();
}

TEST(HostBinary, VersionHelpAndBadFlags) {
  const process_result v = run_process({host_binary, "--version"});
  EXPECT_EQ(v.exit_code, std::optional<int>(0));
  EXPECT_EQ(v.out.rfind("apistudio-host 1.", 0), 0u) << v.out;
  EXPECT_NE(v.out.find(" (plugin SDK 1.2)\n"), std::string::npos) << v.out;

  const process_result h = run_process({host_binary, "--help"});
  EXPECT_EQ(h.exit_code, std::optional<int>(0));
  for (const char *flag :
       {"--config", "--listen", "--plugin-dir", "--check-config", "--version", "WEBSOCKET_DEBUG"})
    EXPECT_NE(h.out.find(flag), std::string::npos) << flag << "\n" << h.out;

  const process_result bad = run_process({host_binary, "--no-such-flag"});
  EXPECT_EQ(bad.exit_code, std::optional<int>(2));
  EXPECT_NE(bad.err.find("no-such-flag"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("--check-config"), std::string::npos) << "usage expected:\n" << bad.err;

  const std::string empty_config = temp_file("empty.yaml", "plugins: []\n");
  const process_result listen =
      run_process({host_binary, "--config", empty_config, "--listen", "nonsense"});
  EXPECT_EQ(listen.exit_code, std::optional<int>(2)) << listen.err;

  const process_result missing = run_process(
      {host_binary, "--config", ::testing::TempDir() + "/no/such/config.yaml", "--check-config"});
  EXPECT_EQ(missing.exit_code, std::optional<int>(1)) << missing.err;
  EXPECT_NE(missing.err.find("config.yaml"), std::string::npos) << missing.err;
}

TEST(HostBinary, SigtermClosesClientsWith1001AndExitsZero) {
  test_upstream echo;
  // No drain: the close itself is what this test is about (drain_and_readiness_test does drains).
  const std::string config = temp_file("sig.yaml", "plugins: []\nshutdown:\n  drain_timeout: 0s\n");
  child_process host({host_binary, "--config", config, "--listen", "127.0.0.1:0"});
  const std::uint16_t port = host.wait_for_listen_port(10s);
  ASSERT_NE(port, 0) << host.err();
  ws_client proxy, plain;
  ASSERT_TRUE(open_proxy(proxy, port, "sigterm", echo.url()));
  ASSERT_TRUE(plain.connect(port, "/ws"));
  ASSERT_TRUE(eventually([&] { return echo.open_now() == 1; }));

  const auto start = std::chrono::steady_clock::now();
  host.send_signal(SIGTERM);
  EXPECT_EQ(proxy.wait_closed(5s), 1001);
  EXPECT_EQ(plain.wait_closed(5s), 1001);
  EXPECT_EQ(host.wait_exit(5s), std::optional<int>(0)) << host.err();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(eventually([&] { return echo.open_now() == 0; }, 5s)); // upstreams closed too
  EXPECT_NE(host.err().find("SIGTERM"), std::string::npos) << host.err();
}

TEST(HostBinary, SigtermWithPluginsLoadedExitsZero) {
  // Plugins with a repeating global timer and open sessions must not hold the shutdown up.
  const std::string yaml =
      "plugin_dir: \"" + plugin_dir +
      "\"\nplugins:\n"
      "  - name: ticker\n    path: libtest_recorder.so\n"
      "    settings: {tag: ticker, global_timer_ms: 5, global_timer_interval_ms: 5,"
      " timer_ms: 5, timer_interval_ms: 5}\n"
      "shutdown:\n  drain_timeout: 0s\n";
  const std::string config = temp_file("sigplugins.yaml", yaml);
  child_process host({host_binary, "--config", config, "--listen", "127.0.0.1:0"});
  const std::uint16_t port = host.wait_for_listen_port(10s);
  ASSERT_NE(port, 0) << host.err();
  ws_client c;
  ASSERT_TRUE(c.connect(port, "/ws"));
  EXPECT_EQ(c.read_json().value("type", ""), "timer");
  host.send_signal(SIGTERM);
  EXPECT_EQ(c.wait_closed(5s), 1001);
  EXPECT_EQ(host.wait_exit(5s), std::optional<int>(0)) << host.err();
  EXPECT_NE(host.err().find("ticker destroyed"), std::string::npos) << host.err();
}

// log.format: json from the YAML file, through the real binary: every line on stderr is one JSON
// object with time, level, component and message; a failed connect carries its session, client,
// connection and upstream host; a plugin's line names the plugin; no canary appears; and a wrong
// token refused again and again is one line plus, at shutdown, its count.
TEST(HostBinary, JsonLogFromTheConfigFileCarriesFieldsAndNoSecrets) {
  test_upstream echo;
  const std::string yaml = "plugin_dir: \"" + plugin_dir +
                           "\"\n"
                           "log:\n  format: json\n  level: debug\n"
                           "security:\n  access_tokens: [\"CANARYtoken1\"]\n"
                           "plugins:\n  - name: R\n    path: libtest_recorder.so\n"
                           "    settings: {tag: R}\n";
  const std::string config = temp_file("jsonlog.yaml", yaml);
  child_process host({host_binary, "--config", config, "--listen", "127.0.0.1:0"},
                     {{"WEBSOCKET_DEBUG", std::nullopt}});
  const std::uint16_t port = host.wait_for_listen_port(10s);
  ASSERT_NE(port, 0) << host.err();

  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(http_request(port, "GET", "/api/plugins", {{"Authorization", "Bearer CANARYwrong2"}})
                  .status,
              401);
  ws_client c;
  ASSERT_TRUE(open_proxy(
      c, port, "bin-client?token=CANARYtoken1", echo.url("/x?api_key=CANARY3"),
      {{"connection_id", "c1"}, {"headers", {{"Authorization", "Bearer CANARYheader4"}}}}));
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor probe(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const std::uint16_t closed = probe.local_endpoint().port();
  probe.close();
  c.send_json({{"type", "connect_external"},
               {"connection_id", "c2"},
               {"url", "ws://127.0.0.1:" + std::to_string(closed) + "/?token=CANARY5"}});
  EXPECT_EQ(c.read_until("connection_error").value("code", ""), "CONNECTION_REFUSED");
  c.close();
  host.send_signal(SIGTERM);
  ASSERT_EQ(host.wait_exit(5s), std::optional<int>(0)) << host.err();

  const std::string err = host.err();
  for (const char *canary : {"CANARYtoken1", "CANARYwrong2", "CANARY3", "CANARYheader4", "CANARY5"})
    EXPECT_EQ(err.find(canary), std::string::npos) << canary << "\n" << err;
  std::vector<json> lines;
  std::size_t start = 0;
  while (start < err.size()) {
    const auto end = err.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "unterminated line: " << err.substr(start);
    const json j = json::parse(err.substr(start, end - start), nullptr, false);
    ASSERT_TRUE(j.is_object()) << err.substr(start, end - start);
    for (const char *field : {"time", "level", "component", "message"})
      EXPECT_TRUE(j.contains(field) && j[field].is_string()) << field << " in " << j.dump();
    lines.push_back(j);
    start = end + 1;
  }
  auto find = [&](const std::string &component, const std::string &prefix) -> const json * {
    for (const auto &j : lines)
      if (j.value("component", "") == component && j.value("message", "").rfind(prefix, 0) == 0)
        return &j;
    return nullptr;
  };
  const json *failed = find("upstream", "connect failed: CONNECTION_REFUSED");
  ASSERT_NE(failed, nullptr) << err;
  EXPECT_EQ(failed->value("level", ""), "warn");
  EXPECT_GT(failed->value("session_id", 0), 0);
  EXPECT_EQ(failed->value("client_id", ""), "bin-client");
  EXPECT_EQ(failed->value("connection_id", ""), "c2");
  EXPECT_EQ(failed->value("upstream_host", ""), "127.0.0.1:" + std::to_string(closed));
  const json *plugin_line = find("plugin:R", "R on_upstream_opened c1 ");
  ASSERT_NE(plugin_line, nullptr) << err;
  EXPECT_EQ(plugin_line->value("plugin", ""), "R");
  EXPECT_NE(plugin_line->value("message", "").find("api_key=[REDACTED]"), std::string::npos)
      << plugin_line->dump();
  const json *refused = find("http", "refused a request with 401 UNAUTHORIZED");
  ASSERT_NE(refused, nullptr) << err;
  // Five refusals: the first line, and the other four as a count written at shutdown.
  const json *summary =
      find("http", "refused a request with 401 UNAUTHORIZED (repeated 4 more times in the last");
  ASSERT_NE(summary, nullptr) << err;
  EXPECT_EQ(summary->value("repeated", 0), 4);
  EXPECT_NE(find("host", "received SIGTERM"), nullptr) << err;
}
