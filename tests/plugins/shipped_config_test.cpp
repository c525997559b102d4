// The shipped config/apistudio.yaml (issue 4): it loads all four plugins and starts, with its
// plugin_dir pointed at this build's plugins, and what it enables works on /ws and proxy sockets.
#include "child_process.hpp"
#include "plugin_e2e.hpp"

#include <csignal>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string host_binary = APISTUDIO_HOST_BINARY;
const std::string plugin_dir = APISTUDIO_PLUGIN_DIR;
const std::string shipped_config = std::string(APISTUDIO_SOURCE_DIR) + "/config/apistudio.yaml";

} // namespace

TEST(ShippedConfig, ChecksOkWithAllFourPlugins) {
  const process_result r = run_process(
      {host_binary, "--config", shipped_config, "--plugin-dir", plugin_dir, "--check-config"},
      {{"WEBSOCKET_DEBUG", std::nullopt}});
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("OK (4 plugin(s) loaded)"), std::string::npos) << r.out << r.err;
}

TEST(ShippedConfig, StartsAndServesWithAllFourPlugins) {
  test_upstream echo;
  child_process host({host_binary, "--config", shipped_config, "--plugin-dir", plugin_dir,
                      "--listen", "127.0.0.1:0"},
                     {{"WEBSOCKET_DEBUG", std::nullopt}});
  const std::uint16_t port = host.wait_for_listen_port(10s);
  ASSERT_NE(port, 0) << host.err();

  const json plugins = http_request(port, "GET", "/api/plugins").json();
  std::vector<std::string> names;
  for (const auto &p : plugins["plugins"]) {
    names.push_back(p.value("name", ""));
    EXPECT_EQ(p.value("sdk_version", ""), "1.2") << p.dump();
    EXPECT_EQ(p.value("file", ""), plugin_dir + "/lib" + p.value("name", "") + ".so") << p.dump();
    EXPECT_FALSE(p.value("version", "").empty()) << p.dump();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"rate_limiter", "auth_header_injector",
                                             "collaboration", "debug_logger"}));

  // collaboration answers on /ws; a plain client joins the default workspace and is announced
  // under the user_id it declares.
  ws_client a, b;
  ASSERT_TRUE(a.connect(port, "/ws"));
  ASSERT_TRUE(b.connect(port, "/ws"));
  a.send_json({{"type", "user_presence"}, {"status", "online"}, {"user_id", "alice"}});
  const json presence = b.read_json();
  EXPECT_EQ(presence.value("type", ""), "user_presence") << presence.dump();
  EXPECT_EQ(presence.value("user_id", ""), "alice") << presence.dump();
  EXPECT_EQ(presence.value("workspace_id", ""), "default");
  b.send_text("{}");
  EXPECT_EQ(b.read_json().value("code", ""), "INVALID_FORMAT");

  // The proxy works through the chain.
  ws_client p;
  ASSERT_TRUE(open_proxy(p, port, "shipped", echo.url()));
  p.send_json(send_message("through four plugins"));
  EXPECT_EQ(p.read_until("message_received")["content"], "through four plugins");

  // The debug logger is silent without WEBSOCKET_DEBUG.
  EXPECT_EQ(host.err().find("[plugin:debug_logger]"), std::string::npos) << host.err();

  // The shipped drain (5 s) lets the open sessions go on first, then closes them.
  host.send_signal(SIGTERM);
  for (auto *c : {&p, &a, &b})
    EXPECT_EQ(c->wait_closed(15s), 1001);
  EXPECT_EQ(host.wait_exit(10s), std::optional<int>(0)) << host.err();
}

TEST(ShippedConfig, RateLimitDefaultIsTheSpecs) {
  child_process host({host_binary, "--config", shipped_config, "--plugin-dir", plugin_dir,
                      "--listen", "127.0.0.1:0"},
                     {{"WEBSOCKET_DEBUG", std::nullopt}});
  const std::uint16_t port = host.wait_for_listen_port(10s);
  ASSERT_NE(port, 0) << host.err();
  ws_client c;
  ASSERT_TRUE(c.connect(port, "/ws"));
  for (int i = 0; i < 100; ++i)
    c.send_text("{}");
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(c.read_json().value("code", ""), "INVALID_FORMAT") << i;
  c.send_text("{}");
  const json e = c.read_json();
  EXPECT_EQ(e.value("code", ""), "RATE_LIMITED") << e.dump();
  EXPECT_EQ(c.wait_closed(), 1008);
}
