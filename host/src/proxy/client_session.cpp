#include "proxy/client_session.hpp"

#include "protocol/envelope_codec.hpp"
#include "protocol/http_responses.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

namespace apistudio {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

client_session::client_session(session_services &ctx,
                               std::shared_ptr<const settings_snapshot> settings,
                               worker_socket &&socket, connection_slot slot, bool proxy_protocol,
                               std::string client_id, bool client_registered,
                               std::string remote_address)
    : ctx_(ctx), settings_(std::move(settings)), ws_(std::move(socket)), slot_(std::move(slot)),
      client_registered_(client_registered), out_(settings_->config.limits.max_outbound_queue_bytes,
                                                  {&ctx.metrics, high_water::queue_bytes_client}),
      stall_timer_(ws_.get_executor()), keepalive_timer_(ws_.get_executor()) {
  if (proxy_protocol)
    upstreams_.emplace(*this, ctx, flow_, ws_.get_executor());
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
  if (q != std::string_view::npos)
    sctx_.query = std::string(target.substr(q + 1));
  ctx_.directory.add(sctx_.id, weak_from_this());

  std::vector<request_header> headers;
  headers.reserve(16);
  for (const auto &f : req)
    headers.push_back({std::string(f.name_string()), std::string(f.value())});
  opened_plugins_ = true;
  const open_outcome outcome = ctx_.plugins.session_open(sctx_, headers);
  if (outcome.failed)
    return refuse(500, "PLUGIN_FAILED", "Plugin '" + outcome.plugin + "' failed", req);
  if (outcome.http_status != 0)
    return refuse(outcome.http_status,
                  !outcome.code.empty()        ? outcome.code
                  : outcome.http_status == 401 ? "UNAUTHORIZED"
                                               : "REJECTED",
                  outcome.message.empty() ? "Refused by plugin '" + outcome.plugin + "'"
                                          : outcome.message,
                  req);

  websocket::stream_base::timeout t{};
  t.handshake_timeout =
      settings_->config.limits.http_header_timeout; // also bounds the closing handshake
  t.idle_timeout = websocket::stream_base::none();  // keep_tick() instead (keepalive.hpp)
  t.keep_alive_pings = false;
  ws_.set_option(t);
  // On the proxy socket a message travels inside a JSON envelope, base64 (x4/3) when binary and
  // escaped when text: the frame gets room for a message of the full size (x2 + 4 KiB of fields).
  // The message itself is held to the limit after decoding (send_error MESSAGE_TOO_LARGE).
  const std::size_t max_message = settings_->config.limits.max_message_bytes;
  ws_.read_message_max(upstreams_ ? 2 * max_message + 4096 : max_message);
  ws_.auto_fragment(false);
  // The request was read by the HTTP session: the first byte this socket reads is a frame's.
  ws_.next_layer().guard_close_codes(false);
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
                      beast::get_lowest_layer(self->ws_).shutdown(
                          net::ip::tcp::socket::shutdown_send, ignored);
                      self->finish();
                    });
}

void client_session::on_accept(beast::error_code ec) {
  if (ec) {
    ctx_.log.debug("session", "upgrade failed: " + ec.message(), log_fields());
    return finish();
  }
  accepted_ = true;
  ctx_.metrics.add(upstreams_ ? metric::sessions_opened_proxy : metric::sessions_opened_ws);
  ctx_.metrics.add(upstreams_ ? metric::sessions_open_proxy : metric::sessions_open_ws);
  ctx_.log.debug("session", "opened " + sctx_.path, log_fields());
  if (closing_)
    return do_close(); // closed (plugin, shutdown) while the upgrade was under way
  if (ctx_.stopping)
    return close_client(1001, "server shutting down");
  arm_keepalive();
  do_read();
  if (!out_.empty())
    do_write(); // frames plugins sent during on_session_open
}

// ---- keep-alive ----

void client_session::arm_keepalive() {
  keepalive_timer_.expires_after(settings_->config.keepalive.idle_timeout / 2);
  keepalive_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec)
      self->keep_tick();
  });
}

void client_session::keep_tick() {
  if (finished_ || close_sent_)
    return; // Beast's close timeout bounds a closing handshake
  const peer_signs peer = look_at_peer(beast::get_lowest_layer(ws_));
  // Paused, a live client may be unable to send (its window full of what we have not read): it
  // is not judged while what the pause waits for moves -- its upstreams take bytes, or it takes
  // ours. (Upstream write completions would not do: the kernel wakes a writer only once a third
  // of its send buffer is free, seconds apart behind a slow reader.)
  const std::uint64_t progress = client_writes_done_ + (upstreams_ ? upstreams_->bytes_taken() : 0);
  const bool waited_on_moved = !reading_ && progress != progress_at_tick_;
  progress_at_tick_ = progress;
  switch (keepalive_.tick(keepalive_state::clock::now(), peer, waited_on_moved)) {
  case keepalive_state::action::none:
    break;
  case keepalive_state::action::ping:
    ws_.async_ping(
        {}, [self = shared_from_this()](beast::error_code) { self->keepalive_.ping_finished(); });
    break;
  case keepalive_state::action::dead:
    // Info, not debug: a well-behaved client dropped here is a misconfigured idle timeout.
    ctx_.log.info("session",
                  "client " + std::to_string(sctx_.id) +
                      (peer.hung_up
                           ? ": connection closed or reset"
                           : ": nothing from it for " + std::to_string(peer.since_data.count()) +
                                 " ms, a ping unanswered (keepalive.idle_timeout)") +
                      (reading_ ? "" : ", its reads paused") + "; dropping it",
                  log_fields());
    // No read may be pending to fail: finish here (a pending read or write then ends as aborted).
    return finish();
  }
  arm_keepalive();
}

// ---- reading from the client ----

void client_session::do_read() {
  if (reading_ || closing_ || finished_ || flow_.client_reads_paused())
    return;
  reading_ = true;
  ws_.async_read(read_buf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->on_read(ec);
  });
}

void client_session::on_read(beast::error_code ec) {
  reading_ = false;
  if (ec) {
    // closed: the client said goodbye; others (reset, eof, timeout of a dead peer, 1009 / 1007
    // protocol failures Beast already answered with a close frame) end the session too.
    if (ec != websocket::error::closed && ec != net::error::operation_aborted)
      ctx_.log.debug("session", "client " + std::to_string(sctx_.id) + " read: " + ec.message(),
                     log_fields());
    return finish();
  }
  const auto data = read_buf_.cdata();
  ctx_.metrics.add(metric::client_frames_received, 1, metric::client_frame_bytes_received,
                   static_cast<std::int64_t>(data.size()));
  handle_client_frame(std::string_view(static_cast<const char *>(data.data()), data.size()),
                      !ws_.got_text());
  read_buf_.consume(read_buf_.size());
  if (read_buf_.capacity() > 64 * 1024)
    read_buf_.shrink_to_fit();
  do_read();
}

void client_session::handle_client_frame(std::string_view frame, bool binary) {
  std::string_view payload = frame;
  if (!plugin_runtime::empty(sctx_)) {
    msg_ = hook_message{};
    msg_.payload = frame;
    msg_.binary = binary;
    const chain_outcome o = ctx_.plugins.client_message(sctx_, msg_);
    if (o.verdict == APISTUDIO_REFUSE) {
      if (upstreams_)
        return upstreams_->answer_refused_frame(msg_.payload, msg_.refusal);
      return send_error(msg_.refusal.message, msg_.refusal.code, {});
    }
    if (!carry_on(o, msg_))
      return;
    payload = msg_.payload;
  }
  if (!upstreams_)
    return send_error("No plugin handles messages on this endpoint", "NOT_SUPPORTED", {});
  upstreams_->handle_client_frame(payload, binary);
}

bool client_session::carry_on(const chain_outcome &outcome, hook_message &msg) {
  switch (outcome.verdict) {
  case APISTUDIO_CONTINUE:
  case APISTUDIO_REPLACE:
    return true;
  case APISTUDIO_HANDLED:
    return false;
  case APISTUDIO_REPLY: {
    outbound_frame &f = begin_frame();
    f.owned = std::move(msg.reply);
    f.binary = msg.reply_binary;
    commit_frame();
    return false;
  }
  case APISTUDIO_CLOSE:
    close_client(msg.close_code, std::move(msg.close_reason));
    return false;
  case APISTUDIO_FAIL:
  default:
    close_client(1011, "plugin error");
    return false;
  }
}

// ---- writing to the client ----

void client_session::commit_frame() {
  if (slow_consumer_)
    return out_.discard();
  if (!out_.commit_within_limit())
    return drop_slow_consumer();
  if (accepted_ && !writing_ && !close_sent_)
    do_write();
  if (out_.above_high() && !flow_.client_backlogged()) {
    flow_.client_over_high();
    if (upstreams_)
      upstreams_->pause_reading();
  }
}

void client_session::send_error(std::string_view message, std::string_view code,
                                std::string_view request_id) {
  ctx_.metrics.add(keyed::error_events, code);
  outbound_frame &f = begin_frame();
  encode_error(f.owned, message, code, {{}, request_id}, ctx_.clock.unix_ms());
  commit_frame();
}

// Frames go to the socket's coalescing layer as they are queued, without a Beast write each
// (Beast's write path was a third of a round trip's instructions, docs/performance.md): the
// layer sends them together at the end of this turn. The queue holds frames only while the
// layer has no room, i.e. while the client does not read; that is what its watermarks see.
// Called from inside event handling (commit_frame), so it starts nothing else: on_write does.
void client_session::do_write() {
  if (!ws_.is_open())
    return; // Beast sent or answered a close frame: nothing may follow it
  coalescing_socket &socket = ws_.next_layer();
  while (!out_.empty() && socket.has_room()) {
    const outbound_frame &f = out_.front();
    if (const auto ec = socket.write_server_message(f.binary, f.bytes())) {
      ctx_.log.debug("session", "client " + std::to_string(sctx_.id) + " write: " + ec.message(),
                     log_fields());
      // Reads may be paused, so no read is there to fail: the wait below completes at once with
      // this error and on_write ends the session.
      break;
    }
    ctx_.metrics.add(metric::client_frames_sent, 1, metric::client_frame_bytes_sent,
                     static_cast<std::int64_t>(f.bytes().size()));
    out_.pop();
  }
  if (out_.empty())
    return;
  writing_ = true;
  arm_write_stall();
  socket.async_wait_room([self = shared_from_this()](beast::error_code ec) { self->on_write(ec); });
}

// A write waits for the socket only while the client does not take what was sent; each wait
// gets the whole write_stall_timeout, so a slow client that keeps reading is not cut off.
// Armed only when a write has to wait: the common path, where the layer has room, sets no timer.
void client_session::arm_write_stall() {
  stall_timer_.expires_after(settings_->config.limits.write_stall_timeout);
  stall_timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
    auto self = weak.lock();
    // Re-armed by a later wait after this one had expired: that wait has its own deadline.
    if (ec || !self || !self->writing_ ||
        self->stall_timer_.expiry() > worker_timer::clock_type::now())
      return;
    self->ctx_.log.warn("session",
                        "client " + std::to_string(self->sctx_.id) +
                            " stopped reading; closing (write stall timeout)",
                        self->log_fields());
    self->ctx_.metrics.add(metric::write_stall_closes_client);
    beast::error_code ignored;
    beast::get_lowest_layer(self->ws_).close(ignored); // the wait fails; on_write finishes
  });
}

void client_session::on_write(beast::error_code ec) {
  writing_ = false;
  if (ec) {
    out_.clear();
    return finish();
  }
  ++client_writes_done_;
  do_write();
  if (writing_)
    return;
  stall_timer_.cancel(); // nothing waits for the client any more
  update_flow();
  if (closing_)
    do_close();
}

void client_session::update_flow() {
  if (flow_.client_backlogged() && out_.below_low()) {
    flow_.client_under_low();
    if (upstreams_)
      upstreams_->resume_reading();
  }
  if (!finished_ && !closing_)
    do_read();
}

// ---- closing ----

// Past the limit the queue would only grow: whoever produces for this client (the bus, its
// upstreams, plugins) does not wait for it. Its memory goes at once; what is left is the frame the
// socket layer is sending and the close frame behind it, and Beast's closing-handshake deadline
// (limits.http_header_timeout) ends a client that does not even read that.
void client_session::drop_slow_consumer() {
  const std::size_t queued = out_.bytes();
  out_.clear();
  out_.shrink();
  slow_consumer_ = true;
  const std::uint64_t total = ctx_.slow_consumer_closes.fetch_add(1) + 1;
  ctx_.metrics.add(metric::slow_consumer_closes);
  ctx_.log.warn("session",
                "client " + std::to_string(sctx_.id) +
                    " is a slow consumer: " + std::to_string(queued) +
                    " bytes queued and more coming, limits.max_outbound_queue is " +
                    std::to_string(out_.limit()) + "; closing it with 1013 (" +
                    std::to_string(total) + " slow consumers closed so far)",
                log_fields());
  // Posted: commit_frame runs inside upstream callbacks and plugin hooks, under the feet of
  // close_client's close_all().
  net::post(ws_.get_executor(), [self = shared_from_this()] {
    self->close_client(1013, "slow consumer: outbound queue over its limit");
    // Not behind a write waiting for room (close_client's way): that waits for a client that
    // reads. The queue is empty, so the close frame goes straight behind what the socket layer
    // holds, under Beast's closing deadline; also when an earlier close was waiting so.
    if (self->accepted_)
      self->do_close();
  });
}

void client_session::close_client(int code, std::string reason) {
  if (closing_ || finished_)
    return;
  closing_ = true;
  close_code_ = code;
  close_reason_ = std::move(reason);
  if (upstreams_)
    upstreams_->close_all();
  if (!accepted_)
    return;
  if (!writing_)
    do_close();
}

void client_session::do_close() {
  if (close_sent_ || finished_)
    return;
  close_sent_ = true;
  // A client may go on sending after our close frame (one closed as a slow consumer keeps
  // pushing): reading and discarding that until the closing deadline would keep a worker busy
  // for as long as the client likes. A bounded amount is read to find its close frame.
  ws_.next_layer().limit_reads(coalescing_socket::closing_read_bytes);
  websocket::close_reason r(static_cast<std::uint16_t>(close_code_));
  r.reason = close_reason_;
  ws_.async_close(r, [self = shared_from_this()](beast::error_code) { self->finish(); });
}

// The code of the closing handshake: ours when the host closed, the client's when it did, 1006
// when the connection ended without one (reset, dead peer, failed write).
void client_session::count_closed() {
  int code = 1006;
  if (close_sent_)
    code = close_code_;
  else if (ws_.reason().code != websocket::close_code::none)
    code = ws_.reason().code;
  ctx_.metrics.add(upstreams_ ? metric::sessions_open_proxy : metric::sessions_open_ws, -1);
  ctx_.metrics.add_code(upstreams_ ? keyed::sessions_closed_proxy : keyed::sessions_closed_ws,
                        code);
}

void client_session::finish() {
  if (finished_)
    return;
  finished_ = true;
  closing_ = true;
  if (accepted_)
    count_closed();
  ctx_.log.debug("session", "closed", log_fields());
  stall_timer_.cancel();
  keepalive_timer_.cancel();
  if (upstreams_)
    upstreams_->close_all();
  // Out of the directory first: from here on no timer, bus delivery or send can find it.
  ctx_.directory.remove(sctx_.id);
  if (opened_plugins_)
    ctx_.plugins.session_close(sctx_);
  opened_plugins_ = false;
  if (client_registered_)
    ctx_.clients.release(sctx_.client_id);
  client_registered_ = false;
  if (lease_)
    std::exchange(lease_, nullptr)->release();
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).close(ignored);
}

// ---- from other threads ----

void client_session::post_send(std::shared_ptr<const void> owner, std::string_view bytes,
                               bool binary) {
  // dispatch: a plugin sending to its own session from inside a hook queues the frame at once,
  // ahead of whatever that hook decides (e.g. the rate limiter's error before its close).
  net::dispatch(ws_.get_executor(),
                [self = shared_from_this(), owner = std::move(owner), bytes, binary]() mutable {
                  if (self->closing_ || self->finished_)
                    return;
                  outbound_frame &f = self->begin_frame();
                  f.share(std::move(owner), bytes);
                  f.binary = binary;
                  self->commit_frame();
                });
}

void client_session::post_close(int code, std::string reason) {
  net::dispatch(ws_.get_executor(),
                [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
                  self->close_client(code, std::move(reason));
                });
}

void client_session::post_bus(std::shared_ptr<const bus_delivery> d) {
  // post, not dispatch: a plugin publishing from inside a hook must not re-enter its own
  // on_bus_message before that hook has returned.
  net::post(ws_.get_executor(), [self = shared_from_this(), d = std::move(d)] {
    if (self->closing_ || self->finished_ || self->slow_consumer_)
      return;
    self->ctx_.plugins.deliver_bus(self->sctx_, d);
  });
}

} // namespace apistudio
