// wss:// upstreams: the test CA (tls.ca_file) is trusted, a certificate for another name or from
// an unknown CA is TLS_ERROR, and verification is never silently skipped.
#include "proxy_test_util.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

upstream_behaviour tls_with(const std::string &certificate) {
  upstream_behaviour b;
  b.tls = true;
  b.certificate = certificate;
  return b;
}

} // namespace

TEST(ProxyTls, TrustedCertificateConnectsAndCarriesMessages) {
  test_upstream up(tls_with("server"));
  host_instance host;
  proxy_client c(host.port(), "tls-ok");
  ASSERT_TRUE(c.ok);
  json e = open_upstream(c.ws, up.url("/secure"));
  ASSERT_EQ(e["status"], "connected") << e.dump();
  EXPECT_EQ(up.last_target(), "/secure");
  c.ws.send_json({{"type", "send_message"}, {"content", "secret stuff"}});
  EXPECT_EQ(c.ws.read_until("message_received")["content"], "secret stuff");
}

TEST(ProxyTls, CertificateForAnotherNameIsTlsError) {
  test_upstream up(tls_with("wrong_name"));
  host_instance host;
  proxy_client c(host.port(), "tls-name");
  ASSERT_TRUE(c.ok);
  c.ws.send_json({{"type", "connect_external"}, {"url", up.url()}});
  EXPECT_EQ(next_event(c.ws)["status"], "connecting");
  json e = next_event(c.ws);
  EXPECT_EQ(e["type"], "connection_error") << e.dump();
  EXPECT_EQ(e["code"], "TLS_ERROR");
  EXPECT_TRUE(has_timestamp(e));
  EXPECT_EQ(next_event(c.ws)["status"], "error");
  EXPECT_EQ(up.open_now(), 0u);
}

TEST(ProxyTls, CertificateFromAnUnknownCaIsTlsError) {
  test_upstream up(tls_with("untrusted"));
  host_instance host;
  proxy_client c(host.port(), "tls-untrusted");
  ASSERT_TRUE(c.ok);
  c.ws.send_json({{"type", "connect_external"}, {"url", up.url()}, {"request_id", "t"}});
  EXPECT_EQ(next_event(c.ws)["status"], "connecting");
  json e = next_event(c.ws);
  EXPECT_EQ(e["code"], "TLS_ERROR") << e.dump();
  EXPECT_EQ(e["request_id"], "t");
  EXPECT_EQ(next_event(c.ws)["status"], "error");
}

TEST(ProxyTls, WithoutTheTestCaTheServerCertificateIsNotTrusted) {
  test_upstream up(tls_with("server"));
  host_config cfg = test_config();
  cfg.tls.ca_file.clear(); // only the system store: the test CA is unknown there
  host_instance host(cfg);
  proxy_client c(host.port(), "tls-no-ca");
  ASSERT_TRUE(c.ok);
  json e = open_upstream(c.ws, up.url());
  EXPECT_EQ(e["code"], "TLS_ERROR") << e.dump();
}

TEST(ProxyTls, PlainWsToATlsServerFailsAsAHandshakeOrConnectionError) {
  test_upstream up(tls_with("server"));
  host_config cfg = test_config();
  cfg.limits.connect_timeout = std::chrono::milliseconds(1000);
  host_instance host(cfg);
  proxy_client c(host.port(), "tls-plain");
  ASSERT_TRUE(c.ok);
  json e = open_upstream(c.ws, "ws://127.0.0.1:" + std::to_string(up.port()) + "/");
  EXPECT_EQ(e["type"], "connection_error") << e.dump();
  EXPECT_NE(e["code"], "") << e.dump();
  EXPECT_EQ(next_event(c.ws)["status"], "error");
}

TEST(ProxyTls, InsecureOptOutIsRefusedUnlessTheConfigAllowsIt) {
  test_upstream up(tls_with("untrusted"));
  {
    host_instance host;
    proxy_client c(host.port(), "optout-refused");
    ASSERT_TRUE(c.ok);
    c.ws.send_json({{"type", "connect_external"}, {"url", up.url()}, {"tls_verify", false}});
    json e = next_event(c.ws);
    EXPECT_EQ(e["type"], "error");
    EXPECT_EQ(e["code"], "INVALID_FORMAT");
    EXPECT_EQ(up.accepted(), 0u);
  }
  host_config cfg = test_config();
  cfg.tls.allow_insecure_opt_out = true;
  host_instance host(cfg);
  proxy_client c(host.port(), "optout-allowed");
  ASSERT_TRUE(c.ok);
  EXPECT_EQ(open_upstream(c.ws, up.url(), {{"tls_verify", false}})["status"], "connected");
}

// TLS records go through the host's write-coalescing layer: a burst arrives whole and in order,
// and the closing handshake (close frame, then TLS close_notify, then the socket) completes at
// once instead of waiting for a timeout with the close frame stuck in a buffer.
TEST(ProxyTls, ABurstOfMessagesArrivesInOrderAndTheCloseHandshakeCompletesAtOnce) {
  test_upstream up(tls_with("server"));
  host_instance host;
  proxy_client c(host.port(), "tls-burst");
  ASSERT_TRUE(c.ok);
  json e = open_upstream(c.ws, up.url());
  ASSERT_EQ(e["status"], "connected") << e.dump();
  constexpr int n = 200;
  for (int i = 0; i < n; ++i)
    c.ws.send_json({{"type", "send_message"}, {"content", "m" + std::to_string(i)}});
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(c.ws.read_until("message_received")["content"], "m" + std::to_string(i));
  const auto started = std::chrono::steady_clock::now();
  c.ws.send_json({{"type", "disconnect_external"}, {"request_id", "bye"}});
  json d = c.ws.read_until("connection_status");
  EXPECT_EQ(d["status"], "disconnected") << d.dump();
  EXPECT_EQ(d["close_code"], 1000) << d.dump();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  for (int i = 0; i < 100 && up.open_now() != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(up.open_now(), 0u);
  EXPECT_EQ(up.received_count(), static_cast<std::size_t>(n));
}
