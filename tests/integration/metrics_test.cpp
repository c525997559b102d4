// GET /metrics: a known sequence of sessions, messages, a refused Origin and a failed connect,
// then a scrape over a real socket that shows exactly those counts; the endpoint's admission
// (token, Origin) and switch; and the exposition checked by Prometheus' own parsers (promtool and
// the Python client's), not by ours.
#include "proxy_test_util.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

// Sample lines by everything before the value: `name{labels}` -> value.
std::map<std::string, double> parse_samples(const std::string &text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    const auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

double value_of(const std::map<std::string, double> &samples, const std::string &key) {
  const auto it = samples.find(key);
  return it == samples.end() ? -1 : it->second;
}

http_result scrape(std::uint16_t port,
                   const std::vector<std::pair<std::string, std::string>> &headers = {}) {
  return http_request(port, "GET", "/metrics", headers);
}

json send_message(const std::string &content) {
  return {{"type", "send_message"}, {"content", content}};
}

// Runs `command` with `input` on its stdin; returns its exit status and output.
std::pair<int, std::string> run_with_input(const std::string &command, const std::string &input) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("apistudio-metrics-" + std::to_string(::getpid()) + ".txt");
  std::ofstream(file) << input;
  std::string output;
  FILE *p = ::popen((command + " < " + file.string() + " 2>&1").c_str(), "r");
  if (p == nullptr)
    return {-1, "popen failed"};
  char buf[4096];
  while (const std::size_t n = std::fread(buf, 1, sizeof buf, p))
    output.append(buf, n);
  const int status = ::pclose(p);
  std::filesystem::remove(file);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

} // namespace

TEST(Metrics, ScrapeAfterAKnownSequenceShowsExactlyThoseCounts) {
  test_upstream echo;
  host_instance host;
  const std::uint16_t port = host.port();
  const std::string payload = "hello metrics"; // 13 bytes

  {
    proxy_client a(port, "metrics-a");
    ASSERT_TRUE(a.ok);
    ASSERT_EQ(open_upstream(a.ws, echo.url()).value("status", ""), "connected");
    for (int i = 0; i < 3; ++i) {
      a.ws.send_json(send_message(payload));
      const round_trip r = read_round_trip(a.ws);
      ASSERT_EQ(r.received.value("content", ""), payload) << r.received.dump();
    }
    a.ws.close(1000);
    a.ws.wait_closed();
  }
  {
    proxy_client b(port, "metrics-b");
    ASSERT_TRUE(b.ok);
    b.ws.send_json({{"type", "connect_external"},
                    {"url", "ws://127.0.0.1:" + std::to_string(closed_port()) + "/"}});
    EXPECT_EQ(next_event(b.ws).value("status", ""), "connecting");
    EXPECT_EQ(next_event(b.ws).value("code", ""), "CONNECTION_REFUSED");
    EXPECT_EQ(next_event(b.ws).value("status", ""), "error");
    b.ws.close(4001);
    b.ws.wait_closed();
  }
  {
    ws_client w;
    ASSERT_TRUE(w.connect(port, "/ws"));
    w.close(1000);
    w.wait_closed();
  }
  const auto refused =
      http_request(port, "GET", "/api/plugins", {{"Origin", "http://evil.example"}});
  ASSERT_EQ(refused.status, 403);

  std::map<std::string, double> m;
  http_result r;
  // The sessions' ends are counted on the host's threads once their sockets are done.
  ASSERT_TRUE(eventually([&] {
    r = scrape(port);
    m = parse_samples(r.body);
    return value_of(m, R"(apistudio_client_sessions_closed_total{endpoint="/ws",code="1000"})") ==
               1 &&
           value_of(
               m,
               R"(apistudio_client_sessions_closed_total{endpoint="/api/websocket/connect",code="4001"})") ==
               1 &&
           value_of(m, R"(apistudio_upstreams_open)") == 0;
  })) << r.body;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");

  const std::map<std::string, double> expected = {
      {R"(apistudio_client_sessions_opened_total{endpoint="/api/websocket/connect"})", 2},
      {R"(apistudio_client_sessions_opened_total{endpoint="/ws"})", 1},
      {R"(apistudio_client_sessions_open{endpoint="/api/websocket/connect"})", 0},
      {R"(apistudio_client_sessions_open{endpoint="/ws"})", 0},
      {R"(apistudio_client_sessions_closed_total{endpoint="/api/websocket/connect",code="1000"})",
       1},
      {R"(apistudio_client_sessions_closed_total{endpoint="/api/websocket/connect",code="4001"})",
       1},
      {R"(apistudio_client_sessions_closed_total{endpoint="/ws",code="1000"})", 1},
      {R"(apistudio_upstream_connect_attempts_total)", 2},
      {R"(apistudio_upstream_connect_failures_total{code="CONNECTION_REFUSED"})", 1},
      {R"(apistudio_connection_error_events_total{code="CONNECTION_REFUSED"})", 1},
      {R"(apistudio_upstream_closes_total{code="1001"})", 1},
      {R"(apistudio_upstreams_open)", 0},
      {R"(apistudio_messages_total{direction="client_to_upstream"})", 3},
      {R"(apistudio_messages_total{direction="upstream_to_client"})", 3},
      {R"(apistudio_message_bytes_total{direction="client_to_upstream"})", 3 * 13},
      {R"(apistudio_message_bytes_total{direction="upstream_to_client"})", 3 * 13},
      // a: connect_external + 3 send_message; b: connect_external
      {R"(apistudio_client_frames_total{direction="received"})", 5},
      // a: connecting, connected, 3 x (message_sent + message_received); b: connecting,
      // connection_error, error status
      {R"(apistudio_client_frames_total{direction="sent"})", 11},
      {R"(apistudio_admission_refusals_total{code="ORIGIN_DENIED"})", 1},
      {R"(apistudio_queue_bytes{peer="client"})", 0},
      {R"(apistudio_queue_bytes{peer="upstream"})", 0},
      {R"(apistudio_client_slow_consumer_closes_total)", 0},
      {R"(apistudio_egress_denials_total)", 0},
      {R"(apistudio_build_info{version=")" APISTUDIO_HOST_VERSION R"("})", 1},
  };
  for (const auto &[key, want] : expected)
    EXPECT_EQ(value_of(m, key), want) << key << "\n" << r.body;
  // Nothing else was refused, failed or sent as an error.
  for (const auto &[key, value] : m) {
    if (key.rfind("apistudio_send_error_events_total", 0) == 0 ||
        key.rfind("apistudio_error_events_total", 0) == 0 ||
        key.rfind("apistudio_plugin_refusals_total", 0) == 0)
      ADD_FAILURE() << "unexpected sample " << key << " " << value;
  }
  EXPECT_GT(value_of(m, "process_resident_memory_bytes"), 0);
  EXPECT_GT(value_of(m, "process_open_fds"), 0);
  EXPECT_GT(value_of(m, "process_max_fds"), 0);
  EXPECT_GE(value_of(m, "process_threads"), 3); // the test's own, two workers
  EXPECT_GT(value_of(m, "process_start_time_seconds"), 1.5e9);
}

TEST(Metrics, EndpointTakesTheAccessTokenAndRefusesOtherOrigins) {
  host_config c = test_config();
  c.security.access_tokens = {"metrics-secret"};
  host_instance host(c);
  EXPECT_EQ(scrape(host.port()).status, 401);
  EXPECT_EQ(scrape(host.port(), {{"Authorization", "Bearer wrong"}}).status, 401);
  const auto ok = scrape(host.port(), {{"Authorization", "Bearer metrics-secret"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_NE(ok.body.find("apistudio_admission_refusals_total{code=\"UNAUTHORIZED\"} 2"),
            std::string::npos)
      << ok.body;
  const auto browser = scrape(host.port(), {{"Authorization", "Bearer metrics-secret"},
                                            {"Origin", "https://evil.example"}});
  EXPECT_EQ(browser.status, 403);
  EXPECT_EQ(browser.json().value("code", ""), "ORIGIN_DENIED");
  EXPECT_EQ(
      http_request(host.port(), "POST", "/metrics", {{"Authorization", "Bearer metrics-secret"}})
          .status,
      405);
}

TEST(Metrics, SwitchedOffTheEndpointIsNotFound) {
  host_config c = test_config();
  c.metrics.enabled = false;
  host_instance host(c);
  const auto r = scrape(host.port());
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json().value("code", ""), "NOT_FOUND");
}

// The exposition after traffic through a plugin (hook counts and the hook-time histogram, the
// rate limiter closing a client) is read by promtool and by prometheus_client's parser.
TEST(Metrics, ExpositionParsesWithPrometheusParsers) {
  test_upstream echo;
  host_config c = test_config();
  c.plugins.push_back(make_plugin(
      "rate_limiter", {{"limits", json::array({json{{"messages", 45}, {"window", "1m"}}})}}));
  host_instance host(c);
  {
    proxy_client a(host.port(), "metrics-parse");
    ASSERT_TRUE(a.ok);
    ASSERT_EQ(open_upstream(a.ws, echo.url()).value("status", ""), "connected");
    // 64 or more hook calls on this worker: at least one is timed into the histogram.
    for (int i = 0; i < 40; ++i) {
      a.ws.send_json(send_message("m" + std::to_string(i)));
      read_round_trip(a.ws);
    }
    // Past the limit: the limiter's own RATE_LIMITED event, then its close with 1008.
    for (int i = 0; i < 10 && !a.ws.closed(); ++i)
      a.ws.send_json(send_message("over"));
    EXPECT_EQ(a.ws.read_until("error").value("code", ""), "RATE_LIMITED");
    EXPECT_EQ(a.ws.wait_closed(), 1008);
  }
  http_result r;
  ASSERT_TRUE(eventually([&] {
    r = scrape(host.port());
    return r.body.find(
               R"(apistudio_client_sessions_closed_total{endpoint="/api/websocket/connect",code="1008"} 1)") !=
           std::string::npos;
  })) << r.body;
  EXPECT_NE(r.body.find(R"(apistudio_plugin_closes_total{plugin="rate_limiter",code="1008"} 1)"),
            std::string::npos)
      << r.body;
  EXPECT_NE(
      r.body.find(
          R"(apistudio_plugin_hook_calls_total{plugin="rate_limiter",hook="on_client_message"} )"),
      std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("apistudio_plugin_hook_duration_seconds_bucket{plugin=\"rate_limiter\""),
            std::string::npos)
      << r.body;

  const auto [promtool_status, promtool_output] = run_with_input("promtool check metrics", r.body);
  EXPECT_EQ(promtool_status, 0) << promtool_output << "\n" << r.body;

  const std::string python = R"(/usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}
assert families["apistudio_messages"].type == "counter", families["apistudio_messages"]
assert families["apistudio_plugin_hook_duration_seconds"].type == "histogram"
assert families["process_open_fds"].type == "gauge"
print(len(families), "families")
')";
  const auto [python_status, python_output] = run_with_input(python, r.body);
  EXPECT_EQ(python_status, 0) << python_output;
  EXPECT_NE(python_output.find("families"), std::string::npos) << python_output;

  // Every metric the shipped Grafana dashboard plots is one the host writes.
  std::ifstream dashboard(std::string(APISTUDIO_SOURCE_DIR) +
                          "/config/grafana/apistudio-host.json");
  ASSERT_TRUE(dashboard) << "config/grafana/apistudio-host.json";
  const std::string panels{std::istreambuf_iterator<char>(dashboard),
                           std::istreambuf_iterator<char>()};
  const std::regex name(R"((apistudio|process)_[a-z_]+)");
  int plotted = 0;
  for (std::sregex_iterator it(panels.begin(), panels.end(), name), end; it != end; ++it) {
    std::string family = it->str();
    if (family.size() > 7 && family.ends_with("_bucket"))
      family.resize(family.size() - 7);
    ++plotted;
    EXPECT_NE(r.body.find("# TYPE " + family + " "), std::string::npos) << family;
  }
  EXPECT_GT(plotted, 20);
}

// A plugin's own counter (registered through the SDK by the shipped rate_limiter loaded from its
// .so) shows exactly the sessions it limited, by limit, and the exposition still parses.
TEST(Metrics, APluginsOwnCounterShowsExactlyItsCounts) {
  host_config c = test_config();
  c.plugins.push_back(make_plugin(
      "rate_limiter", {{"limits", json::array({json{{"messages", 2}, {"window", "1m"}},
                                               json{{"messages", 50}, {"window", "1h"}}})}}));
  host_instance host(c);
  const std::string family = "apistudio_plugin_rate_limiter_sessions_limited_total";

  // Registered at load: the family is there, with no series yet.
  http_result r = scrape(host.port());
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("# TYPE " + family + " counter\n"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(family + "{"), std::string::npos) << r.body;

  for (int session = 0; session < 3; ++session) {
    proxy_client a(host.port(), "plugin-metric-" + std::to_string(session));
    ASSERT_TRUE(a.ok);
    // Three frames: the third is past "2 messages per 60s"; the limiter answers and closes.
    for (int i = 0; i < 3; ++i)
      a.ws.send_json(send_message("m" + std::to_string(i)));
    // The two admitted ones are answered NOT_CONNECTED (no upstream), then RATE_LIMITED.
    std::string code;
    for (int i = 0; i < 3 && code != "RATE_LIMITED"; ++i)
      code = a.ws.read_json().value("code", "");
    EXPECT_EQ(code, "RATE_LIMITED");
    EXPECT_EQ(a.ws.wait_closed(), 1008);
  }
  ASSERT_TRUE(eventually([&] {
    r = scrape(host.port());
    return r.body.find(
               R"(apistudio_client_sessions_closed_total{endpoint="/api/websocket/connect",code="1008"} 3)") !=
           std::string::npos;
  })) << r.body;
  const auto samples = parse_samples(r.body);
  EXPECT_EQ(value_of(samples, family + R"({limit="2 messages per 60s"})"), 3) << r.body;
  // The other limit never filled: no series for it.
  EXPECT_EQ(r.body.find("50 messages per"), std::string::npos) << r.body;

  const auto [promtool_status, promtool_output] = run_with_input("promtool check metrics", r.body);
  EXPECT_EQ(promtool_status, 0) << promtool_output << "\n" << r.body;
  const std::string python = R"(/usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}
f = families["apistudio_plugin_rate_limiter_sessions_limited"]
assert f.type == "counter", f
values = {s.labels["limit"]: s.value for s in f.samples if s.name.endswith("_total")}
assert values == {"2 messages per 60s": 3.0}, values
print("plugin counter ok")
')";
  const auto [python_status, python_output] = run_with_input(python, r.body);
  EXPECT_EQ(python_status, 0) << python_output;
  EXPECT_NE(python_output.find("plugin counter ok"), std::string::npos) << python_output;
}
