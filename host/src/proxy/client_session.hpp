// client_session.hpp — one client WebSocket: the proxy protocol on
// /api/websocket/connect/{client_id}, or the collaboration channel /ws (handled by plugins).
//
// Threading: everything runs on the worker thread the listener gave the connection (one
// io_context, one thread). Its upstreams live there too, so the session, its upstreams and every
// plugin hook for it are serial. Outside callers (plugins' timers, the bus, shutdown) go through
// session_port, which posts onto that worker.
// Lifetime: owned by the handlers of its pending operations (shared_from_this); the session
// directory (the one registry of sessions) holds a weak pointer. finish() runs exactly once,
// when the client socket is done: it closes the upstreams, calls the plugins' on_session_close
// and leaves every registry.
#pragma once

#include "proxy/coalescing_socket.hpp"
#include "proxy/connection_slot.hpp"
#include "protocol/envelope_codec.hpp"
#include "proxy/keepalive.hpp"
#include "proxy/outbound_queue.hpp"
#include "plugin_host/plugin_runtime.hpp"
#include "proxy/session_services.hpp"
#include "proxy/upstream_connection.hpp"
#include "base/worker_types.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <memory>
#include <string>
#include <vector>

namespace apistudio {

class client_session final : public session_port,
                             public upstream_owner,
                             public std::enable_shared_from_this<client_session> {
public:
  using request = boost::beast::http::request<boost::beast::http::string_body>;

  // `client_id` is empty on /ws. `client_registered`: the caller already holds the client_id in
  // the registry (the session releases it).
  client_session(session_services &ctx, worker_socket &&socket, connection_slot slot,
                 bool proxy_protocol, std::string client_id, bool client_registered,
                 std::string remote_address);
  ~client_session() override;

  // On its worker: plugins' on_session_open, then the upgrade (or the HTTP refusal).
  void start(request req);

  // session_port
  void post_send(std::shared_ptr<const std::string> payload, bool binary) override;
  void post_close(int code, std::string reason) override;
  void post_bus(std::shared_ptr<const bus_delivery> delivery) override;
  boost::asio::any_io_executor executor() override;
  session_context &context() override { return sctx_; }

  // upstream_owner
  void upstream_message(upstream_connection &u, std::string_view payload, bool binary) override;
  void upstream_written(upstream_connection &u, const outbound_frame &frame) override;
  void upstream_drained(upstream_connection &u) override;
  void upstream_closed(upstream_connection &u, int code, std::string_view reason,
                       const dial_error *error) override;

private:
  struct upstream_entry {
    std::string connection_id;
    std::shared_ptr<upstream_connection> connection;
    std::string connect_request_id;    // echoed on the connected / error status
    std::string disconnect_request_id; // echoed on the final disconnected status
    bool open = false;
    bool disconnect_requested = false; // while connecting, behind held messages
    bool above_high = false; // its queue is over the high watermark: client reads paused
  };

  void refuse(int status, std::string code, std::string message, request &req);
  void on_accept(boost::beast::error_code ec);
  void arm_keepalive();
  void keep_tick();
  void do_read();
  void on_read(boost::beast::error_code ec);
  void handle_client_frame(std::string_view frame, bool binary);
  // Applies a plugin chain's verdict; true when the host should go on with the message.
  bool carry_on(const chain_outcome &outcome);
  void handle_envelope(std::string_view frame);
  // Answers every message still queued for an upstream that will never open (send_error).
  void answer_held_messages(upstream_connection &u, std::string_view why);
  void do_send_message();
  void do_connect_external();
  void do_disconnect_external();
  void on_upstream_open(const std::string &connection_id, const dial_error *error,
                        const dial_diagnostics &diag);

  upstream_entry *find_upstream(std::string_view connection_id);
  upstream_entry *find_upstream(const upstream_connection &u);
  void erase_upstream(const upstream_connection &u);

  // Client-bound frames.
  outbound_frame &begin_frame() { return out_.emplace(); }
  void commit_frame();
  void send_error(std::string_view message, std::string_view code, std::string_view request_id);
  void send_status(std::string_view status, const status_details &details, std::string_view cid,
                   std::string_view request_id);
  void send_connection_error(const dial_error &e, std::string_view cid,
                             std::string_view request_id);
  void do_write();
  void on_write(boost::beast::error_code ec);

  bool reads_blocked() const;
  void update_flow();
  void close_client(int code, std::string reason);
  void do_close();
  void finish();

  session_services &ctx_;
  // Frames written in one burst leave in one send (coalescing_socket.hpp).
  boost::beast::websocket::stream<coalescing_socket> ws_;
  connection_slot slot_;
  bool proxy_;
  bool client_registered_;
  session_context sctx_;
  bool opened_plugins_ = false;
  boost::beast::flat_buffer read_buf_;
  outbound_queue out_;
  worker_timer stall_timer_;
  worker_timer keepalive_timer_;
  keepalive_state keepalive_;
  std::vector<upstream_entry> upstreams_; // at most max_connections_per_client
  client_command cmd_;                    // reused between frames: no allocation per message
  hook_message msg_;
  bool accepted_ = false, reading_ = false, writing_ = false, closing_ = false,
       close_sent_ = false, finished_ = false, client_paused_ = false;
  int close_code_ = 1000;
  std::string close_reason_;
};

} // namespace apistudio
