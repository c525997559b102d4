#include "raw_socket.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <random>

namespace apistudio::testing {

namespace {

using clock_type = std::chrono::steady_clock;

int remaining_ms(clock_type::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Waits for `events` on fd until the deadline; true when ready (or in error: the next call says).
bool wait_for(int fd, short events, clock_type::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0)
      return true;
    if (n == 0)
      return false;
    if (errno != EINTR)
      return false;
  }
}

// One recv into `out`; >0 bytes read, 0 EOF, -1 error (reset), -2 timeout.
long recv_some(int fd, std::string &out, clock_type::time_point deadline) {
  if (!wait_for(fd, POLLIN, deadline))
    return -2;
  std::array<char, 16384> chunk{};
  for (;;) {
    const auto n = ::recv(fd, chunk.data(), chunk.size(), 0);
    if (n > 0)
      out.append(chunk.data(), static_cast<std::size_t>(n));
    if (n >= 0)
      return n;
    if (errno != EINTR)
      return -1;
  }
}

} // namespace

raw_socket::raw_socket(std::uint16_t port, int receive_buffer) : port_(port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0)
    return;
  if (receive_buffer > 0)
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<const sockaddr *>(&a), sizeof a) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

raw_socket::~raw_socket() { close(); }

raw_socket::raw_socket(raw_socket &&o) noexcept
    : fd_(std::exchange(o.fd_, -1)), port_(o.port_), head_(std::move(o.head_)),
      pending_(std::move(o.pending_)) {}

raw_socket &raw_socket::operator=(raw_socket &&o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    port_ = o.port_;
    head_ = std::move(o.head_);
    pending_ = std::move(o.pending_);
  }
  return *this;
}

bool raw_socket::send(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  while (!bytes.empty() && fd_ >= 0) {
    if (!wait_for(fd_, POLLOUT, deadline))
      return false;
    const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return false;
    }
  }
  return bytes.empty();
}

bool raw_socket::read_exactly(std::string &out, std::size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  while (out.size() < n)
    if (fd_ < 0 || recv_some(fd_, out, deadline) <= 0)
      return false;
  return true;
}

bool raw_socket::read_until(std::string &out, std::string_view delimiter,
                            std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  while (out.find(delimiter) == std::string::npos)
    if (fd_ < 0 || recv_some(fd_, out, deadline) <= 0)
      return false;
  return true;
}

bool raw_socket::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  std::string sink;
  while (fd_ >= 0) {
    sink.clear();
    const long n = recv_some(fd_, sink, deadline);
    if (n == 0 || n == -1)
      return true; // EOF or reset
    if (n == -2)
      return false;
  }
  return true;
}

int raw_socket::upgrade(const std::string &target,
                        const std::vector<std::pair<std::string, std::string>> &headers,
                        std::chrono::milliseconds timeout) {
  std::string req = "GET " + target + " HTTP/1.1\r\n";
  bool has_host = false;
  for (const auto &[k, v] : headers)
    if (k.size() == 4 && (k == "Host" || k == "host" || k == "HOST"))
      has_host = true;
  if (!has_host)
    req += "Host: 127.0.0.1:" + std::to_string(port_) + "\r\n";
  bool has_version = false;
  for (const auto &[k, v] : headers) {
    req += k + ": " + v + "\r\n";
    if (k == "Sec-WebSocket-Version")
      has_version = true;
  }
  req += "Upgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  if (!has_version)
    req += "Sec-WebSocket-Version: 13\r\n";
  req += "\r\n";
  if (!send(req, timeout))
    return 0;
  std::string in;
  if (!read_until(in, "\r\n\r\n", timeout))
    return 0;
  const auto end = in.find("\r\n\r\n") + 4;
  head_ = in.substr(0, end);
  pending_ = in.substr(end);
  if (head_.size() < 12 || head_.compare(0, 5, "HTTP/") != 0)
    return 0;
  return std::atoi(head_.c_str() + 9);
}

void raw_socket::reset() {
  if (fd_ < 0)
    return;
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close();
}

void raw_socket::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

namespace {

std::string frame_header(int opcode, std::uint64_t length, bool fin, bool mask, int rsv) {
  std::string h;
  h += static_cast<char>((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f));
  const char mask_bit = mask ? static_cast<char>(0x80) : 0;
  if (length < 126) {
    h += static_cast<char>(mask_bit | static_cast<char>(length));
  } else if (length <= 0xffff) {
    h += static_cast<char>(mask_bit | 126);
    h += static_cast<char>((length >> 8) & 0xff);
    h += static_cast<char>(length & 0xff);
  } else {
    h += static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8)
      h += static_cast<char>((length >> shift) & 0xff);
  }
  return h;
}

} // namespace

std::string ws_frame(int opcode, std::string_view payload, bool fin, bool mask, int rsv) {
  std::string f = frame_header(opcode, payload.size(), fin, mask, rsv);
  if (!mask) {
    f.append(payload);
    return f;
  }
  static thread_local std::mt19937 rng{12345};
  const std::uint32_t key = rng();
  const std::array<char, 4> k{static_cast<char>(key >> 24), static_cast<char>(key >> 16),
                              static_cast<char>(key >> 8), static_cast<char>(key)};
  f.append(k.data(), k.size());
  for (std::size_t i = 0; i < payload.size(); ++i)
    f += static_cast<char>(payload[i] ^ k[i % 4]);
  return f;
}

std::string ws_frame_header(int opcode, std::uint64_t declared_length, bool fin, bool mask) {
  std::string f = frame_header(opcode, declared_length, fin, mask, 0);
  if (mask)
    f.append("\x11\x22\x33\x44", 4);
  return f;
}

std::string close_payload(int code, std::string_view reason) {
  std::string p;
  p += static_cast<char>((code >> 8) & 0xff);
  p += static_cast<char>(code & 0xff);
  p.append(reason);
  return p;
}

int ws_frame_in::close_code() const {
  if (payload.size() < 2)
    return 1005;
  return (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
}

std::optional<ws_frame_in> read_frame(raw_socket &s, std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  auto left = [&] { return std::chrono::milliseconds(remaining_ms(deadline)); };
  std::string &buf = s.pending();
  if (!s.read_exactly(buf, 2, left()) && buf.size() < 2)
    return std::nullopt;
  const auto b0 = static_cast<unsigned char>(buf[0]);
  const auto b1 = static_cast<unsigned char>(buf[1]);
  std::size_t header = 2;
  std::uint64_t length = b1 & 0x7f;
  if (length == 126)
    header = 4;
  if (length == 127)
    header = 10;
  if (b1 & 0x80)
    header += 4;
  if (buf.size() < header && !s.read_exactly(buf, header, left()))
    return std::nullopt;
  if ((b1 & 0x7f) == 126) {
    length = (static_cast<std::uint64_t>(static_cast<unsigned char>(buf[2])) << 8) |
             static_cast<unsigned char>(buf[3]);
  } else if ((b1 & 0x7f) == 127) {
    length = 0;
    for (int i = 0; i < 8; ++i)
      length = (length << 8) | static_cast<unsigned char>(buf[2 + i]);
  }
  if (length > (64u << 20))
    return std::nullopt; // not from a sane server
  const std::size_t total = header + static_cast<std::size_t>(length);
  if (buf.size() < total && !s.read_exactly(buf, total, left()))
    return std::nullopt;
  ws_frame_in f;
  f.opcode = b0 & 0x0f;
  f.fin = (b0 & 0x80) != 0;
  f.payload = buf.substr(header, static_cast<std::size_t>(length));
  if (b1 & 0x80) {
    const std::string key = buf.substr(header - 4, 4);
    for (std::size_t i = 0; i < f.payload.size(); ++i)
      f.payload[i] ^= key[i % 4];
  }
  buf.erase(0, total);
  return f;
}

int read_close_code(raw_socket &s, std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  for (;;) {
    const auto left = std::chrono::milliseconds(remaining_ms(deadline));
    if (left.count() == 0)
      return 0;
    auto f = read_frame(s, left);
    if (!f)
      return clock_type::now() < deadline ? 1006 : 0;
    if (f->opcode == 8)
      return f->close_code();
  }
}

std::size_t open_descriptor_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto &e : std::filesystem::directory_iterator("/proc/self/fd"))
    ++n;
  return n;
}

std::size_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoull(line.substr(6)) * 1024;
  return 0;
}

} // namespace apistudio::testing
