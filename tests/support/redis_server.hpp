// redis_server.hpp — a real redis-server (Debian's) as a child process on a loopback port, for
// the cluster tests: nothing saved to disk, stopped by PID when the object goes (or by stop()).
#pragma once

#include "child_process.hpp"
#include "policy/host_config.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace apistudio::testing {

// A loopback port free at the time of the call (bound to port 0, then closed).
std::uint16_t free_loopback_port();

class redis_server {
public:
  // Starts on `port` (0: a free one) with `extra` arguments (e.g. {"--requirepass", "pw"}) and
  // waits until it answers PING (the test fails at the deadline).
  explicit redis_server(std::uint16_t port = 0, std::vector<std::string> extra = {});
  ~redis_server();
  redis_server(const redis_server &) = delete;
  redis_server &operator=(const redis_server &) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(int db = 0) const;
  bool running() const { return process_ != nullptr; }
  // SIGTERM by PID and wait for the exit (SIGKILL past a deadline).
  void stop();
  // One command over a fresh connection in the inline protocol (no spaces in arguments), e.g.
  // "GET apistudio:client:a"; the raw reply ("$-1\r\n", "+OK\r\n", ...), "" on failure.
  std::string command(const std::string &line, const std::string &password = {}) const;

private:
  std::uint16_t port_;
  std::unique_ptr<child_process> process_;
};

// The cluster section of a host that is node `node` on `server`: backend redis, a 2 s connect
// timeout, and start_without_engine (a test may start a host before Redis, or stop Redis).
cluster_config cluster_on(const redis_server &server, const std::string &node);

// Every host's bus connection is subscribed: Redis counts `n` subscribers of apistudio:bus
// (within 15 s).
bool bus_subscribers_are(const redis_server &server, int n);

// The redis-server program, or "" when it is not installed (tests then fail saying so).
std::string redis_server_program();

} // namespace apistudio::testing
