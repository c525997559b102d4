// upstream_connection.hpp — one WebSocket connection from the host to an external server
// (ws:// or wss://), on behalf of a client session: it relays frames both ways on the stream an
// upstream_dialer opened.
//
// Threading: created on the owning session's worker thread; every callback to the owner runs
// there, so the owner never locks. Lifetime: the connection keeps itself alive through its
// pending operations; the owner holds a shared_ptr and calls detach() before it goes away, after
// which no callback reaches it.
//
// Opening: open() runs an upstream_dialer (upstream_dialer.hpp) and takes over its stream once
// the handshake is done; frames queued meanwhile go out then.
#pragma once

#include "base/worker_types.hpp"
#include "policy/live_settings.hpp"
#include "proxy/outbound_queue.hpp"
#include "proxy/upstream_dialer.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace apistudio {

struct session_services;

// Implemented by the owner of the connection (the session's upstream_set); called on its worker
// thread, never after detach().
class upstream_owner {
public:
  virtual ~upstream_owner() = default;
  virtual void upstream_message(class upstream_connection &u, std::string_view payload,
                                bool binary) = 0;
  // A frame given to send() has been handed to the upstream; called once per frame, in order.
  virtual void upstream_written(class upstream_connection &u, std::string_view bytes,
                                bool binary) = 0;
  // The outbound queue went back under its low watermark after send() reported it over.
  virtual void upstream_drained(class upstream_connection &u) = 0;
  // Once per connection that opened; `error` is set when the read side failed (e.g. too large).
  virtual void upstream_closed(class upstream_connection &u, int code, std::string_view reason,
                               const dial_error *error) = 0;
};

class upstream_connection {
public:
  using open_handler = upstream_dialer::done_handler;

  // `executor`: the owning session's worker; the connection and its callbacks run there.
  // `settings`: the owning session's snapshot, whose limits and keepalive the connection keeps.
  static std::shared_ptr<upstream_connection>
  create(session_services &ctx, std::shared_ptr<const settings_snapshot> settings,
         worker_executor executor, bool tls, bool verify_tls);
  virtual ~upstream_connection() = default;

  // Starts connecting; `done` runs once on the worker (not if detach() came first).
  virtual void open(dial_request request, upstream_owner *owner, open_handler done) = 0;
  // Queues one frame and writes it as soon as it is open and the writes before it are done
  // (one write in flight). `bytes` is taken by swapping: it comes back holding a spare buffer,
  // so a steady stream of messages allocates nothing. Returns true when this frame took the
  // queue over its high watermark: the caller then stops reading what feeds it until
  // upstream_drained().
  virtual bool send(std::string &bytes, bool binary) = 0;
  // The queue went over its high watermark (send() returned true) and has not drained since.
  virtual bool backlogged() const = 0;
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;
  // Connecting: cancels. Open: sends what is queued, then a close frame with code/reason.
  virtual void close(int code, std::string reason) = 0;
  // No more callbacks to the owner; the connection winds down on its own (close or cancel), and
  // is cut off if it has not gone within upstream_close_timeout.
  virtual void detach(int code) = 0;

  virtual bool is_open() const = 0;
  // Bytes the upstream's TCP stack has acknowledged so far: once its receive window is full this
  // grows only while it reads. The client's keep-alive looks at it while the client is paused
  // behind this upstream (keepalive.hpp).
  virtual std::uint64_t bytes_taken() = 0;
  std::string connection_id;
  std::string url;
  std::string subprotocol;
};

} // namespace apistudio
