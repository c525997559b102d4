// Secrets in the host's own log, in both log formats: canary values in URL userinfo, query
// tokens, Authorization / API-key / Cookie headers on connect_external, a message that spells out
// a header, a wrong access token and the right one go through the real host, with debug on, the
// debug_logger plugin logging every event and a recorder plugin that logs URLs and payloads raw
// (so the logger's own redaction is what stands between them and the log). No line may carry
// any canary; in the json format every line must still be one valid JSON object.
#include "host_fixture.hpp"
#include "security_helpers.hpp"
#include "test_client.hpp"
#include "test_upstream.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

const std::vector<std::string> canaries = {
    "CANARYgood1a",   "CANARYbad2b",    "CANARYbad3c",     "CANARYquery4d", "CANARYheader5e",
    "CANARYapikey6f", "CANARYcookie7g", "CANARYpayload8h", "CANARYuser9i",  "CANARYclosed0j"};

std::uint16_t unused_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto port = a.local_endpoint().port();
  a.close();
  return port;
}

class LogSecrets : public ::testing::TestWithParam<log_format> {};

TEST_P(LogSecrets, NoCanaryReachesAnyLogLine) {
  test_upstream echo;
  host_config c = test_config();
  c.debug = true;
  c.log.format = GetParam();
  c.security.access_tokens = {"CANARYgood1a"};
  plugin_config raw = make_plugin("R", {{"tag", "R"}});
  raw.path = "libtest_recorder.so";
  c.plugins.push_back(raw);
  c.plugins.push_back(
      make_plugin("debug_logger", {{"enabled", true}, {"max_payload_log_bytes", 4096}}));
  host_instance host(c);
  const std::uint16_t port = host.port();

  // Wrong access tokens, in the header and in the query, on REST and on the WebSocket.
  EXPECT_EQ(
      http_request(port, "GET", "/api/plugins", {{"Authorization", "Bearer CANARYbad2b"}}).status,
      401);
  EXPECT_EQ(http_request(port, "GET", "/api/plugins?token=CANARYbad3c").status, 401);
  {
    ws_client refused;
    EXPECT_FALSE(refused.connect(port, "/api/websocket/connect/sec?token=CANARYbad3c"));
    EXPECT_EQ(refused.handshake_status, 401);
  }

  ws_client client;
  ASSERT_TRUE(client.connect(port, "/api/websocket/connect/sec?token=CANARYgood1a&x=1"));
  client.send_json({{"type", "connect_external"},
                    {"connection_id", "c1"},
                    {"url", echo.url("/feed?access_token=CANARYquery4d&room=1")},
                    {"headers",
                     {{"Authorization", "Bearer CANARYheader5e"},
                      {"X-Api-Key", "CANARYapikey6f"},
                      {"Cookie", "sid=CANARYcookie7g; theme=dark"}}}});
  json e = client.read_until("connection_status");
  e = client.read_until("connection_status");
  ASSERT_EQ(e.value("status", ""), "connected") << e.dump() << host.log_text();
  client.send_json({{"type", "send_message"},
                    {"connection_id", "c1"},
                    {"content", "Authorization: Bearer CANARYpayload8h"}});
  client.read_until("message_received");

  client.send_json({{"type", "connect_external"},
                    {"connection_id", "c2"},
                    {"url", "ws://admin:CANARYuser9i@127.0.0.1:" + std::to_string(echo.port())}});
  EXPECT_EQ(client.read_until("connection_error").value("code", ""), "INVALID_URL");
  client.send_json(
      {{"type", "connect_external"},
       {"connection_id", "c3"},
       {"url", "ws://127.0.0.1:" + std::to_string(unused_port()) + "/?token=CANARYclosed0j"},
       {"headers", {{"Authorization", "Bearer CANARYheader5e"}}}});
  EXPECT_EQ(client.read_until("connection_error").value("code", ""), "CONNECTION_REFUSED");
  client.close();
  ASSERT_TRUE(eventually([&] { return host.server().context().directory.size() == 0; }));

  const auto lines = host.log_lines();
  const std::string all = host.log_text();
  // The log did record what carried the secrets, so the test looks where they would be...
  for (const char *seen : {"R on_upstream_opened c1", "R on_message_to_upstream", "connect failed",
                           "refused a request with 401 UNAUTHORIZED", "[REDACTED]"})
    EXPECT_NE(all.find(seen), std::string::npos) << seen << "\n" << all;
  for (const auto &line : lines) {
    for (const auto &canary : canaries)
      EXPECT_EQ(line.find(canary), std::string::npos) << canary << " leaked:\n" << line;
    if (GetParam() == log_format::json) {
      const json j = json::parse(line, nullptr, false);
      ASSERT_TRUE(j.is_object()) << line;
      EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("message") &&
                  j.contains("component"))
          << line;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(BothFormats, LogSecrets,
                         ::testing::Values(log_format::text, log_format::json), [](const auto &p) {
                           return p.param == log_format::json ? "json" : "text";
                         });

} // namespace
