// tcp_stats.hpp — what the kernel knows of one TCP connection, read without touching its data.
//
// Apart from keepalive.cpp so that Linux's full struct tcp_info (<linux/tcp.h>) never meets
// glibc's shorter one (<netinet/tcp.h>, which Asio includes).
#pragma once

#include <cstdint>

namespace apistudio {

struct tcp_stats {
  bool known = false; // false: not a TCP socket, or the kernel would not say
  // Since bytes from the peer last reached the socket, read or not.
  std::uint32_t ms_since_data_received = 0;
  // Bytes we sent that the peer's TCP stack acknowledged.
  std::uint64_t bytes_acked = 0;
};

// One getsockopt(TCP_INFO) on `fd`.
tcp_stats read_tcp_stats(int fd) noexcept;

} // namespace apistudio
