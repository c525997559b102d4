// upstream_dialer.hpp — opens one WebSocket from the host to an external server (ws:// or
// wss://) and hands over the ready stream together with what the attempt measured.
//
// Sequence: resolve (injectable resolver; an IP literal is taken as it is) -> every address
// checked by the egress policy -> TCP to exactly those addresses -> TLS (SNI, certificate and
// host-name verification) -> WebSocket handshake with the client's headers and subprotocols. One
// deadline (limits.connect_timeout) covers all of it, the lookup included: when it fires, the
// lookup is abandoned with the rest. Failures are classified into the protocol's error codes
// (dial_error).
//
// Users: upstream_connection, which takes the ready stream (take_stream) and relays on it, and
// the test-connection endpoint, which only wants the diagnostics and closes the stream again.
// Threading: runs on the executor it was created with; `done` runs there too.
// Lifetime: keeps itself alive through its pending operations (shared_from_this). `done` runs
// once, unless cancel() came first; after it, the dialer holds the stream until it is taken or
// closed.
#pragma once

#include "base/worker_types.hpp"
#include "protocol/upstream_target.hpp"
#include "proxy/close_guarded_stream.hpp"
#include "proxy/coalescing_socket.hpp"
#include "proxy/name_resolver.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
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
  // The client session dialling (its id), for the resolver's per-client bound; 0 for none.
  std::uint64_t client = 0;
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

// The two upstream streams. Under each, a plain socket: frames (TLS records) written in one burst
// leave in one send (coalescing_socket.hpp). The dialer's deadline bounds the opening; once open,
// the keep-alive and Beast's close timeout are all the timing a stream needs.
using plain_upstream_stream = boost::beast::websocket::stream<coalescing_socket>;
// How long an upstream's closing handshake may take (Beast's close timeout); a connection its
// client left gets as long to go, whatever it is doing (upstream_connection::detach).
inline constexpr std::chrono::seconds upstream_close_timeout{5};
// Over TLS the close-code guard reads the decrypted bytes (close_guarded_stream.hpp).
using tls_upstream_stream = boost::beast::websocket::stream<
    close_guarded_stream<boost::beast::ssl_stream<coalescing_socket>>>;

// The plain socket under either stream (below TLS for wss://), and the TLS stream of a wss://.
inline coalescing_socket &socket_layer_of(plain_upstream_stream &ws) noexcept {
  return ws.next_layer();
}
inline boost::beast::ssl_stream<coalescing_socket> &tls_layer_of(tls_upstream_stream &ws) noexcept {
  return ws.next_layer().next_layer();
}
inline coalescing_socket &socket_layer_of(tls_upstream_stream &ws) noexcept {
  return tls_layer_of(ws).next_layer();
}

// Impl<tls_upstream_stream> for a wss:// upstream, Impl<plain_upstream_stream> for ws://: the one
// place the scheme picks the stream type, for the dialer and the connection alike.
template <class Base, template <class> class Impl, class... Args>
std::shared_ptr<Base> make_for_scheme(bool tls, Args &&...args) {
  if (tls)
    return std::make_shared<Impl<tls_upstream_stream>>(std::forward<Args>(args)...);
  return std::make_shared<Impl<plain_upstream_stream>>(std::forward<Args>(args)...);
}

class upstream_dialer {
public:
  using done_handler = std::function<void(const dial_error *error, const dial_diagnostics &)>;

  // A dialer for either stream, for callers that only need the outcome (test-connection).
  static std::shared_ptr<upstream_dialer> create(session_services &ctx, worker_executor executor,
                                                 bool tls, bool verify_tls);
  virtual ~upstream_dialer() = default;

  // Starts the attempt; `done` runs once on the executor (not if cancel() came first).
  virtual void dial(dial_request request, done_handler done) = 0;
  // Abandons an attempt under way: the socket closes and `done` never runs.
  virtual void cancel() = 0;
  // After a successful dial, for a caller that relays nothing: a close handshake, then the
  // socket closes.
  virtual void close(int code, std::string reason) = 0;
};

template <class Stream>
class basic_upstream_dialer final
    : public upstream_dialer,
      public std::enable_shared_from_this<basic_upstream_dialer<Stream>> {
public:
  static constexpr bool is_tls = std::is_same_v<Stream, tls_upstream_stream>;
  // The most the host reads of an upstream's answer to the WebSocket upgrade: Beast's 8 KiB of
  // headers and a body of about 64 KiB. A refusal with a bigger body fails at once instead of
  // holding up to Beast's 8 MB per connecting upstream until connect_timeout.
  static constexpr std::size_t handshake_response_limit = 80 * 1024;

  basic_upstream_dialer(session_services &ctx, worker_executor executor, bool verify);

  void dial(dial_request request, done_handler done) override;
  void cancel() override;
  void close(int code, std::string reason) override;

  // After a successful dial: the ready stream, for the connection that relays on it. The dialer
  // is done with it then (close() does nothing).
  Stream take_stream() {
    state_ = state::closed;
    return std::move(ws_);
  }

private:
  enum class state { idle, connecting, ready, closed };

  void on_deadline();
  void resolve();
  void on_resolve(boost::beast::error_code ec, std::vector<boost::asio::ip::tcp::endpoint> eps);
  void on_connect(boost::beast::error_code ec, const boost::asio::ip::tcp::endpoint &ep);
  void on_tls(boost::beast::error_code ec);
  void do_ws_handshake();
  void on_handshake(boost::beast::error_code ec);
  void fail(dial_error error);
  void close_socket();
  coalescing_socket &socket_layer() noexcept { return socket_layer_of(ws_); }

  session_services &ctx_;
  worker_executor executor_;
  Stream ws_;
  worker_timer deadline_;
  bool verify_;
  dial_request req_;
  dial_diagnostics diag_;
  done_handler done_;
  name_resolver::lookup_handle lookup_; // while resolving; dropping it abandons the lookup
  boost::beast::websocket::response_type response_;
  state state_ = state::idle;
  std::chrono::steady_clock::time_point started_, phase_;
};

extern template class basic_upstream_dialer<plain_upstream_stream>;
extern template class basic_upstream_dialer<tls_upstream_stream>;

} // namespace apistudio
