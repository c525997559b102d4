// redacted_url(): how the host echoes a client's upstream URL in events and REST answers without
// repeating credentials (issue 5, secrets).
#include "protocol/upstream_target.hpp"

#include <gtest/gtest.h>

using apistudio::redacted_url;

TEST(RedactedUrl, KeepsOrdinaryUrlsByteForByte) {
  for (const char *url : {"wss://echo.websocket.org", "ws://127.0.0.1:9000/chat?room=1&x=%20y",
                          "ws://[::1]:80/a/b#frag", "", "not a url", "ws://h/?", "ws://h/?&&=&"})
    EXPECT_EQ(redacted_url(url), url);
}

TEST(RedactedUrl, HidesUserinfoAndCredentialLikeParameters) {
  EXPECT_EQ(redacted_url("wss://user:pass@api.example.com/v1"),
            "wss://[REDACTED]@api.example.com/v1");
  EXPECT_EQ(redacted_url("ws://a@b@host/"), "ws://[REDACTED]@host/");
  EXPECT_EQ(redacted_url("ws://h/feed?token=abc&room=1&API_KEY=k&x"),
            "ws://h/feed?token=[REDACTED]&room=1&API_KEY=[REDACTED]&x");
  EXPECT_EQ(redacted_url("ws://h/?%74oken=abc"), "ws://h/?%74oken=[REDACTED]");
  EXPECT_EQ(redacted_url("ws://h/p#access_token=t&state=s"),
            "ws://h/p#access_token=[REDACTED]&state=s");
  EXPECT_EQ(redacted_url("ws://h/?sig=1#code=2"), "ws://h/?sig=[REDACTED]#code=[REDACTED]");
  // Not a URL the host would accept, still nothing leaks.
  EXPECT_EQ(redacted_url("u:secret@h?password=p"), "[REDACTED]@h?password=[REDACTED]");
}
