// upstream_set.hpp — the proxy protocol of one client session: the upstreams it opened, the three
// commands that manage them (connect_external, send_message, disconnect_external) and the events
// their upstreams cause (connection_status, message_received, message_sent, send_error).
//
// Only the proxy endpoint (/api/websocket/connect/{client_id}) has one; the /ws session does not.
// The session reads and writes the client socket and applies plugin verdicts; this class turns
// client commands into upstream traffic and upstream traffic into client-bound events, which it
// queues through the session.
//
// Threading: lives on the session's worker, like the session and every upstream: no locks.
// Lifetime: a member of its client_session. The upstreams call it through upstream_owner;
// close_all() detaches them (no callback after it) and the session calls it before it goes.
#pragma once

#include "plugin_host/plugin_runtime.hpp"
#include "protocol/envelope_codec.hpp"
#include "proxy/flow_control.hpp"
#include "proxy/pending_acks.hpp"
#include "proxy/session_services.hpp"
#include "proxy/upstream_connection.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace apistudio {

class client_session;

class upstream_set final : public upstream_owner {
public:
  // `flow`: the session's record of who is paused; this set counts its backlogged upstreams there.
  upstream_set(client_session &session, session_services &ctx, flow_control &flow,
               worker_executor executor);
  upstream_set(const upstream_set &) = delete;
  upstream_set &operator=(const upstream_set &) = delete;

  // One text or binary frame from the client, after the plugins: a command envelope.
  void handle_client_frame(std::string_view frame, bool binary);
  // A plugin refused this frame in on_client_message: the answer the protocol gives a refused
  // command (send_error for a send_message, else error), echoing its request_id and connection_id.
  void answer_refused_frame(std::string_view frame, const hook_refusal &refusal);

  // The client's queue went over its high watermark / back under its low: stop / resume reading
  // the upstreams.
  void pause_reading();
  void resume_reading();

  // The client is going: every upstream is detached (closed with 1001) and its slot released.
  void close_all();

  // The sum of bytes_taken() over the open upstreams: while it changes, a client paused behind
  // them is waiting for something that moves (the session's keep-alive).
  std::uint64_t bytes_taken();

  // upstream_owner
  void upstream_message(upstream_connection &u, std::string_view payload, bool binary) override;
  void upstream_written(upstream_connection &u, std::string_view bytes, bool binary) override;
  void upstream_drained(upstream_connection &u) override;
  void upstream_closed(upstream_connection &u, int code, std::string_view reason,
                       const dial_error *error) override;

private:
  struct upstream_entry {
    std::string connection_id;
    std::shared_ptr<upstream_connection> connection;
    upstream_target target;            // its URL as parsed, for the plugins' url_parts
    pending_acks acks;                 // request_ids of the messages queued to it, in order
    std::string connect_request_id;    // echoed on the connected / error status
    std::string disconnect_request_id; // echoed on the final disconnected status
    bool open = false;
    bool disconnect_requested = false; // while connecting, behind held messages
  };

  void do_send_message();
  // The plugins' on_message_to_upstream for a send_message about to be written. False when the
  // message must not be written (the client was answered, or the session is closing); else
  // `bytes` is what to write.
  bool pass_to_upstream_hooks(std::string *&bytes, std::string_view cid, std::string_view rid);
  void do_connect_external();
  void do_disconnect_external();
  void on_upstream_open(const std::string &connection_id, const dial_error *error,
                        const dial_diagnostics &diag);
  // Answers every message queued for an upstream that will never open (send_error).
  void answer_held_messages(std::string_view connection_id, pending_acks &held,
                            std::string_view why);

  upstream_entry *find(std::string_view connection_id);
  upstream_entry *find(const upstream_connection &u);
  void erase(const upstream_connection &u);

  void send_status(std::string_view status, const status_details &details, std::string_view cid,
                   std::string_view request_id);
  // A line about one upstream: the session's fields, the connection id and host:port (never the
  // URL, which may carry credentials).
  void log_upstream(log_level level, std::string_view message, std::string_view cid,
                    const upstream_target *target);
  void send_connection_error(const dial_error &e, std::string_view cid,
                             std::string_view request_id);

  client_session &session_;
  session_services &ctx_;
  flow_control &flow_;
  worker_executor executor_;
  std::vector<upstream_entry> upstreams_; // at most max_connections_per_client
  client_command cmd_;                    // reused between frames: no allocation per message
  std::string decoded_;                   // a binary message's bytes, reused likewise
  hook_message msg_;                      // for the upstream-message hooks, reused likewise
};

} // namespace apistudio
