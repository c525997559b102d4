// test_upstream.hpp — WebSocket servers a test starts on 127.0.0.1:0 to stand in for the
// external servers API Studio users connect to: echo (ws and wss with the test CA), ones that
// refuse, hang, misbehave in the handshake, require a subprotocol and a header, send binary
// frames, close with a code and reason, or push large frames. Stopped in the destructor.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace apistudio::testing {

struct upstream_behaviour {
  enum class kind {
    echo,                  // echoes every frame with its type
    reject_status,         // answers the upgrade with `status` (401, 403, 500...)
    redirect,              // 302 to another URL (must never be followed)
    silent,                // accepts TCP, never answers
    bad_accept,            // 101 with a wrong Sec-WebSocket-Accept
    unoffered_subprotocol, // 101 selecting a subprotocol nobody offered
    close_after_first,     // closes with close_code/close_reason after the first frame
    push_large,            // sends a push_bytes text frame once open, then echoes
    pump,                  // sends push_bytes of 64 KiB binary frames as fast as it can
    mute,                  // completes the handshake, then never reads again (ignores pings)
    reset_after_first,     // drops the TCP connection (RST, no close frame) after the first frame
    echo_then_close,       // echoes the first frame, then closes with close_code/close_reason
    huge_refusal,          // answers the upgrade with 500 announcing an 8 MiB body, sends
                           // 256 KiB of it, then stalls (reads until stopped)
  };
  kind mode = kind::echo;
  int status = 401;
  std::string require_subprotocol; // must be offered; it is selected. Else 400.
  std::vector<std::pair<std::string, std::string>> require_headers; // else 400
  int close_code = 4000;
  std::string close_reason = "bye";
  std::size_t push_bytes = 0;
  std::vector<std::string> binary_on_open; // sent as binary frames right after the handshake
  int echo_delay_ms = 0; // echo: each frame is echoed this long after it arrived (a slow server)
  bool tls = false;
  std::string certificate = "server"; // server | wrong_name | untrusted (tests/data/tls)
};

class test_upstream {
public:
  explicit test_upstream(upstream_behaviour b = {});
  ~test_upstream();
  test_upstream(const test_upstream &) = delete;
  test_upstream &operator=(const test_upstream &) = delete;

  std::uint16_t port() const { return port_; }
  // ws://127.0.0.1:PORT/path, or wss://localhost:PORT/path (the certificate's name).
  std::string url(const std::string &path = "/") const;

  std::map<std::string, std::string> last_request_headers() const; // lower-case names
  std::string last_target() const;
  std::size_t accepted() const { return accepted_.load(); }
  std::size_t open_now() const { return open_.load(); }
  std::size_t bytes_pumped() const { return pumped_.load(); }
  // Every data frame the upstream received after a handshake, in arrival order (all sockets).
  std::vector<std::string> received() const;
  std::size_t received_count() const;

  void stop();

private:
  struct impl;
  void serve(int fd);

  upstream_behaviour b_;
  std::unique_ptr<impl> impl_;
  std::uint16_t port_ = 0;
  std::thread acceptor_thread_;
  mutable std::mutex mutex_;
  std::vector<std::thread> workers_;
  std::vector<int> fds_;
  std::map<std::string, std::string> last_headers_;
  std::string last_target_;
  std::vector<std::string> received_;
  std::atomic<std::size_t> accepted_{0};
  std::atomic<std::size_t> open_{0};
  std::atomic<std::size_t> pumped_{0};
  std::atomic<bool> stopping_{false};
};

std::string test_data_dir();

} // namespace apistudio::testing
