// The host's resolver (host/src/proxy/cares_resolver.cpp) on its own, against name servers on
// loopback that the tests start: answers from the server and from /etc/hosts, abandoning a
// lookup (its sockets close, its handler never runs), and the per-client and per-worker bounds
// with their queue. No network: every server is 127.0.0.1.
#include "proxy/cares_resolver.hpp"
#include "test_dns_server.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

using namespace apistudio;
using namespace apistudio::testing;
using namespace std::chrono_literals;
namespace net = boost::asio;

namespace {

struct outcome {
  boost::system::error_code ec;
  name_resolver::endpoints endpoints;
};

std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto &entry : std::filesystem::directory_iterator("/proc/self/fd"))
    ++n;
  return n;
}

bool queried(const test_dns_server &dns, const std::string &name) {
  const auto q = dns.queries();
  return std::find(q.begin(), q.end(), name) != q.end();
}

// One worker's event loop, run by the test thread in slices. Declared after the resolver in each
// test, so it goes first (the resolver outlives every context it serves).
class loop {
public:
  // Runs the loop until `condition` holds or `timeout` passes; returns the condition.
  bool run_until(const std::function<bool()> &condition, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition() && std::chrono::steady_clock::now() < deadline)
      io.run_for(5ms);
    return condition();
  }
  void run_for(std::chrono::milliseconds d) {
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end)
      io.run_for(5ms);
  }

  net::io_context io{1};

private:
  net::executor_work_guard<net::io_context::executor_type> work_{io.get_executor()};
};

resolver_config with_server(const test_dns_server &dns) {
  resolver_config c;
  c.servers = {{"127.0.0.1", dns.port()}};
  return c;
}

name_resolver::lookup_handle resolve(name_resolver &r, loop &l, const std::string &host,
                                     name_resolver::client_key client,
                                     std::optional<outcome> &out) {
  return r.async_resolve(host, 443, client, l.io.get_executor(),
                         [&out](boost::system::error_code ec, name_resolver::endpoints eps) {
                           out = outcome{ec, std::move(eps)};
                         });
}

} // namespace

TEST(CaresResolver, AnswersFromTheConfiguredServer) {
  test_dns_server dns(dns_table{{"fast.test", "127.0.0.7"}});
  auto resolver = make_cares_resolver(with_server(dns));
  loop l;
  std::optional<outcome> out;
  auto h = resolve(*resolver, l, "fast.test", 1, out);
  ASSERT_TRUE(l.run_until([&] { return out.has_value(); }));
  ASSERT_FALSE(out->ec) << out->ec.message();
  ASSERT_EQ(out->endpoints.size(), 1u);
  EXPECT_EQ(out->endpoints[0].address().to_string(), "127.0.0.7");
  EXPECT_EQ(out->endpoints[0].port(), 443);
}

TEST(CaresResolver, UnknownNameIsHostNotFound) {
  test_dns_server dns(dns_table{{"fast.test", "127.0.0.7"}});
  auto resolver = make_cares_resolver(with_server(dns));
  loop l;
  std::optional<outcome> out;
  auto h = resolve(*resolver, l, "missing.test", 1, out);
  ASSERT_TRUE(l.run_until([&] { return out.has_value(); }));
  EXPECT_EQ(out->ec, net::error::host_not_found) << out->ec.message();
}

TEST(CaresResolver, LocalhostComesFromTheHostsFileWithoutDns) {
  test_dns_server silent;
  auto resolver = make_cares_resolver(with_server(silent));
  loop l;
  std::optional<outcome> out;
  auto h = resolve(*resolver, l, "localhost", 1, out);
  ASSERT_TRUE(l.run_until([&] { return out.has_value(); }, 2s));
  ASSERT_FALSE(out->ec) << out->ec.message();
  ASSERT_FALSE(out->endpoints.empty());
  EXPECT_TRUE(out->endpoints[0].address().is_loopback());
  EXPECT_TRUE(silent.queries().empty());
}

TEST(CaresResolver, AnAbandonedLookupClosesItsSocketsAndNeverAnswers) {
  test_dns_server silent;
  auto resolver = make_cares_resolver(with_server(silent));
  loop l;
  // The worker's template channel is made by the first lookup: make it before the baseline.
  std::optional<outcome> warm;
  resolve(*resolver, l, "warm.test", 1, warm).reset();
  l.run_for(20ms);
  const std::size_t baseline = open_descriptors();

  std::optional<outcome> out;
  auto h = resolve(*resolver, l, "slow.test", 1, out);
  ASSERT_TRUE(l.run_until([&] { return queried(silent, "slow.test"); }));
  EXPECT_GT(open_descriptors(), baseline); // the lookup's socket
  h.reset();
  EXPECT_EQ(open_descriptors(), baseline) << "abandoning must close the lookup's sockets at once";
  l.run_for(100ms);
  EXPECT_FALSE(out.has_value());
  EXPECT_FALSE(warm.has_value());
}

TEST(CaresResolver, OneClientsLookupsWaitTheirTurnWithoutHoldingUpOthers) {
  test_dns_server silent;
  resolver_config c = with_server(silent);
  c.max_lookups_per_client = 1;
  auto resolver = make_cares_resolver(c);
  loop l;
  std::optional<outcome> a1, a2, b1;
  auto first = resolve(*resolver, l, "a1.test", 1, a1);
  auto second = resolve(*resolver, l, "a2.test", 1, a2);
  auto other = resolve(*resolver, l, "b1.test", 2, b1);
  ASSERT_TRUE(
      l.run_until([&] { return queried(silent, "a1.test") && queried(silent, "b1.test"); }));
  l.run_for(100ms);
  EXPECT_FALSE(queried(silent, "a2.test")) << "client 1 is at its bound: a2 must wait";
  // Abandoning the first lookup gives its slot to the one waiting.
  first.reset();
  EXPECT_TRUE(l.run_until([&] { return queried(silent, "a2.test"); }));
  EXPECT_FALSE(a1.has_value());
}

TEST(CaresResolver, AWaitingLookupThatIsAbandonedLeavesTheQueue) {
  test_dns_server silent;
  resolver_config c = with_server(silent);
  c.max_lookups_per_worker = 1;
  auto resolver = make_cares_resolver(c);
  loop l;
  std::optional<outcome> running, waiting, last;
  auto r = resolve(*resolver, l, "running.test", 1, running);
  auto w = resolve(*resolver, l, "waiting.test", 2, waiting);
  ASSERT_TRUE(l.run_until([&] { return queried(silent, "running.test"); }));
  w.reset(); // its connect timed out while it waited
  r.reset(); // and then the running one's
  auto n = resolve(*resolver, l, "next.test", 3, last);
  ASSERT_TRUE(l.run_until([&] { return queried(silent, "next.test"); }));
  l.run_for(100ms);
  EXPECT_FALSE(queried(silent, "waiting.test")) << "an abandoned lookup must never start";
  EXPECT_FALSE(waiting.has_value());
}

TEST(CaresResolver, AnswersComeBackOnTheCallersExecutorExactlyOnce) {
  test_dns_server dns(dns_table{{"fast.test", "127.0.0.7"}});
  auto resolver = make_cares_resolver(with_server(dns));
  loop l;
  int calls = 0;
  std::thread::id where;
  auto h = resolver->async_resolve("fast.test", 80, 1, l.io.get_executor(),
                                   [&](boost::system::error_code, name_resolver::endpoints) {
                                     ++calls;
                                     where = std::this_thread::get_id();
                                   });
  ASSERT_TRUE(l.run_until([&] { return calls > 0; }));
  l.run_for(50ms);
  h.reset(); // after the answer: nothing left to abandon
  l.run_for(20ms);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(where, std::this_thread::get_id());
}
