// client_session.hpp — one client WebSocket: the proxy protocol on
// /api/websocket/connect/{client_id}, or the collaboration channel /ws (handled by plugins).
//
// The session is the socket: upgrade, reads, plugin verdicts, the client-bound queue and its
// writes, flow control, keep-alive and closing. On the proxy endpoint an upstream_set
// (upstream_set.hpp) does the proxy protocol: the commands, the upstreams and their events.
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

#include "base/worker_types.hpp"
#include "cluster/client_lease.hpp"
#include "plugin_host/plugin_runtime.hpp"
#include "proxy/coalescing_socket.hpp"
#include "proxy/connection_slot.hpp"
#include "proxy/flow_control.hpp"
#include "proxy/keepalive.hpp"
#include "proxy/outbound_queue.hpp"
#include "proxy/session_services.hpp"
#include "proxy/upstream_set.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace apistudio {

class client_session final : public session_port,
                             public std::enable_shared_from_this<client_session> {
public:
  using request = boost::beast::http::request<boost::beast::http::string_body>;

  // `client_id` is empty on /ws. `client_registered`: the caller already holds the client_id in
  // the registry (the session releases it). `settings`: the snapshot the upgrade request was
  // admitted with; the session keeps its limits and keepalive for its whole life (a reload
  // applies to new sessions).
  client_session(session_services &ctx, std::shared_ptr<const settings_snapshot> settings,
                 worker_socket &&socket, connection_slot slot, bool proxy_protocol,
                 std::string client_id, bool client_registered, std::string remote_address);
  ~client_session() override;

  // On its worker: plugins' on_session_open, then the upgrade (or the HTTP refusal).
  void start(request req);
  // Before start(): the cluster-wide lease on the client_id (cluster/client_lease.hpp), released
  // when the session finishes, with the local registration.
  void hold_lease(std::shared_ptr<cluster::client_lease> lease) { lease_ = std::move(lease); }

  // session_port
  void post_send(std::shared_ptr<const void> owner, std::string_view bytes, bool binary) override;
  void post_close(int code, std::string reason) override;
  void post_bus(std::shared_ptr<const bus_delivery> delivery) override;
  boost::asio::any_io_executor executor() override;
  session_context &context() override { return sctx_; }

  // ---- for its upstream_set (on this worker) ----
  const host_config &config() const noexcept { return settings_->config; }
  const std::shared_ptr<const settings_snapshot> &settings() const noexcept { return settings_; }
  // Client-bound frames: fill the frame begin_frame() returns, then commit_frame() queues it.
  // A frame that would take the queue past limits.max_outbound_queue is dropped instead, and the
  // client is closed as a slow consumer (1013): callers go on as if it had been queued.
  outbound_frame &begin_frame() { return out_.emplace(); }
  void commit_frame();
  void send_error(std::string_view message, std::string_view code, std::string_view request_id);
  // Applies a plugin chain's verdict on `msg`; true when the host should go on with the message.
  bool carry_on(const chain_outcome &outcome, hook_message &msg);
  void close_client(int code, std::string reason);
  // After the flow state changed: resumes what may be read again.
  void update_flow();
  bool closing() const noexcept { return closing_; }
  // Who this session is, for its log lines (valid while the session lives).
  log_context log_fields() const noexcept {
    log_context c;
    c.session_id = sctx_.id;
    c.client_id = sctx_.client_id;
    c.remote_address = sctx_.remote_address;
    return c;
  }

private:
  void refuse(int status, std::string code, std::string message, request &req);
  void on_accept(boost::beast::error_code ec);
  void arm_keepalive();
  void keep_tick();
  void do_read();
  void on_read(boost::beast::error_code ec);
  void handle_client_frame(std::string_view frame, bool binary);
  void do_write();
  void arm_write_stall();
  void on_write(boost::beast::error_code ec);
  void do_close();
  void drop_slow_consumer();
  void count_closed();
  void finish();

  session_services &ctx_;
  std::shared_ptr<const settings_snapshot> settings_; // before upstreams_, which reads it
  // Frames written in one burst leave in one send (coalescing_socket.hpp).
  boost::beast::websocket::stream<coalescing_socket> ws_;
  connection_slot slot_;
  bool client_registered_;
  std::shared_ptr<cluster::client_lease> lease_;
  session_context sctx_;
  bool opened_plugins_ = false;
  boost::beast::flat_buffer read_buf_;
  outbound_queue out_;
  worker_timer stall_timer_;
  worker_timer keepalive_timer_;
  keepalive_state keepalive_;
  flow_control flow_;
  std::uint64_t client_writes_done_ = 0;  // completed writes to the client: it is taking ours
  std::uint64_t progress_at_tick_ = 0;    // what keep_tick() saw move, at the last tick
  std::optional<upstream_set> upstreams_; // the proxy protocol; none on /ws
  hook_message msg_;                      // reused between frames: no allocation per message
  bool accepted_ = false, reading_ = false, writing_ = false, closing_ = false, close_sent_ = false,
       finished_ = false;
  bool slow_consumer_ = false; // closing because its queue hit the limit: nothing more is queued
  int close_code_ = 1000;
  std::string close_reason_;
};

} // namespace apistudio
