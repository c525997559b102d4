// Unit tests of the debug_logger's pure logic: the WEBSOCKET_DEBUG switch, settings, header /
// query / URL / envelope redaction, payload excerpts and the text of each line.
#include "debug_logger/debug_logger_settings.hpp"
#include "debug_logger/event_lines.hpp"
#include "debug_logger/redaction.hpp"

#include <apistudio/plugin.hpp>

#include <gtest/gtest.h>

#include <utility>

namespace dl = apistudio::plugins::debug_logger;

namespace {

constexpr const char *secret = "tok-3f9a-SECRET";

TEST(PluginsDebugLogger, EnvironmentSwitchAcceptsTrueOneYesInAnyCase) {
  for (const char *on : {"true", "TRUE", "1", "yes", "Yes", " true "})
    EXPECT_TRUE(dl::debug_env_enabled(std::string(on))) << on;
  for (const char *off : {"", "0", "false", "no", "on", "y"})
    EXPECT_FALSE(dl::debug_env_enabled(std::string(off))) << off;
  EXPECT_FALSE(dl::debug_env_enabled(std::nullopt));
}

TEST(PluginsDebugLogger, EnabledAutoFollowsTheEnvironmentAndBooleansForceIt) {
  EXPECT_FALSE(dl::parse_settings("{}", std::nullopt).enabled);
  EXPECT_TRUE(dl::parse_settings("{}", std::string("yes")).enabled);
  EXPECT_TRUE(dl::parse_settings(R"({"enabled":"auto"})", std::string("1")).enabled);
  EXPECT_FALSE(dl::parse_settings(R"({"enabled":false})", std::string("true")).enabled);
  EXPECT_TRUE(dl::parse_settings(R"({"enabled":true})", std::nullopt).enabled);
  EXPECT_THROW(dl::parse_settings(R"({"enabled":"sometimes"})", std::nullopt),
               apistudio::sdk::settings_error);
}

TEST(PluginsDebugLogger, OtherSettings) {
  const auto s = dl::parse_settings(R"({"max_payload_log_bytes":16,"redact_headers":["X-Tenant"]})",
                                    std::nullopt);
  EXPECT_EQ(s.max_payload_log_bytes, 16u);
  ASSERT_EQ(s.redact_headers.size(), 1u);
  EXPECT_EQ(dl::parse_settings("{}", std::nullopt).max_payload_log_bytes, 256u);
  EXPECT_THROW(dl::parse_settings(R"({"max_payload_log_bytes":-1})", std::nullopt),
               apistudio::sdk::settings_error);
  EXPECT_THROW(dl::parse_settings(R"({"redact_headers":"X"})", std::nullopt),
               apistudio::sdk::settings_error);
  EXPECT_THROW(dl::parse_settings(R"({"verbose":true})", std::nullopt),
               apistudio::sdk::settings_error);
}

// The message names the key in words; the pointer lets the host print that key's own line.
TEST(PluginsDebugLogger, RefusalsPointAtTheOffendingKey) {
  using refusal = std::pair<std::string, std::string>;
  const auto refusal_of = [](const char *json) -> refusal {
    try {
      dl::parse_settings(json, std::nullopt);
    } catch (const apistudio::sdk::settings_error &e) {
      return {e.what(), e.pointer()};
    }
    return {"accepted", ""};
  };
  EXPECT_EQ(refusal_of(R"({"redact_headers":["X-Tenant",""]})"),
            refusal("debug_logger: redact_headers[1]: must not be empty", "/redact_headers/1"));
  EXPECT_EQ(refusal_of(R"({"enabled":"sometimes"})"),
            refusal("debug_logger: enabled: must be true, false or auto", "/enabled"));
  EXPECT_EQ(refusal_of(R"({"max_payload_log_bytes":-1})"),
            refusal("debug_logger: max_payload_log_bytes: must be an integer from 0 to 1048576",
                    "/max_payload_log_bytes"));
}

TEST(PluginsDebugLogger, SensitiveHeaders) {
  const dl::redactor r({"X-Tenant"});
  for (const char *name :
       {"Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "X-API-KEY", "X-Auth-User",
        "X-Session-Id", "Client-Secret", "x-password", "X-Access-Token", "x-tenant"})
    EXPECT_TRUE(r.sensitive_header(name)) << name;
  for (const char *name : {"Accept", "User-Agent", "X-Trace", "Origin"})
    EXPECT_FALSE(r.sensitive_header(name)) << name;
  EXPECT_FALSE(dl::redactor().sensitive_header("X-Tenant"));
}

TEST(PluginsDebugLogger, QueryRedactionKeepsEverythingElseByteForByte) {
  EXPECT_EQ(dl::redactor::redact_query("user_id=alice&token=abc&workspace_id=w%201&flag"),
            "user_id=alice&token=[REDACTED]&workspace_id=w%201&flag");
  EXPECT_EQ(
      dl::redactor::redact_query("api_key=1&X-Amz-Signature=2&access%5Ftoken=3&code=4"),
      "api_key=[REDACTED]&X-Amz-Signature=[REDACTED]&access%5Ftoken=[REDACTED]&code=[REDACTED]");
  EXPECT_EQ(dl::redactor::redact_query("a%zz=1"), "a%zz=[REDACTED]");
}

TEST(PluginsDebugLogger, UrlRedactionHidesUserinfoAndTokenParams) {
  EXPECT_EQ(
      dl::redactor::redact_url(
          "wss://bob:pw@api.example.com:8443/v1?token=x&room=1#access_token=y"),
      "wss://[REDACTED]@api.example.com:8443/v1?token=[REDACTED]&room=1#access_token=[REDACTED]");
  EXPECT_EQ(dl::redactor::redact_url("ws://localhost/"), "ws://localhost/");
  EXPECT_EQ(dl::redactor::redact_url("not a url?token=x"), "[unparseable URL, 17 bytes]");
}

TEST(PluginsDebugLogger, ConnectExternalEnvelopeIsRedacted) {
  const dl::redactor r;
  const std::string frame =
      std::string(R"({"type":"connect_external","url":"wss://u:p@h/x?api_key=)") + secret +
      R"(","protocols":["a"],"headers":{"Authorization":"Bearer )" + secret +
      R"(","X-Trace":"t1","Cookie":"c=)" + secret + R"("}})";
  const auto out = r.redact_client_frame(frame);
  EXPECT_EQ(out.find(secret), std::string::npos) << out;
  EXPECT_EQ(out.find("u:p@"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("X-Trace":"t1")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("Authorization":"[REDACTED]")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("protocols":["a"])"), std::string::npos) << out;
}

TEST(PluginsDebugLogger, OtherFramesPassUnchangedAndUnredactableOnesAreWithheld) {
  const dl::redactor r;
  const std::string send = R"({"type":"send_message","content":"hi"})";
  EXPECT_EQ(r.redact_client_frame(send), send);
  EXPECT_EQ(r.redact_client_frame("plain text"), "plain text");
  const std::string broken =
      std::string(R"({"type":"connect_external","headers":{"Authorization":")") + secret;
  EXPECT_EQ(r.redact_client_frame(broken).find(secret), std::string::npos);
  std::string deep = R"({"type":"connect_external","headers":{"Authorization":")" +
                     std::string(secret) + R"("},"x":)";
  deep += std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_EQ(r.redact_client_frame(deep).find(secret), std::string::npos);
  // An envelope of another type that still carries headers is redacted as well.
  const auto other = r.redact_client_frame(
      std::string(R"({"type":"future","headers":{"X-Api-Key":")") + secret + R"("}})");
  EXPECT_EQ(other.find(secret), std::string::npos) << other;
}

TEST(PluginsDebugLogger, PayloadExcerptCutsOnUtf8BoundariesAndCountsTheRest) {
  EXPECT_EQ(dl::payload_excerpt("hello", false, 256), "hello");
  EXPECT_EQ(dl::payload_excerpt("hello world", false, 5), "hello\xE2\x80\xA6(+6 bytes)");
  // "é" is two bytes: cutting at 2 would split it, so the excerpt stops before it.
  EXPECT_EQ(dl::payload_excerpt("a\xC3\xA9z", false, 2), "a\xE2\x80\xA6(+3 bytes)");
  EXPECT_EQ(dl::payload_excerpt("a\nb", false, 10), "a\\nb");
  EXPECT_EQ(dl::payload_excerpt(std::string("\x01\xff\x10", 3), true, 2),
            "01ff\xE2\x80\xA6(+1 bytes)");
  EXPECT_EQ(dl::payload_excerpt("abc", false, 0), "");
}

TEST(PluginsDebugLogger, LinesCarryTheFactsAndNoSecrets) {
  const dl::redactor r;
  const auto opened = dl::session_opened_line(
      {7, "/api/websocket/connect/c1", std::string("x=1&token=") + secret, "c1", "127.0.0.1"});
  EXPECT_EQ(opened,
            "session 7 opened: path=/api/websocket/connect/c1 query=\"x=1&token=[REDACTED]\" "
            "client_id=\"c1\" remote=127.0.0.1");
  EXPECT_EQ(dl::session_closed_line({7, "/ws", {}, "", "::1"}, 3, 2),
            "session 7 closed: path=/ws client_id=\"\" remote=::1 client_messages=3 "
            "upstream_messages=2");

  const auto connect = dl::upstream_connect_line(
      7, "c1", std::string("wss://h/?token=") + secret, {"chat", "v2"},
      {{"Authorization", std::string("Bearer ") + secret}, {"X-Trace", "t\r\n1"}}, r);
  EXPECT_EQ(connect, "session 7 upstream connect [connection c1]: url=wss://h/?token=[REDACTED] "
                     "protocols=[chat, v2] headers={Authorization: [REDACTED], X-Trace: t\\r\\n1}");

  EXPECT_EQ(dl::upstream_opened_line(7, "", "ws://h/", "chat"),
            "session 7 upstream opened [default upstream]: url=ws://h/ subprotocol=chat");
  EXPECT_EQ(dl::upstream_opened_line(7, "", "ws://h/", ""),
            "session 7 upstream opened [default upstream]: url=ws://h/ subprotocol=(none)");
  EXPECT_EQ(
      dl::upstream_closed_line(7, "c1", "ws://h/", 1001, "going away"),
      "session 7 upstream closed [connection c1]: url=ws://h/ code=1001 reason=\"going away\"");

  EXPECT_EQ(dl::message_line(7, true, {}, "hello world", false, 5, r),
            "session 7 client message: text 11 bytes: hello\xE2\x80\xA6(+6 bytes)");
  EXPECT_EQ(dl::message_line(7, false, "c1", "pong", false, 0, r),
            "session 7 upstream message [connection c1]: text 4 bytes");
  const auto client = dl::message_line(
      7, true, {},
      std::string(R"({"type":"connect_external","headers":{"Authorization":")") + secret + R"("}})",
      false, 256, r);
  EXPECT_EQ(client.find(secret), std::string::npos) << client;
}

} // namespace
