// proxy_test_util.hpp — small helpers shared by the integration tests of the proxy protocol:
// event shape checks, "connect a client and open its upstream", a port nobody listens on, and
// bounded polling for conditions that become true on the host's threads.
#pragma once

#include "host_fixture.hpp"
#include "test_client.hpp"
#include "test_upstream.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace apistudio::testing {

// "2025-01-01T12:00:00.000Z": ISO-8601 UTC with milliseconds and Z.
inline ::testing::AssertionResult has_timestamp(const nlohmann::json &event) {
  if (!event.is_object() || !event.contains("timestamp") || !event["timestamp"].is_string())
    return ::testing::AssertionFailure() << "no timestamp in " << event.dump();
  const std::string ts = event["timestamp"];
  const std::string shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (ts.size() != shape.size())
    return ::testing::AssertionFailure() << "bad timestamp " << ts;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const bool ok = shape[i] == 'd' ? (ts[i] >= '0' && ts[i] <= '9') : ts[i] == shape[i];
    if (!ok)
      return ::testing::AssertionFailure() << "bad timestamp " << ts;
  }
  return ::testing::AssertionSuccess();
}

// Polls `condition` until it holds or `timeout` passes (for state the host changes on its own
// threads: registries, the upstream's view). Returns the last result.
inline bool eventually(const std::function<bool()> &condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

// A loopback port that was just bound and released: connecting to it is refused.
inline std::uint16_t closed_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto port = a.local_endpoint().port();
  a.close();
  return port;
}

inline nlohmann::json active_connections(std::uint16_t port) {
  return http_request(port, "GET", "/api/websocket/active-connections").json();
}

// Reads the next event, failing the test with context when none comes.
inline nlohmann::json next_event(ws_client &c,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  nlohmann::json e = c.read_json(timeout);
  EXPECT_TRUE(e.is_object()) << "no event (closed=" << c.closed() << ")";
  return e;
}

// Sends connect_external (with the extra fields in `extra`) and reads connecting + connected.
// Returns the `connected` event, or the first unexpected event.
inline nlohmann::json open_upstream(ws_client &c, const std::string &url,
                                    nlohmann::json extra = nlohmann::json::object()) {
  nlohmann::json cmd = {{"type", "connect_external"}, {"url", url}};
  cmd.update(extra);
  c.send_json(cmd);
  nlohmann::json e = next_event(c);
  if (e.value("status", "") != "connecting")
    return e;
  return next_event(c);
}

// The two events one send_message to an echo server produces. message_sent (the frame went
// out) and the echo's message_received may come in either order: the write's completion and the
// echo's read race on the host's worker threads. Unexpected or missing events fail the test.
struct round_trip {
  nlohmann::json sent, received;
};
inline round_trip read_round_trip(ws_client &c) {
  round_trip r;
  for (int i = 0; i < 2; ++i) {
    nlohmann::json e = next_event(c);
    const std::string type = e.is_object() ? e.value("type", "") : "";
    nlohmann::json *slot = type == "message_sent"       ? &r.sent
                           : type == "message_received" ? &r.received
                                                        : nullptr;
    if (slot == nullptr || !slot->is_null()) {
      ADD_FAILURE() << "unexpected event " << e.dump().substr(0, 300);
      continue;
    }
    *slot = std::move(e);
  }
  return r;
}

// A fresh client on /api/websocket/connect/{id}; check `ok()` (gtest ASSERTs need void functions).
struct proxy_client {
  ws_client ws;
  bool ok = false;
  proxy_client(std::uint16_t port, const std::string &client_id) {
    ok = ws.connect(port, "/api/websocket/connect/" + client_id);
  }
};

} // namespace apistudio::testing
