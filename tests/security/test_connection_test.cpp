// test-connection under the limits (issue 14, 4): its dials count against
// limits.max_total_connections, one address may have only so many in flight (429), and a test
// whose requester hangs up is abandoned with its upstream socket. The upstream here accepts TCP
// and never answers the handshake, so every dial stays in flight until the host gives it up.
#include "host_fixture.hpp"
#include "raw_socket.hpp"
#include "security_helpers.hpp"
#include "test_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <list>
#include <mutex>
#include <thread>

#include <sys/socket.h>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// Accepts TCP connections, never writes, and counts the ones whose peer closed (EOF or reset).
class silent_tcp_upstream {
public:
  silent_tcp_upstream() : acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    acceptor_thread_ = std::thread([this] {
      for (;;) {
        tcp::socket s(io_);
        boost::system::error_code ec;
        acceptor_.accept(s, ec);
        if (ec || stopping_)
          return;
        ++accepted_;
        std::lock_guard lock(mutex_);
        tcp::socket &mine = sockets_.emplace_back(std::move(s));
        readers_.emplace_back([this, &mine] {
          char buf[256];
          boost::system::error_code e;
          while (!stopping_ && !e)
            mine.read_some(net::buffer(buf), e);
          if (!stopping_)
            ++ended_;
        });
      }
    });
  }
  ~silent_tcp_upstream() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR); // wakes the blocking accept
    acceptor_thread_.join();
    std::lock_guard lock(mutex_);
    for (auto &s : sockets_)
      ::shutdown(s.native_handle(), SHUT_RDWR); // wakes a reader whose peer is still there
    for (auto &t : readers_)
      t.join();
  }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/"; }
  std::size_t accepted() const { return accepted_.load(); }
  std::size_t ended() const { return ended_.load(); }

private:
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread acceptor_thread_;
  std::mutex mutex_;
  std::list<tcp::socket> sockets_; // owned here, so the destructor can wake their readers
  std::list<std::thread> readers_;
  std::atomic<std::size_t> accepted_{0}, ended_{0};
  std::atomic<bool> stopping_{false};
};

std::string test_request(const std::string &url) {
  const std::string body = json{{"url", url}}.dump();
  return "POST /api/websocket/test-connection HTTP/1.1\r\nHost: 127.0.0.1\r\n"
         "Content-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Long enough that a dial the host does not give up on outlives every wait below.
host_config slow_dial_config() {
  host_config c = test_config();
  c.limits.connect_timeout = 20s;
  return c;
}

std::size_t live_sockets(host_instance &host) {
  return host.server().context().live_client_sockets.load();
}

} // namespace

TEST(TestConnection, RequesterHangingUpMidDialClosesTheUpstreamSocket) {
  silent_tcp_upstream up;
  host_instance host(slow_dial_config());
  for (const bool reset : {false, true}) {
    SCOPED_TRACE(reset ? "reset" : "close");
    const std::size_t before = up.accepted();
    raw_socket requester(host.port());
    ASSERT_TRUE(requester.send(test_request(up.url())));
    ASSERT_TRUE(eventually([&] { return up.accepted() == before + 1; }));
    if (reset)
      requester.reset();
    else
      requester.close();
    // Well before connect_timeout (20 s): the upstream sees its socket closed.
    EXPECT_TRUE(eventually([&] { return up.ended() == before + 1; }, 5s))
        << "the dial went on after its requester left";
    EXPECT_TRUE(eventually([&] { return live_sockets(host) == 0; }, 5s)) << live_sockets(host);
  }
}

TEST(TestConnection, OverThePerAddressCapGets429) {
  silent_tcp_upstream up;
  host_instance host(slow_dial_config());
  const std::size_t cap = 4; // limits.max_connection_tests_per_address by default
  std::vector<raw_socket> in_flight;
  for (std::size_t i = 0; i < cap; ++i) {
    in_flight.emplace_back(host.port());
    ASSERT_TRUE(in_flight.back().send(test_request(up.url())));
  }
  ASSERT_TRUE(eventually([&] { return up.accepted() == cap; }));
  const auto r =
      http_request(host.port(), "POST", "/api/websocket/test-connection",
                   {{"Content-Type", "application/json"}}, json{{"url", up.url()}}.dump(), 5s);
  EXPECT_EQ(r.status, 429) << r.body;
  const json j = r.json();
  EXPECT_EQ(j["code"], "TOO_MANY_TESTS") << r.body;
  EXPECT_EQ(j["status"], 429) << r.body;
  EXPECT_EQ(up.accepted(), cap) << "a test over the cap was dialled";
  // Once the requesters leave, their places are free again: a test to a closed port answers.
  in_flight.clear();
  ASSERT_TRUE(eventually([&] { return up.ended() == cap; }, 5s));
  const auto again = http_request(host.port(), "POST", "/api/websocket/test-connection",
                                  {{"Content-Type", "application/json"}},
                                  json{{"url", "ws://127.0.0.1:1/"}}.dump());
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json()["code"], "CONNECTION_REFUSED") << again.body;
}

TEST(TestConnection, IdleHttpSocketsCountAgainstTheTotalCap) {
  host_config c = test_config();
  c.limits.max_total_connections = 3;
  host_instance host(c);
  std::vector<raw_socket> idle;
  for (int i = 0; i < 3; ++i)
    idle.emplace_back(host.port());
  ASSERT_TRUE(eventually([&] { return live_sockets(host) == 3; }));
  raw_socket over(host.port());
  EXPECT_EQ(over.upgrade("/api/websocket/connect/over"), 503) << over.head();
}

TEST(TestConnection, ItsDialCountsAgainstTheTotalCap) {
  silent_tcp_upstream up;
  host_config c = slow_dial_config();
  c.limits.max_total_connections = 2;
  host_instance host(c);
  // One HTTP socket and the upstream socket it dials: the cap of two is reached.
  raw_socket requester(host.port());
  ASSERT_TRUE(requester.send(test_request(up.url())));
  ASSERT_TRUE(eventually([&] { return up.accepted() == 1; }));
  EXPECT_EQ(live_sockets(host), 2u);
  raw_socket over(host.port());
  EXPECT_EQ(over.upgrade("/api/websocket/connect/over"), 503) << over.head();
  over.close();
  requester.close();
  EXPECT_TRUE(eventually([&] { return live_sockets(host) == 0; }, 5s)) << live_sockets(host);
}
