// The SDK's answers end to end (issue 13): a plugin's refusal is answered to the client with the
// protocol's own error event, the decoded hooks see and change the message itself, a throwing hook
// leaves its exception's text in the log, and test-connection runs the upstream-connect hooks.
// Fixture plugins are loaded from their .so files into a real host; clients and upstreams are real
// sockets on loopback.
#include "plugin_e2e.hpp"

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

json with_request_id(json command, const std::string &request_id) {
  command["request_id"] = request_id;
  return command;
}

} // namespace

// ---- refusals are answered --------------------------------------------------------------------

// Before: a dropped send_message got no message_sent, no send_error, and its request_id was never
// answered.
TEST(PluginRefusals, RefusedSendMessageIsAnsweredWithSendErrorEchoingItsIds) {
  test_upstream echo;
  host_instance host(config_with(
      {recorder("R", {{"client_verdict", "refuse"}, {"refuse_code", "MESSAGE_NOT_ALLOWED"}})}));
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/refused"));
  c.send_json({{"type", "send_message"},
               {"content", "x"},
               {"connection_id", "c1"},
               {"request_id", "req-7"}});
  const json e = c.read_json();
  EXPECT_EQ(e.value("type", ""), "send_error") << e.dump();
  EXPECT_EQ(e.value("code", ""), "MESSAGE_NOT_ALLOWED") << e.dump();
  EXPECT_EQ(e.value("error", ""), "refused by R") << e.dump();
  EXPECT_EQ(e.value("request_id", ""), "req-7") << e.dump();
  EXPECT_EQ(e.value("connection_id", ""), "c1") << e.dump();
}

TEST(PluginRefusals, RefusedOtherCommandIsAnsweredWithErrorAndTheDefaultCode) {
  test_upstream echo;
  host_instance host(config_with({recorder("R", {{"client_verdict", "refuse"}})}));
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/refused2"));
  c.send_json(with_request_id({{"type", "connect_external"}, {"url", echo.url()}}, "req-8"));
  const json e = c.read_json();
  EXPECT_EQ(e.value("type", ""), "error") << e.dump();
  EXPECT_EQ(e.value("code", ""), "PLUGIN_REFUSED") << e.dump(); // no code given: the default
  EXPECT_EQ(e.value("request_id", ""), "req-8") << e.dump();
  EXPECT_EQ(echo.accepted(), 0u);
  EXPECT_FALSE(c.closed());
}

TEST(PluginRefusals, AMalformedCodeFromAPluginBecomesTheDefault) {
  host_instance host(config_with(
      {recorder("R", {{"client_verdict", "refuse"}, {"refuse_code", "not a code\"}"}})}));
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/badcode"));
  c.send_json(with_request_id(send_message("x"), "r1"));
  const json e = c.read_json();
  EXPECT_EQ(e.value("code", ""), "PLUGIN_REFUSED") << e.dump();
}

TEST(PluginRefusals, RefusalOnTheDecodedHookIsAnsweredWithSendError) {
  test_upstream echo;
  host_instance host(config_with(
      {recorder("R", {{"to_upstream_verdict", "refuse"}, {"refuse_code", "FORBIDDEN_CONTENT"}})}));
  ws_client c;
  ASSERT_TRUE(open_proxy(c, host.port(), "decoded-refuse", echo.url()));
  c.send_json(with_request_id(send_message("secret"), "r2"));
  const json e = c.read_until("send_error");
  EXPECT_EQ(e.value("code", ""), "FORBIDDEN_CONTENT") << e.dump();
  EXPECT_EQ(e.value("request_id", ""), "r2") << e.dump();
  // Nothing reached the upstream, and the session stays open.
  EXPECT_TRUE(echo.received().empty());
  EXPECT_FALSE(c.closed());
}

TEST(PluginRefusals, HandledOnTheDecodedHookIsStillAnswered) {
  test_upstream echo;
  host_instance host(config_with({recorder("R", {{"to_upstream_verdict", "handled"}})}));
  ws_client c;
  ASSERT_TRUE(open_proxy(c, host.port(), "decoded-handled", echo.url()));
  c.send_json(with_request_id(send_message("x"), "r3"));
  const json e = c.read_until("send_error");
  EXPECT_EQ(e.value("code", ""), "PLUGIN_REFUSED") << e.dump();
  EXPECT_EQ(e.value("request_id", ""), "r3") << e.dump();
  EXPECT_TRUE(echo.received().empty());
}

TEST(PluginRefusals, RefusedUpstreamMessageIsWithheldAndTheClientIsTold) {
  test_upstream echo;
  host_instance host(
      config_with({recorder("R", {{"upstream_verdict", "refuse"}, {"refuse_code", "WITHHELD"}})}));
  ws_client c;
  ASSERT_TRUE(open_proxy(c, host.port(), "from-refuse", echo.url(), {{"connection_id", "conn-1"}}));
  c.send_json({{"type", "send_message"}, {"content", "ping"}, {"connection_id", "conn-1"}});
  const json e = c.read_until("error");
  EXPECT_EQ(e.value("code", ""), "WITHHELD") << e.dump();
  EXPECT_EQ(e.value("connection_id", ""), "conn-1") << e.dump();
  EXPECT_EQ(e.dump().find("ping"), std::string::npos) << "the withheld content leaked";
}

TEST(PluginRefusals, RefusedUpgradeCarriesThePluginsStatusAndCode) {
  host_instance host(
      config_with({recorder("R", {{"reject_status", 401}, {"refuse_code", "TOKEN_EXPIRED"}})}));
  ws_client c;
  EXPECT_FALSE(c.connect(host.port(), "/ws"));
  EXPECT_EQ(c.handshake_status, 401);
  const json body = json::parse(c.handshake_body, nullptr, false);
  EXPECT_EQ(body.value("code", ""), "TOKEN_EXPIRED") << c.handshake_body;
  EXPECT_NE(c.handshake_body.find("rejected by R"), std::string::npos) << c.handshake_body;
}

// ---- the decoded hooks ------------------------------------------------------------------------

TEST(DecodedHooks, ToUpstreamSeesTheDecodedContentAndIdsAndItsReplacementIsWhatIsWritten) {
  test_upstream echo;
  host_instance host(config_with({recorder("R", {{"to_upstream_verdict", "append_tag"}})}));
  ws_client c;
  ASSERT_TRUE(open_proxy(c, host.port(), "decoded", echo.url(), {{"connection_id", "k"}}));
  c.send_json({{"type", "send_message"},
               {"content", "he said \"hi\""},
               {"connection_id", "k"},
               {"request_id", "q1"}});
  const json sent = c.read_until("message_sent");
  EXPECT_EQ(sent.value("content", ""), "he said \"hi\"|R") << sent.dump();
  EXPECT_EQ(sent.value("request_id", ""), "q1");
  EXPECT_TRUE(eventually([&] { return echo.received().size() == 1; }));
  EXPECT_EQ(echo.received(), std::vector<std::string>{"he said \"hi\"|R"});
  // The plugin saw the message, not the JSON command that carried it.
  EXPECT_TRUE(host.log_contains(
      "R on_message_to_upstream he said \"hi\" binary=no connection_id=k request_id=q1"))
      << host.log_text();
}

TEST(DecodedHooks, ToUpstreamSeesBinaryContentDecodedFromBase64) {
  test_upstream echo;
  host_instance host(config_with({recorder("R")}));
  ws_client c;
  ASSERT_TRUE(open_proxy(c, host.port(), "decoded-bin", echo.url()));
  c.send_json({{"type", "send_message"},
               {"content", "YWJj"}, // "abc"
               {"message_type", "binary"},
               {"request_id", "b1"}});
  c.read_until("message_sent");
  EXPECT_TRUE(host.log_contains("R on_message_to_upstream abc binary=yes")) << host.log_text();
}

TEST(DecodedHooks, TheCommandHookStillSeesTheCommand) {
  test_upstream echo;
  host_instance host(config_with({recorder("R")}));
  ws_client c;
  ASSERT_TRUE(open_proxy(c, host.port(), "command", echo.url()));
  c.send_json(send_message("m"));
  c.read_until("message_sent");
  // on_client_message logs only its name; the recorder's note of the identity follows it, and the
  // frame it saw is the envelope (checked by the rate limiter's and debug logger's own tests).
  EXPECT_TRUE(host.log_contains("R on_client_message")) << host.log_text();
  EXPECT_TRUE(host.log_contains("R on_message_to_upstream m binary=no")) << host.log_text();
}

// ---- a throwing hook leaves its reason in the log ---------------------------------------------

class HookThrows : public ::testing::TestWithParam<std::string> {};

TEST_P(HookThrows, TheExceptionsTextAndTheHookAreLogged) {
  const std::string hook = GetParam();
  test_upstream echo;
  host_instance host(
      config_with({fixture("test_throws", "test_throws", {{"throw_in", json::array({hook})}})}));
  ws_client c;
  const bool upgraded = c.connect(host.port(), "/api/websocket/connect/thrower");
  if (hook == "on_session_open") {
    EXPECT_FALSE(upgraded);
    EXPECT_EQ(c.handshake_status, 500);
  } else {
    ASSERT_TRUE(upgraded);
    c.send_json({{"type", "connect_external"}, {"url", echo.url()}});
    c.send_json(send_message("m"));
    // Each hook kind fails at its own step; the client sees its answer (1011 for the message
    // hooks), or nothing at all for the notifications, which do not change the session.
    if (hook == "on_upstream_closed" || hook == "on_session_close")
      c.send_json({{"type", "disconnect_external"}});
    if (hook == "on_session_close")
      c.close();
  }
  const std::string expected = hook + " threw: test_throws: " + hook + " threw on purpose";
  EXPECT_TRUE(eventually([&] { return host.log_contains(expected); })) << host.log_text();
}

INSTANTIATE_TEST_SUITE_P(EveryHookKind, HookThrows,
                         ::testing::Values("on_session_open", "on_session_close",
                                           "on_client_message", "on_message_to_upstream",
                                           "on_message_from_upstream", "on_upstream_connect",
                                           "on_upstream_opened", "on_upstream_closed"));

// ---- test-connection runs the upstream-connect hooks ------------------------------------------

TEST(TestConnectionHooks, APluginsHeaderReachesTheTestedUpstream) {
  test_upstream echo;
  host_instance host(
      config_with({recorder("R", {{"set_header", {{"X-Api-Key", "from-plugin"}}}})}));
  const http_result r =
      http_request(host.port(), "POST", "/api/websocket/test-connection",
                   {{"Content-Type", "application/json"}}, json{{"url", echo.url()}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().value("status", ""), "success") << r.body;
  const auto h = echo.last_request_headers();
  EXPECT_EQ(h.count("x-api-key") ? h.at("x-api-key") : "<absent>", "from-plugin");
  EXPECT_TRUE(host.log_contains("R on_upstream_connect")) << host.log_text();
  // No WebSocket session: neither its open nor its close hook ran for the test.
  EXPECT_FALSE(host.log_contains("R on_session_open")) << host.log_text();
}

TEST(TestConnectionHooks, APluginsRefusalIsTheTestsAnswer) {
  test_upstream echo;
  host_instance host(config_with({recorder("R", {{"deny", "NOT_ALLOWED"}})}));
  const http_result r =
      http_request(host.port(), "POST", "/api/websocket/test-connection",
                   {{"Content-Type", "application/json"}}, json{{"url", echo.url()}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json body = r.json();
  EXPECT_EQ(body.value("status", ""), "error") << r.body;
  EXPECT_EQ(body.value("code", ""), "NOT_ALLOWED") << r.body;
  EXPECT_EQ(body.value("message", ""), "denied by R") << r.body;
  EXPECT_EQ(echo.accepted(), 0u);
}
