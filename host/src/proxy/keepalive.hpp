// keepalive.hpp — decides, tick by tick, whether a quiet WebSocket peer gets a ping or is dead.
//
// Beast's own idle timeout re-arms a timer on every read (a cancel, an aborted handler and a new
// wait per message, about 1,700 instructions; docs/performance.md). Instead each stream ticks
// every idle_timeout / 2 and looks at a flag that its reads and control frames set:
//   heard something since the last tick  -> nothing to do;
//   silent for one tick                  -> ping;
//   silent for two ticks                 -> dead: the owner closes the socket.
// So a silent peer is dropped between idle_timeout and 1.5 x idle_timeout after its last frame
// (docs/configuration.md).
//
// While the owner is not reading (flow control paused it), a pong could not be noticed, so a
// silent tick proves nothing. The owner then looks at the socket instead (peer_hung_up): a peer
// that closed or reset its connection is dead at that tick, so a paused peer that goes away is
// noticed within idle_timeout / 2. One that vanishes without a FIN or a reset, or whose FIN waits
// behind data the owner has not taken, still holds the write that caused the pause, and that
// write has its own deadline (limits.write_stall_timeout).
#pragma once

#include "base/worker_types.hpp"

namespace apistudio {

class keepalive_state {
public:
  enum class action { none, ping, dead };

  void heard() noexcept { heard_ = true; }
  void ping_finished() noexcept { ping_in_flight_ = false; }

  // `reading`: a read is pending, so a pong would be seen. `hung_up`: the peer closed or reset
  // its connection (peer_hung_up), which ends it whether or not reads are paused.
  action tick(bool reading, bool hung_up = false) noexcept {
    if (hung_up)
      return action::dead;
    if (heard_ || !reading) {
      heard_ = false;
      unanswered_ = false;
      return action::none;
    }
    if (unanswered_)
      return action::dead;
    unanswered_ = true;
    // A ping still waiting behind a blocked write is not sent twice.
    if (ping_in_flight_)
      return action::none;
    ping_in_flight_ = true;
    return action::ping;
  }

private:
  bool heard_ = false;
  bool unanswered_ = false;
  bool ping_in_flight_ = false;
};

// Whether the peer of `socket` has sent a FIN or a reset (or the socket failed), without
// consuming a byte: for a socket nobody reads while flow control pauses it. Bytes the peer sent
// before it went, still unread, do not hide its going. One poll() with no wait.
bool peer_hung_up(worker_socket &socket) noexcept;

} // namespace apistudio
