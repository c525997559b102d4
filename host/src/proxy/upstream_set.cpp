#include "proxy/upstream_set.hpp"

#include "proxy/client_session.hpp"

namespace apistudio {

upstream_set::upstream_set(client_session &session, session_services &ctx, flow_control &flow,
                           worker_executor executor)
    : session_(session), ctx_(ctx), flow_(flow), executor_(executor) {}

void upstream_set::handle_client_frame(std::string_view frame, bool binary) {
  if (binary)
    return session_.send_error(
        "Invalid message format: binary frames are not accepted; send JSON text", "INVALID_FORMAT",
        {});
  if (!parse_client_command(frame, cmd_))
    return session_.send_error(cmd_.error, "INVALID_FORMAT",
                               cmd_.request_id.value_or(std::string()));
  switch (cmd_.kind) {
  case command_kind::send_message:
    return do_send_message();
  case command_kind::connect_external:
    return do_connect_external();
  case command_kind::disconnect_external:
    return do_disconnect_external();
  case command_kind::invalid:
    break;
  }
}

// ---- commands ----

void upstream_set::do_send_message() {
  const std::string_view cid = cmd_.connection_id ? std::string_view(*cmd_.connection_id) : "";
  const std::string_view rid = cmd_.request_id ? std::string_view(*cmd_.request_id) : "";
  upstream_entry *u = find(cid);
  // An upstream that was open and no longer is, is closing (disconnect_external came first).
  const bool closing =
      u != nullptr && (u->disconnect_requested || (u->open && !u->connection->is_open()));
  if (u == nullptr || closing) {
    ctx_.metrics.add(keyed::send_error_events, "NOT_CONNECTED");
    outbound_frame &f = session_.begin_frame();
    encode_send_error(f.owned,
                      closing ? "Not connected: the connection is closing"
                              : "Not connected: send connect_external first",
                      "NOT_CONNECTED", {cid, rid}, ctx_.clock.unix_ms());
    return session_.commit_frame();
  }
  std::string *bytes = &cmd_.content;
  if (cmd_.binary) {
    if (!decode_base64(cmd_.content, decoded_)) {
      ctx_.metrics.add(keyed::send_error_events, "INVALID_FORMAT");
      outbound_frame &e = session_.begin_frame();
      encode_send_error(e.owned, "Invalid message format: binary content must be base64",
                        "INVALID_FORMAT", {cid, rid}, ctx_.clock.unix_ms());
      return session_.commit_frame();
    }
    bytes = &decoded_;
  }
  if (bytes->size() > session_.config().limits.max_message_bytes) {
    ctx_.metrics.add(keyed::send_error_events, "MESSAGE_TOO_LARGE");
    outbound_frame &e = session_.begin_frame();
    encode_send_error(e.owned,
                      "Message exceeds the " +
                          std::to_string(session_.config().limits.max_message_bytes) +
                          "-byte limit",
                      "MESSAGE_TOO_LARGE", {cid, rid}, ctx_.clock.unix_ms());
    return session_.commit_frame();
  }
  if (!plugin_runtime::empty(session_.context()) && !pass_to_upstream_hooks(bytes, cid, rid))
    return;
  u->acks.push(rid);
  ctx_.metrics.add(metric::messages_client_to_upstream, 1, metric::message_bytes_client_to_upstream,
                   static_cast<std::int64_t>(bytes->size()));
  // The upstream takes the bytes; `bytes` keeps a spare buffer for the next message.
  if (u->connection->send(*bytes, cmd_.binary))
    flow_.upstream_over_high();
}

bool upstream_set::pass_to_upstream_hooks(std::string *&bytes, std::string_view cid,
                                          std::string_view rid) {
  msg_ = hook_message{};
  msg_.payload = *bytes;
  msg_.binary = cmd_.binary;
  msg_.connection_id = cid;
  msg_.request_id = rid;
  const chain_outcome o = ctx_.plugins.message_to_upstream(session_.context(), msg_);
  if (o.verdict == APISTUDIO_REFUSE) {
    ctx_.metrics.add(keyed::send_error_events, msg_.refusal.code);
    outbound_frame &f = session_.begin_frame();
    encode_send_error(f.owned, msg_.refusal.message, msg_.refusal.code, {cid, rid},
                      ctx_.clock.unix_ms());
    session_.commit_frame();
    return false;
  }
  if (!session_.carry_on(o, msg_))
    return false;
  if (msg_.replaced)
    bytes = &msg_.replacement;
  return true;
}

void upstream_set::answer_refused_frame(std::string_view frame, const hook_refusal &refusal) {
  // Only the refusal path parses the frame a second time; a frame that is not a command at all
  // still gets its answer, without ids.
  client_command cmd;
  parse_client_command(frame, cmd);
  const std::string_view cid = cmd.connection_id ? std::string_view(*cmd.connection_id) : "";
  const std::string_view rid = cmd.request_id ? std::string_view(*cmd.request_id) : "";
  outbound_frame &f = session_.begin_frame();
  if (cmd.kind == command_kind::send_message) {
    ctx_.metrics.add(keyed::send_error_events, refusal.code);
    encode_send_error(f.owned, refusal.message, refusal.code, {cid, rid}, ctx_.clock.unix_ms());
  } else {
    ctx_.metrics.add(keyed::error_events, refusal.code);
    encode_error(f.owned, refusal.message, refusal.code, {cid, rid}, ctx_.clock.unix_ms());
  }
  session_.commit_frame();
}

void upstream_set::do_connect_external() {
  const std::string cid = cmd_.connection_id.value_or(std::string());
  const std::string rid = cmd_.request_id.value_or(std::string());
  if (find(cid) != nullptr) {
    ctx_.metrics.add(keyed::error_events, "ALREADY_CONNECTED");
    outbound_frame &f = session_.begin_frame();
    encode_error(f.owned,
                 cid.empty() ? "Already connected; send disconnect_external first"
                             : "Connection '" + cid + "' already exists; disconnect it first",
                 "ALREADY_CONNECTED", {cid, rid}, ctx_.clock.unix_ms());
    return session_.commit_frame();
  }

  dial_request d;
  d.url = cmd_.url;
  std::string why;
  if (!parse_upstream_url(cmd_.url, d.target, why)) {
    log_upstream(log_level::debug, "connect_external refused: INVALID_URL: " + why, cid, nullptr);
    send_connection_error({"INVALID_URL", why, 0}, cid, rid);
    return send_status("error", {}, cid, rid);
  }
  d.headers = std::move(cmd_.headers);
  d.protocols = std::move(cmd_.protocols);
  if (!validate_handshake(d.headers, d.protocols, session_.config().limits, why))
    return session_.send_error(why, "INVALID_FORMAT", rid);
  if (cmd_.tls_verify == false) {
    if (!session_.config().tls.allow_insecure_opt_out)
      return session_.send_error(
          "Invalid message format: tls_verify=false is not allowed by this host", "INVALID_FORMAT",
          rid);
    d.tls_verify = false;
  }

  session_context &sctx = session_.context();
  if (!ctx_.clients.try_reserve_upstream(sctx.client_id,
                                         session_.config().limits.max_connections_per_client)) {
    send_connection_error({"CONNECTION_LIMIT",
                           "Maximum " +
                               std::to_string(session_.config().limits.max_connections_per_client) +
                               " concurrent external connections per client",
                           0},
                          cid, rid);
    return send_status("error", {}, cid, rid);
  }

  if (!plugin_runtime::empty(session_.context())) {
    upstream_request_data r;
    r.url = d.url;
    r.target = d.target;
    r.connection_id = cid;
    r.headers = std::move(d.headers);
    r.protocols = std::move(d.protocols);
    const chain_outcome o = ctx_.plugins.upstream_connect(sctx, r);
    if (o.verdict == APISTUDIO_FAIL) {
      ctx_.clients.release_upstream(sctx.client_id, false);
      return session_.close_client(1011, "plugin error");
    }
    if (o.verdict == APISTUDIO_REFUSE) {
      ctx_.clients.release_upstream(sctx.client_id, false);
      send_connection_error({std::move(r.refusal.code), std::move(r.refusal.message), 0}, cid, rid);
      return send_status("error", {}, cid, rid);
    }
    d.headers = std::move(r.headers);
    d.protocols = std::move(r.protocols);
  }

  if (ctx_.log.enabled(log_level::debug))
    log_upstream(log_level::debug, "connecting to " + redacted_url(d.url), cid, &d.target);
  // Echoed without credentials: events may end up in logs and screenshots (docs/security.md).
  send_status("connecting", {redacted_url(d.url), {}, 0, {}}, cid, rid);
  ctx_.metrics.add(metric::upstream_connect_attempts);
  d.client = sctx.id;
  auto conn =
      upstream_connection::create(ctx_, session_.settings(), executor_, d.target.tls, d.tls_verify);
  conn->connection_id = cid;
  upstreams_.push_back({cid, conn, d.target, {}, rid, {}, false, false});
  conn->open(std::move(d), this,
             [weak = session_.weak_from_this(), this, cid](const dial_error *e,
                                                           const dial_diagnostics &diag) {
               // `this` lives as long as the session.
               if (auto self = weak.lock())
                 on_upstream_open(cid, e, diag);
             });
}

void upstream_set::on_upstream_open(const std::string &cid, const dial_error *error,
                                    const dial_diagnostics &) {
  upstream_entry *u = find(cid);
  if (u == nullptr)
    return;
  const std::string rid = u->connect_request_id;
  session_context &sctx = session_.context();
  if (error != nullptr) {
    // A warning: the client is told too, but an operator sees a dead or refusing upstream, or
    // an egress rule at work. Repeats are counted, not written (log.repeat_window).
    log_upstream(log_level::warn, "connect failed: " + error->code + ": " + error->message, cid,
                 &u->target);
    ctx_.clients.release_upstream(sctx.client_id, false);
    const bool answer_disconnect = u->disconnect_requested;
    const std::string disconnect_rid = u->disconnect_request_id;
    pending_acks held = std::move(u->acks);
    const auto conn = u->connection; // alive until its own callback returns
    erase(*conn);
    ctx_.metrics.add(keyed::upstream_connect_failures, error->code);
    // The connect came first, so its answer does too. Then each message sent while it was
    // connecting gets an answer, in order: never silently lost.
    send_connection_error(*error, cid, rid);
    send_status("error", {}, cid, rid);
    answer_held_messages(cid, held, "Not connected: the connection failed (" + error->code + ")");
    if (answer_disconnect)
      send_status("disconnected", {}, cid, disconnect_rid);
    session_.update_flow();
    return;
  }
  u->open = true;
  ctx_.metrics.add(metric::upstreams_open);
  log_upstream(log_level::debug, "connected", cid, &u->target);
  ctx_.clients.mark_upstream_open(sctx.client_id);
  send_status("connected", {redacted_url(u->connection->url), u->connection->subprotocol, 0, {}},
              cid, rid);
  if (!plugin_runtime::empty(session_.context())) {
    ctx_.plugins.upstream_opened(sctx, cid, u->connection->url, u->target,
                                 u->connection->subprotocol);
    // A hook may have closed the session, and with it every upstream: `u` may be gone.
    u = find(cid);
    if (u == nullptr)
      return;
  }
  // A disconnect_external that came while connecting: the held messages are written, then 1000.
  if (u->disconnect_requested)
    u->connection->close(1000, "");
}

void upstream_set::do_disconnect_external() {
  const std::string cid = cmd_.connection_id.value_or(std::string());
  const std::string rid = cmd_.request_id.value_or(std::string());
  upstream_entry *u = find(cid);
  if (u == nullptr)
    return send_status("disconnected", {}, cid, rid); // idempotent
  if (!u->open && !u->acks.empty()) {
    // Commands take effect in order: the messages sent before this disconnect go out first, so
    // the close waits for the connect (bounded by the connect timeout) and what it releases.
    u->disconnect_requested = true;
    u->disconnect_request_id = rid;
    return;
  }
  if (!u->open) {
    // Still connecting with nothing held: abandon it at once.
    auto conn = u->connection;
    conn->detach(1000);
    erase(*conn);
    ctx_.clients.release_upstream(session_.context().client_id, false);
    session_.update_flow();
    return send_status("disconnected", {}, cid, rid);
  }
  u->disconnect_request_id = rid;
  u->connection->close(1000, "");
}

void upstream_set::answer_held_messages(std::string_view cid, pending_acks &held,
                                        std::string_view why) {
  for (; !held.empty(); held.pop()) {
    ctx_.metrics.add(keyed::send_error_events, "NOT_CONNECTED");
    outbound_frame &f = session_.begin_frame();
    encode_send_error(f.owned, why, "NOT_CONNECTED", {cid, held.front()}, ctx_.clock.unix_ms());
    session_.commit_frame();
  }
}

// ---- flow control and closing ----

void upstream_set::pause_reading() {
  for (auto &u : upstreams_)
    u.connection->pause_reading();
}

void upstream_set::resume_reading() {
  for (auto &u : upstreams_)
    u.connection->resume_reading();
}

std::uint64_t upstream_set::bytes_taken() {
  std::uint64_t sum = 0;
  for (upstream_entry &e : upstreams_)
    if (e.open)
      sum += e.connection->bytes_taken();
  return sum;
}

void upstream_set::close_all() {
  const std::string &client_id = session_.context().client_id;
  for (auto &u : upstreams_) {
    u.connection->detach(1001);
    ctx_.clients.release_upstream(client_id, u.open);
    if (u.open) {
      ctx_.metrics.add(metric::upstreams_open, -1);
      ctx_.metrics.add_code(keyed::upstream_closes, 1001);
    }
  }
  upstreams_.clear();
  flow_.upstreams_gone();
}

// ---- upstream events (on this worker) ----

void upstream_set::upstream_message(upstream_connection &u, std::string_view payload, bool binary) {
  if (session_.closing())
    return;
  if (!plugin_runtime::empty(session_.context())) {
    msg_ = hook_message{};
    msg_.payload = payload;
    msg_.binary = binary;
    msg_.connection_id = u.connection_id;
    const chain_outcome o = ctx_.plugins.message_from_upstream(session_.context(), msg_);
    if (o.verdict == APISTUDIO_REFUSE) {
      // The client is told that a message was withheld, and why; never what it said.
      ctx_.metrics.add(keyed::error_events, msg_.refusal.code);
      outbound_frame &f = session_.begin_frame();
      encode_error(f.owned, msg_.refusal.message, msg_.refusal.code, {u.connection_id, {}},
                   ctx_.clock.unix_ms());
      return session_.commit_frame();
    }
    if (!session_.carry_on(o, msg_))
      return;
    payload = msg_.payload;
  }
  ctx_.metrics.add(metric::messages_upstream_to_client, 1, metric::message_bytes_upstream_to_client,
                   static_cast<std::int64_t>(payload.size()));
  outbound_frame &f = session_.begin_frame();
  encode_message_received(f.owned, payload, binary, {u.connection_id, {}}, ctx_.clock.unix_ms());
  session_.commit_frame();
}

void upstream_set::upstream_written(upstream_connection &u, std::string_view bytes, bool binary) {
  upstream_entry *e = find(u);
  if (e == nullptr || e->acks.empty())
    return;
  outbound_frame &f = session_.begin_frame();
  if (binary) {
    std::string b64; // rare path: binary acks re-encode what was sent
    append_base64(b64, bytes);
    encode_message_sent(f.owned, b64, true, {u.connection_id, e->acks.front()},
                        ctx_.clock.unix_ms());
  } else {
    encode_message_sent(f.owned, bytes, false, {u.connection_id, e->acks.front()},
                        ctx_.clock.unix_ms());
  }
  e->acks.pop();
  session_.commit_frame();
}

void upstream_set::upstream_drained(upstream_connection &) {
  flow_.upstream_under_low();
  session_.update_flow();
}

void upstream_set::upstream_closed(upstream_connection &u, int code, std::string_view reason,
                                   const dial_error *error) {
  upstream_entry *e = find(u);
  if (e == nullptr)
    return;
  const std::string cid = e->connection_id;
  const std::string rid = e->disconnect_request_id;
  const std::string url = u.url;
  const upstream_target target = e->target;
  session_context &sctx = session_.context();
  if (error != nullptr)
    log_upstream(log_level::warn, "connection lost: " + error->code + ": " + error->message, cid,
                 &target);
  else
    log_upstream(log_level::debug, "closed with " + std::to_string(code), cid, &target);
  ctx_.clients.release_upstream(sctx.client_id, true);
  if (e->open) {
    ctx_.metrics.add(metric::upstreams_open, -1);
    ctx_.metrics.add_code(keyed::upstream_closes, code);
  }
  if (!plugin_runtime::empty(session_.context()))
    ctx_.plugins.upstream_closed(sctx, cid, url, target, code, reason);
  if (error != nullptr)
    send_connection_error(*error, cid, {});
  send_status("disconnected", {{}, {}, code, reason}, cid, rid);
  erase(u);
  session_.update_flow();
}

// ---- the set ----

upstream_set::upstream_entry *upstream_set::find(std::string_view cid) {
  for (auto &u : upstreams_)
    if (u.connection_id == cid)
      return &u;
  return nullptr;
}

upstream_set::upstream_entry *upstream_set::find(const upstream_connection &c) {
  for (auto &u : upstreams_)
    if (u.connection.get() == &c)
      return &u;
  return nullptr;
}

// An upstream that goes while its queue is over the high watermark no longer holds the client.
void upstream_set::erase(const upstream_connection &c) {
  for (auto it = upstreams_.begin(); it != upstreams_.end(); ++it)
    if (it->connection.get() == &c) {
      if (c.backlogged())
        flow_.upstream_under_low();
      upstreams_.erase(it);
      return;
    }
}

// ---- client-bound events ----

void upstream_set::send_status(std::string_view status, const status_details &details,
                               std::string_view cid, std::string_view request_id) {
  outbound_frame &f = session_.begin_frame();
  encode_connection_status(f.owned, status, details, {cid, request_id}, ctx_.clock.unix_ms());
  session_.commit_frame();
}

void upstream_set::log_upstream(log_level level, std::string_view message, std::string_view cid,
                                const upstream_target *target) {
  if (!ctx_.log.enabled(level))
    return;
  log_context fields = session_.log_fields();
  fields.connection_id = cid;
  std::string host;
  if (target != nullptr) {
    host = target->host.find(':') != std::string::npos ? "[" + target->host + "]" : target->host;
    host += ':';
    host += std::to_string(target->port);
    fields.upstream_host = host;
  }
  ctx_.log.log(level, "upstream", message, fields);
}

void upstream_set::send_connection_error(const dial_error &e, std::string_view cid,
                                         std::string_view request_id) {
  ctx_.metrics.add(keyed::connection_error_events, e.code);
  outbound_frame &f = session_.begin_frame();
  encode_connection_error(f.owned, e.message, e.code, e.http_status, {cid, request_id},
                          ctx_.clock.unix_ms());
  session_.commit_frame();
}

} // namespace apistudio
