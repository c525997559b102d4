// Every connection_error code a user can meet on connect_external, through real sockets, and the
// INVALID_FORMAT answers to malformed commands (after which the socket keeps working).
#include "proxy_test_util.hpp"

#include "proxy/name_resolver.hpp"

#include <gtest/gtest.h>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

struct failed_connect {
  json error;  // the connection_error
  json status; // the connection_status that follows it
  bool saw_connecting = false;
};

// connect_external to `url`; collects connecting (if any), the connection_error and the final
// status.
failed_connect connect_and_fail(ws_client &c, const std::string &url, json extra = json::object()) {
  json cmd = {{"type", "connect_external"}, {"url", url}};
  cmd.update(extra);
  c.send_json(cmd);
  failed_connect out;
  json e = next_event(c);
  if (e.value("status", "") == "connecting") {
    out.saw_connecting = true;
    e = next_event(c);
  }
  out.error = e;
  out.status = next_event(c);
  return out;
}

void expect_failure(const failed_connect &f, const std::string &code) {
  EXPECT_EQ(f.error["type"], "connection_error") << f.error.dump();
  EXPECT_EQ(f.error["code"], code) << f.error.dump();
  EXPECT_TRUE(f.error["error"].is_string() && !f.error["error"].get<std::string>().empty());
  EXPECT_TRUE(has_timestamp(f.error));
  EXPECT_EQ(f.status["type"], "connection_status") << f.status.dump();
  EXPECT_EQ(f.status["status"], "error") << f.status.dump();
  EXPECT_TRUE(has_timestamp(f.status));
}

host_config short_timeout_config() {
  host_config c = test_config();
  c.limits.connect_timeout = std::chrono::milliseconds(300);
  return c;
}

} // namespace

TEST(ProxyErrors, SilentUpstreamTimesOutAfterTheConfiguredTimeout) {
  upstream_behaviour b;
  b.mode = upstream_behaviour::kind::silent;
  test_upstream up(b);
  host_instance host(short_timeout_config());
  proxy_client c(host.port(), "timeout");
  ASSERT_TRUE(c.ok);
  const auto started = std::chrono::steady_clock::now();
  auto f = connect_and_fail(c.ws, up.url());
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(f.saw_connecting);
  expect_failure(f, "TIMEOUT");
  EXPECT_EQ(f.error["error"], "Connection timeout");
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_EQ(up.accepted(), 1u);
}

TEST(ProxyErrors, Upstream401And403AreAuthFailedWithHttpStatus) {
  for (int status : {401, 403}) {
    SCOPED_TRACE(status);
    upstream_behaviour b;
    b.mode = upstream_behaviour::kind::reject_status;
    b.status = status;
    test_upstream up(b);
    host_instance host;
    proxy_client c(host.port(), "auth");
    ASSERT_TRUE(c.ok);
    auto f = connect_and_fail(c.ws, up.url());
    EXPECT_TRUE(f.saw_connecting);
    expect_failure(f, "AUTH_FAILED");
    EXPECT_EQ(f.error["error"], "Authentication failed");
    EXPECT_EQ(f.error["http_status"], status);
  }
}

TEST(ProxyErrors, Upstream500IsHandshakeFailedWithHttpStatus) {
  upstream_behaviour b;
  b.mode = upstream_behaviour::kind::reject_status;
  b.status = 500;
  test_upstream up(b);
  host_instance host;
  proxy_client c(host.port(), "five-hundred");
  ASSERT_TRUE(c.ok);
  auto f = connect_and_fail(c.ws, up.url());
  expect_failure(f, "HANDSHAKE_FAILED");
  EXPECT_EQ(f.error["http_status"], 500);
  EXPECT_NE(f.error["error"].get<std::string>().find("500"), std::string::npos) << f.error.dump();
}

TEST(ProxyErrors, BadAcceptIsHandshakeFailed) {
  upstream_behaviour b;
  b.mode = upstream_behaviour::kind::bad_accept;
  test_upstream up(b);
  host_instance host;
  proxy_client c(host.port(), "bad-accept");
  ASSERT_TRUE(c.ok);
  auto f = connect_and_fail(c.ws, up.url());
  expect_failure(f, "HANDSHAKE_FAILED");
}

TEST(ProxyErrors, RedirectIsNotFollowed) {
  upstream_behaviour b;
  b.mode = upstream_behaviour::kind::redirect;
  test_upstream up(b);
  std::atomic<int> dials{0};
  host_options o;
  o.on_dial = [&dials](const boost::asio::ip::tcp::endpoint &) { ++dials; };
  host_instance host(test_config(), std::move(o));
  proxy_client c(host.port(), "redirect");
  ASSERT_TRUE(c.ok);
  auto f = connect_and_fail(c.ws, up.url());
  expect_failure(f, "HANDSHAKE_FAILED");
  EXPECT_EQ(f.error["http_status"], 302);
  EXPECT_EQ(dials.load(), 1) << "only the first server was dialled";
}

TEST(ProxyErrors, UnofferedSubprotocolIsHandshakeFailed) {
  upstream_behaviour b;
  b.mode = upstream_behaviour::kind::unoffered_subprotocol;
  test_upstream up(b);
  host_instance host;
  proxy_client c(host.port(), "unoffered");
  ASSERT_TRUE(c.ok);
  auto f = connect_and_fail(c.ws, up.url(), {{"protocols", {"chat"}}});
  expect_failure(f, "HANDSHAKE_FAILED");
  EXPECT_NE(f.error["error"].get<std::string>().find("subprotocol"), std::string::npos);
  EXPECT_TRUE(eventually([&] { return up.open_now() == 0; })) << "the host hung up on it";
}

TEST(ProxyErrors, ClosedPortIsConnectionRefused) {
  host_instance host;
  proxy_client c(host.port(), "refused");
  ASSERT_TRUE(c.ok);
  auto f = connect_and_fail(c.ws, "ws://127.0.0.1:" + std::to_string(closed_port()) + "/");
  EXPECT_TRUE(f.saw_connecting);
  expect_failure(f, "CONNECTION_REFUSED");
}

TEST(ProxyErrors, UnknownNameIsDnsFailed) {
  test_upstream echo;
  host_options o;
  o.resolver = std::make_unique<static_resolver>(
      std::map<std::string, std::vector<std::string>>{{"echo.test", {"127.0.0.1"}}});
  host_instance host(test_config(), std::move(o));
  proxy_client c(host.port(), "dns");
  ASSERT_TRUE(c.ok);
  auto f = connect_and_fail(c.ws, "ws://no-such-host.test:" + std::to_string(echo.port()) + "/");
  EXPECT_TRUE(f.saw_connecting);
  expect_failure(f, "DNS_FAILED");
  EXPECT_EQ(echo.accepted(), 0u);
  // A known name through the same resolver connects: the failure was the name, nothing else.
  json ok = open_upstream(c.ws, "ws://echo.test:" + std::to_string(echo.port()) + "/");
  EXPECT_EQ(ok["status"], "connected") << ok.dump();
}

TEST(ProxyErrors, InvalidUrlsAreRefusedBeforeDialling) {
  std::atomic<int> dials{0};
  host_options o;
  o.on_dial = [&dials](const boost::asio::ip::tcp::endpoint &) { ++dials; };
  host_instance host(test_config(), std::move(o));
  proxy_client c(host.port(), "bad-urls");
  ASSERT_TRUE(c.ok);
  for (const std::string url :
       {"http://127.0.0.1:1/", "https://127.0.0.1/", "ftp://example.com/",
        "ws://user:secret@127.0.0.1:1/", "ws://user@127.0.0.1:1/", "not a url", "garbage", "",
        "ws://", "ws://:80/", "ws://127.0.0.1:99999/", "wss//missing-colon", "//127.0.0.1/"}) {
    SCOPED_TRACE(url);
    auto f = connect_and_fail(c.ws, url, {{"request_id", "u"}});
    EXPECT_FALSE(f.saw_connecting) << "refused before connecting";
    expect_failure(f, "INVALID_URL");
    EXPECT_EQ(f.error["request_id"], "u");
    EXPECT_EQ(f.error.dump().find("secret"), std::string::npos) << "credentials are never echoed";
  }
  EXPECT_EQ(dials.load(), 0);
}

TEST(ProxyErrors, EleventhUpstreamOfOneClientIsConnectionLimit) {
  test_upstream echo;
  host_instance host;
  proxy_client c(host.port(), "limit");
  ASSERT_TRUE(c.ok);
  for (int i = 0; i < 10; ++i) {
    json e = open_upstream(c.ws, echo.url(), {{"connection_id", "c" + std::to_string(i)}});
    ASSERT_EQ(e["status"], "connected") << i << ": " << e.dump();
    EXPECT_EQ(e["connection_id"], "c" + std::to_string(i));
  }
  auto f = connect_and_fail(c.ws, echo.url(), {{"connection_id", "c10"}, {"request_id", "eleven"}});
  EXPECT_FALSE(f.saw_connecting);
  expect_failure(f, "CONNECTION_LIMIT");
  EXPECT_EQ(f.error["connection_id"], "c10");
  EXPECT_EQ(f.error["request_id"], "eleven");
  EXPECT_EQ(f.status["connection_id"], "c10");
  EXPECT_EQ(echo.accepted(), 10u);

  // Freeing one makes room for another.
  c.ws.send_json({{"type", "disconnect_external"}, {"connection_id", "c3"}});
  json e = next_event(c.ws);
  EXPECT_EQ(e["status"], "disconnected");
  EXPECT_EQ(e["connection_id"], "c3");
  EXPECT_EQ(open_upstream(c.ws, echo.url(), {{"connection_id", "c10"}})["status"], "connected");
}

TEST(ProxyErrors, ConnectingUpstreamsCountTowardsTheLimit) {
  upstream_behaviour b;
  b.mode = upstream_behaviour::kind::silent;
  test_upstream silent(b);
  host_instance host; // 30 s connect timeout: they stay connecting for the whole test
  proxy_client c(host.port(), "limit-connecting");
  ASSERT_TRUE(c.ok);
  for (int i = 0; i < 10; ++i) {
    c.ws.send_json({{"type", "connect_external"},
                    {"url", silent.url()},
                    {"connection_id", "s" + std::to_string(i)}});
    ASSERT_EQ(next_event(c.ws)["status"], "connecting");
  }
  auto f = connect_and_fail(c.ws, silent.url(), {{"connection_id", "s10"}});
  expect_failure(f, "CONNECTION_LIMIT");
}

// ---- INVALID_FORMAT ----

TEST(ProxyErrors, MalformedCommandsGetInvalidFormatAndTheSocketStaysOpen) {
  test_upstream echo;
  host_instance host;
  proxy_client c(host.port(), "malformed");
  ASSERT_TRUE(c.ok);
  const std::vector<std::string> bad = {
      "{not json",
      "",
      "[1,2,3]",
      "\"just a string\"",
      "42",
      "null",
      R"({"content":"no type"})",
      R"({"type":"launch_missiles"})",
      R"({"type":42})",
      R"({"type":"connect_external"})",
      R"({"type":"connect_external","url":7})",
      R"({"type":"connect_external","url":"ws://127.0.0.1:1/","protocols":"chat"})",
      R"({"type":"connect_external","url":"ws://127.0.0.1:1/","protocols":[1]})",
      R"({"type":"connect_external","url":"ws://127.0.0.1:1/","headers":["a"]})",
      R"({"type":"connect_external","url":"ws://127.0.0.1:1/","headers":{"a":1}})",
      R"({"type":"send_message"})",
      R"({"type":"send_message","content":5})",
      R"({"type":"send_message","content":"x","message_type":"video"})",
      R"({"type":"send_message","content":"x","message_type":1})",
      R"({"type":"send_message","content":"x","connection_id":3})",
      R"({"type":"disconnect_external","request_id":{}})",
  };
  for (const auto &frame : bad) {
    SCOPED_TRACE(frame);
    c.ws.send_text(frame);
    json e = next_event(c.ws);
    EXPECT_EQ(e["type"], "error") << e.dump();
    EXPECT_EQ(e["code"], "INVALID_FORMAT") << e.dump();
    EXPECT_TRUE(e["error"].is_string());
    EXPECT_TRUE(has_timestamp(e));
  }
  // A binary frame on the proxy socket is not a command either.
  c.ws.send_binary("\x01\x02");
  json e = next_event(c.ws);
  EXPECT_EQ(e["code"], "INVALID_FORMAT");
  // A request_id readable before the error is echoed.
  c.ws.send_text(R"({"type":"nope","request_id":"r9"})");
  e = next_event(c.ws);
  EXPECT_EQ(e["code"], "INVALID_FORMAT");
  EXPECT_EQ(e["request_id"], "r9");
  // The spec's own error text leads the message.
  EXPECT_EQ(e["error"].get<std::string>().rfind("Invalid message format", 0), 0u) << e.dump();

  EXPECT_FALSE(c.ws.closed());
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  c.ws.send_json({{"type", "send_message"}, {"content", "after the garbage"}});
  EXPECT_EQ(c.ws.read_until("message_received")["content"], "after the garbage");
}

TEST(ProxyErrors, InvalidBase64IsASendError) {
  test_upstream echo;
  host_instance host;
  proxy_client c(host.port(), "b64");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  c.ws.send_json({{"type", "send_message"},
                  {"content", "not*base64!"},
                  {"message_type", "binary"},
                  {"request_id", "b"}});
  json e = next_event(c.ws);
  EXPECT_EQ(e["type"], "send_error") << e.dump();
  EXPECT_EQ(e["code"], "INVALID_FORMAT");
  EXPECT_EQ(e["request_id"], "b");
}
