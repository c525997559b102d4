// log_redaction_test.cpp — what redact_secrets() hides in free text, and what it leaves alone.
#include "base/log_redaction.hpp"

#include <gtest/gtest.h>

#include <string>

namespace apistudio {
namespace {

TEST(log_redaction, url_userinfo_and_secret_query_parameters) {
  EXPECT_EQ(redact_secrets("dialing wss://admin:hunter2@example.com:8443/feed?room=1&token=abc#x"),
            "dialing wss://[REDACTED]@example.com:8443/feed?room=1&token=[REDACTED]#x");
  EXPECT_EQ(redact_secrets("url=ws://h/p?API_KEY=1&%74oken=2&code=3&sig=4 then"),
            "url=ws://h/p?API_KEY=[REDACTED]&%74oken=[REDACTED]&code=[REDACTED]&sig=[REDACTED] "
            "then");
  // The fragment of an OAuth implicit flow carries the token too.
  EXPECT_EQ(redact_secrets("https://app/cb#access_token=zzz&state=s"),
            "https://app/cb#access_token=[REDACTED]&state=s");
  // A URL ends at a quote or a space: what follows is untouched.
  EXPECT_EQ(redact_secrets("\"ws://u:p@h/\" ok"), "\"ws://[REDACTED]@h/\" ok");
}

TEST(log_redaction, header_and_key_value_pairs) {
  EXPECT_EQ(redact_secrets("Authorization: Bearer abc.def"), "Authorization: [REDACTED]");
  EXPECT_EQ(redact_secrets("sent Cookie: sid=1; theme=dark"),
            "sent Cookie: [REDACTED]; theme=dark");
  EXPECT_EQ(redact_secrets("X-Api-Key: k1, X-Other: visible"),
            "X-Api-Key: [REDACTED], X-Other: visible");
  EXPECT_EQ(redact_secrets("path=/ws?access_token=t1&user=bob"),
            "path=/ws?access_token=[REDACTED]&user=bob");
  EXPECT_EQ(redact_secrets("password = swordfish and more"), "password = [REDACTED] and more");
  EXPECT_EQ(redact_secrets(R"({"headers":{"Authorization":"Bearer x\"y","Accept":"*/*"}})"),
            R"({"headers":{"Authorization":"[REDACTED]","Accept":"*/*"}})");
}

TEST(log_redaction, bearer_and_basic_credentials_anywhere) {
  EXPECT_EQ(redact_secrets("got bearer abc123 from client"), "got bearer [REDACTED] from client");
  EXPECT_EQ(redact_secrets("(Basic dXNlcjpwYXNz)"), "(Basic [REDACTED])");
}

TEST(log_redaction, leaves_ordinary_text_alone) {
  for (const std::string text :
       {"listening on 127.0.0.1:58123 with 2 worker thread(s), 1 plugin(s)",
        "client 17 stopped reading; closing (write stall timeout)",
        "connect failed: CONNECTION_REFUSED: Connection refused",
        "R on_upstream_closed c1 1000 bye", "closed with code: 1011", "ws://127.0.0.1:9/path?a=1",
        "plugin 'auth_header_injector' threw in on_upstream_connect", "no :// scheme here"}) {
    EXPECT_EQ(redact_secrets(text), text);
  }
}

TEST(log_redaction, configuration_errors_keep_their_file_location_and_key) {
  // File names and key paths that contain a secret word are places, not secrets.
  for (const std::string text :
       {"/tmp/apistudio_sighup_1.yaml:4:17: keepalive.idle_timeout: invalid duration \"soon\"",
        "/etc/keys.yaml:3:5: security.access_tokens: expected a list",
        "config.yaml:9: plugins[0].settings.tokens: a token must not be empty"}) {
    EXPECT_EQ(redact_secrets(text), text);
  }
  // Without a location in front, the pair rule still applies.
  EXPECT_EQ(redact_secrets("access_token: abc, more"), "access_token: [REDACTED], more");
  EXPECT_EQ(redact_secrets("api_key:12345"), "api_key:[REDACTED]");
}

TEST(log_redaction, names_shared_with_the_debug_logger) {
  EXPECT_TRUE(is_secret_header_name("Proxy-Authorization"));
  EXPECT_TRUE(is_secret_header_name("x-session-id"));
  EXPECT_FALSE(is_secret_header_name("Accept"));
  EXPECT_TRUE(is_secret_parameter_name("oauth_code"));
  EXPECT_FALSE(is_secret_parameter_name("room"));
}

} // namespace
} // namespace apistudio
