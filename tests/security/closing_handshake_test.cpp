// Our close frame and the upstream's, crossing (issue 14, 5d). Once the host has sent its close
// frame, Beast's close reads the upstream's answer itself. A read the host started beside it (the
// test-connection success path closed and then went on to read; so did an upstream whose session
// closed while it opened, and resume_reading()) could take Beast's read lock first and keep it
// while it waited for the write lock that the close held: to answer a protocol violation it had
// found already buffered, or, with a control callback set, to answer the upstream's close frame,
// which it hands on from a posted step. The close, its frame written, then waited for the read
// lock. Neither moved until Beast's 5 s close timeout, and the host kept the TCP connection for
// those 5 s after both close frames. The proxied path's test is
// PluginPipeline.ClosingTheSessionInUpstreamOpenedLetsTheUpstreamGo.
#include "host_fixture.hpp"
#include "raw_socket.hpp"
#include "raw_upstream.hpp"
#include "test_client.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

// test-connection's success path closes the connection at once; the upstream's close frame came
// with its 101. The host answers 200 and lets the connection go as soon as both close frames have
// passed (5 s later, Beast's close timeout, before the fix).
TEST(ClosingHandshake, TestConnectionLetsGoOfAnUpstreamThatClosedWithItsUpgrade) {
  frame_with_its_upgrade upstream(ws_frame(8, close_payload(1001, "going away"), true, false));
  auto held = upstream.held_after_close();
  host_instance host;
  const auto r =
      http_request(host.port(), "POST", "/api/websocket/test-connection",
                   {{"Content-Type", "application/json"}}, json{{"url", upstream.url()}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["status"], "success") << r.body;
  ASSERT_EQ(held.wait_for(15s), std::future_status::ready);
  const auto ms = held.get();
  ASSERT_GE(ms, 0ms) << "no close handshake, or the host kept the connection for over 10 s";
  EXPECT_LT(ms, 1000ms) << "the host kept the connection " << ms.count()
                        << " ms after the close handshake";
}
