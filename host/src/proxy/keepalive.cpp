#include "proxy/keepalive.hpp"

#include "proxy/tcp_stats.hpp"

#include <poll.h>

namespace apistudio {

peer_signs look_at_peer(worker_socket &socket) noexcept {
  if (!socket.is_open())
    return {true, {}};
  const int fd = socket.native_handle();
  peer_signs signs;
  // POLLRDHUP is the peer's FIN even with unread data before it (a plain readable check, or a
  // peeking recv, would only see the data); POLLERR and POLLHUP come without being asked for.
  pollfd p{fd, POLLRDHUP, 0};
  if (::poll(&p, 1, 0) == 1)
    signs.hung_up = (p.revents & (POLLRDHUP | POLLERR | POLLHUP | POLLNVAL)) != 0;
  if (const tcp_stats s = read_tcp_stats(fd); s.known)
    signs.since_data = std::chrono::milliseconds(s.ms_since_data_received);
  return signs;
}

std::uint64_t bytes_acknowledged(worker_socket &socket) noexcept {
  return socket.is_open() ? read_tcp_stats(socket.native_handle()).bytes_acked : 0;
}

} // namespace apistudio
