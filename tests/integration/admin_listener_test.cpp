// The admin listener (admin.listen): metrics, probes and POST /api/admin/reload on a loopback port
// of their own, without the access token; what an operator's curl and a hostile page each get.
#include "host_fixture.hpp"
#include "policy/config_error.hpp"
#include "proxy_test_util.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <thread>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string token_one = "admin-test-token-one-0123456789";
const std::string token_two = "admin-test-token-two-0123456789";

// The file the host was started from, rewritten between reloads; its first lines never change.
class admin_config_file {
public:
  explicit admin_config_file(const std::string &token) : path_(make_path()) { write(token); }
  ~admin_config_file() { std::remove(path_.c_str()); }
  void write(const std::string &token, const std::string &extra = "") const {
    std::ofstream(path_, std::ios::trunc)
        << head() << "security:\n  access_tokens: [\"" << token << "\"]\n"
        << extra;
  }
  const std::string &path() const { return path_; }
  static int head_lines() { return 7; }
  host_options options() const {
    host_options o;
    o.reload_source = [path = path_] { return load_config(path); };
    return o;
  }

private:
  static std::string make_path() {
    static int counter = 0;
    return ::testing::TempDir() + "apistudio_admin_" + std::to_string(::getpid()) + "_" +
           std::to_string(++counter) + ".yaml";
  }
  static std::string head() {
    return "server:\n"
           "  listen: \"127.0.0.1:0\"\n"
           "  worker_threads: 2\n"
           "admin:\n"
           "  listen: \"127.0.0.1:0\"\n"
           "tls:\n"
           "  ca_file: \"" +
           test_data_dir() + "/tls/ca.pem\"\n";
  }
  std::string path_;
};

struct admin_host {
  admin_config_file file{token_one};
  host_instance host{load_config(file.path()), file.options()};
  std::uint16_t port() { return host.port(); }
  std::uint16_t admin_port() { return host.server().admin_endpoint().value().port(); }
};

std::vector<std::pair<std::string, std::string>> bearer(const std::string &token) {
  return {{"Authorization", "Bearer " + token}};
}

} // namespace

TEST(AdminListener, ServesMetricsAndProbesWithoutTheTokenAndNothingElse) {
  admin_host h;
  ASSERT_TRUE(h.host.server().admin_endpoint().has_value());
  ASSERT_NE(h.admin_port(), h.port());

  const http_result metrics = http_request(h.admin_port(), "GET", "/metrics");
  EXPECT_EQ(metrics.status, 200) << metrics.body;
  EXPECT_NE(metrics.body.find("apistudio_build_info{version="), std::string::npos);
  // The main port keeps its token rule.
  EXPECT_EQ(http_request(h.port(), "GET", "/metrics").status, 401);
  EXPECT_EQ(http_request(h.port(), "GET", "/metrics", bearer(token_one)).status, 200);

  EXPECT_EQ(http_request(h.admin_port(), "GET", "/readyz").json(),
            (json{{"status", "ready"}, {"plugins", 0}}));
  EXPECT_EQ(http_request(h.admin_port(), "GET", "/healthz").status, 200);

  // Nothing a client uses is reachable there, even with the token.
  for (const char *path :
       {"/api/websocket/active-connections", "/api/plugins", "/api/websocket/connect/c1", "/ws"}) {
    const http_result r = http_request(h.admin_port(), "GET", path, bearer(token_one));
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.json().value("code", ""), "NOT_FOUND") << path;
  }
  // Nor is the reload reachable on the main port.
  EXPECT_EQ(http_request(h.port(), "POST", "/api/admin/reload", bearer(token_one)).status, 404);
  const http_result get_reload = http_request(h.admin_port(), "GET", "/api/admin/reload");
  EXPECT_EQ(get_reload.status, 405);
  EXPECT_EQ(get_reload.headers.at("allow"), "POST");
  EXPECT_EQ(h.host.server().reload_stats().applied, 0u);
}

TEST(AdminListener, PostReloadAppliesTheFileOrNamesWhereItIsWrong) {
  admin_host h;
  ws_client kept;
  ASSERT_TRUE(kept.connect(h.port(), "/api/websocket/connect/kept", bearer(token_one)));

  h.file.write(token_two);
  const http_result applied = http_request(h.admin_port(), "POST", "/api/admin/reload");
  EXPECT_EQ(applied.status, 200) << applied.body;
  EXPECT_EQ(applied.json(),
            (json{{"status", "reloaded"}, {"generation", 2}, {"restart_needed", json::array()}}));
  EXPECT_EQ(http_request(h.port(), "GET", "/api/plugins", bearer(token_two)).status, 200);
  EXPECT_EQ(http_request(h.port(), "GET", "/api/plugins", bearer(token_one)).status, 401);

  // A restart-only key is named in the answer; the rest of the file applies.
  h.file.write(token_two, "resolver:\n  servers: [\"127.0.0.1:53\"]\n");
  const http_result partly = http_request(h.admin_port(), "POST", "/api/admin/reload");
  EXPECT_EQ(partly.status, 200) << partly.body;
  EXPECT_EQ(partly.json()["restart_needed"], json::array({"resolver"})) << partly.body;
  EXPECT_EQ(partly.json()["generation"], 3);

  // An invalid file changes nothing and the answer says where it is wrong.
  h.file.write(token_one, "limits:\n  max_message_size: lots\n");
  const http_result refused = http_request(h.admin_port(), "POST", "/api/admin/reload");
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_EQ(refused.json().value("code", ""), "CONFIG_INVALID");
  const std::string where =
      h.file.path() + ":" + std::to_string(admin_config_file::head_lines() + 4) + ":21:";
  EXPECT_NE(refused.json().value("error", "").find(where), std::string::npos) << refused.body;
  EXPECT_EQ(http_request(h.port(), "GET", "/api/plugins", bearer(token_two)).status, 200);
  EXPECT_EQ(http_request(h.port(), "GET", "/api/plugins", bearer(token_one)).status, 401);
  EXPECT_EQ(h.host.server().reload_stats().applied, 2u);
  EXPECT_EQ(h.host.server().reload_stats().failed, 1u);

  // The session opened before all this is still there.
  EXPECT_FALSE(kept.closed());
  kept.send_json({{"type", "disconnect_external"}});
  EXPECT_FALSE(kept.read_json().is_discarded());
}

TEST(AdminListener, RefusesBrowserPagesAndForeignHostNames) {
  admin_host h;
  h.file.write(token_two);
  // A page of another origin cannot make a visitor's browser reload the host (CSRF)...
  const http_result cross_site = http_request(h.admin_port(), "POST", "/api/admin/reload",
                                              {{"Origin", "https://evil.example"}});
  EXPECT_EQ(cross_site.status, 403);
  EXPECT_EQ(cross_site.json().value("code", ""), "ORIGIN_DENIED");
  // ...nor read the metrics through a rebound DNS name.
  const http_result rebound =
      http_request(h.admin_port(), "GET", "/metrics", {{"Host", "evil.example:9901"}});
  EXPECT_EQ(rebound.status, 403);
  EXPECT_EQ(rebound.json().value("code", ""), "HOST_DENIED");
  EXPECT_EQ(h.host.server().reload_stats().applied, 0u);
  EXPECT_EQ(http_request(h.port(), "GET", "/api/plugins", bearer(token_one)).status, 200);
  // A local page (the host's own origin) may.
  EXPECT_EQ(http_request(h.admin_port(), "POST", "/api/admin/reload",
                         {{"Origin", "http://localhost:3000"}})
                .status,
            200);
}

TEST(AdminListener, ClientsCannotDialIt) {
  admin_host h;
  ws_client c;
  ASSERT_TRUE(c.connect(h.port(), "/api/websocket/connect/ssrf", bearer(token_one)));
  c.send_json({{"type", "connect_external"},
               {"url", "ws://127.0.0.1:" + std::to_string(h.admin_port()) + "/api/admin/reload"}});
  const json e = c.read_until("connection_error");
  EXPECT_EQ(e.value("code", ""), "DESTINATION_DENIED") << e.dump();
}

TEST(AdminListener, StaysOpenDuringTheDrainAndTellsTheProbe) {
  admin_host h;
  ws_client open;
  ASSERT_TRUE(open.connect(h.port(), "/api/websocket/connect/draining", bearer(token_one)));
  const std::uint16_t port = h.port(), admin_port = h.admin_port(); // closed listeners have none
  h.host.server().drain(10s);
  // drain() returns at once and the worker stops accepting soon after: wait for the main port
  // to refuse new connections. The admin port still takes them.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (http_request(port, "GET", "/healthz", {}, {}, 1s).status != 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  const http_result ready = http_request(admin_port, "GET", "/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_EQ(ready.json().value("code", ""), "SHUTTING_DOWN");
  EXPECT_EQ(http_request(admin_port, "GET", "/metrics").status, 200);
  EXPECT_EQ(http_request(port, "GET", "/healthz", {}, {}, 2s).status, 0);
  open.close();
}

TEST(AdminListener, ListenMustBeLoopbackAndIsAConfigErrorOtherwise) {
  for (const std::string address : {"0.0.0.0:9901", "192.168.1.10:9901", "[::]:9901"}) {
    SCOPED_TRACE(address);
    try {
      load_config_from_string("admin:\n  listen: \"" + address + "\"\n", "admin.yaml");
      ADD_FAILURE() << "accepted";
    } catch (const config_error &e) {
      EXPECT_NE(std::string(e.what()).find("admin.yaml:2:11: admin.listen: the admin listener "
                                           "must be a loopback address"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(load_config_from_string("admin:\n  listen: \"[::1]:0\"\n", "a.yaml").admin.host, "::1");
  EXPECT_EQ(load_config_from_string("admin:\n  listen: localhost:9901\n", "a.yaml").admin.port,
            9901);
  EXPECT_FALSE(load_config_from_string("", "a.yaml").admin.enabled());
}
