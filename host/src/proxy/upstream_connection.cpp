#include "proxy/upstream_connection.hpp"

#include "proxy/coalescing_socket.hpp"
#include "proxy/keepalive.hpp"
#include "proxy/session_services.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <cstdint>
#include <optional>
#include <utility>

namespace apistudio {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

template <class Stream>
class basic_upstream final : public upstream_connection,
                             public std::enable_shared_from_this<basic_upstream<Stream>> {
public:
  basic_upstream(session_services &ctx, std::shared_ptr<const settings_snapshot> settings,
                 worker_executor executor, bool verify)
      : ctx_(ctx), settings_(std::move(settings)),
        dialer_(std::make_shared<basic_upstream_dialer<Stream>>(ctx, executor, verify)),
        keepalive_timer_(executor), stall_timer_(executor), grace_timer_(executor),
        queue_(settings_->config.limits.max_outbound_queue_bytes,
               {&ctx.metrics, high_water::queue_bytes_upstream}) {}

  void open(dial_request request, upstream_owner *owner, open_handler done) override {
    url = request.url;
    owner_ = owner;
    done_ = std::move(done);
    state_ = state::connecting;
    dialer_->dial(std::move(request), [self = this->shared_from_this()](
                                          const dial_error *error, const dial_diagnostics &diag) {
      self->on_dialed(error, diag);
    });
  }

  bool send(std::string &bytes, bool binary) override {
    outbound_frame &f = queue_.emplace();
    f.owned.swap(bytes);
    f.binary = binary;
    queue_.commit();
    flush();
    if (backlogged_ || !queue_.above_high())
      return false;
    backlogged_ = true;
    return true;
  }

  bool backlogged() const override { return backlogged_; }

  void pause_reading() override { paused_ = true; }
  void resume_reading() override {
    paused_ = false;
    do_read();
  }

  void close(int code, std::string reason) override {
    if (state_ == state::connecting) {
      abort_connect();
      return;
    }
    if (state_ != state::open)
      return;
    state_ = state::closing;
    close_code_ = code;
    close_reason_ = std::move(reason);
    // What is queued goes out first; on_write sends the close frame once the queue is empty.
    if (writing_)
      return;
    if (!queue_.empty())
      return do_write();
    do_close();
  }

  void detach(int code) override {
    owner_ = nullptr;
    done_ = nullptr;
    discard_queue();
    if (state_ == state::connecting)
      return abort_connect();
    close(code, code == 1001 ? "client went away" : "");
    // Nobody waits for this connection any more, and no limit counts it: it gets as long for
    // the frame in flight and its close as a close handshake gets, then it is cut off.
    if (ws_ && beast::get_lowest_layer(*ws_).is_open()) {
      grace_timer_.expires_after(upstream_close_timeout);
      // Weak: a connection that went on its own meanwhile is not kept for the timer's sake.
      grace_timer_.async_wait([weak = this->weak_from_this()](beast::error_code ec) {
        auto self = weak.lock();
        if (ec || !self)
          return;
        beast::error_code ignored;
        beast::get_lowest_layer(*self->ws_).close(ignored); // pending operations end as aborted
      });
    }
  }

  bool is_open() const override { return state_ == state::open; }

private:
  enum class state { idle, connecting, open, closing, closed };

  // ---- opening ----

  void on_dialed(const dial_error *error, const dial_diagnostics &diag) {
    if (state_ != state::connecting)
      return;
    if (error == nullptr)
      take_over_stream(diag);
    else
      state_ = state::closed;
    dialer_.reset();
    // After a failure the owner answers the frames still queued (send_error) from inside `done`.
    if (auto done = std::exchange(done_, nullptr))
      done(error, diag);
    if (error != nullptr)
      return queue_.clear();
    flush();
    do_read();
  }

  void take_over_stream(const dial_diagnostics &diag) {
    ws_.emplace(dialer_->take_stream());
    subprotocol = diag.subprotocol;
    ws_->read_message_max(settings_->config.limits.max_message_bytes);
    ws_->auto_fragment(false);
    state_ = state::open;
    arm_keepalive();
  }

  std::uint64_t bytes_taken() override {
    return ws_ ? bytes_acknowledged(beast::get_lowest_layer(*ws_)) : 0;
  }

  void abort_connect() {
    state_ = state::closed;
    if (dialer_)
      dialer_->cancel();
    dialer_.reset();
    done_ = nullptr;
    queue_.clear();
  }

  // ---- open ----

  // Starts writing what is queued, unless a write is in flight (its on_write goes on).
  void flush() {
    if ((state_ == state::open || state_ == state::closing) && !writing_ && !queue_.empty())
      do_write();
  }

  // The keep-alive tick (keepalive.hpp).
  void arm_keepalive() {
    keepalive_timer_.expires_after(settings_->config.keepalive.idle_timeout / 2);
    keepalive_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec)
        self->keep_tick();
    });
  }

  void keep_tick() {
    if (state_ != state::open && state_ != state::closing)
      return;
    const peer_signs peer = look_at_peer(beast::get_lowest_layer(*ws_));
    // Paused, the upstream waits for our client to take what it sent: given the benefit of the
    // doubt, because that wait has its own deadline (the client's write stall timeout closes the
    // whole session), and once it ends, the socket's clock judges the upstream again.
    switch (keepalive_.tick(keepalive_state::clock::now(), peer, paused_)) {
    case keepalive_state::action::none:
      break;
    case keepalive_state::action::ping:
      ws_->async_ping({}, [self = this->shared_from_this()](beast::error_code) {
        self->keepalive_.ping_finished();
      });
      break;
    case keepalive_state::action::dead: {
      // No frame and no pong for an idle timeout, or gone while paused: 1006 either way.
      keepalive_expired_ = !peer.hung_up;
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).close(ignored);
      // A pending read reports it when it fails; a paused one is not there to.
      if (reading_)
        return;
      if (state_ == state::closing)
        return report_closed(close_code_, close_reason_, nullptr);
      return report_closed(1006, peer.hung_up ? "connection lost" : "upstream timed out", nullptr);
    }
    }
    arm_keepalive();
  }

  // Once our close frame is out, async_close reads until the upstream's answer itself. A read
  // started after that (on opening when the session closed meanwhile, on resume_reading(), or
  // on_read going on) can take Beast 1.81's read lock and keep it while it waits for the write
  // lock the close holds, to answer a protocol violation already buffered; the close then waits
  // for the read lock, and both for the 5 s close timeout
  // (PluginPipeline.ClosingTheSessionInUpstreamOpenedLetsTheUpstreamGo).
  void do_read() {
    if (reading_ || paused_ || closing_sent_ || (state_ != state::open && state_ != state::closing))
      return;
    reading_ = true;
    ws_->async_read(read_buf_, [self = this->shared_from_this()](
                                   beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (ec)
      return on_read_error(ec);
    if (owner_ != nullptr && state_ == state::open) {
      const auto data = read_buf_.cdata();
      owner_->upstream_message(
          *this, std::string_view(static_cast<const char *>(data.data()), data.size()),
          !ws_->got_text());
    }
    read_buf_.consume(read_buf_.size());
    if (read_buf_.capacity() > 64 * 1024)
      read_buf_.shrink_to_fit();
    do_read();
  }

  void on_read_error(beast::error_code ec) {
    if (ec == websocket::error::closed) {
      const auto &r = ws_->reason();
      if (state_ == state::closing)
        return report_closed(close_code_, close_reason_, nullptr);
      return report_closed(r.code == websocket::close_code::none ? 1005 : r.code,
                           std::string(r.reason.data(), r.reason.size()), nullptr);
    }
    if (ec == websocket::error::message_too_big) {
      dial_error e{"MESSAGE_TOO_LARGE",
                   "Upstream message exceeds the " +
                       std::to_string(settings_->config.limits.max_message_bytes) + "-byte limit",
                   0};
      return report_closed(1009, "message too big", &e);
    }
    if (state_ == state::closing)
      return report_closed(close_code_, close_reason_, nullptr);
    // The upstream broke RFC 6455 and Beast has already failed it with 1007 (a text frame or close
    // reason that is not UTF-8) or 1002: report that code, not a bare "connection lost".
    if (ec == websocket::error::bad_frame_payload)
      return report_closed(1007, "invalid UTF-8 from upstream", nullptr);
    if (ec == websocket::condition::protocol_violation)
      return report_closed(1002, "protocol error from upstream", nullptr);
    // eof, reset, idle timeout (dead peer), aborted: the connection is gone without a close frame.
    report_closed(1006, keepalive_expired_ ? "upstream timed out" : "connection lost", nullptr);
  }

  void do_write() {
    writing_ = true;
    if (!watching_writes_)
      watch_writes();
    const outbound_frame &f = queue_.front();
    ws_->text(!f.binary);
    ws_->async_write(net::buffer(f.bytes().data(), f.bytes().size()),
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_write(ec);
                     });
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    ++writes_done_;
    if (ec) {
      queue_.clear();
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).close(ignored);
      return report_closed(1006, write_stalled_ ? "upstream stopped reading" : "connection lost",
                           nullptr);
    }
    if (owner_ != nullptr) {
      const outbound_frame &f = queue_.front();
      owner_->upstream_written(*this, f.bytes(), f.binary);
    }
    queue_.pop();
    if (backlogged_ && queue_.below_low()) {
      backlogged_ = false;
      if (owner_ != nullptr)
        owner_->upstream_drained(*this);
    }
    if (state_ == state::closed)
      return;
    if (!queue_.empty())
      return do_write();
    if (state_ == state::closing)
      do_close();
  }

  // limits.write_stall_timeout for the upstream. Beast's write hides whether it waits for the
  // socket (and under TLS one frame is several writes below it), so instead of a deadline per
  // write (a timer per message) a check every half of the timeout looks whether any write
  // completed since the last one: none in two checks in a row, the upstream is not reading and is
  // cut off, between 1 and 1.5 x the timeout after its last completed write. One timer wait per
  // half timeout while writes go on, none while idle.
  void watch_writes() {
    watching_writes_ = true;
    writes_at_check_ = writes_done_;
    stalled_checks_ = 0;
    arm_write_check();
  }

  void arm_write_check() {
    stall_timer_.expires_after(settings_->config.limits.write_stall_timeout / 2);
    stall_timer_.async_wait([weak = this->weak_from_this()](beast::error_code ec) {
      if (auto self = weak.lock(); self && !ec)
        self->check_writes();
    });
  }

  void check_writes() {
    if (!writing_ || !beast::get_lowest_layer(*ws_).is_open()) {
      watching_writes_ = false;
      return;
    }
    if (writes_done_ != writes_at_check_) {
      writes_at_check_ = writes_done_;
      stalled_checks_ = 0;
    } else if (++stalled_checks_ == 2) {
      watching_writes_ = false;
      write_stalled_ = true;
      ctx_.metrics.add(metric::write_stall_closes_upstream);
      // No URL in the log: it may carry credentials (docs/security.md).
      ctx_.log.debug("upstream",
                     "an upstream took nothing for the write stall deadline; closing it");
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).close(ignored); // the write fails and reports 1006
      return;
    }
    arm_write_check();
  }

  // A write in flight still reads the front frame: keep it until on_write.
  void discard_queue() {
    if (writing_)
      queue_.clear_after_front();
    else
      queue_.clear();
  }

  void do_close() {
    if (closing_sent_)
      return;
    closing_sent_ = true;
    // What the upstream sends after our close frame is read only to find its answer: a bounded
    // amount (coalescing_socket::closing_read_bytes), not until the close timeout.
    socket_layer_of(*ws_).limit_reads(coalescing_socket::closing_read_bytes);
    websocket::close_reason reason(static_cast<std::uint16_t>(close_code_));
    reason.reason = close_reason_;
    ws_->async_close(reason, [self = this->shared_from_this()](beast::error_code) {
      self->report_closed(self->close_code_, self->close_reason_, nullptr);
      beast::error_code ignored;
      beast::get_lowest_layer(*self->ws_).close(ignored);
    });
  }

  void report_closed(int code, std::string_view reason, const dial_error *error) {
    if (reported_closed_)
      return;
    reported_closed_ = true;
    state_ = state::closed;
    keepalive_timer_.cancel();
    discard_queue();
    if (owner_ != nullptr) {
      auto *owner = owner_;
      owner_ = nullptr;
      owner->upstream_closed(*this, code, reason, error);
    }
  }

  session_services &ctx_;
  std::shared_ptr<const settings_snapshot> settings_;     // the owning session's (its limits)
  std::shared_ptr<basic_upstream_dialer<Stream>> dialer_; // while connecting
  std::optional<Stream> ws_;                              // from the dialer, once open
  worker_timer keepalive_timer_;
  worker_timer stall_timer_; // watch_writes()
  worker_timer grace_timer_; // a detached connection's last seconds
  keepalive_state keepalive_;
  outbound_queue queue_;
  beast::flat_buffer read_buf_;
  upstream_owner *owner_ = nullptr;
  open_handler done_;
  state state_ = state::idle;
  bool writing_ = false, reading_ = false, paused_ = false;
  bool backlogged_ = false; // over the high watermark since send(), until back under the low
  bool reported_closed_ = false, closing_sent_ = false;
  bool keepalive_expired_ = false;
  bool watching_writes_ = false, write_stalled_ = false;
  std::uint64_t writes_done_ = 0, writes_at_check_ = 0;
  int stalled_checks_ = 0;
  int close_code_ = 1000;
  std::string close_reason_;
};

} // namespace

std::shared_ptr<upstream_connection>
upstream_connection::create(session_services &ctx,
                            std::shared_ptr<const settings_snapshot> settings,
                            worker_executor executor, bool tls, bool verify_tls) {
  return make_for_scheme<upstream_connection, basic_upstream>(tls, ctx, std::move(settings),
                                                              executor, verify_tls);
}

} // namespace apistudio
