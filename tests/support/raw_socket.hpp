// raw_socket.hpp — a blocking loopback TCP client with deadlines, for what a hostile or broken
// client sends byte for byte: partial requests, hand-made WebSocket frames (unmasked, reserved
// bits, bad opcodes, absurd lengths), floods of fragments. Every wait has a timeout, so a host
// that hangs fails the test instead of hanging it.
//
// Frames built by ws_frame() are masked (client role) unless told otherwise; read_frame() reads
// what a server sends (unmasked). Not thread-safe: one socket, one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apistudio::testing {

class raw_socket {
public:
  // Connects to 127.0.0.1:port; connected() tells whether it worked. A `receive_buffer` (bytes,
  // SO_RCVBUF, set before connecting so the window is small from the start) makes a client that
  // does not read push back on the host after a few KiB instead of the kernel's megabytes.
  explicit raw_socket(std::uint16_t port, int receive_buffer = 0);
  ~raw_socket();
  raw_socket(raw_socket &&other) noexcept;
  raw_socket &operator=(raw_socket &&other) noexcept;
  raw_socket(const raw_socket &) = delete;
  raw_socket &operator=(const raw_socket &) = delete;

  bool connected() const { return fd_ >= 0; }
  int native_handle() const { return fd_; }

  // Writes everything (blocking up to the timeout); false if the peer is gone or it timed out.
  bool send(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads until `out` holds at least `n` bytes; false on EOF, error or timeout.
  bool read_exactly(std::string &out, std::size_t n, std::chrono::milliseconds timeout);
  // Reads until `delimiter` appears in `out`; false on EOF, error or timeout.
  bool read_until(std::string &out, std::string_view delimiter, std::chrono::milliseconds timeout);
  // Reads and discards until the peer closes (EOF or reset): true; false on timeout.
  bool wait_closed(std::chrono::milliseconds timeout);

  // Sends a WebSocket upgrade request for `target` (with Host 127.0.0.1:port unless `headers`
  // names one) and reads the response head. Returns the status (0 on failure); the head, and any
  // bytes that followed it, are kept in head() and pending().
  int upgrade(const std::string &target,
              const std::vector<std::pair<std::string, std::string>> &headers = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(5));
  const std::string &head() const { return head_; }
  std::string &pending() { return pending_; } // bytes read past the head, not yet consumed

  // Closes with SO_LINGER 0: the peer sees a reset.
  void reset();
  void close();

private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::string head_;
  std::string pending_;
};

// One frame as a client sends it. `rsv` goes into bits 4-6 of the first byte (0..7).
std::string ws_frame(int opcode, std::string_view payload, bool fin = true, bool mask = true,
                     int rsv = 0);
// Only the header of a frame that claims `declared_length` payload bytes.
std::string ws_frame_header(int opcode, std::uint64_t declared_length, bool fin = true,
                            bool mask = true);
// A close frame payload: the code, big-endian, then the reason.
std::string close_payload(int code, std::string_view reason = {});

struct ws_frame_in {
  int opcode = 0;
  bool fin = false;
  std::string payload;
  // For a close frame: the code (1005 when the payload is empty).
  int close_code() const;
};

// Reads one frame from `s` (leftover bytes of earlier reads come first, from s.pending()).
// nullopt on EOF, error or timeout.
std::optional<ws_frame_in> read_frame(raw_socket &s, std::chrono::milliseconds timeout);
// Reads frames until a close frame (returns its code), EOF without one (1006) or the timeout (0).
int read_close_code(raw_socket &s, std::chrono::milliseconds timeout);

// Descriptors open in this process right now (/proc/self/fd).
std::size_t open_descriptor_count();
// Resident set size of this process in bytes (VmRSS of /proc/self/status).
std::size_t resident_bytes();

} // namespace apistudio::testing
