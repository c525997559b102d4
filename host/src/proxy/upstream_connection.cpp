#include "proxy/upstream_connection.hpp"

#include "proxy/coalescing_socket.hpp"
#include "proxy/keepalive.hpp"
#include "proxy/session_services.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <chrono>
#include <type_traits>

namespace apistudio {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

// A plain socket under the WebSocket (and under TLS): the connect deadline is deadline_, and once
// open the keep-alive and Beast's close timeout are all the timing a stream needs. Frames (TLS
// records) written in one burst leave in one send (coalescing_socket.hpp).
using plain_ws = websocket::stream<coalescing_socket>;
using tls_ws = websocket::stream<beast::ssl_stream<coalescing_socket>>;

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

bool iequals(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

template <class Stream>
class basic_upstream final : public upstream_connection,
                             public std::enable_shared_from_this<basic_upstream<Stream>> {
  static constexpr bool is_tls = std::is_same_v<Stream, tls_ws>;

public:
  basic_upstream(session_services &ctx, worker_executor executor, bool verify)
      : ctx_(ctx), executor_(executor), ws_(make_stream(ctx, executor, verify)), deadline_(executor),
        queue_(ctx.config.limits.max_outbound_queue_bytes), verify_(verify) {}

  void open(dial_request request, upstream_owner *owner, open_handler done) override {
    req_ = std::move(request);
    url = req_.url;
    owner_ = owner;
    done_ = std::move(done);
    state_ = state::connecting;
    started_ = std::chrono::steady_clock::now();
    phase_ = started_;
    deadline_.expires_after(ctx_.config.limits.connect_timeout);
    deadline_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) self->on_deadline();
    });
    ctx_.resolver.async_resolve(req_.target.host, req_.target.port, executor_,
                                [self = this->shared_from_this()](
                                    beast::error_code ec, name_resolver::endpoints eps) {
                                  self->on_resolve(ec, std::move(eps));
                                });
  }

  outbound_queue &queue() override { return queue_; }

  void flush() override {
    if (queue_.above_high()) above_high_ = true;
    if ((state_ == state::open || state_ == state::closing) && !writing_ && !queue_.empty())
      do_write();
  }

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
    if (state_ != state::open) return;
    state_ = state::closing;
    close_code_ = code;
    close_reason_ = std::move(reason);
    // What is queued goes out first; on_write sends the close frame once the queue is empty.
    if (writing_) return;
    if (!queue_.empty()) return do_write();
    do_close();
  }

  void detach(int code) override {
    owner_ = nullptr;
    done_ = nullptr;
    discard_queue();
    if (state_ == state::connecting) abort_connect();
    else close(code, code == 1001 ? "client went away" : "");
  }

  bool is_open() const override { return state_ == state::open; }

private:
  enum class state { idle, connecting, open, closing, closed };

  static Stream make_stream(session_services &ctx, worker_executor executor, bool verify) {
    if constexpr (is_tls)
      return Stream(executor, verify ? ctx.upstream_tls : ctx.upstream_tls_insecure);
    else
      return Stream(executor);
  }

  // ---- opening ----

  void on_deadline() {
    if (state_ != state::connecting) return;
    fail_open({"TIMEOUT", "Connection timeout", 0});
  }

  void on_resolve(beast::error_code ec, name_resolver::endpoints eps) {
    if (state_ != state::connecting) return;
    diag_.dns_ms = ms_since(phase_);
    if (ec || eps.empty())
      return fail_open({"DNS_FAILED",
                        "DNS lookup failed for " + req_.target.host +
                            (ec ? ": " + ec.message() : std::string(": no address")),
                        0});
    for (const auto &ep : eps) {
      const auto d = ctx_.egress.check(req_.target.host, ep.address(), ep.port());
      if (!d.allowed) return fail_open({"DESTINATION_DENIED", "Destination denied: " + d.reason, 0});
    }
    if (ctx_.on_dial)
      for (const auto &ep : eps) ctx_.on_dial(ep);
    phase_ = std::chrono::steady_clock::now();
    // Every address in turn, as the resolver gave them; deadline_ bounds the whole attempt.
    net::async_connect(beast::get_lowest_layer(ws_), eps,
                       [self = this->shared_from_this()](beast::error_code e, const tcp::endpoint &ep) {
                         self->on_connect(e, ep);
                       });
  }

  void on_connect(beast::error_code ec, const tcp::endpoint &ep) {
    if (state_ != state::connecting) return;
    if (ec) {
      if (ec == net::error::connection_refused)
        return fail_open({"CONNECTION_REFUSED", "Connection refused", 0});
      return fail_open({"CONNECTION_FAILED", "Connection failed: " + ec.message(), 0});
    }
    diag_.tcp_ms = ms_since(phase_);
    diag_.remote_address = ep.address().to_string() + ":" + std::to_string(ep.port());
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).set_option(tcp::no_delay(true), ignored);
    phase_ = std::chrono::steady_clock::now();
    if constexpr (is_tls) {
      auto &tls = ws_.next_layer();
      if (!req_.target.host_is_address &&
          !SSL_set_tlsext_host_name(tls.native_handle(), req_.target.host.c_str()))
        return fail_open({"TLS_ERROR", "TLS error: cannot set SNI", 0});
      if (verify_) {
        tls.set_verify_mode(ssl::verify_peer);
        tls.set_verify_callback(ssl::host_name_verification(req_.target.host));
      } else {
        tls.set_verify_mode(ssl::verify_none);
      }
      tls.async_handshake(ssl::stream_base::client,
                          [self = this->shared_from_this()](beast::error_code e) {
                            self->on_tls(e);
                          });
    } else {
      do_ws_handshake();
    }
  }

  void on_tls(beast::error_code ec) {
    if (state_ != state::connecting) return;
    if (ec) {
      std::string why = ec.message();
      if constexpr (is_tls) {
        const long v = SSL_get_verify_result(ws_.next_layer().native_handle());
        if (v != X509_V_OK) why = X509_verify_cert_error_string(v);
      }
      return fail_open({"TLS_ERROR", "TLS handshake failed: " + why, 0});
    }
    diag_.tls_ms = ms_since(phase_);
    phase_ = std::chrono::steady_clock::now();
    do_ws_handshake();
  }

  void do_ws_handshake() {
    ws_.set_option(websocket::stream_base::decorator(
        [this](websocket::request_type &r) {
          r.set(http::field::user_agent, "apistudio-host/" APISTUDIO_HOST_VERSION);
          for (const auto &[name, value] : req_.headers) r.insert(name, value);
          if (!req_.protocols.empty()) {
            std::string joined;
            for (const auto &p : req_.protocols) {
              if (!joined.empty()) joined += ", ";
              joined += p;
            }
            r.set(http::field::sec_websocket_protocol, joined);
          }
        }));
    ws_.async_handshake(response_, req_.target.host_header, req_.target.target,
                        [self = this->shared_from_this()](beast::error_code ec) {
                          self->on_handshake(ec);
                        });
  }

  void on_handshake(beast::error_code ec) {
    if (state_ != state::connecting) return;
    diag_.http_status = response_.result_int();
    for (const auto &f : response_) diag_.response_headers.emplace_back(f.name_string(), f.value());
    if (ec) {
      const int status = diag_.http_status;
      if (status == 401 || status == 403)
        return fail_open({"AUTH_FAILED", "Authentication failed", status});
      if (status != 0 && status != 101)
        return fail_open({"HANDSHAKE_FAILED",
                          "Handshake failed: upstream answered HTTP " + std::to_string(status) +
                              " instead of 101",
                          status});
      return fail_open({"HANDSHAKE_FAILED", "Handshake failed: " + ec.message(), status});
    }
    const auto selected = response_[http::field::sec_websocket_protocol];
    if (!selected.empty()) {
      bool offered = false;
      for (const auto &p : req_.protocols) offered |= iequals(p, selected);
      if (!offered)
        return fail_open({"HANDSHAKE_FAILED",
                          "Handshake failed: upstream selected a subprotocol that was not offered",
                          101});
    }
    subprotocol = std::string(selected);
    diag_.subprotocol = subprotocol;
    diag_.handshake_ms = ms_since(phase_);
    diag_.total_ms = ms_since(started_);
    deadline_.cancel();
    response_ = {};

    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(5); // also bounds the closing handshake
    t.idle_timeout = websocket::stream_base::none(); // keep_tick() instead (keepalive.hpp)
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.control_callback([this](websocket::frame_type, beast::string_view) { keepalive_.heard(); });
    ws_.read_message_max(ctx_.config.limits.max_message_bytes);
    ws_.auto_fragment(false);
    state_ = state::open;
    arm_keepalive();

    if (done_) {
      auto done = std::move(done_);
      done_ = nullptr;
      done(nullptr, diag_);
    }
    // An open upstream may live for hours: keep only what it still needs (the URL).
    diag_ = {};
    req_.headers = {};
    req_.protocols = {};
    flush();
    do_read();
  }

  void fail_open(dial_error error) {
    if (state_ != state::connecting) return;
    state_ = state::closed;
    deadline_.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).close(ignored);
    diag_.total_ms = ms_since(started_);
    // The owner answers the frames still queued (send_error) from inside `done`.
    if (done_) {
      auto done = std::move(done_);
      done_ = nullptr;
      done(&error, diag_);
    }
    queue_.clear();
  }

  void abort_connect() {
    state_ = state::closed;
    deadline_.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).close(ignored);
    done_ = nullptr;
    queue_.clear();
  }

  // ---- open ----

  // deadline_ bounded the connect; from here it ticks the keep-alive (keepalive.hpp).
  void arm_keepalive() {
    deadline_.expires_after(ctx_.config.keepalive.idle_timeout / 2);
    deadline_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) self->keep_tick();
    });
  }

  void keep_tick() {
    if (state_ != state::open && state_ != state::closing) return;
    switch (keepalive_.tick(reading_)) {
    case keepalive_state::action::none:
      break;
    case keepalive_state::action::ping:
      ws_.async_ping({}, [self = this->shared_from_this()](beast::error_code) {
        self->keepalive_.ping_finished();
      });
      break;
    case keepalive_state::action::dead: {
      // No frame and no pong for an idle timeout: the pending read fails and reports 1006.
      keepalive_expired_ = true;
      beast::error_code ignored;
      beast::get_lowest_layer(ws_).close(ignored);
      return;
    }
    }
    arm_keepalive();
  }

  void do_read() {
    if (reading_ || paused_ || (state_ != state::open && state_ != state::closing)) return;
    reading_ = true;
    ws_.async_read(read_buf_, [self = this->shared_from_this()](beast::error_code ec,
                                                                 std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (ec) return on_read_error(ec);
    keepalive_.heard();
    if (owner_ != nullptr && state_ == state::open) {
      const auto data = read_buf_.cdata();
      owner_->upstream_message(
          *this, std::string_view(static_cast<const char *>(data.data()), data.size()),
          !ws_.got_text());
    }
    read_buf_.consume(read_buf_.size());
    if (read_buf_.capacity() > 64 * 1024) read_buf_.shrink_to_fit();
    // Once our close frame is out, async_close reads until the upstream's answer itself. With a
    // read started after that, Beast 1.81 could leave the read and the close each waiting for
    // the other's lock until its 5 s close timeout (ProxyMessages.CommandsTakeEffectInTheOrderSent
    // hung about 1 run in 15 under load; none in 300 since).
    if (closing_sent_) return;
    do_read();
  }

  void on_read_error(beast::error_code ec) {
    if (ec == websocket::error::closed) {
      const auto &r = ws_.reason();
      if (state_ == state::closing) return report_closed(close_code_, close_reason_, nullptr);
      return report_closed(r.code == websocket::close_code::none ? 1005 : r.code,
                           std::string(r.reason.data(), r.reason.size()), nullptr);
    }
    if (ec == websocket::error::message_too_big) {
      dial_error e{"MESSAGE_TOO_LARGE",
                   "Upstream message exceeds the " +
                       std::to_string(ctx_.config.limits.max_message_bytes) + "-byte limit",
                   0};
      return report_closed(1009, "message too big", &e);
    }
    if (state_ == state::closing) return report_closed(close_code_, close_reason_, nullptr);
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
    const outbound_frame &f = queue_.front();
    ws_.text(!f.binary);
    ws_.async_write(net::buffer(f.bytes().data(), f.bytes().size()),
                    [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                      self->on_write(ec);
                    });
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (ec) {
      queue_.clear();
      beast::error_code ignored;
      beast::get_lowest_layer(ws_).close(ignored);
      return report_closed(1006, "connection lost", nullptr);
    }
    if (owner_ != nullptr && queue_.front().ack) owner_->upstream_written(*this, queue_.front());
    queue_.pop();
    if (above_high_ && queue_.below_low()) {
      above_high_ = false;
      if (owner_ != nullptr) owner_->upstream_drained(*this);
    }
    if (state_ == state::closed) return;
    if (!queue_.empty()) return do_write();
    if (state_ == state::closing) do_close();
  }

  // A write in flight still reads the front frame: keep it until on_write.
  void discard_queue() {
    if (writing_) queue_.clear_after_front();
    else queue_.clear();
  }

  void do_close() {
    if (closing_sent_) return;
    closing_sent_ = true;
    websocket::close_reason reason(static_cast<std::uint16_t>(close_code_));
    reason.reason = close_reason_;
    ws_.async_close(reason, [self = this->shared_from_this()](beast::error_code) {
      self->report_closed(self->close_code_, self->close_reason_, nullptr);
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).close(ignored);
    });
  }

  void report_closed(int code, std::string_view reason, const dial_error *error) {
    if (reported_closed_) return;
    reported_closed_ = true;
    state_ = state::closed;
    deadline_.cancel();
    discard_queue();
    if (owner_ != nullptr) {
      auto *owner = owner_;
      owner_ = nullptr;
      owner->upstream_closed(*this, code, reason, error);
    }
  }

  session_services &ctx_;
  worker_executor executor_;
  Stream ws_;
  worker_timer deadline_; // the connect deadline, then the keep-alive tick
  keepalive_state keepalive_;
  outbound_queue queue_;
  bool verify_;
  beast::flat_buffer read_buf_;
  upstream_owner *owner_ = nullptr;
  open_handler done_;
  dial_request req_;
  dial_diagnostics diag_;
  websocket::response_type response_;
  state state_ = state::idle;
  bool writing_ = false, reading_ = false, paused_ = false;
  bool above_high_ = false, reported_closed_ = false, closing_sent_ = false;
  bool keepalive_expired_ = false;
  int close_code_ = 1000;
  std::string close_reason_;
  std::chrono::steady_clock::time_point started_, phase_;
};

} // namespace

std::shared_ptr<upstream_connection> upstream_connection::create(session_services &ctx,
                                                                 worker_executor executor,
                                                                 bool tls, bool verify_tls) {
  if (tls) return std::make_shared<basic_upstream<tls_ws>>(ctx, executor, verify_tls);
  return std::make_shared<basic_upstream<plain_ws>>(ctx, executor, verify_tls);
}

} // namespace apistudio
