#include "proxy/tcp_stats.hpp"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace apistudio {

tcp_stats read_tcp_stats(int fd) noexcept {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
    return {};
  tcp_stats s;
  // Older kernels fill less of the struct: a field they did not fill stays unknown.
  if (len < offsetof(tcp_info, tcpi_last_data_recv) + sizeof info.tcpi_last_data_recv)
    return {};
  s.known = true;
  s.ms_since_data_received = info.tcpi_last_data_recv;
  if (len >= offsetof(tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked)
    s.bytes_acked = info.tcpi_bytes_acked;
  return s;
}

} // namespace apistudio
