// SIGHUP on the real apistudio-host binary, as `systemctl reload` sends it: the file given with
// --config is read again while the command line's --listen keeps applying; a session open across
// the reload keeps working on its socket; a bad file is logged with FILE:LINE:COLUMN and changes
// nothing; --check-config still only validates.
#include "child_process.hpp"
#include "proxy_test_util.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string write_config(const std::string &path, const std::string &yaml) {
  std::ofstream out(path, std::ios::trunc);
  out << yaml;
  return path;
}

int status_of(std::uint16_t port, const std::vector<std::pair<std::string, std::string>> &h = {}) {
  return http_request(port, "GET", "/api/websocket/active-connections", h).status;
}

} // namespace

TEST(HostBinaryReload, SighupAppliesTheFileKeepsTheSessionAndRefusesABadFile) {
  const std::string config =
      ::testing::TempDir() + "apistudio_sighup_" + std::to_string(::getpid()) + ".yaml";
  // server.listen in the file is overridden by --listen: no restart warning, port 0 stays.
  write_config(config, "server:\n  listen: \"127.0.0.1:58123\"\n");
  test_upstream echo;
  child_process host({APISTUDIO_HOST_BINARY, "--config", config, "--listen", "127.0.0.1:0"});
  const std::uint16_t port = host.wait_for_listen_port(10s);
  ASSERT_NE(port, 0) << host.err();

  proxy_client c(port, "across-sighup");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  EXPECT_EQ(status_of(port), 200);

  write_config(config, "server:\n  listen: \"127.0.0.1:58123\"\n"
                       "security:\n  access_tokens: [\"sighup-token\"]\n");
  host.send_signal(SIGHUP);
  ASSERT_TRUE(host.wait_for_err("configuration reloaded from " + config, 10s)) << host.err();
  EXPECT_EQ(host.err().find("needs a restart"), std::string::npos) << host.err();
  EXPECT_EQ(status_of(port), 401);
  EXPECT_EQ(status_of(port, {{"Authorization", "Bearer sighup-token"}}), 200);
  c.ws.send_json({{"type", "send_message"}, {"content", "after sighup"}});
  const auto [sent, got] = read_round_trip(c.ws);
  ASSERT_TRUE(got.is_object());
  EXPECT_EQ(got.value("content", ""), "after sighup");

  // Line 4, column 17: a duration that is not one.
  write_config(config, "server:\n  listen: \"127.0.0.1:58123\"\n"
                       "keepalive:\n  idle_timeout: soon\n");
  host.send_signal(SIGHUP);
  ASSERT_TRUE(host.wait_for_err(config + ":4:17: keepalive.idle_timeout", 10s)) << host.err();
  EXPECT_NE(host.err().find("configuration not reloaded"), std::string::npos) << host.err();
  EXPECT_EQ(status_of(port), 401); // the token rule of the last good file stays
  EXPECT_EQ(status_of(port, {{"Authorization", "Bearer sighup-token"}}), 200);
  EXPECT_FALSE(c.ws.closed());

  // --check-config on the same bad file: the same location, exit 1, the running host untouched.
  const process_result check = run_process(
      {APISTUDIO_HOST_BINARY, "--config", config, "--listen", "127.0.0.1:0", "--check-config"});
  ASSERT_TRUE(check.exit_code.has_value());
  EXPECT_EQ(*check.exit_code, 1) << check.err;
  EXPECT_NE(check.err.find(config + ":4:17"), std::string::npos) << check.err;

  host.send_signal(SIGTERM);
  EXPECT_EQ(host.wait_exit(10s), std::optional<int>(0)) << host.err();
  std::remove(config.c_str());
}
