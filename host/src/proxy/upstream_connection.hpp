// upstream_connection.hpp — one WebSocket connection from the host to an external server
// (ws:// or wss://), on behalf of a client session.
//
// Threading: created on the owning session's worker thread; every callback to the owner runs
// there, so the owner never locks. Lifetime: the connection keeps itself alive through its
// pending operations; the owner holds a shared_ptr and calls detach() before it goes away, after
// which no callback reaches it.
//
// Opening: resolve (injectable resolver) -> every address checked by the egress policy -> TCP
// to exactly those addresses -> TLS (SNI, certificate and host-name verification) -> WebSocket
// handshake with the client's headers and subprotocols. One deadline (limits.connect_timeout)
// covers all of it. Failures are classified into the protocol's error codes (dial_error).
#pragma once

#include "proxy/outbound_queue.hpp"
#include "protocol/upstream_target.hpp"
#include "base/worker_types.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apistudio {

struct session_services;

struct dial_request {
  std::string url; // as the client wrote it (echoed in events; never logged with secrets)
  upstream_target target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> protocols;
  bool tls_verify = true;
};

// What test-connection reports, and what a failed connect had gathered so far.
struct dial_diagnostics {
  double dns_ms = -1, tcp_ms = -1, tls_ms = -1, handshake_ms = -1, total_ms = -1;
  std::string remote_address;
  int http_status = 0;
  std::vector<std::pair<std::string, std::string>> response_headers;
  std::string subprotocol;
};

struct dial_error {
  std::string code;    // TIMEOUT, DNS_FAILED, CONNECTION_REFUSED, ... (docs/protocol.md)
  std::string message; // human, no secrets
  int http_status = 0; // for AUTH_FAILED / HANDSHAKE_FAILED
};

// Implemented by the session that owns the connection; called on its worker thread.
class upstream_owner {
public:
  virtual ~upstream_owner() = default;
  virtual void upstream_message(class upstream_connection &u, std::string_view payload,
                                bool binary) = 0;
  // A frame with `ack` set has been handed to the upstream.
  virtual void upstream_written(class upstream_connection &u, const outbound_frame &frame) = 0;
  // The outbound queue went back under its low watermark.
  virtual void upstream_drained(class upstream_connection &u) = 0;
  // Once per connection that opened; `error` is set when the read side failed (e.g. too large).
  virtual void upstream_closed(class upstream_connection &u, int code, std::string_view reason,
                               const dial_error *error) = 0;
};

class upstream_connection {
public:
  using open_handler = std::function<void(const dial_error *error, const dial_diagnostics &)>;

  // `executor`: the owning session's worker; the connection and its callbacks run there.
  static std::shared_ptr<upstream_connection> create(session_services &ctx, worker_executor executor,
                                                     bool tls, bool verify_tls);
  virtual ~upstream_connection() = default;

  // Starts connecting; `done` runs once on the worker (not if detach() came first).
  virtual void open(dial_request request, upstream_owner *owner, open_handler done) = 0;
  // Queues a frame (owned bytes) and starts writing if idle. Only once open.
  virtual outbound_queue &queue() = 0;
  virtual void flush() = 0;
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;
  // Connecting: cancels. Open: sends what is queued, then a close frame with code/reason.
  virtual void close(int code, std::string reason) = 0;
  // No more callbacks to the owner; the connection winds down on its own (close or cancel).
  virtual void detach(int code) = 0;

  virtual bool is_open() const = 0;
  std::string connection_id;
  std::string url;
  std::string subprotocol;
};

} // namespace apistudio
