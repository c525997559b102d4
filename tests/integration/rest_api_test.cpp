// The HTTP side of the host on its one port: active-connections, test-connection (success with
// diagnostics, and a failure body for each code), healthz, plugins, and the JSON refusals
// (404, 405, 415, 422, 426, 400, 409).
#include "proxy_test_util.hpp"

#include "proxy/name_resolver.hpp"

#include <gtest/gtest.h>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

const std::vector<std::pair<std::string, std::string>> json_type = {
    {"Content-Type", "application/json"}};

http_result test_connection(std::uint16_t port, const json &body) {
  return http_request(port, "POST", "/api/websocket/test-connection", json_type, body.dump());
}

// Every error the host writes itself: JSON with error, code and the status repeated.
void expect_json_error(const http_result &r, int status, const std::string &code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.headers.count("content-type") ? r.headers.at("content-type") : "",
            "application/json");
  const json j = r.json();
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j["code"], code) << r.body;
  EXPECT_TRUE(j["error"].is_string() && !j["error"].get<std::string>().empty()) << r.body;
  EXPECT_EQ(j["status"], status) << r.body;
}

// The spec's failure body: HTTP 200, status "error", code, message, url (+ diagnostics).
// A URL with credentials is echoed with them redacted.
void expect_test_failure(const http_result &r, const std::string &url, const std::string &code) {
  EXPECT_EQ(r.status, 200) << r.body;
  const json j = r.json();
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j["status"], "error") << r.body;
  EXPECT_EQ(j["code"], code) << r.body;
  if (url.find('@') == std::string::npos) {
    EXPECT_EQ(j["url"], url) << r.body;
  } else {
    EXPECT_TRUE(j["url"].is_string()) << r.body;
    EXPECT_EQ(r.body.find(":pw@"), std::string::npos) << r.body;
  }
  EXPECT_TRUE(j["message"].is_string() && !j["message"].get<std::string>().empty()) << r.body;
}

host_config short_timeout_config() {
  host_config c = test_config();
  c.limits.connect_timeout = std::chrono::milliseconds(300);
  return c;
}

} // namespace

// ---- active-connections ----

TEST(RestApi, ActiveConnectionsHasExactlyTheSpecShape) {
  host_instance host;
  auto r = http_request(host.port(), "GET", "/api/websocket/active-connections");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.json(), json::parse(R"({"active_connections":[],"external_connections":[]})"));
}

TEST(RestApi, ExternalConnectionsListsOnlyClientsWithAnOpenUpstream) {
  test_upstream echo;
  upstream_behaviour s;
  s.mode = upstream_behaviour::kind::silent;
  test_upstream silent(s);
  host_instance host;
  proxy_client open_one(host.port(), "has-open");
  proxy_client connecting(host.port(), "only-connecting");
  proxy_client idle(host.port(), "idle");
  proxy_client closed_again(host.port(), "closed-again");
  ASSERT_TRUE(open_one.ok && connecting.ok && idle.ok && closed_again.ok);
  ASSERT_EQ(open_upstream(open_one.ws, echo.url())["status"], "connected");
  connecting.ws.send_json({{"type", "connect_external"}, {"url", silent.url()}});
  ASSERT_EQ(next_event(connecting.ws)["status"], "connecting");
  ASSERT_EQ(open_upstream(closed_again.ws, echo.url())["status"], "connected");
  closed_again.ws.send_json({{"type", "disconnect_external"}});
  ASSERT_EQ(next_event(closed_again.ws)["status"], "disconnected");

  auto r = http_request(host.port(), "GET", "/api/websocket/active-connections");
  ASSERT_EQ(r.status, 200);
  const json j = r.json();
  ASSERT_EQ(j.size(), 2u) << r.body << " (exactly the spec's two fields)";
  std::vector<std::string> active = j["active_connections"];
  std::sort(active.begin(), active.end());
  EXPECT_EQ(active,
            (std::vector<std::string>{"closed-again", "has-open", "idle", "only-connecting"}));
  EXPECT_EQ(j["external_connections"], json::array({"has-open"}));
}

TEST(RestApi, ProxySocketOnSlashWsIsNotListed) {
  host_instance host;
  ws_client collab;
  ASSERT_TRUE(collab.connect(host.port(), "/ws"));
  EXPECT_EQ(active_connections(host.port()),
            json::parse(R"({"active_connections":[],"external_connections":[]})"));
}

// ---- test-connection ----

TEST(RestApi, TestConnectionSuccessBodyHasDiagnostics) {
  upstream_behaviour b;
  b.tls = true;
  b.require_subprotocol = "chat";
  b.require_headers = {{"X-Token", "abc"}};
  test_upstream up(b);
  host_instance host;
  const std::string url = up.url("/probe");
  auto r = test_connection(
      host.port(), {{"url", url}, {"protocols", {"chat"}}, {"headers", {{"X-Token", "abc"}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.json();
  EXPECT_EQ(j["status"], "success") << r.body;
  EXPECT_EQ(j["message"], "WebSocket connection test successful");
  EXPECT_EQ(j["url"], url);
  const json &d = j["diagnostics"];
  ASSERT_TRUE(d.is_object()) << r.body;
  EXPECT_EQ(d["http_status"], 101);
  EXPECT_EQ(d["subprotocol"], "chat");
  EXPECT_TRUE(d["response_headers"].is_object());
  bool has_upgrade = false;
  for (const auto &[k, v] : d["response_headers"].items())
    if (boost::beast::iequals(k, "upgrade"))
      has_upgrade = v == "websocket";
  EXPECT_TRUE(has_upgrade) << d["response_headers"].dump();
  for (const char *phase : {"dns", "tcp", "tls", "handshake", "total"}) {
    SCOPED_TRACE(phase);
    ASSERT_TRUE(d["timings_ms"][phase].is_number()) << d.dump();
    EXPECT_GE(d["timings_ms"][phase].get<double>(), 0.0);
  }
  EXPECT_GE(d["timings_ms"]["total"].get<double>(), d["timings_ms"]["handshake"].get<double>());
  EXPECT_EQ(d["remote_address"], "127.0.0.1:" + std::to_string(up.port()));
  EXPECT_EQ(up.last_target(), "/probe");
  // The test connection is closed afterwards.
  EXPECT_TRUE(eventually([&] { return up.open_now() == 0; }));
  EXPECT_EQ(up.accepted(), 1u);
}

TEST(RestApi, TestConnectionOfPlainWsHasNoTlsTiming) {
  test_upstream echo;
  host_instance host;
  auto r = test_connection(
      host.port(),
      {{"url", echo.url()}, {"protocols", json::array()}, {"headers", json::object()}});
  ASSERT_EQ(r.status, 200);
  const json j = r.json();
  EXPECT_EQ(j["status"], "success") << r.body;
  EXPECT_TRUE(j["diagnostics"]["timings_ms"]["tls"].is_null()) << r.body;
  EXPECT_TRUE(j["diagnostics"]["subprotocol"].is_null()) << r.body;
}

TEST(RestApi, TestConnectionFailureBodiesCarryTheCode) {
  upstream_behaviour b401;
  b401.mode = upstream_behaviour::kind::reject_status;
  b401.status = 401;
  test_upstream auth(b401);
  upstream_behaviour b500 = b401;
  b500.status = 500;
  test_upstream server_error(b500);
  upstream_behaviour bad;
  bad.mode = upstream_behaviour::kind::bad_accept;
  test_upstream bad_accept(bad);
  upstream_behaviour sil;
  sil.mode = upstream_behaviour::kind::silent;
  test_upstream silent(sil);
  upstream_behaviour wrong;
  wrong.tls = true;
  wrong.certificate = "wrong_name";
  test_upstream wrong_name(wrong);

  host_options o;
  o.resolver = std::make_unique<static_resolver>(
      std::map<std::string, std::vector<std::string>>{{"localhost", {"127.0.0.1"}}});
  host_instance host(short_timeout_config(), std::move(o));

  struct probe {
    std::string url;
    std::string code;
    int http_status;
  };
  const std::vector<probe> probes = {
      {auth.url(), "AUTH_FAILED", 401},
      {server_error.url(), "HANDSHAKE_FAILED", 500},
      {bad_accept.url(), "HANDSHAKE_FAILED", 101},
      {silent.url(), "TIMEOUT", 0},
      {"ws://127.0.0.1:" + std::to_string(closed_port()) + "/", "CONNECTION_REFUSED", 0},
      {"ws://nowhere.test:80/", "DNS_FAILED", 0},
      {wrong_name.url(), "TLS_ERROR", 0},
      {"http://127.0.0.1/", "INVALID_URL", 0},
      {"ws://user:pw@127.0.0.1/", "INVALID_URL", 0},
  };
  for (const auto &p : probes) {
    SCOPED_TRACE(p.url);
    auto r = test_connection(host.port(), {{"url", p.url}});
    expect_test_failure(r, p.url, p.code);
    const json j = r.json();
    if (p.code == "TIMEOUT") {
      EXPECT_EQ(j["message"], "Connection timeout");
    }
    if (p.code == "AUTH_FAILED") {
      EXPECT_EQ(j["message"], "Authentication failed");
    }
    if (p.code == "INVALID_URL") {
      continue;
    }
    ASSERT_TRUE(j["diagnostics"].is_object()) << r.body;
    if (p.http_status != 0) {
      EXPECT_EQ(j["diagnostics"]["http_status"], p.http_status) << r.body;
    }
  }
  // Reserved handshake header: refused like connect_external, before any dial.
  auto r = test_connection(host.port(), {{"url", auth.url()}, {"headers", {{"Upgrade", "h2c"}}}});
  expect_test_failure(r, auth.url(), "INVALID_FORMAT");
  EXPECT_EQ(auth.accepted(), 1u);
}

TEST(RestApi, TestConnectionMalformedBodyIs422) {
  host_instance host;
  for (const std::string body : {"not json", "[]", "\"url\"", "{}", R"({"url":5})",
                                 R"({"url":"ws://127.0.0.1:1/","protocols":"x"})",
                                 R"({"url":"ws://127.0.0.1:1/","protocols":[1]})",
                                 R"({"url":"ws://127.0.0.1:1/","headers":[]})",
                                 R"({"url":"ws://127.0.0.1:1/","headers":{"a":1}})"}) {
    SCOPED_TRACE(body);
    expect_json_error(
        http_request(host.port(), "POST", "/api/websocket/test-connection", json_type, body), 422,
        "INVALID_FORMAT");
  }
}

TEST(RestApi, TestConnectionWithoutJsonContentTypeIs415) {
  host_instance host;
  const std::string body = R"({"url":"ws://127.0.0.1:1/"})";
  expect_json_error(http_request(host.port(), "POST", "/api/websocket/test-connection",
                                 {{"Content-Type", "text/plain"}}, body),
                    415, "UNSUPPORTED_MEDIA_TYPE");
  expect_json_error(http_request(host.port(), "POST", "/api/websocket/test-connection", {}, body),
                    415, "UNSUPPORTED_MEDIA_TYPE");
  // Parameters after the media type are fine.
  auto r = http_request(host.port(), "POST", "/api/websocket/test-connection",
                        {{"Content-Type", "application/json; charset=utf-8"}}, body);
  EXPECT_EQ(r.status, 200) << r.body;
}

// ---- the other endpoints ----

TEST(RestApi, HealthzAndPlugins) {
  host_instance host;
  auto r = http_request(host.port(), "GET", "/healthz");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.json()["status"], "ok");
  EXPECT_TRUE(r.json()["version"].is_string());

  r = http_request(host.port(), "GET", "/api/plugins");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json(), json::parse(R"({"plugins":[]})")) << "test_config() loads no plugins";
}

TEST(RestApi, PluginsListsLoadedPlugins) {
  host_config cfg = test_config();
  cfg.plugins.push_back(make_plugin("debug_logger"));
  host_instance host(cfg);
  auto r = http_request(host.port(), "GET", "/api/plugins");
  ASSERT_EQ(r.status, 200);
  const json j = r.json();
  ASSERT_EQ(j["plugins"].size(), 1u) << r.body;
  EXPECT_EQ(j["plugins"][0]["name"], "debug_logger");
  EXPECT_TRUE(j["plugins"][0]["version"].is_string());
}

TEST(RestApi, UnknownPathIs404) {
  host_instance host;
  for (const char *path :
       {"/", "/api", "/api/websocket/nope", "/healthz/extra", "/api/websocket/connect"}) {
    SCOPED_TRACE(path);
    expect_json_error(http_request(host.port(), "GET", path), 404, "NOT_FOUND");
  }
}

TEST(RestApi, WrongMethodIs405WithAllow) {
  host_instance host;
  auto r = http_request(host.port(), "POST", "/healthz", json_type, "{}");
  expect_json_error(r, 405, "METHOD_NOT_ALLOWED");
  EXPECT_EQ(r.headers["allow"], "GET");
  r = http_request(host.port(), "DELETE", "/api/websocket/active-connections");
  expect_json_error(r, 405, "METHOD_NOT_ALLOWED");
  r = http_request(host.port(), "GET", "/api/websocket/test-connection");
  expect_json_error(r, 405, "METHOD_NOT_ALLOWED");
  EXPECT_EQ(r.headers["allow"], "POST");
  r = http_request(host.port(), "PUT", "/api/plugins", json_type, "{}");
  expect_json_error(r, 405, "METHOD_NOT_ALLOWED");
  r = http_request(host.port(), "POST", "/api/websocket/connect/someone", json_type, "{}");
  expect_json_error(r, 405, "METHOD_NOT_ALLOWED");
}

TEST(RestApi, PlainGetOnAWebSocketPathIs426) {
  host_instance host;
  for (const char *path : {"/api/websocket/connect/client1", "/ws"}) {
    SCOPED_TRACE(path);
    auto r = http_request(host.port(), "GET", path);
    expect_json_error(r, 426, "UPGRADE_REQUIRED");
    EXPECT_EQ(r.headers["upgrade"], "websocket");
  }
  EXPECT_EQ(active_connections(host.port())["active_connections"], json::array());
}

TEST(RestApi, BadClientIdIs400) {
  host_instance host;
  for (const std::string &id : {std::string(129, 'a'), std::string("a%20b"), std::string("a@b"),
                                std::string("a:b"), std::string("a,b"), std::string("%C3%A9")}) {
    SCOPED_TRACE(id);
    ws_client c;
    EXPECT_FALSE(c.connect(host.port(), "/api/websocket/connect/" + id));
    EXPECT_EQ(c.handshake_status, 400);
    expect_json_error(http_request(host.port(), "GET", "/api/websocket/connect/" + id,
                                   {{"Upgrade", "websocket"},
                                    {"Connection", "Upgrade"},
                                    {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                    {"Sec-WebSocket-Version", "13"}}),
                      400, "INVALID_CLIENT_ID");
  }
  // The edges of what is allowed: 128 characters, every allowed punctuation.
  ws_client longest, punctuation;
  EXPECT_TRUE(longest.connect(host.port(), "/api/websocket/connect/" + std::string(128, 'z')));
  EXPECT_TRUE(punctuation.connect(host.port(), "/api/websocket/connect/A-z_0.9~"));
}

TEST(RestApi, SecondSocketForALiveClientIdIs409) {
  host_instance host;
  proxy_client first(host.port(), "only-one");
  ASSERT_TRUE(first.ok);
  ws_client second;
  EXPECT_FALSE(second.connect(host.port(), "/api/websocket/connect/only-one"));
  EXPECT_EQ(second.handshake_status, 409);
  auto r = http_request(host.port(), "GET", "/api/websocket/connect/only-one",
                        {{"Upgrade", "websocket"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                         {"Sec-WebSocket-Version", "13"}});
  expect_json_error(r, 409, "CLIENT_ID_IN_USE");
  // The first one is untouched.
  first.ws.send_json({{"type", "send_message"}, {"content", "x"}});
  EXPECT_EQ(next_event(first.ws)["code"], "NOT_CONNECTED");
  // Once it is gone the id is free again.
  first.ws.close();
  EXPECT_TRUE(eventually([&] {
    ws_client again;
    return again.connect(host.port(), "/api/websocket/connect/only-one");
  }));
}
