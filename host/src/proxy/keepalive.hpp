// keepalive.hpp — decides, tick by tick, whether a quiet WebSocket peer gets a ping or is dead.
//
// Beast's own idle timeout re-arms a timer on every read (a cancel, an aborted handler and a new
// wait per message, about 1,700 instructions; docs/performance.md). Instead each stream ticks
// every idle_timeout / 2 and looks at a flag that its reads and control frames set:
//   heard something since the last tick  -> nothing to do;
//   silent for one tick                  -> ping;
//   silent for two ticks                 -> dead: the owner closes the socket.
// So a silent peer is dropped between idle_timeout and 1.5 x idle_timeout after its last frame
// (docs/configuration.md). While the owner is not reading (flow control paused it), a pong could
// not be noticed, so such a tick counts as heard.
#pragma once

namespace apistudio {

class keepalive_state {
public:
  enum class action { none, ping, dead };

  void heard() noexcept { heard_ = true; }
  void ping_finished() noexcept { ping_in_flight_ = false; }

  action tick(bool reading) noexcept {
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

} // namespace apistudio
