// keepalive.hpp — decides, tick by tick, whether a quiet WebSocket peer gets a ping or is dead.
//
// Beast's own idle timeout re-arms a timer on every read (a cancel, an aborted handler and a new
// wait per message, about 1,700 instructions; docs/performance.md). Instead each stream ticks
// every idle_timeout / 2 and asks its socket (look_at_peer) when bytes from the peer last
// arrived:
//   newer bytes than at the last tick    -> nothing to do;
//   silent for one tick                  -> ping;
//   silent for two ticks                 -> dead: the owner closes the socket.
// So a silent peer is dropped between idle_timeout and 1.5 x idle_timeout after its last frame
// (docs/configuration.md).
//
// The kernel is asked, not the reads, because reads can be paused by flow control: a pong then
// sits unread in the socket, and once reading resumes, bytes that waited there for a minute would
// look like a peer that just spoke. The socket's own clock (TCP_INFO's last_data_recv) says when
// the peer last sent, read or not, so a peer that froze while paused is found like any other.
// One case is left that the socket cannot judge: a paused socket whose receive window is full,
// where a live peer cannot send either. Then the owner says whether what the pause waits for
// moved since the last tick (an upstream's TCP stack acknowledged bytes, the client made room
// for ours): the peer may be waiting for us. If nothing moved on either side for the whole idle
// timeout, the session is idle and the peer is dropped all the same, as Envoy's stream idle
// timeout counts activity in both directions.
#pragma once

#include "base/worker_types.hpp"

#include <chrono>
#include <cstdint>

namespace apistudio {

// What a socket shows of its peer without consuming a byte.
struct peer_signs {
  // The peer sent a FIN or a reset, or the socket failed. A FIN counts even with unread data
  // before it.
  bool hung_up = false;
  // Since bytes from the peer last reached the socket, read or not. Zero when the kernel cannot
  // say (then the peer gets the benefit of the doubt).
  std::chrono::milliseconds since_data{0};
};

// One poll() with no wait and one getsockopt(TCP_INFO).
peer_signs look_at_peer(worker_socket &socket) noexcept;

// How many bytes sent on `socket` the peer's TCP stack has acknowledged (TCP_INFO), 0 when it
// cannot say. With the peer's window full, it grows only while the peer reads.
std::uint64_t bytes_acknowledged(worker_socket &socket) noexcept;

class keepalive_state {
public:
  using clock = std::chrono::steady_clock;
  enum class action { none, ping, dead };

  // `start`: bytes that arrived before it (the upgrade request) are already known.
  explicit keepalive_state(clock::time_point start = clock::now()) noexcept
      : last_arrival_(start) {}

  void ping_finished() noexcept { ping_in_flight_ = false; }

  // One look, every idle_timeout / 2. `waited_on_moved`: reads from the peer are paused by flow
  // control and what they wait for moved since the last tick.
  action tick(clock::time_point now, const peer_signs &peer,
              bool waited_on_moved = false) noexcept {
    if (peer.hung_up)
      return action::dead;
    // Heard: bytes newer than the newest seen at an earlier tick. Compared as arrival times, not
    // as "since the last tick": a pong comes right after the ping, so its age at the next tick is
    // the tick interval itself, give or take the socket clock's step (one jiffy, 4 or 10 ms),
    // which once dropped a live /ws subscriber in the soak.
    const clock::time_point arrived = now - peer.since_data;
    const bool heard = arrived > last_arrival_ + socket_clock_step;
    if (heard)
      last_arrival_ = arrived;
    if (heard || waited_on_moved) {
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
  // More than twice the socket clock's step at HZ=100, so that the same bytes read twice, each
  // time rounded differently, are never taken for new ones.
  static constexpr std::chrono::milliseconds socket_clock_step{50};

  clock::time_point last_arrival_;
  bool unanswered_ = false;
  bool ping_in_flight_ = false;
};

} // namespace apistudio
