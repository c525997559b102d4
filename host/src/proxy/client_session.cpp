#include "proxy/client_session.hpp"

#include "protocol/http_responses.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

namespace apistudio {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

client_session::client_session(session_services &ctx, worker_socket &&socket,
                               connection_slot slot, bool proxy_protocol, std::string client_id,
                               bool client_registered, std::string remote_address)
    : ctx_(ctx), ws_(std::move(socket)), slot_(std::move(slot)), proxy_(proxy_protocol),
      client_registered_(client_registered), out_(ctx.config.limits.max_outbound_queue_bytes),
      stall_timer_(ws_.get_executor()), keepalive_timer_(ws_.get_executor()) {
  sctx_.id = ctx.next_session_id.fetch_add(1);
  sctx_.client_id = std::move(client_id);
  sctx_.remote_address = std::move(remote_address);
}

client_session::~client_session() { finish(); }

net::any_io_executor client_session::executor() { return ws_.get_executor(); }

void client_session::start(request req) {
  const auto target = req.target();
  const auto q = target.find('?');
  sctx_.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) sctx_.query = std::string(target.substr(q + 1));
  ctx_.directory.add(sctx_.id, weak_from_this());

  std::vector<request_header> headers;
  headers.reserve(16);
  for (const auto &f : req) headers.push_back({std::string(f.name_string()), std::string(f.value())});
  opened_plugins_ = true;
  const open_outcome outcome = ctx_.plugins.session_open(sctx_, headers);
  if (outcome.failed)
    return refuse(500, "PLUGIN_FAILED", "Plugin '" + outcome.plugin + "' failed", req);
  if (outcome.http_status != 0)
    return refuse(outcome.http_status, outcome.http_status == 401 ? "UNAUTHORIZED" : "REJECTED",
                  outcome.message.empty() ? "Refused by plugin '" + outcome.plugin + "'"
                                          : outcome.message,
                  req);

  websocket::stream_base::timeout t{};
  t.handshake_timeout = ctx_.config.limits.http_header_timeout; // also bounds the closing handshake
  t.idle_timeout = websocket::stream_base::none(); // keep_tick() instead (keepalive.hpp)
  t.keep_alive_pings = false;
  ws_.set_option(t);
  ws_.control_callback([this](websocket::frame_type, beast::string_view) { keepalive_.heard(); });
  // On the proxy socket a message travels inside a JSON envelope, base64 (x4/3) when binary and
  // escaped when text: the frame gets room for a message of the full size (x2 + 4 KiB of fields).
  // The message itself is held to the limit after decoding (send_error MESSAGE_TOO_LARGE).
  const std::size_t max_message = ctx_.config.limits.max_message_bytes;
  ws_.read_message_max(proxy_ ? 2 * max_message + 4096 : max_message);
  ws_.auto_fragment(false);
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type &res) {
    res.set(http::field::server, "apistudio-host/" APISTUDIO_HOST_VERSION);
  }));
  ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
}

void client_session::refuse(int status, std::string code, std::string message, request &req) {
  auto res = std::make_shared<http::response<http::string_body>>(
      make_json_error(static_cast<http::status>(status), code, message, req.version()));
  res->keep_alive(false);
  // Straight to the socket: nothing went through the coalescing layer yet, and the shutdown
  // below must follow the response's bytes.
  http::async_write(beast::get_lowest_layer(ws_), *res,
                    [self = shared_from_this(), res](beast::error_code, std::size_t) {
                      beast::error_code ignored;
                      beast::get_lowest_layer(self->ws_).shutdown(net::ip::tcp::socket::shutdown_send, ignored);
                      self->finish();
                    });
}

void client_session::on_accept(beast::error_code ec) {
  if (ec) {
    ctx_.log.debug("session", "upgrade failed: " + ec.message());
    return finish();
  }
  accepted_ = true;
  if (closing_) return do_close(); // closed (plugin, shutdown) while the upgrade was under way
  if (ctx_.stopping) return close_client(1001, "server shutting down");
  arm_keepalive();
  do_read();
  if (!out_.empty()) do_write(); // frames plugins sent during on_session_open
}

// ---- keep-alive ----

void client_session::arm_keepalive() {
  keepalive_timer_.expires_after(ctx_.config.keepalive.idle_timeout / 2);
  keepalive_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->keep_tick();
  });
}

void client_session::keep_tick() {
  if (finished_ || close_sent_) return; // Beast's close timeout bounds a closing handshake
  switch (keepalive_.tick(reading_)) {
  case keepalive_state::action::none:
    break;
  case keepalive_state::action::ping:
    ws_.async_ping({}, [self = shared_from_this()](beast::error_code) {
      self->keepalive_.ping_finished();
    });
    break;
  case keepalive_state::action::dead: {
    ctx_.log.debug("session", "client " + std::to_string(sctx_.id) +
                                  ": no frame or pong within the idle timeout; dropping it");
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).close(ignored); // the pending read fails and finish() runs
    return;
  }
  }
  arm_keepalive();
}

// ---- reading from the client ----

bool client_session::reads_blocked() const {
  if (client_paused_) return true;
  for (const auto &u : upstreams_)
    if (u.above_high) return true;
  return false;
}

void client_session::do_read() {
  if (reading_ || closing_ || finished_ || reads_blocked()) return;
  reading_ = true;
  ws_.async_read(read_buf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->on_read(ec);
  });
}

void client_session::on_read(beast::error_code ec) {
  reading_ = false;
  keepalive_.heard();
  if (ec) {
    // closed: the client said goodbye; others (reset, eof, timeout of a dead peer, 1009 / 1007
    // protocol failures Beast already answered with a close frame) end the session too.
    if (ec != websocket::error::closed && ec != net::error::operation_aborted)
      ctx_.log.debug("session", "client " + std::to_string(sctx_.id) + " read: " + ec.message());
    return finish();
  }
  const auto data = read_buf_.cdata();
  handle_client_frame(std::string_view(static_cast<const char *>(data.data()), data.size()),
                      !ws_.got_text());
  read_buf_.consume(read_buf_.size());
  if (read_buf_.capacity() > 64 * 1024) read_buf_.shrink_to_fit();
  do_read();
}

void client_session::handle_client_frame(std::string_view frame, bool binary) {
  std::string_view payload = frame;
  if (!ctx_.plugins.empty()) {
    msg_ = hook_message{};
    msg_.payload = frame;
    msg_.binary = binary;
    if (!carry_on(ctx_.plugins.client_message(sctx_, msg_))) return;
    payload = msg_.payload;
  }
  if (!proxy_) return send_error("No plugin handles messages on this endpoint", "NOT_SUPPORTED", {});
  if (binary)
    return send_error("Invalid message format: binary frames are not accepted; send JSON text",
                      "INVALID_FORMAT", {});
  handle_envelope(payload);
}

bool client_session::carry_on(const chain_outcome &outcome) {
  switch (outcome.verdict) {
  case APISTUDIO_CONTINUE:
  case APISTUDIO_REPLACE:
    return true;
  case APISTUDIO_DROP:
    return false;
  case APISTUDIO_REPLY: {
    outbound_frame &f = begin_frame();
    f.owned = std::move(msg_.reply);
    f.binary = msg_.reply_binary;
    commit_frame();
    return false;
  }
  case APISTUDIO_CLOSE:
    close_client(msg_.close_code, std::move(msg_.close_reason));
    return false;
  case APISTUDIO_FAIL:
  default:
    close_client(1011, "plugin error");
    return false;
  }
}

void client_session::answer_held_messages(upstream_connection &u, std::string_view why) {
  auto &q = u.queue();
  while (!q.empty()) {
    if (q.front().ack) {
      outbound_frame &f = begin_frame();
      encode_send_error(f.owned, why, "NOT_CONNECTED", {u.connection_id, q.front().request_id},
                        ctx_.clock.unix_ms());
      commit_frame();
    }
    q.pop();
  }
}

void client_session::handle_envelope(std::string_view frame) {
  if (!parse_client_command(frame, cmd_))
    return send_error(cmd_.error, "INVALID_FORMAT", cmd_.request_id.value_or(std::string()));
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

void client_session::do_send_message() {
  const std::string_view cid = cmd_.connection_id ? std::string_view(*cmd_.connection_id) : "";
  const std::string_view rid = cmd_.request_id ? std::string_view(*cmd_.request_id) : "";
  upstream_entry *u = find_upstream(cid);
  // An upstream that was open and no longer is, is closing (disconnect_external came first).
  const bool closing = u != nullptr && (u->disconnect_requested ||
                                        (u->open && !u->connection->is_open()));
  if (u == nullptr || closing) {
    outbound_frame &f = begin_frame();
    encode_send_error(f.owned,
                      closing ? "Not connected: the connection is closing"
                              : "Not connected: send connect_external first",
                      "NOT_CONNECTED", {cid, rid}, ctx_.clock.unix_ms());
    return commit_frame();
  }
  outbound_frame &f = u->connection->queue().emplace();
  if (cmd_.binary) {
    if (!decode_base64(cmd_.content, f.owned)) {
      f.owned.clear();
      outbound_frame &e = begin_frame();
      encode_send_error(e.owned, "Invalid message format: binary content must be base64",
                        "INVALID_FORMAT", {cid, rid}, ctx_.clock.unix_ms());
      return commit_frame();
    }
  } else {
    f.owned.swap(cmd_.content); // the frame takes the bytes; cmd_ keeps the old buffer for reuse
  }
  if (f.owned.size() > ctx_.config.limits.max_message_bytes) {
    f.owned.clear();
    outbound_frame &e = begin_frame();
    encode_send_error(e.owned,
                      "Message exceeds the " +
                          std::to_string(ctx_.config.limits.max_message_bytes) + "-byte limit",
                      "MESSAGE_TOO_LARGE", {cid, rid}, ctx_.clock.unix_ms());
    return commit_frame();
  }
  f.binary = cmd_.binary;
  f.ack = true;
  if (!rid.empty()) f.request_id.assign(rid);
  u->connection->queue().commit();
  u->connection->flush();
  if (u->connection->queue().above_high()) u->above_high = true;
}

void client_session::do_connect_external() {
  const std::string cid = cmd_.connection_id.value_or(std::string());
  const std::string rid = cmd_.request_id.value_or(std::string());
  if (find_upstream(cid) != nullptr) {
    outbound_frame &f = begin_frame();
    encode_error(f.owned,
                 cid.empty() ? "Already connected; send disconnect_external first"
                             : "Connection '" + cid + "' already exists; disconnect it first",
                 "ALREADY_CONNECTED", {cid, rid}, ctx_.clock.unix_ms());
    return commit_frame();
  }

  dial_request d;
  d.url = cmd_.url;
  std::string why;
  if (!parse_upstream_url(cmd_.url, d.target, why)) {
    send_connection_error({"INVALID_URL", why, 0}, cid, rid);
    return send_status("error", {}, cid, rid);
  }
  d.headers = std::move(cmd_.headers);
  d.protocols = std::move(cmd_.protocols);
  if (!validate_handshake(d.headers, d.protocols, ctx_.config.limits, why))
    return send_error(why, "INVALID_FORMAT", rid);
  if (cmd_.tls_verify == false) {
    if (!ctx_.config.tls.allow_insecure_opt_out)
      return send_error("Invalid message format: tls_verify=false is not allowed by this host",
                        "INVALID_FORMAT", rid);
    d.tls_verify = false;
  }

  if (!ctx_.clients.try_reserve_upstream(sctx_.client_id,
                                         ctx_.config.limits.max_connections_per_client)) {
    send_connection_error({"CONNECTION_LIMIT",
                           "Maximum " +
                               std::to_string(ctx_.config.limits.max_connections_per_client) +
                               " concurrent external connections per client",
                           0},
                          cid, rid);
    return send_status("error", {}, cid, rid);
  }

  if (!ctx_.plugins.empty()) {
    upstream_request_data r;
    r.url = d.url;
    r.connection_id = cid;
    r.headers = std::move(d.headers);
    r.protocols = std::move(d.protocols);
    const chain_outcome o = ctx_.plugins.upstream_connect(sctx_, r);
    if (o.verdict == APISTUDIO_FAIL) {
      ctx_.clients.release_upstream(sctx_.client_id, false);
      return close_client(1011, "plugin error");
    }
    if (r.denied || o.verdict != APISTUDIO_CONTINUE) {
      ctx_.clients.release_upstream(sctx_.client_id, false);
      send_connection_error({r.deny_code, r.deny_message.empty() ? "Connection denied by plugin '" + o.plugin + "'" : r.deny_message, 0},
                            cid, rid);
      return send_status("error", {}, cid, rid);
    }
    d.headers = std::move(r.headers);
    d.protocols = std::move(r.protocols);
  }

  // Echoed without credentials: events may end up in logs and screenshots (docs/security.md).
  send_status("connecting", {redacted_url(d.url), {}, 0, {}}, cid, rid);
  auto conn = upstream_connection::create(ctx_, ws_.get_executor(), d.target.tls, d.tls_verify);
  conn->connection_id = cid;
  upstreams_.push_back({cid, conn, rid, {}, false, false});
  conn->open(std::move(d), this,
             [weak = weak_from_this(), cid](const dial_error *e, const dial_diagnostics &diag) {
               if (auto self = weak.lock()) self->on_upstream_open(cid, e, diag);
             });
}

void client_session::on_upstream_open(const std::string &cid, const dial_error *error,
                                      const dial_diagnostics &) {
  upstream_entry *u = find_upstream(cid);
  if (u == nullptr) return;
  const std::string rid = u->connect_request_id;
  if (error != nullptr) {
    ctx_.clients.release_upstream(sctx_.client_id, false);
    const auto conn = u->connection;
    const bool answer_disconnect = u->disconnect_requested;
    const std::string disconnect_rid = u->disconnect_request_id;
    erase_upstream(*conn);
    // The connect came first, so its answer does too. Then each message sent while it was
    // connecting gets an answer, in order: never silently lost.
    send_connection_error(*error, cid, rid);
    send_status("error", {}, cid, rid);
    answer_held_messages(*conn, "Not connected: the connection failed (" + error->code + ")");
    if (answer_disconnect) send_status("disconnected", {}, cid, disconnect_rid);
    update_flow();
    return;
  }
  u->open = true;
  ctx_.clients.mark_upstream_open(sctx_.client_id);
  send_status("connected", {redacted_url(u->connection->url), u->connection->subprotocol, 0, {}},
              cid, rid);
  if (!ctx_.plugins.empty())
    ctx_.plugins.upstream_opened(sctx_, cid, u->connection->url, u->connection->subprotocol);
  // A disconnect_external that came while connecting: the held messages are written, then 1000.
  if (u->disconnect_requested) u->connection->close(1000, "");
}

void client_session::do_disconnect_external() {
  const std::string cid = cmd_.connection_id.value_or(std::string());
  const std::string rid = cmd_.request_id.value_or(std::string());
  upstream_entry *u = find_upstream(cid);
  if (u == nullptr) return send_status("disconnected", {}, cid, rid); // idempotent
  if (!u->open && !u->connection->queue().empty()) {
    // Commands take effect in order: the messages sent before this disconnect go out first, so
    // the close waits for the connect (bounded by the connect timeout) and what it releases.
    u->disconnect_requested = true;
    u->disconnect_request_id = rid;
    return;
  }
  if (!u->open) {
    // Still connecting with nothing held: abandon it at once.
    auto conn = u->connection;
    answer_held_messages(*conn, "Not connected: disconnected before the connection was established");
    conn->detach(1000);
    erase_upstream(*conn);
    ctx_.clients.release_upstream(sctx_.client_id, false);
    update_flow();
    return send_status("disconnected", {}, cid, rid);
  }
  u->disconnect_request_id = rid;
  u->connection->close(1000, "");
}

// ---- upstream events (on this worker) ----

void client_session::upstream_message(upstream_connection &u, std::string_view payload,
                                      bool binary) {
  if (closing_) return;
  if (!ctx_.plugins.empty()) {
    msg_ = hook_message{};
    msg_.payload = payload;
    msg_.binary = binary;
    msg_.connection_id = u.connection_id;
    if (!carry_on(ctx_.plugins.upstream_message(sctx_, msg_))) return;
    payload = msg_.payload;
  }
  outbound_frame &f = begin_frame();
  encode_message_received(f.owned, payload, binary, {u.connection_id, {}}, ctx_.clock.unix_ms());
  commit_frame();
}

void client_session::upstream_written(upstream_connection &u, const outbound_frame &frame) {
  outbound_frame &f = begin_frame();
  if (frame.binary) {
    std::string b64; // rare path: binary acks re-encode what was sent
    append_base64(b64, frame.bytes());
    encode_message_sent(f.owned, b64, true, {u.connection_id, frame.request_id},
                        ctx_.clock.unix_ms());
  } else {
    encode_message_sent(f.owned, frame.bytes(), false, {u.connection_id, frame.request_id},
                        ctx_.clock.unix_ms());
  }
  commit_frame();
}

void client_session::upstream_drained(upstream_connection &u) {
  if (upstream_entry *e = find_upstream(u)) e->above_high = false;
  update_flow();
}

void client_session::upstream_closed(upstream_connection &u, int code, std::string_view reason,
                                     const dial_error *error) {
  upstream_entry *e = find_upstream(u);
  if (e == nullptr) return;
  const std::string cid = e->connection_id;
  const std::string rid = e->disconnect_request_id;
  const std::string url = u.url;
  ctx_.clients.release_upstream(sctx_.client_id, true);
  if (!ctx_.plugins.empty()) ctx_.plugins.upstream_closed(sctx_, cid, url, code, reason);
  if (error != nullptr) send_connection_error(*error, cid, {});
  send_status("disconnected", {{}, {}, code, reason}, cid, rid);
  erase_upstream(u);
  update_flow();
}

client_session::upstream_entry *client_session::find_upstream(std::string_view cid) {
  for (auto &u : upstreams_)
    if (u.connection_id == cid) return &u;
  return nullptr;
}

client_session::upstream_entry *client_session::find_upstream(const upstream_connection &c) {
  for (auto &u : upstreams_)
    if (u.connection.get() == &c) return &u;
  return nullptr;
}

void client_session::erase_upstream(const upstream_connection &c) {
  for (auto it = upstreams_.begin(); it != upstreams_.end(); ++it)
    if (it->connection.get() == &c) {
      upstreams_.erase(it);
      return;
    }
}

// ---- writing to the client ----

void client_session::commit_frame() {
  out_.commit();
  if (accepted_ && !writing_ && !close_sent_) do_write();
  if (out_.above_high() && !client_paused_) {
    client_paused_ = true;
    for (auto &u : upstreams_) u.connection->pause_reading();
    // A client that never reads would hold this memory for ever: give it a deadline.
    stall_timer_.expires_after(ctx_.config.limits.write_stall_timeout);
    stall_timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || !self->client_paused_) return;
      self->ctx_.log.warn("session", "client " + std::to_string(self->sctx_.id) +
                                         " stopped reading; closing (write stall timeout)");
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).close(ignored);
    });
  }
}

void client_session::send_error(std::string_view message, std::string_view code,
                                std::string_view request_id) {
  outbound_frame &f = begin_frame();
  encode_error(f.owned, message, code, {{}, request_id}, ctx_.clock.unix_ms());
  commit_frame();
}

void client_session::send_status(std::string_view status, const status_details &details,
                                 std::string_view cid, std::string_view request_id) {
  outbound_frame &f = begin_frame();
  encode_connection_status(f.owned, status, details, {cid, request_id}, ctx_.clock.unix_ms());
  commit_frame();
}

void client_session::send_connection_error(const dial_error &e, std::string_view cid,
                                           std::string_view request_id) {
  outbound_frame &f = begin_frame();
  encode_connection_error(f.owned, e.message, e.code, e.http_status, {cid, request_id},
                          ctx_.clock.unix_ms());
  commit_frame();
}

// Frames go to the socket's coalescing layer as they are queued, without a Beast write each
// (Beast's write path was a third of a round trip's instructions, docs/performance.md): the
// layer sends them together at the end of this turn. The queue holds frames only while the
// layer has no room, i.e. while the client does not read; that is what its watermarks see.
// Called from inside event handling (commit_frame), so it starts nothing else: on_write does.
void client_session::do_write() {
  if (!ws_.is_open()) return; // Beast sent or answered a close frame: nothing may follow it
  coalescing_socket &socket = ws_.next_layer();
  while (!out_.empty() && socket.has_room()) {
    const outbound_frame &f = out_.front();
    if (const auto ec = socket.write_server_message(f.binary, f.bytes())) {
      ctx_.log.debug("session", "client " + std::to_string(sctx_.id) + " write: " + ec.message());
      out_.clear();
      break; // the pending read fails as well and finish() runs
    }
    out_.pop();
  }
  if (out_.empty()) return;
  writing_ = true;
  socket.async_wait_room([self = shared_from_this()](beast::error_code ec) { self->on_write(ec); });
}

void client_session::on_write(beast::error_code ec) {
  writing_ = false;
  if (ec) {
    out_.clear();
    return finish();
  }
  do_write();
  if (writing_) return;
  update_flow();
  if (closing_) do_close();
}

void client_session::update_flow() {
  if (client_paused_ && out_.below_low()) {
    client_paused_ = false;
    stall_timer_.cancel();
    for (auto &u : upstreams_) u.connection->resume_reading();
  }
  if (!finished_ && !closing_) do_read();
}

// ---- closing ----

void client_session::close_client(int code, std::string reason) {
  if (closing_ || finished_) return;
  closing_ = true;
  close_code_ = code;
  close_reason_ = std::move(reason);
  for (auto &u : upstreams_) u.connection->detach(1001);
  for (auto &u : upstreams_) ctx_.clients.release_upstream(sctx_.client_id, u.open);
  upstreams_.clear();
  if (!accepted_) return;
  if (!writing_) do_close();
}

void client_session::do_close() {
  if (close_sent_ || finished_) return;
  close_sent_ = true;
  websocket::close_reason r(static_cast<std::uint16_t>(close_code_));
  r.reason = close_reason_;
  ws_.async_close(r, [self = shared_from_this()](beast::error_code) { self->finish(); });
}

void client_session::finish() {
  if (finished_) return;
  finished_ = true;
  closing_ = true;
  stall_timer_.cancel();
  keepalive_timer_.cancel();
  for (auto &u : upstreams_) {
    u.connection->detach(1001);
    ctx_.clients.release_upstream(sctx_.client_id, u.open);
  }
  upstreams_.clear();
  // Out of the directory first: from here on no timer, bus delivery or send can find it.
  ctx_.directory.remove(sctx_.id);
  if (opened_plugins_) ctx_.plugins.session_close(sctx_);
  opened_plugins_ = false;
  if (client_registered_) ctx_.clients.release(sctx_.client_id);
  client_registered_ = false;
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).close(ignored);
}

// ---- from other threads ----

void client_session::post_send(std::shared_ptr<const std::string> payload, bool binary) {
  // dispatch: a plugin sending to its own session from inside a hook queues the frame at once,
  // ahead of whatever that hook decides (e.g. the rate limiter's error before its close).
  net::dispatch(ws_.get_executor(), [self = shared_from_this(), payload = std::move(payload), binary] {
    if (self->closing_ || self->finished_) return;
    outbound_frame &f = self->begin_frame();
    f.shared = payload;
    f.binary = binary;
    self->commit_frame();
  });
}

void client_session::post_close(int code, std::string reason) {
  net::dispatch(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
    self->close_client(code, std::move(reason));
  });
}

void client_session::post_bus(std::shared_ptr<const bus_delivery> d) {
  // post, not dispatch: a plugin publishing from inside a hook must not re-enter its own
  // on_bus_message before that hook has returned.
  net::post(ws_.get_executor(), [self = shared_from_this(), d = std::move(d)] {
    if (self->closing_ || self->finished_) return;
    self->ctx_.plugins.deliver_bus(self->sctx_, d->topic, d->payload);
  });
}

} // namespace apistudio
