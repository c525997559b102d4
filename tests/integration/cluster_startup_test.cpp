// Start-up with cluster.backend: redis (host/src/server/host_server.cpp, connect_cluster_engine,
// and GET /readyz in host/src/http/rest_api.cpp): the real binary refuses to start without its
// engine, with the URL, the way out and an exit code of 1, and never shows the password; with
// start_without_engine the host starts local-only, /readyz answers 503 until a redis-server comes
// up on that port, then 200.
#include "child_process.hpp"
#include "host_fixture.hpp"
#include "redis_server.hpp"
#include "test_client.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include <unistd.h>

using namespace apistudio;
using namespace apistudio::testing;
using namespace std::chrono_literals;

namespace {

const std::string host_binary = APISTUDIO_HOST_BINARY;

std::string write_config(const std::string &stem, const std::string &yaml) {
  static int counter = 0;
  const std::string path = ::testing::TempDir() + "apistudio_cluster_" +
                           std::to_string(::getpid()) + "_" + std::to_string(++counter) + "_" +
                           stem;
  std::ofstream(path, std::ios::binary) << yaml;
  return path;
}

std::string redis_yaml(const std::string &url, const std::string &extra = "") {
  return "plugins: []\ncluster:\n  backend: redis\n  url: \"" + url +
         "\"\n  connect_timeout: 2s\n" + extra;
}

host_config redis_config(const std::string &url, bool start_without_engine) {
  host_config c = test_config();
  c.cluster.backend = cluster_backend::redis;
  c.cluster.url = url;
  c.cluster.redis_host = "127.0.0.1";
  const auto colon = url.rfind(':');
  c.cluster.redis_port = static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
  c.cluster.connect_timeout = 2s;
  c.cluster.start_without_engine = start_without_engine;
  return c;
}

} // namespace

TEST(ClusterStartup, RefusesToStartWhenRedisIsUnreachable) {
  const std::string url = "redis://127.0.0.1:" + std::to_string(free_loopback_port()) + "/0";
  const std::string config =
      write_config("unreachable.yaml", redis_yaml(url, "  password: ${APISTUDIO_TEST_REDIS_PW}\n"));
  const process_result r =
      run_process({host_binary, "--config", config, "--listen", "127.0.0.1:0"},
                  {{"APISTUDIO_TEST_REDIS_PW", std::string("hunter2-secret")}}, 30s);
  ASSERT_TRUE(r.exit_code.has_value()) << "the host did not stop; stderr:\n" << r.err;
  EXPECT_EQ(*r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("cluster engine at " + url + " cannot be used"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cluster.start_without_engine: true"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("hunter2-secret"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("listening on"), std::string::npos) << r.err; // it never listened
}

TEST(ClusterStartup, RefusesToStartWhenRedisRefusesThePassword) {
  redis_server server(0, {"--requirepass", "the-right-one"});
  const std::string config = write_config(
      "wrongpass.yaml", redis_yaml(server.url(), "  password: ${APISTUDIO_TEST_REDIS_PW}\n"));
  const process_result r =
      run_process({host_binary, "--config", config, "--listen", "127.0.0.1:0"},
                  {{"APISTUDIO_TEST_REDIS_PW", std::string("not-the-right-one")}}, 30s);
  ASSERT_TRUE(r.exit_code.has_value()) << r.err;
  EXPECT_EQ(*r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("AUTH refused"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(server.url()), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("not-the-right-one"), std::string::npos) << r.err;
}

TEST(ClusterStartup, StartsAndIsReadyWithRedis) {
  redis_server server(0, {"--requirepass", "pw-123"});
  const std::string config =
      write_config("ok.yaml", redis_yaml(server.url(), "  password: ${APISTUDIO_TEST_REDIS_PW}\n"));
  child_process host({host_binary, "--config", config, "--listen", "127.0.0.1:0"},
                     {{"APISTUDIO_TEST_REDIS_PW", std::string("pw-123")}});
  const std::uint16_t port = host.wait_for_listen_port(20s);
  ASSERT_NE(port, 0) << host.err();
  const http_result r = http_request(port, "GET", "/readyz");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(host.err().find("connected to the cluster engine at " + server.url()),
            std::string::npos)
      << host.err();
  EXPECT_EQ(host.err().find("pw-123"), std::string::npos) << host.err();
}

TEST(ClusterStartup, InProcessRefusalThrowsBeforeListening) {
  const std::string url = "redis://127.0.0.1:" + std::to_string(free_loopback_port()) + "/0";
  EXPECT_THROW(host_instance(redis_config(url, false)), std::runtime_error);
}

TEST(ClusterStartup, StartsWithoutEngineThenReadyOnceRedisComesUp) {
  const std::uint16_t redis_port = free_loopback_port();
  const std::string url = "redis://127.0.0.1:" + std::to_string(redis_port) + "/0";
  host_instance host(redis_config(url, true));
  EXPECT_TRUE(host.log_contains("starting local-only")) << host.log_text();
  EXPECT_TRUE(host.log_contains(url)) << host.log_text();

  const http_result down = http_request(host.port(), "GET", "/readyz");
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(down.json().value("code", ""), "CLUSTER_ENGINE_UNREACHABLE") << down.body;
  // It serves its own clients meanwhile: liveness is fine.
  EXPECT_EQ(http_request(host.port(), "GET", "/healthz").status, 200);

  redis_server server(redis_port);
  ASSERT_TRUE(server.running());
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    status = http_request(host.port(), "GET", "/readyz").status;
    if (status == 200)
      break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(host.log_contains("connected to the cluster engine at " + url)) << host.log_text();

  // Redis goes away: not ready again, the outage logged once.
  server.stop();
  const auto again = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < again) {
    status = http_request(host.port(), "GET", "/readyz").status;
    if (status == 503)
      break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(status, 503);
}

TEST(ClusterStartup, LocalBackendHasNoEngineAndIsReady) {
  host_instance host(test_config());
  EXPECT_EQ(host.server().context().cluster, nullptr);
  EXPECT_EQ(http_request(host.port(), "GET", "/readyz").status, 200);
  EXPECT_FALSE(host.log_contains("cluster"));
}
