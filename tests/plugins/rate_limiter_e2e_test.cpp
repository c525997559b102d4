// rate_limiter loaded from librate_limiter.so into a real host (issue 4): the spec's 100 messages
// per minute per connection, the RATE_LIMITED error and close 1008, upstreams closed with it, the
// exact window edge (with the host's injectable clock) and the shared scopes.
#include "plugin_e2e.hpp"

#include <atomic>
#include <memory>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

// Monotonic time the test moves by hand; wall time stays real (event timestamps).
class manual_clock final : public clock_source {
public:
  std::int64_t unix_ms() const override { return real_.unix_ms(); }
  std::uint64_t steady_ms() const override { return now_.load(); }
  void advance(std::uint64_t ms) { now_ += ms; }

private:
  system_clock_source real_;
  std::atomic<std::uint64_t> now_{1'000'000};
};

void expect_rate_limited(ws_client &c, const std::string &limit_text) {
  const json e = c.read_json();
  EXPECT_EQ(e.value("type", ""), "error") << e.dump();
  EXPECT_EQ(e.value("code", ""), "RATE_LIMITED") << e.dump();
  EXPECT_EQ(e.value("error", ""), "Rate limit exceeded: " + limit_text) << e.dump();
  EXPECT_EQ(e.value("timestamp", "").size(), 24u) << e.dump();
  EXPECT_EQ(c.wait_closed(), 1008);
  EXPECT_EQ(c.close_reason(), "rate limit exceeded");
}

// A proxy-socket frame that passes the limiter and gets exactly one answer from the host.
void send_unconnected(ws_client &c, int i) { c.send_json(send_message("m" + std::to_string(i))); }
void expect_not_connected(ws_client &c) {
  const json e = c.read_json();
  EXPECT_EQ(e.value("code", ""), "NOT_CONNECTED") << e.dump();
}

// {"limits": [{"messages": n, "window": w}]} plus `scope` when given.
json one_limit(int n, const std::string &window, const std::string &scope = "") {
  json s = {{"limits", json::array({json{{"messages", n}, {"window", window}}})}};
  if (!scope.empty())
    s["scope"] = scope;
  return s;
}

host_config limiter(json settings = json::object()) {
  return config_with({make_plugin("rate_limiter", std::move(settings))});
}

// The proxy endpoint refuses a second live socket for one client_id; after a close the host
// releases the id a moment later.
std::unique_ptr<ws_client> reconnect(std::uint16_t port, const std::string &target) {
  std::unique_ptr<ws_client> c;
  const bool ok = eventually([&] {
    c = std::make_unique<ws_client>();
    return c->connect(port, target);
  });
  if (!ok)
    ADD_FAILURE() << "could not reconnect to " << target;
  return ok ? std::move(c) : nullptr;
}

} // namespace

TEST(RateLimiterE2E, DefaultLetsOneHundredFramesThroughAndRefusesTheNext) {
  test_upstream echo;
  host_instance host(limiter());
  ws_client c;
  // Frame 1 is connect_external: the limiter counts every client frame.
  ASSERT_TRUE(open_proxy(c, host.port(), "limited", echo.url()));
  for (int i = 2; i <= 100; ++i)
    c.send_json(send_message("m" + std::to_string(i)));
  int sent = 0, received = 0;
  while (sent < 99 || received < 99) {
    const json e = c.read_json();
    ASSERT_FALSE(e.is_discarded()) << "after " << sent << " acks and " << received << " echoes";
    const std::string type = e.value("type", "");
    ASSERT_TRUE(type == "message_sent" || type == "message_received") << e.dump();
    (type == "message_sent" ? sent : received) += 1;
  }
  ASSERT_TRUE(eventually([&] { return echo.received_count() == 99; }));
  EXPECT_EQ(echo.received().back(), "m100");

  c.send_json(send_message("m101"));
  expect_rate_limited(c, "100 messages per 60s");
  // The client's upstream is closed with it, and the refused frame never reached it.
  EXPECT_TRUE(eventually([&] { return echo.open_now() == 0; }));
  EXPECT_EQ(echo.received_count(), 99u);
  EXPECT_TRUE(host.log_contains("rate limit exceeded"));
}

TEST(RateLimiterE2E, DefaultAppliesOnTheWsEndpointToo) {
  host_instance host(limiter());
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/ws"));
  for (int i = 1; i <= 100; ++i)
    c.send_text("frame " + std::to_string(i));
  // Each frame passes the limiter and reaches the host, which answers that no plugin handles it.
  for (int i = 1; i <= 100; ++i) {
    const json e = c.read_json();
    ASSERT_EQ(e.value("code", ""), "NOT_SUPPORTED") << i << ": " << e.dump();
  }
  c.send_text("frame 101");
  expect_rate_limited(c, "100 messages per 60s");
}

TEST(RateLimiterE2E, WindowEdgeIsExact) {
  manual_clock clock;
  host_options options;
  options.clock = &clock;
  host_instance host(limiter(one_limit(2, "1s")), std::move(options));
  {
    ws_client c;
    ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/edge"));
    send_unconnected(c, 1);
    send_unconnected(c, 2);
    expect_not_connected(c);
    expect_not_connected(c);
    clock.advance(1000); // both slots free at exactly first + window
    send_unconnected(c, 3);
    send_unconnected(c, 4);
    expect_not_connected(c);
    expect_not_connected(c);
    send_unconnected(c, 5);
    expect_rate_limited(c, "2 messages per 1s");
  }
  {
    ws_client c;
    ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/edge2"));
    send_unconnected(c, 1);
    send_unconnected(c, 2);
    expect_not_connected(c);
    expect_not_connected(c);
    clock.advance(999); // one millisecond short: still full
    send_unconnected(c, 3);
    expect_rate_limited(c, "2 messages per 1s");
  }
}

TEST(RateLimiterE2E, SeveralLimitsNameTheFirstFullOne) {
  host_instance host(limiter(
      {{"limits", {{{"messages", 3}, {"window", "1s"}}, {{"messages", 100}, {"window", "60s"}}}}}));
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/burst"));
  for (int i = 0; i < 3; ++i)
    send_unconnected(c, i);
  for (int i = 0; i < 3; ++i)
    expect_not_connected(c);
  send_unconnected(c, 4);
  expect_rate_limited(c, "3 messages per 1s");
}

TEST(RateLimiterE2E, ConnectionScopeStartsAFreshBudgetPerSocket) {
  host_instance host(limiter(one_limit(3, "60s")));
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/same"));
  for (int i = 0; i < 3; ++i)
    send_unconnected(c, i);
  for (int i = 0; i < 3; ++i)
    expect_not_connected(c);
  c.close();
  auto again = reconnect(host.port(), "/api/websocket/connect/same");
  ASSERT_TRUE(again);
  for (int i = 0; i < 3; ++i)
    send_unconnected(*again, i);
  for (int i = 0; i < 3; ++i)
    expect_not_connected(*again);
  send_unconnected(*again, 4);
  expect_rate_limited(*again, "3 messages per 60s");
}

TEST(RateLimiterE2E, ClientIdScopeSharesTheBudgetAcrossReconnects) {
  host_instance host(limiter(one_limit(3, "60s", "client_id")));
  ws_client c;
  ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/shared"));
  send_unconnected(c, 1);
  send_unconnected(c, 2);
  expect_not_connected(c);
  expect_not_connected(c);
  c.close();
  auto again = reconnect(host.port(), "/api/websocket/connect/shared");
  ASSERT_TRUE(again);
  send_unconnected(*again, 3);
  expect_not_connected(*again);
  // Another client_id has a budget of its own, from the same address.
  ws_client other;
  ASSERT_TRUE(other.connect(host.port(), "/api/websocket/connect/someone-else"));
  for (int i = 0; i < 3; ++i)
    send_unconnected(other, i);
  for (int i = 0; i < 3; ++i)
    expect_not_connected(other);
  send_unconnected(*again, 4);
  expect_rate_limited(*again, "3 messages per 60s");
  EXPECT_FALSE(other.closed());
}

TEST(RateLimiterE2E, RemoteAddressScopeSharesTheBudgetBetweenSockets) {
  host_instance host(limiter(one_limit(3, "60s", "remote_address")));
  ws_client a, b, w;
  ASSERT_TRUE(a.connect(host.port(), "/api/websocket/connect/a"));
  ASSERT_TRUE(b.connect(host.port(), "/api/websocket/connect/b"));
  ASSERT_TRUE(w.connect(host.port(), "/ws"));
  send_unconnected(a, 1);
  expect_not_connected(a);
  send_unconnected(b, 2);
  expect_not_connected(b);
  w.send_text("third");
  EXPECT_EQ(w.read_json().value("code", ""), "NOT_SUPPORTED");
  send_unconnected(b, 4); // the fourth frame from 127.0.0.1, whichever socket sends it
  expect_rate_limited(b, "3 messages per 60s");
  EXPECT_FALSE(a.closed());
}
