#include "proxy/upstream_dialer.hpp"

#include "proxy/session_services.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <string_view>
#include <utility>

namespace apistudio {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

template <class Stream>
Stream make_stream(session_services &ctx, worker_executor executor, bool verify) {
  if constexpr (basic_upstream_dialer<Stream>::is_tls)
    return Stream(executor, verify ? ctx.upstream_tls : ctx.upstream_tls_insecure);
  else
    return Stream(executor);
}

} // namespace

std::shared_ptr<upstream_dialer> upstream_dialer::create(session_services &ctx,
                                                         worker_executor executor, bool tls,
                                                         bool verify_tls) {
  return make_for_scheme<upstream_dialer, basic_upstream_dialer>(tls, ctx, executor, verify_tls);
}

template <class Stream>
basic_upstream_dialer<Stream>::basic_upstream_dialer(session_services &ctx,
                                                     worker_executor executor, bool verify)
    : ctx_(ctx), executor_(executor), ws_(make_stream<Stream>(ctx, executor, verify)),
      deadline_(executor), verify_(verify) {}

template <class Stream>
void basic_upstream_dialer<Stream>::dial(dial_request request, done_handler done) {
  req_ = std::move(request);
  done_ = std::move(done);
  state_ = state::connecting;
  started_ = std::chrono::steady_clock::now();
  phase_ = started_;
  // The current settings, not the session's: a reload applies to the next dial.
  deadline_.expires_after(ctx_.settings.current()->config.limits.connect_timeout);
  deadline_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
    if (!ec)
      self->on_deadline();
  });
  resolve();
}

template <class Stream> void basic_upstream_dialer<Stream>::resolve() {
  std::string_view host = req_.target.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  beast::error_code not_literal;
  const auto literal = net::ip::make_address(host, not_literal);
  if (!not_literal) {
    // An address needs no lookup, so it never waits behind anyone's names. Posted: `done` never
    // runs inside dial().
    return net::post(
        executor_, [self = this->shared_from_this(),
                    ep = tcp::endpoint(literal, req_.target.port)] { self->on_resolve({}, {ep}); });
  }
  // Weak: the lookup holds this handler and the dialer holds the lookup; the deadline's handler
  // keeps the dialer alive meanwhile.
  lookup_ = ctx_.resolver.async_resolve(
      std::string(host), req_.target.port, req_.client, executor_,
      [weak = this->weak_from_this()](beast::error_code ec, name_resolver::endpoints eps) {
        if (auto self = weak.lock())
          self->on_resolve(ec, std::move(eps));
      });
}

template <class Stream> void basic_upstream_dialer<Stream>::cancel() {
  done_ = nullptr;
  if (state_ != state::connecting)
    return;
  state_ = state::closed;
  deadline_.cancel();
  lookup_.reset();
  close_socket();
}

template <class Stream> void basic_upstream_dialer<Stream>::close(int code, std::string reason) {
  if (state_ != state::ready)
    return;
  state_ = state::closed;
  websocket::close_reason r(static_cast<std::uint16_t>(code));
  r.reason = std::move(reason);
  ws_.async_close(r,
                  [self = this->shared_from_this()](beast::error_code) { self->close_socket(); });
}

template <class Stream> void basic_upstream_dialer<Stream>::close_socket() {
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).close(ignored);
}

template <class Stream> void basic_upstream_dialer<Stream>::on_deadline() {
  if (state_ != state::connecting)
    return;
  // fail() drops a lookup still under way (or still waiting for its turn): its sockets close and
  // its slot goes to the next lookup.
  fail({"TIMEOUT", "Connection timeout", 0});
}

template <class Stream>
void basic_upstream_dialer<Stream>::on_resolve(beast::error_code ec, name_resolver::endpoints eps) {
  if (state_ != state::connecting)
    return;
  lookup_.reset();
  diag_.dns_ms = ms_since(phase_);
  // The name server's own retries gave up first: the same TIMEOUT as the deadline's.
  if (ec == net::error::timed_out)
    return fail({"TIMEOUT", "Connection timeout: no DNS answer for " + req_.target.host, 0});
  if (ec || eps.empty())
    return fail({"DNS_FAILED",
                 "DNS lookup failed for " + req_.target.host +
                     (ec ? ": " + ec.message() : std::string(": no address")),
                 0});
  // The egress rules as they are now (a reload tightens them for every dial after it).
  const auto settings = ctx_.settings.current();
  for (const auto &ep : eps) {
    const auto d = settings->egress.check(req_.target.host, ep.address(), ep.port());
    if (!d.allowed) {
      ctx_.metrics.add(metric::egress_denials);
      return fail({"DESTINATION_DENIED", "Destination denied: " + d.reason, 0});
    }
  }
  if (ctx_.on_dial)
    for (const auto &ep : eps)
      ctx_.on_dial(ep);
  phase_ = std::chrono::steady_clock::now();
  // Every address in turn, as the resolver gave them; deadline_ bounds the whole attempt.
  net::async_connect(
      beast::get_lowest_layer(ws_), eps,
      [self = this->shared_from_this()](beast::error_code e, const tcp::endpoint &ep) {
        self->on_connect(e, ep);
      });
}

template <class Stream>
void basic_upstream_dialer<Stream>::on_connect(beast::error_code ec, const tcp::endpoint &ep) {
  if (state_ != state::connecting)
    return;
  if (ec) {
    if (ec == net::error::connection_refused)
      return fail({"CONNECTION_REFUSED", "Connection refused", 0});
    return fail({"CONNECTION_FAILED", "Connection failed: " + ec.message(), 0});
  }
  diag_.tcp_ms = ms_since(phase_);
  diag_.remote_address = ep.address().to_string() + ":" + std::to_string(ep.port());
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).set_option(tcp::no_delay(true), ignored);
  phase_ = std::chrono::steady_clock::now();
  if constexpr (is_tls) {
    auto &tls = tls_layer_of(ws_);
    if (!req_.target.host_is_address &&
        !SSL_set_tlsext_host_name(tls.native_handle(), req_.target.host.c_str()))
      return fail({"TLS_ERROR", "TLS error: cannot set SNI", 0});
    if (verify_) {
      tls.set_verify_mode(ssl::verify_peer);
      tls.set_verify_callback(ssl::host_name_verification(req_.target.host));
    } else {
      tls.set_verify_mode(ssl::verify_none);
    }
    tls.async_handshake(ssl::stream_base::client, [self = this->shared_from_this()](
                                                      beast::error_code e) { self->on_tls(e); });
  } else {
    do_ws_handshake();
  }
}

template <class Stream> void basic_upstream_dialer<Stream>::on_tls(beast::error_code ec) {
  if (state_ != state::connecting)
    return;
  if (ec) {
    std::string why = ec.message();
    if constexpr (is_tls) {
      const long v = SSL_get_verify_result(tls_layer_of(ws_).native_handle());
      if (v != X509_V_OK)
        why = X509_verify_cert_error_string(v);
    }
    return fail({"TLS_ERROR", "TLS handshake failed: " + why, 0});
  }
  diag_.tls_ms = ms_since(phase_);
  phase_ = std::chrono::steady_clock::now();
  do_ws_handshake();
}

template <class Stream> void basic_upstream_dialer<Stream>::do_ws_handshake() {
  ws_.set_option(websocket::stream_base::decorator([this](websocket::request_type &r) {
    r.set(http::field::user_agent, "apistudio-host/" APISTUDIO_HOST_VERSION);
    for (const auto &[name, value] : req_.headers)
      r.insert(name, value);
    if (!req_.protocols.empty()) {
      std::string joined;
      for (const auto &p : req_.protocols) {
        if (!joined.empty())
          joined += ", ";
        joined += p;
      }
      r.set(http::field::sec_websocket_protocol, joined);
    }
  }));
  socket_layer().limit_reads(handshake_response_limit);
  // Under TLS the socket reads records, not frames: there the guard is a layer of the stream,
  // above TLS, from its construction (close_guarded_stream.hpp).
  if constexpr (!is_tls)
    socket_layer().guard_close_codes(true);
  ws_.async_handshake(
      response_, req_.target.host_header, req_.target.target,
      [self = this->shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
}

template <class Stream> void basic_upstream_dialer<Stream>::on_handshake(beast::error_code ec) {
  if (state_ != state::connecting)
    return;
  socket_layer().unlimit_reads();
  diag_.http_status = response_.result_int();
  for (const auto &f : response_)
    diag_.response_headers.emplace_back(f.name_string(), f.value());
  if (ec == boost::asio::error::message_size)
    return fail({"HANDSHAKE_FAILED",
                 "Handshake failed: the upstream's answer to the upgrade is over " +
                     std::to_string(handshake_response_limit / 1024) + " KiB",
                 0});
  if (ec) {
    const int status = diag_.http_status;
    if (status == 401 || status == 403)
      return fail({"AUTH_FAILED", "Authentication failed", status});
    if (status != 0 && status != 101)
      return fail(
          {"HANDSHAKE_FAILED",
           "Handshake failed: upstream answered HTTP " + std::to_string(status) + " instead of 101",
           status});
    return fail({"HANDSHAKE_FAILED", "Handshake failed: " + ec.message(), status});
  }
  const auto selected = response_[http::field::sec_websocket_protocol];
  if (!selected.empty()) {
    bool offered = false;
    for (const auto &p : req_.protocols)
      offered |= beast::iequals(p, selected);
    if (!offered)
      return fail({"HANDSHAKE_FAILED",
                   "Handshake failed: upstream selected a subprotocol that was not offered", 101});
  }
  diag_.subprotocol = std::string(selected);
  diag_.handshake_ms = ms_since(phase_);
  diag_.total_ms = ms_since(started_);
  deadline_.cancel();
  response_ = {};
  // The decorator reads req_, which does not travel with the stream.
  ws_.set_option(websocket::stream_base::decorator([](websocket::request_type &) {}));

  websocket::stream_base::timeout t{};
  t.handshake_timeout = upstream_close_timeout;    // also bounds the closing handshake
  t.idle_timeout = websocket::stream_base::none(); // the relay's keep-alive tick instead
  t.keep_alive_pings = false;
  ws_.set_option(t);
  state_ = state::ready;
  if (auto done = std::exchange(done_, nullptr))
    done(nullptr, diag_);
}

template <class Stream> void basic_upstream_dialer<Stream>::fail(dial_error error) {
  if (state_ != state::connecting)
    return;
  state_ = state::closed;
  deadline_.cancel();
  lookup_.reset();
  close_socket();
  diag_.total_ms = ms_since(started_);
  if (auto done = std::exchange(done_, nullptr))
    done(&error, diag_);
}

template class basic_upstream_dialer<plain_upstream_stream>;
template class basic_upstream_dialer<tls_upstream_stream>;

} // namespace apistudio
