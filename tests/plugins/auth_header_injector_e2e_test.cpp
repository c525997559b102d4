// auth_header_injector loaded from libauth_header_injector.so into a real host (issue 4): headers
// from the environment and from a file, seen by a local upstream; override_client; URL matching;
// and the secret nowhere the host shows anything: its log (debug level, with the debug logger
// on), the client's events, active-connections, /api/plugins.
#include "plugin_e2e.hpp"

#include <cstdlib>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

constexpr const char *env_secret = "env-CANARY-5f1e2d3c4b5a";
constexpr const char *file_secret = "file-CANARY-a9b8c7d6e5f4";
constexpr const char *env_name = "APISTUDIO_E2E_INJECTOR_TOKEN";

class AuthHeaderInjectorE2E : public ::testing::Test {
protected:
  void SetUp() override { ::setenv(env_name, env_secret, 1); }
  void TearDown() override { ::unsetenv(env_name); }
};

// Everything the client read, as one string, to look for secrets in.
std::string drain(ws_client &c, std::vector<json> &events, std::size_t n) {
  std::string all;
  for (std::size_t i = 0; i < n; ++i) {
    auto f = c.read();
    if (!f)
      break;
    all += *f + "\n";
    events.push_back(json::parse(*f, nullptr, false));
  }
  return all;
}

} // namespace

TEST_F(AuthHeaderInjectorE2E, InjectsFromEnvAndFileAndTheSecretsAppearNowhereElse) {
  const std::string secret_file = temp_file("api_key", std::string(file_secret) + "\r\n");
  const json settings = {
      {"rules",
       {{{"name", "env-rule"},
         {"match", {{"scheme", "ws"}, {"host", "127.0.0.1"}, {"path_prefix", "/v1"}}},
         {"set", {{"Authorization", {{"env", env_name}, {"prefix", "Bearer "}}}}}},
        {{"name", "file-rule"},
         {"match", {{"path_prefix", "/v1"}}},
         {"set", {{"X-Api-Key", {{"file", secret_file}}}}},
         {"append", {{"X-Forwarded-By", "api-studio"}}},
         {"remove", {"X-Debug"}}}}}};
  test_upstream echo;
  host_instance host(config_with({make_plugin("auth_header_injector", settings),
                                  make_plugin("debug_logger", {{"enabled", true}})}));

  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/injected"));
  c.send_json({{"type", "connect_external"},
               {"url", echo.url("/v1/stream?x=1")},
               {"headers", {{"X-Debug", "1"}, {"X-Forwarded-By", "client"}}}});
  std::vector<json> events;
  std::string seen = drain(c, events, 2);
  ASSERT_EQ(events.size(), 2u);
  ASSERT_EQ(events[1].value("status", ""), "connected") << seen;

  auto h = echo.last_request_headers();
  EXPECT_EQ(h["authorization"], std::string("Bearer ") + env_secret);
  EXPECT_EQ(h["x-api-key"], file_secret); // trailing CR/LF trimmed
  EXPECT_EQ(h["x-forwarded-by"], "client, api-studio");
  EXPECT_EQ(h.count("x-debug"), 0u);

  c.send_json(send_message("payload"));
  seen += drain(c, events, 2);
  c.send_json({{"type", "disconnect_external"}});
  seen += drain(c, events, 1);
  const std::string active =
      http_request(host.port(), "GET", "/api/websocket/active-connections").body;
  const std::string plugins = http_request(host.port(), "GET", "/api/plugins").body;
  c.close();
  ASSERT_TRUE(eventually([&] { return host.log_contains("closed: path="); }))
      << "the debug logger should have logged the session:\n"
      << host.log_text();
  EXPECT_TRUE(host.log_contains("upstream connect")) << host.log_text();

  for (const std::string secret : {env_secret, file_secret}) {
    SCOPED_TRACE(secret);
    EXPECT_EQ(host.log_text().find(secret), std::string::npos) << host.log_text();
    EXPECT_EQ(seen.find(secret), std::string::npos) << seen;
    EXPECT_EQ(active.find(secret), std::string::npos) << active;
    EXPECT_EQ(plugins.find(secret), std::string::npos) << plugins;
  }
}

TEST_F(AuthHeaderInjectorE2E, OverrideClientDecidesWhoseHeaderWins) {
  const json settings = {
      {"rules",
       {{{"name", "wins"},
         {"match", {{"path_prefix", "/override"}}},
         {"override_client", true},
         {"set", {{"Authorization", {{"env", env_name}, {"prefix", "Bearer "}}}}}},
        {{"name", "yields"},
         {"match", {{"path_prefix", "/keep"}}},
         {"override_client", false},
         {"set", {{"Authorization", {{"env", env_name}, {"prefix", "Bearer "}}}}}}}}};
  test_upstream echo;
  host_instance host(config_with({make_plugin("auth_header_injector", settings)}));
  const json client_auth = {{"headers", {{"Authorization", "Bearer from-client"}}}};

  ws_client a;
  ASSERT_TRUE(open_proxy(a, host.port(), "override", echo.url("/override"), client_auth));
  EXPECT_EQ(echo.last_request_headers()["authorization"], std::string("Bearer ") + env_secret);

  ws_client b;
  ASSERT_TRUE(open_proxy(b, host.port(), "keep", echo.url("/keep"), client_auth));
  EXPECT_EQ(echo.last_request_headers()["authorization"], "Bearer from-client");

  ws_client c; // no client header: the rule fills it in
  ASSERT_TRUE(open_proxy(c, host.port(), "keep-absent", echo.url("/keep")));
  EXPECT_EQ(echo.last_request_headers()["authorization"], std::string("Bearer ") + env_secret);
}

TEST_F(AuthHeaderInjectorE2E, NonMatchingUrlsAreUntouched) {
  test_upstream echo;
  const json settings = {
      {"rules",
       {{{"name", "only-v1-on-another-port"},
         {"match", {{"path_prefix", "/v1"}, {"port", echo.port() == 1 ? 2 : 1}}},
         {"set", {{"X-Port-Rule", "x"}}}},
        {{"name", "only-wss"}, {"match", {{"scheme", "wss"}}}, {"set", {{"X-Wss-Rule", "x"}}}},
        {{"name", "only-v1"},
         {"match", {{"host", "*.example.com"}}},
         {"set", {{"X-Host-Rule", "x"}}}},
        {{"name", "v1"}, {"match", {{"path_prefix", "/v1"}}}, {"set", {{"X-V1", "yes"}}}}}}};
  host_instance host(config_with({make_plugin("auth_header_injector", settings)}));

  ws_client a;
  ASSERT_TRUE(
      open_proxy(a, host.port(), "v10", echo.url("/v10"), {{"headers", {{"X-Client", "c"}}}}));
  auto h = echo.last_request_headers();
  EXPECT_EQ(h.count("x-v1") + h.count("x-port-rule") + h.count("x-wss-rule") +
                h.count("x-host-rule"),
            0u);
  EXPECT_EQ(h["x-client"], "c");

  ws_client b;
  ASSERT_TRUE(open_proxy(b, host.port(), "v1", echo.url("/v1/x")));
  h = echo.last_request_headers();
  EXPECT_EQ(h["x-v1"], "yes");
  EXPECT_EQ(h.count("x-port-rule") + h.count("x-wss-rule") + h.count("x-host-rule"), 0u);
}

// Issue 14: a credential scoped to /v1 went to "/v1/../admin", which the server reads as /admin.
TEST_F(AuthHeaderInjectorE2E, DotSegmentsDoNotEscapeThePathPrefix) {
  test_upstream echo;
  const json settings = {
      {"rules",
       {{{"name", "v1"},
         {"match", {{"path_prefix", "/v1"}}},
         {"set", {{"Authorization", {{"env", env_name}, {"prefix", "Bearer "}}}}}}}}};
  host_instance host(config_with({make_plugin("auth_header_injector", settings)}));

  int n = 0;
  for (const std::string path : {"/v1/../admin", "/v1/%2e%2e/admin", "/v1%2f..%2fadmin"}) {
    SCOPED_TRACE(path);
    ws_client c;
    ASSERT_TRUE(open_proxy(c, host.port(), "escape" + std::to_string(++n), echo.url(path)));
    EXPECT_EQ(echo.last_target(), path); // the upstream got the path as written...
    EXPECT_EQ(echo.last_request_headers().count("authorization"), 0u); // ...and no credential
  }
  ws_client inside;
  ASSERT_TRUE(open_proxy(inside, host.port(), "inside", echo.url("/admin/../v1/stream")));
  EXPECT_EQ(echo.last_request_headers()["authorization"], std::string("Bearer ") + env_secret);
}

TEST_F(AuthHeaderInjectorE2E, UnsetVariableRefusesTheSettingsWithoutAnyValue) {
  ::unsetenv(env_name);
  const json settings = {
      {"rules", {{{"name", "needs-env"}, {"set", {{"Authorization", {{"env", env_name}}}}}}}}};
  try {
    host_instance host(config_with({make_plugin("auth_header_injector", settings)}));
    FAIL() << "the host started although the variable is unset";
  } catch (const std::exception &e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("plugin 'auth_header_injector'"), std::string::npos) << what;
    EXPECT_NE(what.find("refused its settings"), std::string::npos) << what;
    EXPECT_NE(what.find(env_name), std::string::npos) << what;
    EXPECT_NE(what.find("needs-env"), std::string::npos) << what;
  }
}
