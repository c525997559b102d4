#include "proxy/keepalive.hpp"

#include <poll.h>

namespace apistudio {

bool peer_hung_up(worker_socket &socket) noexcept {
  if (!socket.is_open())
    return true;
  // POLLRDHUP is the peer's FIN even with unread data before it (a plain readable check, or a
  // peeking recv, would only see the data); POLLERR and POLLHUP come without being asked for.
  pollfd p{socket.native_handle(), POLLRDHUP, 0};
  if (::poll(&p, 1, 0) != 1)
    return false;
  return (p.revents & (POLLRDHUP | POLLERR | POLLHUP | POLLNVAL)) != 0;
}

} // namespace apistudio
