// Who may talk to the host at all (issue 5, "Who may connect"): Origin allow-list, Host check
// against DNS rebinding, access tokens, and the REST rules that keep test-connection from being a
// simple cross-site request. Everything through real sockets; refusals must come before the 101,
// with no session opened (the test_recorder plugin would log "on_session_open") and no dial.
#include "host_fixture.hpp"
#include "raw_socket.hpp"
#include "security_helpers.hpp"
#include "test_client.hpp"
#include "test_upstream.hpp"

#include <gtest/gtest.h>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

host_config config_with_recorder() {
  host_config c = test_config();
  c.plugins.push_back(make_plugin("test_recorder", {{"tag", "R"}}));
  return c;
}

// The response head of a raw upgrade to `target` with these headers; the status in `status`.
std::string raw_upgrade(std::uint16_t port, const std::string &target,
                        const std::vector<std::pair<std::string, std::string>> &headers,
                        int &status) {
  raw_socket s(port);
  EXPECT_TRUE(s.connected());
  status = s.upgrade(target, headers);
  return s.head() + s.pending();
}

} // namespace

TEST(Admission, RequestsWithoutOriginAreAllowed) {
  // Python websockets, Node ws and wscat send no Origin: the spec's own examples must work.
  host_instance host;
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/no-origin")) << c.handshake_status;
  EXPECT_EQ(http_request(host.port(), "GET", "/healthz").status, 200);
}

TEST(Admission, LoopbackOriginsOnAnyPortAreAllowed) {
  host_instance host;
  const std::vector<std::string> origins = {
      "http://localhost:3000", "http://127.0.0.1:5173", "http://[::1]:8080", "https://localhost",
      "http://LOCALHOST:1",    "http://127.0.0.1",      "https://[::1]"};
  int n = 0;
  for (const auto &origin : origins) {
    ws_client c;
    EXPECT_TRUE(c.connect(host.port(), "/api/websocket/connect/o" + std::to_string(n++),
                          {{"Origin", origin}}))
        << origin << " got " << c.handshake_status;
    const auto r =
        http_request(host.port(), "GET", "/api/websocket/active-connections", {{"Origin", origin}});
    EXPECT_EQ(r.status, 200) << origin;
  }
}

TEST(Admission, ForeignAndNullOriginsGet403BeforeTheUpgrade) {
  dial_recorder dials;
  host_options options;
  options.on_dial = dials.observer();
  host_instance host(config_with_recorder(), std::move(options));
  const std::vector<std::string> origins = {"https://evil.example",
                                            "null",
                                            "http://localhost.evil.example",
                                            "http://127.0.0.1.nip.io:3000",
                                            "http://localhost@evil.example",
                                            "http://evil.example:" + std::to_string(host.port()),
                                            "file://",
                                            "http://[::1].evil.example",
                                            "ws://localhost:3000",
                                            "http://[::1%25lo]:3000",
                                            "http://localhost:80x"};
  for (const auto &origin : origins) {
    int status = 0;
    const std::string head =
        raw_upgrade(host.port(), "/api/websocket/connect/evil", {{"Origin", origin}}, status);
    EXPECT_EQ(status, 403) << origin << "\n" << head;
    EXPECT_EQ(head.find(" 101 "), std::string::npos) << origin;
    EXPECT_NE(head.find("ORIGIN_DENIED"), std::string::npos) << head;
    expect_no_cors_in_head(head, origin);

    // The REST endpoints are guarded the same way; test-connection would otherwise dial.
    const auto rest = http_request(host.port(), "POST", "/api/websocket/test-connection",
                                   {{"Origin", origin}, {"Content-Type", "application/json"}},
                                   R"({"url":"ws://127.0.0.1:9/"})");
    EXPECT_EQ(rest.status, 403) << origin;
    expect_no_cors(rest, origin);
    EXPECT_EQ(
        http_request(host.port(), "GET", "/api/websocket/active-connections", {{"Origin", origin}})
            .status,
        403);
  }
  EXPECT_FALSE(host.log_contains("R on_session_open")) << host.log_text();
  EXPECT_EQ(host.server().context().directory.size(), 0u);
  EXPECT_EQ(active_connections(host.port())["active_connections"], json::array());
  EXPECT_TRUE(dials.dials().empty());
}

TEST(Admission, ConfiguredOriginIsAllowedAndOnlyThatOne) {
  host_config c = test_config();
  c.security.allowed_origins = {"https://studio.example.com"};
  host_instance host(c);
  ws_client ok;
  EXPECT_TRUE(ok.connect(host.port(), "/api/websocket/connect/a",
                         {{"Origin", "https://studio.example.com"}}));
  ws_client other;
  EXPECT_FALSE(other.connect(host.port(), "/api/websocket/connect/b",
                             {{"Origin", "https://studio.example.com.evil.example"}}));
  EXPECT_EQ(other.handshake_status, 403);
}

TEST(Admission, MissingOriginCanBeRequired) {
  host_config c = test_config();
  c.security.allow_missing_origin = false;
  host_instance host(c);
  ws_client none;
  EXPECT_FALSE(none.connect(host.port(), "/api/websocket/connect/a"));
  EXPECT_EQ(none.handshake_status, 403);
  ws_client local;
  EXPECT_TRUE(local.connect(host.port(), "/api/websocket/connect/b",
                            {{"Origin", "http://localhost:3000"}}));
}

TEST(Admission, RebindingHostNamesGet403) {
  host_instance host(config_with_recorder());
  const std::string port = std::to_string(host.port());
  for (const std::string &h : std::vector<std::string>{
           "evil.example:" + port, "evil.example", "attacker.test:" + port,
           "localhost.evil.example:" + port, "127.0.0.1.nip.io:" + port, "10.0.0.1:" + port,
           "127.0.0.1:" + port + "@evil.example", "[::1]x:" + port, "[::1%eth0]:" + port}) {
    int status = 0;
    const std::string head =
        raw_upgrade(host.port(), "/api/websocket/connect/rebind", {{"Host", h}}, status);
    EXPECT_EQ(status, 403) << h << "\n" << head;
    EXPECT_EQ(http_request(host.port(), "GET", "/healthz", {{"Host", h}}).status, 403) << h;
  }
  EXPECT_FALSE(host.log_contains("R on_session_open"));
  // Loopback names and addresses, with or without the port, are what a local client sends.
  int n = 0;
  for (const std::string &h : std::vector<std::string>{"localhost:" + port, "127.0.0.1:" + port,
                                                       "[::1]:" + port, "localhost", "127.0.0.1"}) {
    int status = 0;
    raw_upgrade(host.port(), "/api/websocket/connect/ok" + std::to_string(n++), {{"Host", h}},
                status);
    EXPECT_EQ(status, 101) << h;
  }
}

TEST(Admission, ConfiguredHostNameIsAccepted) {
  host_config c = test_config();
  c.security.allowed_hosts = {"studio.internal"};
  host_instance host(c);
  int status = 0;
  raw_upgrade(host.port(), "/api/websocket/connect/a",
              {{"Host", "studio.internal:" + std::to_string(host.port())}}, status);
  EXPECT_EQ(status, 101);
  raw_upgrade(host.port(), "/api/websocket/connect/b", {{"Host", "other.internal"}}, status);
  EXPECT_EQ(status, 403);
}

TEST(Admission, MissingHostGets400) {
  host_instance host(config_with_recorder());
  const std::string reply = raw_exchange(
      host.port(), "GET /api/websocket/connect/nohost HTTP/1.1\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  EXPECT_NE(reply.find("MISSING_HOST"), std::string::npos) << reply;
  const std::string rest = raw_exchange(host.port(), "GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_EQ(rest.rfind("HTTP/1.0 400", 0), 0u) << rest;
  EXPECT_FALSE(host.log_contains("R on_session_open"));
}

TEST(Admission, AccessTokensInHeaderOrQuery) {
  host_config c = config_with_recorder();
  c.security.access_tokens = {"tok-7f3a9c"};
  host_instance host(c);
  const std::uint16_t port = host.port();

  // Nothing, a wrong token, the token without "Bearer", a prefix of it: 401, no session.
  ws_client none;
  EXPECT_FALSE(none.connect(port, "/api/websocket/connect/a"));
  EXPECT_EQ(none.handshake_status, 401);
  ws_client wrong;
  EXPECT_FALSE(
      wrong.connect(port, "/api/websocket/connect/a", {{"Authorization", "Bearer tok-7f3a9d"}}));
  EXPECT_EQ(wrong.handshake_status, 401);
  ws_client bare;
  EXPECT_FALSE(bare.connect(port, "/api/websocket/connect/a", {{"Authorization", "tok-7f3a9c"}}));
  EXPECT_EQ(bare.handshake_status, 401);
  ws_client prefix;
  EXPECT_FALSE(prefix.connect(port, "/api/websocket/connect/a?token=tok-7f3a"));
  EXPECT_EQ(prefix.handshake_status, 401);
  ws_client longer;
  EXPECT_FALSE(longer.connect(port, "/api/websocket/connect/a?token=tok-7f3a9c0"));
  EXPECT_EQ(longer.handshake_status, 401);
  EXPECT_FALSE(host.log_contains("R on_session_open"));

  for (const std::string &target :
       std::vector<std::string>{"/api/websocket/active-connections", "/api/plugins", "/healthz"})
    EXPECT_EQ(http_request(port, "GET", target).status, 401) << target;
  EXPECT_EQ(http_request(port, "POST", "/api/websocket/test-connection",
                         {{"Content-Type", "application/json"}}, R"({"url":"ws://127.0.0.1:9/"})")
                .status,
            401);

  // The header (any case of "Bearer"), or ?token= for browsers, which cannot set headers.
  ws_client header;
  EXPECT_TRUE(
      header.connect(port, "/api/websocket/connect/h", {{"Authorization", "Bearer tok-7f3a9c"}}));
  ws_client lower;
  EXPECT_TRUE(
      lower.connect(port, "/api/websocket/connect/l", {{"Authorization", "bearer tok-7f3a9c"}}));
  ws_client query;
  EXPECT_TRUE(query.connect(port, "/api/websocket/connect/q?x=1&token=tok-7f3a9c"));
  ws_client encoded;
  EXPECT_TRUE(encoded.connect(port, "/api/websocket/connect/e?token=tok%2D7f3a9c"));
  EXPECT_EQ(http_request(port, "GET", "/healthz", {{"Authorization", "Bearer tok-7f3a9c"}}).status,
            200);
  EXPECT_EQ(http_request(port, "GET", "/api/plugins?token=tok-7f3a9c").status, 200);
  // The token never shows up in what the host writes (the recorder plugin logs queries verbatim,
  // by design: it is a test fixture, and plugins are trusted).
  for (const auto &line : host.log_lines()) {
    if (line.find("plugin:test_recorder") == std::string::npos) {
      EXPECT_EQ(line.find("tok-7f3a9c"), std::string::npos) << line;
    }
  }
}

TEST(Admission, PublicListenerWithoutTokensRefusesToStart) {
  host_config c = test_config();
  c.listen.host = "0.0.0.0";
  try {
    host_server server(c);
    FAIL() << "a host listening on 0.0.0.0 without tokens started";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("access_tokens"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("allow_public_without_auth"), std::string::npos);
  }
}

TEST(Admission, TestConnectionNeedsJsonContentType) {
  test_upstream echo;
  dial_recorder dials;
  host_options options;
  options.on_dial = dials.observer();
  host_instance host(test_config(), std::move(options));
  const std::string body = json{{"url", echo.url()}}.dump();
  // What a page can send cross-site without a preflight: form encodings and text/plain.
  for (const std::string &type : std::vector<std::string>{
           "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "",
           "application/jsonx", "text/json", "application/json-seq"}) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!type.empty())
      headers.emplace_back("Content-Type", type);
    const auto r =
        http_request(host.port(), "POST", "/api/websocket/test-connection", headers, body);
    EXPECT_EQ(r.status, 415) << "'" << type << "': " << r.body;
    EXPECT_EQ(r.json().value("code", ""), "UNSUPPORTED_MEDIA_TYPE") << r.body;
    expect_no_cors(r, type);
  }
  EXPECT_TRUE(dials.dials().empty());
  EXPECT_EQ(echo.accepted(), 0u);
  for (const std::string &type : std::vector<std::string>{
           "application/json", "application/json; charset=utf-8", "Application/JSON"}) {
    const auto r = http_request(host.port(), "POST", "/api/websocket/test-connection",
                                {{"Content-Type", type}}, body);
    EXPECT_EQ(r.status, 200) << type;
    EXPECT_EQ(r.json().value("status", ""), "success") << r.body;
  }
}

TEST(Admission, BodiesOverTheLimitGet413) {
  host_config c = test_config();
  c.limits.max_http_body_bytes = 1024;
  dial_recorder dials;
  host_options options;
  options.on_dial = dials.observer();
  host_instance host(c, std::move(options));
  const std::string big =
      json{{"url", "ws://127.0.0.1:9/"}, {"pad", std::string(2000, 'x')}}.dump();
  const auto r = http_request(host.port(), "POST", "/api/websocket/test-connection",
                              {{"Content-Type", "application/json"}}, big);
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(r.json().value("code", ""), "BODY_TOO_LARGE");
  // A declared length over the limit is refused without waiting for the body.
  const std::string reply = raw_exchange(
      host.port(), "POST /api/websocket/test-connection HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{");
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply;
  EXPECT_TRUE(dials.dials().empty());
}

TEST(Admission, NoAccessControlAllowOriginAnywhere) {
  test_upstream echo;
  host_config c = test_config();
  c.security.allowed_origins = {"https://studio.example.com"};
  host_instance host(c);
  const std::uint16_t port = host.port();
  for (const std::string &origin : std::vector<std::string>{
           "http://localhost:3000", "https://studio.example.com", "https://evil.example", "null"}) {
    for (const std::string &target :
         std::vector<std::string>{"/api/websocket/active-connections", "/api/plugins", "/healthz",
                                  "/nope", "/ws", "/api/websocket/connect/x"}) {
      expect_no_cors(http_request(port, "GET", target, {{"Origin", origin}}), origin + target);
      // A CORS preflight gets no grant either.
      expect_no_cors(http_request(port, "OPTIONS", target,
                                  {{"Origin", origin},
                                   {"Access-Control-Request-Method", "POST"},
                                   {"Access-Control-Request-Headers", "content-type"}}),
                     "OPTIONS " + origin + target);
    }
    expect_no_cors(http_request(port, "OPTIONS", "/api/websocket/test-connection",
                                {{"Origin", origin}, {"Access-Control-Request-Method", "POST"}}),
                   "preflight " + origin);
    expect_no_cors(http_request(port, "POST", "/api/websocket/test-connection",
                                {{"Origin", origin}, {"Content-Type", "application/json"}},
                                json{{"url", echo.url()}}.dump()),
                   "POST " + origin);
    int status = 0;
    const std::string head =
        raw_upgrade(port, "/api/websocket/connect/cors", {{"Origin", origin}}, status);
    expect_no_cors_in_head(head, "upgrade " + origin);
  }
}
