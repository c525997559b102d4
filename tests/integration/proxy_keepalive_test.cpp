// Dead peers on both sides, with keepalive.idle_timeout short (600 ms): an upstream that stops
// answering pings is dropped and reported; a client that vanishes or stops answering has its
// upstreams closed and leaves active-connections.
#include "proxy_test_util.hpp"

#include <gtest/gtest.h>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

host_config short_keepalive_config() {
  host_config c = test_config();
  c.keepalive.idle_timeout = std::chrono::milliseconds(600);
  return c;
}

const json nobody = json::parse(R"({"active_connections":[],"external_connections":[]})");

} // namespace

TEST(ProxyKeepalive, UpstreamThatStopsAnsweringPingsIsDisconnected) {
  upstream_behaviour b;
  b.mode = upstream_behaviour::kind::mute;
  test_upstream mute(b);
  host_instance host(short_keepalive_config());
  proxy_client c(host.port(), "mute-upstream");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, mute.url())["status"], "connected");
  const auto started = std::chrono::steady_clock::now();
  // The client keeps reading (so it answers the host's pings and stays alive itself).
  json e = c.ws.read_until("connection_status", std::chrono::seconds(5));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(e["status"], "disconnected") << e.dump();
  EXPECT_EQ(e["close_code"], 1006);
  EXPECT_GE(took, std::chrono::milliseconds(400)) << "not before the idle timeout";
  EXPECT_FALSE(c.ws.closed());
  EXPECT_EQ(active_connections(host.port()),
            json::parse(R"({"active_connections":["mute-upstream"],"external_connections":[]})"));
}

TEST(ProxyKeepalive, AnsweringUpstreamSurvivesManyIdleTimeouts) {
  test_upstream echo; // Beast answers pings inside its blocking read
  host_instance host(short_keepalive_config());
  proxy_client c(host.port(), "alive");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  // Three idle timeouts of silence from both ends; nothing is reported.
  json e = c.ws.read_json(std::chrono::milliseconds(1800));
  EXPECT_TRUE(e.is_discarded()) << "unexpected event " << e.dump();
}

TEST(ProxyKeepalive, VanishedClientHasItsUpstreamsClosedAndLeavesActiveConnections) {
  test_upstream echo;
  host_instance host(short_keepalive_config());
  auto c = std::make_unique<proxy_client>(host.port(), "vanishing");
  ASSERT_TRUE(c->ok);
  ASSERT_EQ(open_upstream(c->ws, echo.url(), {{"connection_id", "one"}})["status"], "connected");
  ASSERT_EQ(open_upstream(c->ws, echo.url(), {{"connection_id", "two"}})["status"], "connected");
  ASSERT_TRUE(eventually([&] { return echo.open_now() == 2; }));
  ASSERT_EQ(
      active_connections(host.port()),
      json::parse(R"({"active_connections":["vanishing"],"external_connections":["vanishing"]})"));
  c->ws.drop();
  EXPECT_TRUE(eventually([&] { return echo.open_now() == 0; })) << echo.open_now() << " still open";
  EXPECT_TRUE(eventually([&] { return active_connections(host.port()) == nobody; }));
}

TEST(ProxyKeepalive, ClientThatStopsAnsweringPingsIsDropped) {
  test_upstream echo;
  host_instance host(short_keepalive_config());
  proxy_client c(host.port(), "deaf-client");
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(open_upstream(c.ws, echo.url())["status"], "connected");
  // From here the test client never reads, so it never answers a ping: a dead peer to the host.
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually([&] { return active_connections(host.port()) == nobody; },
                         std::chrono::seconds(5)));
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(400));
  EXPECT_TRUE(eventually([&] { return echo.open_now() == 0; }));
}
