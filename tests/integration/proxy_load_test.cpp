// 200 clients at once, each with its own upstream connection to one echo server, each doing a
// round trip of a few unique messages: nothing lost, nothing delivered to the wrong client,
// nothing reordered.
#include "proxy_test_util.hpp"

#include <gtest/gtest.h>

#include <memory>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

TEST(ProxyLoad, TwoHundredConcurrentClientsRoundTripWithoutLossOrCrossing) {
  constexpr int threads = 8;
  constexpr int per_thread = 25; // 200 clients, all connected at the same time
  constexpr int messages = 4;
  test_upstream echo;
  host_instance host;
  const auto started = std::chrono::steady_clock::now();

  std::atomic<int> connected{0};
  std::vector<std::string> failures[threads];
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto &fail = failures[t];
      std::vector<std::unique_ptr<proxy_client>> clients;
      for (int i = 0; i < per_thread; ++i) {
        const std::string id = "load-" + std::to_string(t) + "-" + std::to_string(i);
        clients.push_back(std::make_unique<proxy_client>(host.port(), id));
        if (!clients.back()->ok)
          return fail.push_back(id + ": client handshake failed");
      }
      for (auto &c : clients)
        c->ws.send_json({{"type", "connect_external"}, {"url", echo.url()}});
      for (int i = 0; i < per_thread; ++i) {
        auto &ws = clients[i]->ws;
        const json a = ws.read_json(), b = ws.read_json();
        if (a.value("status", "") != "connecting" || b.value("status", "") != "connected")
          return fail.push_back("client " + std::to_string(i) + ": " + a.dump() + " " + b.dump());
        ++connected;
      }
      // Every client sends all of its messages before anyone reads: they are in flight together.
      for (int i = 0; i < per_thread; ++i)
        for (int m = 0; m < messages; ++m)
          clients[i]->ws.send_json({{"type", "send_message"},
                                    {"content", "t" + std::to_string(t) + "c" + std::to_string(i) +
                                                    "m" + std::to_string(m)},
                                    {"request_id", std::to_string(m)}});
      for (int i = 0; i < per_thread; ++i) {
        auto &ws = clients[i]->ws;
        std::vector<std::string> sent, received;
        while (sent.size() + received.size() < 2 * messages) {
          const json e = ws.read_json();
          if (!e.is_object()) {
            fail.push_back("client " + std::to_string(i) + ": no event after " +
                           std::to_string(sent.size()) + " sent / " +
                           std::to_string(received.size()) + " received");
            break;
          }
          if (e["type"] == "message_sent")
            sent.push_back(e["content"]);
          else if (e["type"] == "message_received")
            received.push_back(e["content"]);
          else
            fail.push_back("client " + std::to_string(i) + ": unexpected " + e.dump());
        }
        std::vector<std::string> expected;
        for (int m = 0; m < messages; ++m)
          expected.push_back("t" + std::to_string(t) + "c" + std::to_string(i) + "m" +
                             std::to_string(m));
        if (sent != expected || received != expected)
          fail.push_back("client " + std::to_string(i) + " got sent=" + json(sent).dump() +
                         " received=" + json(received).dump());
      }
    });
  }
  for (auto &w : workers)
    w.join();
  for (int t = 0; t < threads; ++t)
    for (const auto &f : failures[t])
      ADD_FAILURE() << "thread " << t << ": " << f;
  EXPECT_EQ(connected.load(), threads * per_thread);
  EXPECT_EQ(echo.accepted(), static_cast<std::size_t>(threads * per_thread));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  // Every client and upstream is gone once the clients are.
  EXPECT_TRUE(eventually([&] { return echo.open_now() == 0; }));
  EXPECT_TRUE(eventually([&] {
    return active_connections(host.port()) ==
           json::parse(R"({"active_connections":[],"external_connections":[]})");
  }));
}
