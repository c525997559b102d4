// The out-of-tree template plugin (sdk/examples/template_plugin), built against the installed SDK
// by build_template_plugin.sh (CTest fixture sdk_template_plugin_build), loaded into a real host:
// its hooks must change what a local upstream and a real client see.
#include "host_fixture.hpp"
#include "test_client.hpp"
#include "test_upstream.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

const std::string template_plugin = APISTUDIO_TEMPLATE_PLUGIN_FILE;

host_config with_template(json settings) {
  host_config c = test_config();
  plugin_config p = make_plugin("template_plugin", std::move(settings));
  p.path = template_plugin; // absolute: outside plugin_dir, as a third-party plugin would be
  c.plugins.push_back(std::move(p));
  return c;
}

bool connect_upstream(ws_client &c, std::uint16_t port, const std::string &client_id,
                      const json &command) {
  if (!c.connect(port, "/api/websocket/connect/" + client_id))
    return false;
  c.send_json(command);
  return c.read_until("connection_status")["status"] == "connecting" &&
         c.read_until("connection_status")["status"] == "connected";
}

} // namespace

TEST(SdkTemplatePlugin, WasBuiltOutOfTree) {
  ASSERT_TRUE(std::filesystem::is_regular_file(template_plugin))
      << template_plugin << " is missing: run the CTest fixture sdk_template_plugin_build first";
}

TEST(SdkTemplatePlugin, AddsItsHeaderAndTagsUpstreamText) {
  test_upstream echo;
  host_instance host(with_template(
      {{"header_name", "X-Template"}, {"header_value", "from-template"}, {"tag", "[tpl] "}}));
  EXPECT_TRUE(host.log_contains("loaded plugin 'template_plugin' 0.1.0 (SDK 1.2) from " +
                                std::filesystem::path(template_plugin).lexically_normal().string()))
      << host.log_text();

  ws_client c;
  ASSERT_TRUE(connect_upstream(c, host.port(), "tpl",
                               {{"type", "connect_external"},
                                {"url", echo.url()},
                                {"headers", {{"X-Template", "from-client"}}}}));
  EXPECT_EQ(echo.last_request_headers()["x-template"], "from-template");

  c.send_json({{"type", "send_message"}, {"content", "hello"}});
  EXPECT_EQ(c.read_until("message_sent")["content"], "hello"); // client -> upstream untouched
  EXPECT_EQ(c.read_until("message_received")["content"], "[tpl] hello");

  c.send_json({{"type", "send_message"}, {"content", "AAEC"}, {"message_type", "binary"}});
  const json bin = c.read_until("message_received");
  EXPECT_EQ(bin["message_type"], "binary") << bin.dump();
  EXPECT_EQ(bin["content"], "AAEC") << bin.dump(); // binary frames are not tagged

  const json plugins = http_request(host.port(), "GET", "/api/plugins").json();
  ASSERT_EQ(plugins["plugins"].size(), 1u);
  EXPECT_EQ(plugins["plugins"][0]["name"], "template_plugin");
  EXPECT_EQ(plugins["plugins"][0]["version"], "0.1.0");
  EXPECT_EQ(plugins["plugins"][0]["sdk_version"], "1.2");
}

TEST(SdkTemplatePlugin, OverrideClientFalseKeepsTheClientsHeader) {
  test_upstream echo;
  host_instance host(
      with_template({{"header_name", "X-Template"}, {"override_client", false}, {"tag", ""}}));
  ws_client c;
  ASSERT_TRUE(connect_upstream(c, host.port(), "tpl2",
                               {{"type", "connect_external"},
                                {"url", echo.url()},
                                {"headers", {{"X-Template", "from-client"}}}}));
  EXPECT_EQ(echo.last_request_headers()["x-template"], "from-client");
  c.send_json({{"type", "send_message"}, {"content", "plain"}});
  EXPECT_EQ(c.read_until("message_received")["content"], "plain"); // empty tag: untouched
}

TEST(SdkTemplatePlugin, RefusedSettingsStopTheHostWithThePluginsMessage) {
  try {
    host_instance host(with_template({{"colour", "blue"}}));
    FAIL() << "the host started with settings the plugin refuses";
  } catch (const std::exception &e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("plugin 'template_plugin' (" + template_plugin + ") refused its settings"),
              std::string::npos)
        << what;
    // The SDK's settings helpers (apistudio/settings.hpp) wrote the refusal.
    EXPECT_NE(what.find("template_plugin: colour: unknown setting (known: header_name, "
                        "header_value, override_client, tag)"),
              std::string::npos)
        << what;
  }
}
