// plugin_e2e.hpp — small helpers shared by the end-to-end plugin tests: plugin entries for the
// fixtures, a proxy client that connects its upstream, bounded polling, and temporary files.
#pragma once

#include "host_fixture.hpp"
#include "test_client.hpp"
#include "test_upstream.hpp"
#include "text_count.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include <unistd.h>

namespace apistudio::testing {

// An entry of the configurable recorder fixture under its own name (which is also its log tag).
inline plugin_config recorder(const std::string &name,
                              nlohmann::json settings = nlohmann::json::object()) {
  if (!settings.contains("tag"))
    settings["tag"] = name;
  plugin_config p = make_plugin(name, std::move(settings));
  p.path = "libtest_recorder.so";
  return p;
}

inline plugin_config fixture(const std::string &entry_name, const std::string &library,
                             nlohmann::json settings = nlohmann::json::object()) {
  plugin_config p = make_plugin(entry_name, std::move(settings));
  p.path = "lib" + library + ".so";
  return p;
}

inline host_config config_with(std::vector<plugin_config> plugins) {
  host_config c = test_config();
  c.plugins = std::move(plugins);
  return c;
}

// Bounded polling of a condition that becomes true eventually (never a sleep as synchronisation).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Opens the proxy socket of `client_id` and connects it to `url`; false (with a gtest failure)
// unless the host reported "connected".
inline bool open_proxy(ws_client &c, std::uint16_t port, const std::string &client_id,
                       const std::string &url, nlohmann::json extra = nlohmann::json::object()) {
  if (!c.connect(port, "/api/websocket/connect/" + client_id)) {
    ADD_FAILURE() << "upgrade refused with " << c.handshake_status << ": " << c.handshake_body;
    return false;
  }
  nlohmann::json cmd = {{"type", "connect_external"}, {"url", url}};
  cmd.update(extra);
  c.send_json(cmd);
  for (;;) {
    const nlohmann::json e = c.read_json();
    if (e.is_discarded()) {
      ADD_FAILURE() << "no connection_status for " << url;
      return false;
    }
    if (e.value("type", "") == "connection_status" && e.value("status", "") == "connecting")
      continue;
    if (e.value("type", "") == "connection_status" && e.value("status", "") == "connected")
      return true;
    ADD_FAILURE() << "expected connected, got " << e.dump();
    return false;
  }
}

inline nlohmann::json send_message(const std::string &content) {
  return {{"type", "send_message"}, {"content", content}};
}

// A file under the test's temporary directory, unique per call.
inline std::string temp_file(const std::string &stem, const std::string &content) {
  static int counter = 0;
  const std::string path = ::testing::TempDir() + "apistudio_" + std::to_string(::getpid()) + "_" +
                           std::to_string(++counter) + "_" + stem;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// The /ws collaboration endpoint's target for `user` in `workspace` (no tokens: the query names
// the user).
inline std::string ws_target(const std::string &user, const std::string &workspace) {
  return "/ws?user_id=" + user + "&workspace_id=" + workspace;
}

// The next frame `c` reads is `user`'s presence with `status`.
inline void expect_presence(ws_client &c, const std::string &user, const std::string &status) {
  const nlohmann::json e = c.read_json();
  EXPECT_EQ(e.value("type", ""), "user_presence") << e.dump();
  EXPECT_EQ(e.value("user_id", ""), user) << e.dump();
  EXPECT_EQ(e.value("status", ""), status) << e.dump();
}

// Proves nothing else was queued for `c` before this point: a malformed frame's INVALID_FORMAT
// answer must be the next frame it reads.
inline void expect_nothing_pending(ws_client &c) {
  c.send_text("marker: not json");
  const nlohmann::json e = c.read_json();
  EXPECT_EQ(e.value("type", ""), "error") << "unexpected frame: " << e.dump();
  EXPECT_EQ(e.value("code", ""), "INVALID_FORMAT") << e.dump();
}

} // namespace apistudio::testing
