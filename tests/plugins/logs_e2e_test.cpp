// The host's log through the real host: json lines carry the context of their event (session,
// client, connection, upstream host, plugin), the text format shows the same, log.level filters,
// and a flood of one failure is one line and a count (log.repeat_window).
#include "plugin_e2e.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::uint16_t unused_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto port = a.local_endpoint().port();
  a.close();
  return port;
}

// Every line as JSON; a line that does not parse fails the test.
std::vector<json> parsed(const std::vector<std::string> &lines) {
  std::vector<json> out;
  for (const auto &l : lines) {
    json j = json::parse(l, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "not one JSON object: " << l;
    EXPECT_EQ(l.find('\n'), l.size() - 1) << l;
    out.push_back(std::move(j));
  }
  return out;
}

const json *find_line(const std::vector<json> &lines, const std::string &component,
                      const std::string &message_prefix) {
  for (const auto &j : lines)
    if (j.value("component", "") == component &&
        j.value("message", "").rfind(message_prefix, 0) == 0)
      return &j;
  return nullptr;
}

// A session that opens c1 to `echo`, fails c2 against a closed port, and closes.
void run_session(host_instance &host, const test_upstream &echo, std::uint16_t closed) {
  ws_client c;
  ASSERT_TRUE(
      open_proxy(c, host.port(), "logs-client", echo.url("/feed"), {{"connection_id", "c1"}}));
  c.send_json({{"type", "connect_external"},
               {"connection_id", "c2"},
               {"url", "ws://127.0.0.1:" + std::to_string(closed) + "/"}});
  EXPECT_EQ(c.read_until("connection_error").value("code", ""), "CONNECTION_REFUSED");
  c.close();
  ASSERT_TRUE(eventually([&] { return host.server().context().directory.size() == 0; }));
}

host_config json_config() {
  host_config c = config_with({recorder("R")});
  c.log.format = log_format::json;
  return c;
}

} // namespace

TEST(Logs, JsonLinesCarryTheContextOfTheirEvent) {
  test_upstream echo;
  const std::uint16_t closed = unused_port();
  host_instance host(json_config());
  run_session(host, echo, closed);
  ASSERT_TRUE(eventually([&] { return host.log_contains("R on_session_close"); }));

  const std::vector<json> lines = parsed(host.log_lines());
  for (const auto &j : lines) {
    EXPECT_TRUE(j["time"].is_string() && j["level"].is_string() && j["message"].is_string() &&
                j["component"].is_string())
        << j.dump();
    const std::string t = j.value("time", "");
    EXPECT_TRUE(t.size() == 24 && t[10] == 'T' && t[19] == '.' && t.back() == 'Z') << t;
    const std::string level = j.value("level", "");
    EXPECT_TRUE(level == "debug" || level == "info" || level == "warn" || level == "error")
        << level;
  }
  const json *listening = find_line(lines, "host", "listening on 127.0.0.1:");
  ASSERT_NE(listening, nullptr) << host.log_text();
  EXPECT_EQ(listening->value("level", ""), "info");

  const json *opened = find_line(lines, "session", "opened /api/websocket/connect/logs-client");
  ASSERT_NE(opened, nullptr) << host.log_text();
  const auto session_id = opened->value("session_id", 0);
  EXPECT_GT(session_id, 0);
  EXPECT_EQ(opened->value("client_id", ""), "logs-client");
  EXPECT_EQ(opened->value("remote_address", ""), "127.0.0.1");

  const json *connected = find_line(lines, "upstream", "connected");
  ASSERT_NE(connected, nullptr) << host.log_text();
  EXPECT_EQ(connected->value("session_id", 0), session_id);
  EXPECT_EQ(connected->value("connection_id", ""), "c1");
  EXPECT_EQ(connected->value("upstream_host", ""), "127.0.0.1:" + std::to_string(echo.port()));

  const json *failed = find_line(lines, "upstream", "connect failed: CONNECTION_REFUSED");
  ASSERT_NE(failed, nullptr) << host.log_text();
  EXPECT_EQ(failed->value("level", ""), "warn");
  EXPECT_EQ(failed->value("session_id", 0), session_id);
  EXPECT_EQ(failed->value("client_id", ""), "logs-client");
  EXPECT_EQ(failed->value("connection_id", ""), "c2");
  EXPECT_EQ(failed->value("upstream_host", ""), "127.0.0.1:" + std::to_string(closed));

  // A plugin's own line (through the SDK's log function) names the plugin.
  const json *plugin_line = find_line(lines, "plugin:R", "R on_upstream_opened c1 ");
  ASSERT_NE(plugin_line, nullptr) << host.log_text();
  EXPECT_EQ(plugin_line->value("plugin", ""), "R");
  EXPECT_EQ(plugin_line->value("level", ""), "info");
}

TEST(Logs, TextLinesKeepTheirFormatAndShowTheContextAfterTheMessage) {
  test_upstream echo;
  const std::uint16_t closed = unused_port();
  host_instance host(config_with({recorder("R")}));
  run_session(host, echo, closed);
  const std::string text = host.log_text();
  EXPECT_NE(text.find(" INFO  [host] listening on 127.0.0.1:" + std::to_string(host.port())),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(" WARN  [upstream] connect failed: CONNECTION_REFUSED: Connection refused "
                      "session_id="),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(" client_id=logs-client connection_id=c2 upstream_host=127.0.0.1:" +
                      std::to_string(closed) + " remote_address=127.0.0.1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("[plugin:R] R on_upstream_opened c1 " + echo.url("/feed") + " \n"),
            std::string::npos)
      << text;
}

TEST(Logs, LevelWarnWritesOnlyWarningsAndErrorsUnlessDebugIsForced) {
  test_upstream echo;
  const std::uint16_t closed = unused_port();
  {
    host_config c = json_config();
    c.log.level = log_level::warn;
    host_instance host(c);
    run_session(host, echo, closed);
    const std::vector<json> lines = parsed(host.log_lines());
    ASSERT_NE(find_line(lines, "upstream", "connect failed: CONNECTION_REFUSED"), nullptr)
        << host.log_text();
    for (const auto &j : lines) {
      const std::string level = j.value("level", "");
      EXPECT_TRUE(level == "warn" || level == "error") << j.dump();
    }
  }
  {
    // WEBSOCKET_DEBUG (config.debug) still shows every event whatever log.level says.
    host_config c = json_config();
    c.log.level = log_level::error;
    c.debug = true;
    host_instance host(c);
    run_session(host, echo, closed);
    const std::vector<json> lines = parsed(host.log_lines());
    EXPECT_NE(find_line(lines, "session", "opened "), nullptr) << host.log_text();
    EXPECT_NE(find_line(lines, "plugin:R", "R on_session_open"), nullptr) << host.log_text();
  }
}

TEST(Logs, AFloodOfOneFailureIsOneLineAndACount) {
  // The host's own tick writes the summaries; the test moves the logger's clock past the window.
  std::atomic<std::int64_t> skipped_ms{0};
  const auto start = std::chrono::steady_clock::now();
  logger log;
  std::mutex mutex;
  std::vector<std::string> captured;
  log.set_sink([&](std::string_view line) {
    std::lock_guard lock(mutex);
    captured.emplace_back(line);
  });
  log.set_clock([&] { return start + std::chrono::milliseconds(skipped_ms.load()); });
  auto lines = [&] {
    std::lock_guard lock(mutex);
    return parsed(captured);
  };
  auto count = [&](const std::string &component, const std::string &prefix) {
    std::size_t n = 0;
    for (const auto &j : lines())
      n += j.value("component", "") == component && j.value("message", "").rfind(prefix, 0) == 0;
    return n;
  };

  host_config c = json_config();
  c.plugins.clear();
  host_options o;
  o.log = &log;
  host_instance host(c, std::move(o));
  constexpr int flood = 30;
  const std::uint16_t closed = unused_port();
  ws_client client;
  ASSERT_TRUE(client.connect(host.port(), "/api/websocket/connect/flood"));
  for (int i = 0; i < flood; ++i) {
    client.send_json({{"type", "connect_external"},
                      {"connection_id", "c" + std::to_string(i)},
                      {"url", "ws://127.0.0.1:" + std::to_string(closed) + "/"}});
    ASSERT_EQ(client.read_until("connection_error").value("code", ""), "CONNECTION_REFUSED");
  }
  for (int i = 0; i < flood; ++i)
    EXPECT_EQ(
        http_request(host.port(), "GET", "/healthz", {{"Origin", "http://evil.example"}}).status,
        403);

  EXPECT_EQ(count("upstream", "connect failed: CONNECTION_REFUSED"), 1u);
  EXPECT_EQ(count("http", "refused a request with 403 ORIGIN_DENIED"), 1u);

  skipped_ms = 11'000; // past the 10 s window
  ASSERT_TRUE(eventually([&] {
    return count("http", "refused a request with 403 ORIGIN_DENIED") == 2 &&
           count("upstream", "connect failed: CONNECTION_REFUSED") == 2;
  })) << "no summaries";
  for (const auto &j : lines()) {
    if (!j.contains("repeated"))
      continue;
    EXPECT_EQ(j["repeated"], flood - 1) << j.dump();
    EXPECT_EQ(j["repeat_seconds"], 10) << j.dump();
    EXPECT_NE(j.value("message", "").find("(repeated 29 more times in the last 10s)"),
              std::string::npos)
        << j.dump();
    if (j.value("component", "") == "upstream") {
      EXPECT_EQ(j.value("connection_id", ""), "c29"); // the context of the last repeat
      EXPECT_EQ(j.value("client_id", ""), "flood");
    } else {
      EXPECT_EQ(j.value("remote_address", ""), "127.0.0.1");
    }
  }
  // Past the window, the same failure is written again (and opens a new window).
  client.send_json({{"type", "connect_external"},
                    {"connection_id", "again"},
                    {"url", "ws://127.0.0.1:" + std::to_string(closed) + "/"}});
  client.read_until("connection_error");
  EXPECT_TRUE(
      eventually([&] { return count("upstream", "connect failed: CONNECTION_REFUSED") == 3; }));
}
