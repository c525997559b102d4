// SIGTERM drains, SIGINT closes, /readyz tells a load balancer which (issue 16), through the real
// apistudio-host binary: what a client in the middle of an exchange and a probe see.
#include "child_process.hpp"
#include "plugin_e2e.hpp"
#include "raw_socket.hpp"

#include <csignal>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string host_binary = APISTUDIO_HOST_BINARY;

std::string drain_config(const std::string &drain_timeout) {
  return "plugins: []\nshutdown:\n  drain_timeout: " + drain_timeout + "\n";
}

// A keep-alive HTTP/1.1 GET on a socket opened earlier: after SIGTERM the listener is closed, so
// only a connection the probe already had can ask.
http_result get_on(raw_socket &s, const std::string &target) {
  http_result r;
  if (!s.send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
    return r;
  std::string in;
  if (!s.read_until(in, "\r\n\r\n", 5s))
    return r;
  r.status = std::stoi(in.substr(9, 3));
  const auto head_end = in.find("\r\n\r\n") + 4;
  const auto cl = in.find("Content-Length: ");
  if (cl == std::string::npos || cl > head_end)
    return r;
  const std::size_t length = std::stoul(in.substr(cl + 16));
  std::string body = in.substr(head_end);
  if (body.size() < length && !s.read_exactly(body, length, 5s))
    return r;
  r.body = body.substr(0, length);
  return r;
}

} // namespace

TEST(Drain, ReadyzAnswersReadyWithThePluginCount) {
  const std::string config = temp_file("ready.yaml", drain_config("0s"));
  child_process host({host_binary, "--config", config, "--listen", "127.0.0.1:0"});
  const std::uint16_t port = host.wait_for_listen_port(10s);
  ASSERT_NE(port, 0) << host.err();
  const http_result r = http_request(port, "GET", "/readyz");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), (json{{"status", "ready"}, {"plugins", 0}})) << r.body;
  EXPECT_EQ(http_request(port, "POST", "/readyz").status, 405);
  // Same door as every endpoint: a browser page of another origin is refused.
  EXPECT_EQ(http_request(port, "GET", "/readyz", {{"Origin", "https://evil.example"}}).status, 403);
}

TEST(Drain, MessagesInFlightAtSigtermArriveThenClientsGet1001) {
  // The upstream answers each message 400 ms after it arrives: at SIGTERM the reply is on its way.
  upstream_behaviour slow;
  slow.echo_delay_ms = 400;
  test_upstream echo(slow);
  const std::string config = temp_file("drain.yaml", drain_config("2s"));
  child_process host({host_binary, "--config", config, "--listen", "127.0.0.1:0"});
  const std::uint16_t port = host.wait_for_listen_port(10s);
  ASSERT_NE(port, 0) << host.err();
  ws_client c;
  ASSERT_TRUE(open_proxy(c, port, "drained", echo.url()));
  raw_socket probe(port); // a load balancer's keep-alive connection
  ASSERT_EQ(get_on(probe, "/readyz").status, 200);

  c.send_json(send_message("in flight"));
  EXPECT_EQ(c.read_until("message_sent")["content"], "in flight");
  const auto signalled = std::chrono::steady_clock::now();
  host.send_signal(SIGTERM);
  ASSERT_TRUE(host.wait_for_err("draining", 5s)) << host.err();

  // The reply that was on its way arrives, and the session still works during the drain.
  EXPECT_EQ(c.read_until("message_received")["content"], "in flight");
  c.send_json(send_message("during the drain"));
  EXPECT_EQ(c.read_until("message_received")["content"], "during the drain");

  // Not ready, still alive; no new connection is taken.
  const http_result ready = get_on(probe, "/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_EQ(json::parse(ready.body, nullptr, false).value("code", ""), "SHUTTING_DOWN")
      << ready.body;
  const http_result health = get_on(probe, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(json::parse(health.body, nullptr, false)["status"], "stopping") << health.body;
  // The scrape still works: the last one shows the drain (the session still open).
  const http_result scraped = get_on(probe, "/metrics");
  EXPECT_EQ(scraped.status, 200);
  EXPECT_NE(
      scraped.body.find("apistudio_client_sessions_open{endpoint=\"/api/websocket/connect\"} 1\n"),
      std::string::npos)
      << scraped.body.substr(0, 2000);
  EXPECT_EQ(http_request(port, "GET", "/healthz", {}, {}, 2s).status, 0) << "listener still open";

  // At the end of the drain: 1001, upstream closed too, exit 0.
  EXPECT_EQ(c.wait_closed(10s), 1001);
  EXPECT_GE(std::chrono::steady_clock::now() - signalled, 1500ms) << "closed before the drain";
  EXPECT_EQ(host.wait_exit(10s), std::optional<int>(0)) << host.err();
  EXPECT_TRUE(eventually([&] { return echo.open_now() == 0; }, 5s));
}

TEST(Drain, EndsAsSoonAsTheLastClientHasGone) {
  test_upstream echo;
  const std::string config = temp_file("drain_long.yaml", drain_config("5m"));
  child_process host({host_binary, "--config", config, "--listen", "127.0.0.1:0"});
  const std::uint16_t port = host.wait_for_listen_port(10s);
  ASSERT_NE(port, 0) << host.err();
  auto c = std::make_unique<ws_client>();
  ASSERT_TRUE(open_proxy(*c, port, "leaving", echo.url()));
  host.send_signal(SIGTERM);
  ASSERT_TRUE(host.wait_for_err("draining", 5s)) << host.err();
  EXPECT_FALSE(host.wait_exit(300ms).has_value()) << "did not wait for the open session";
  c->close();
  // Far less than the five-minute drain: the host stops once nobody is left.
  EXPECT_EQ(host.wait_exit(10s), std::optional<int>(0)) << host.err();
}

TEST(Drain, ASecondSignalOrSigintClosesAtOnce) {
  for (const int second : {SIGTERM, SIGINT}) {
    SCOPED_TRACE(second == SIGTERM ? "SIGTERM twice" : "SIGTERM then SIGINT");
    test_upstream echo;
    const std::string config = temp_file("drain_cut.yaml", drain_config("5m"));
    child_process host({host_binary, "--config", config, "--listen", "127.0.0.1:0"});
    const std::uint16_t port = host.wait_for_listen_port(10s);
    ASSERT_NE(port, 0) << host.err();
    ws_client c;
    ASSERT_TRUE(open_proxy(c, port, "impatient", echo.url()));
    host.send_signal(SIGTERM);
    ASSERT_TRUE(host.wait_for_err("draining", 5s)) << host.err();
    host.send_signal(second);
    EXPECT_EQ(c.wait_closed(10s), 1001);
    EXPECT_EQ(host.wait_exit(10s), std::optional<int>(0)) << host.err();
    EXPECT_NE(host.err().find("without waiting for the drain"), std::string::npos) << host.err();
  }
}

TEST(Drain, SigintClosesAtOnceWithoutDraining) {
  test_upstream echo;
  const std::string config = temp_file("sigint.yaml", drain_config("5m"));
  child_process host({host_binary, "--config", config, "--listen", "127.0.0.1:0"});
  const std::uint16_t port = host.wait_for_listen_port(10s);
  ASSERT_NE(port, 0) << host.err();
  ws_client c;
  ASSERT_TRUE(open_proxy(c, port, "ctrl-c", echo.url()));
  host.send_signal(SIGINT);
  EXPECT_EQ(c.wait_closed(10s), 1001);
  EXPECT_EQ(host.wait_exit(10s), std::optional<int>(0)) << host.err();
  EXPECT_EQ(host.err().find("draining"), std::string::npos) << host.err();
}

TEST(Drain, ABadDrainTimeoutIsAConfigErrorWithItsLocation) {
  const std::string config = temp_file("bad_drain.yaml", drain_config("-1s"));
  const process_result r = run_process({host_binary, "--config", config, "--check-config"});
  EXPECT_EQ(r.exit_code, std::optional<int>(1)) << r.err;
  EXPECT_NE(r.err.find(config + ":3:18"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("shutdown.drain_timeout"), std::string::npos) << r.err;
}
