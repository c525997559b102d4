// Secrets (issue 5): with debug on (WEBSOCKET_DEBUG's switch, and the debug_logger plugin
// logging every event), canary values in Authorization, Cookie and API-key headers, URL userinfo,
// query tokens, the host's own access token and a secret injected by auth_header_injector appear
// in no log line, no event and no REST response.
#include "host_fixture.hpp"
#include "security_helpers.hpp"
#include "test_client.hpp"
#include "test_upstream.hpp"

#include <gtest/gtest.h>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

const std::vector<std::string> canaries = {
    "CANARYauth7c1",  "CANARYcookie2d9", "CANARYapikey4e0",   "CANARYuserinfo5f2",
    "CANARYquery6a3", "CANARYaccess8b4", "CANARYinjected9c5", "CANARYproxyauth1d7"};

void expect_no_canary(const std::string &text, const std::string &where) {
  for (const auto &c : canaries)
    EXPECT_EQ(text.find(c), std::string::npos) << c << " leaked into " << where << ":\n" << text;
}

} // namespace

TEST(Secrets, CanariesAppearInNoLogLineEventOrRestResponse) {
  upstream_behaviour b;
  b.require_headers = {{"Authorization", "Bearer CANARYinjected9c5"}};
  test_upstream echo(b);
  host_config c = test_config();
  c.debug = true;
  c.security.access_tokens = {"CANARYaccess8b4"};
  c.plugins.push_back(make_plugin(
      "auth_header_injector",
      {{"rules", json::array({{{"name", "local"},
                               {"match", {{"host", "127.0.0.1"}}},
                               {"set",
                                {{"Authorization",
                                  {{"value", "CANARYinjected9c5"}, {"prefix", "Bearer "}}}}}}})}}));
  c.plugins.push_back(
      make_plugin("debug_logger", {{"enabled", true}, {"max_payload_log_bytes", 4096}}));
  host_instance host(c);
  const std::uint16_t port = host.port();
  const std::string auth = "Bearer CANARYaccess8b4";
  std::string seen; // everything the client and the REST calls got back

  ws_client client;
  ASSERT_TRUE(client.connect(port, "/api/websocket/connect/secrets?token=CANARYaccess8b4&x=1"));
  const json secret_headers = {{"Authorization", "Bearer CANARYauth7c1"},
                               {"Cookie", "session=CANARYcookie2d9; theme=dark"},
                               {"X-API-Key", "CANARYapikey4e0"},
                               {"Proxy-Authorization", "Basic CANARYproxyauth1d7"}};
  const std::string url = echo.url("/feed?token=CANARYquery6a3&room=1");
  client.send_json({{"type", "connect_external"}, {"url", url}, {"headers", secret_headers}});
  for (const std::string &type :
       std::vector<std::string>{"connection_status", "connection_status"}) {
    const json e = client.read_until(type);
    seen += e.dump() + "\n";
  }
  ASSERT_NE(seen.find("\"connected\""), std::string::npos) << seen << host.log_text();
  // The injector replaced the client's Authorization with the operator's secret.
  EXPECT_EQ(echo.last_request_headers()["authorization"], "Bearer CANARYinjected9c5");
  EXPECT_EQ(echo.last_request_headers()["x-api-key"], "CANARYapikey4e0");
  client.send_json({{"type", "send_message"}, {"content", "hello"}});
  seen += client.read_until("message_sent").dump() + "\n";
  seen += client.read_until("message_received").dump() + "\n";

  // Credentials in the URL are refused without being repeated.
  client.send_json(
      {{"type", "connect_external"},
       {"connection_id", "userinfo"},
       {"url", "ws://admin:CANARYuserinfo5f2@127.0.0.1:" + std::to_string(echo.port()) + "/"}});
  const json refused = client.read_until("connection_error");
  EXPECT_EQ(refused.value("code", ""), "INVALID_URL");
  seen += refused.dump() + "\n";
  // A refused header is named, its value is not repeated.
  client.send_json({{"type", "connect_external"},
                    {"connection_id", "bad-header"},
                    {"url", url},
                    {"headers", {{"Authorization", "Bearer CANARYauth7c1\r\nX: y"}}}});
  const json bad = client.read_until("error");
  EXPECT_EQ(bad.value("code", ""), "INVALID_FORMAT");
  seen += bad.dump() + "\n";
  client.send_json({{"type", "disconnect_external"}});
  seen += client.read_until("connection_status").dump() + "\n";

  // REST: test-connection with the same secrets, and every listing.
  const std::vector<std::pair<std::string, std::string>> rest_auth = {
      {"Authorization", auth}, {"Content-Type", "application/json"}};
  for (const std::string &target :
       std::vector<std::string>{url, "ws://u:CANARYuserinfo5f2@127.0.0.1:1/"}) {
    const auto r = http_request(port, "POST", "/api/websocket/test-connection", rest_auth,
                                json{{"url", target}, {"headers", secret_headers}}.dump());
    EXPECT_EQ(r.status, 200);
    seen += r.body + "\n";
  }
  for (const std::string &target :
       std::vector<std::string>{"/api/websocket/active-connections", "/api/plugins", "/healthz"}) {
    const auto r = http_request(port, "GET", target, {{"Authorization", auth}});
    EXPECT_EQ(r.status, 200) << target;
    seen += r.body + "\n";
  }
  client.close();
  ASSERT_TRUE(eventually([&] { return host.server().context().directory.size() == 0; }));

  // The debug log did record the traffic (so the test looks where secrets would be)...
  const std::string log = host.log_text();
  EXPECT_NE(log.find("upstream connect"), std::string::npos) << log;
  EXPECT_NE(log.find("[REDACTED]"), std::string::npos) << log;
  // ...and no canary is anywhere.
  expect_no_canary(log, "the log");
  expect_no_canary(seen, "events and REST responses");
}
