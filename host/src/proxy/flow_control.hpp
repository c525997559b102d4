// flow_control.hpp — which side of one proxied client session waits for which: the one record
// of who is paused and why (Envoy's high/low watermarks).
//
// Each outbound_queue knows its own watermarks (high = half of limits.max_outbound_queue, low = a
// quarter; the client's queue past the whole of it closes the client, outbound_queue.hpp); this
// records which queues are over them:
//  - the client's queue over its high watermark: nothing is read from the client or from its
//    upstreams until that queue is back under its low watermark;
//  - an upstream's queue over its high watermark: nothing is read from the client until that
//    upstream reports it drained (or goes away).
// The session moves the client side, its upstream_set the upstream side. Only touched on the
// session's worker thread; per message it costs a compare.
#pragma once

#include <cstddef>

namespace apistudio {

class flow_control {
public:
  bool client_backlogged() const noexcept { return client_backlogged_; }
  bool client_reads_paused() const noexcept {
    return client_backlogged_ || backlogged_upstreams_ != 0;
  }

  // The client's queue went over its high watermark / is back under its low watermark (the
  // session pauses / resumes the upstreams' reads and the stall timer with it).
  void client_over_high() noexcept { client_backlogged_ = true; }
  void client_under_low() noexcept { client_backlogged_ = false; }

  // One more / one fewer upstream whose queue is over its high watermark.
  void upstream_over_high() noexcept { ++backlogged_upstreams_; }
  void upstream_under_low() noexcept { --backlogged_upstreams_; }
  // Every upstream went at once (the client is closing).
  void upstreams_gone() noexcept { backlogged_upstreams_ = 0; }

private:
  bool client_backlogged_ = false;
  std::size_t backlogged_upstreams_ = 0;
};

} // namespace apistudio
