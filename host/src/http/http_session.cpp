#include "http/http_session.hpp"

#include "http/rest_api.hpp"
#include "policy/admission.hpp"
#include "protocol/http_responses.hpp"
#include "proxy/client_session.hpp"
#include "proxy/upstream_dialer.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <cerrno>

#include <sys/socket.h>

namespace apistudio {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {
constexpr std::string_view proxy_prefix = "/api/websocket/connect/";
}

http_session::http_session(session_services &ctx, worker_socket &&socket, connection_slot slot,
                           endpoint_set endpoints)
    : ctx_(ctx), endpoints_(endpoints), stream_(std::move(socket)), slot_(std::move(slot)) {
  beast::error_code ec;
  const auto ep = stream_.socket().remote_endpoint(ec);
  if (!ec)
    remote_address_ = ep.address().to_string();
  stream_.socket().set_option(net::ip::tcp::no_delay(true), ec);
}

void http_session::run() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
}

void http_session::do_read() {
  settings_ = ctx_.settings.current();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(settings_->config.limits.max_http_header_bytes));
  parser_->body_limit(settings_->config.limits.max_http_body_bytes);
  // Slow clients that never finish their request (slowloris) are cut off here.
  stream_.expires_after(settings_->config.limits.http_header_timeout);
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void http_session::on_read(beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
      ec == net::error::operation_aborted || ec == net::error::connection_reset) {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    return;
  }
  request_keep_alive_ = false;
  if (ec == http::error::header_limit)
    return send(make_json_error(http::status::request_header_fields_too_large, "HEADERS_TOO_LARGE",
                                "Request headers exceed the limit", 11));
  if (ec == http::error::body_limit)
    return send(make_json_error(http::status::payload_too_large, "BODY_TOO_LARGE",
                                "Request body exceeds the limit", 11));
  if (ec)
    return send(make_json_error(http::status::bad_request, "BAD_REQUEST",
                                "Malformed HTTP request: " + ec.message(), 11));
  handle(parser_->release());
}

void http_session::handle(request req) {
  // Admission with the rules as they are now: the connection may have waited for this request
  // across a reload.
  settings_ = ctx_.settings.current();
  const auto v = req.version();
  request_keep_alive_ = req.keep_alive();
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const std::string_view query = target.find('?') == std::string_view::npos
                                     ? std::string_view{}
                                     : target.substr(target.find('?') + 1);

  if (endpoints_ == endpoint_set::admin)
    return handle_admin(req, path);

  const admission_result admitted = settings_->admission.check(admission_request::from(req, query));
  if (admitted.status != 0)
    return refuse(admitted, "http", v);

  // Probes and the scrape are answered while draining too: that is when a load balancer needs
  // /readyz most, and the last scrape shows how the drain went.
  const bool metrics_page_on = path == "/metrics" && settings_->config.metrics.enabled;
  if (path == "/healthz" || path == "/readyz" || metrics_page_on) {
    if (req.method() != http::verb::get) {
      auto res =
          make_json_error(http::status::method_not_allowed, "METHOD_NOT_ALLOWED", "Use GET", v);
      res.set(http::field::allow, "GET");
      return send(std::move(res));
    }
    if (metrics_page_on)
      return send(metrics_page(ctx_, req));
    return send(path == "/healthz" ? health(ctx_, req) : readiness(ctx_, req));
  }

  if (ctx_.stopping)
    return send(make_json_error(http::status::service_unavailable, "SHUTTING_DOWN",
                                "The host is shutting down", v));

  const bool is_proxy = path.substr(0, proxy_prefix.size()) == proxy_prefix;
  if (is_proxy || path == "/ws") {
    std::string client_id;
    if (is_proxy) {
      client_id = std::string(path.substr(proxy_prefix.size()));
      if (!is_valid_client_id(client_id))
        return send(make_json_error(http::status::bad_request, "INVALID_CLIENT_ID",
                                    "client_id must be 1-128 characters of [A-Za-z0-9._~-]", v));
    }
    if (req.method() != http::verb::get)
      return send(make_json_error(http::status::method_not_allowed, "METHOD_NOT_ALLOWED",
                                  "Use GET with a WebSocket upgrade", v));
    if (!websocket::is_upgrade(req)) {
      auto res = make_json_error(http::status::upgrade_required, "UPGRADE_REQUIRED",
                                 "This endpoint speaks WebSocket only", v);
      res.set(http::field::upgrade, "websocket");
      res.set(http::field::connection, "Upgrade");
      res.set(http::field::sec_websocket_version, "13");
      return send(std::move(res));
    }
    if (req[http::field::sec_websocket_version] != "13") {
      auto res = make_json_error(http::status::upgrade_required, "UNSUPPORTED_VERSION",
                                 "Unsupported WebSocket version; this host speaks version 13", v);
      res.set(http::field::sec_websocket_version, "13");
      return send(std::move(res));
    }
    if (ctx_.live_client_sockets.load() > settings_->config.limits.max_total_connections)
      return send(make_json_error(http::status::service_unavailable, "TOO_MANY_CONNECTIONS",
                                  "The host is at its connection limit; try again later", v));
    return upgrade(std::move(req), is_proxy, std::move(client_id));
  }

  auto only = [&](http::verb verb) {
    if (req.method() == verb)
      return true;
    auto res = make_json_error(http::status::method_not_allowed, "METHOD_NOT_ALLOWED",
                               std::string("Use ") + std::string(http::to_string(verb)), v);
    res.set(http::field::allow, http::to_string(verb));
    send(std::move(res));
    return false;
  };
  if (path == "/api/websocket/active-connections") {
    if (only(http::verb::get))
      send(active_connections(ctx_, req));
    return;
  }
  if (path == "/api/plugins") {
    if (only(http::verb::get))
      send(list_plugins(ctx_, req));
    return;
  }
  if (path == "/api/websocket/test-connection") {
    if (!only(http::verb::post))
      return;
    return start_test(req);
  }
  send(make_json_error(http::status::not_found, "NOT_FOUND", "No such endpoint", v));
}

void http_session::upgrade(request req, bool proxy, std::string client_id) {
  bool registered = false;
  if (proxy) {
    if (!ctx_.clients.try_register(client_id))
      return send(make_json_error(http::status::conflict, "CLIENT_ID_IN_USE",
                                  "client_id '" + client_id + "' already has a live connection",
                                  req.version()));
    registered = true;
    if (ctx_.cluster != nullptr) {
      // Another host may hold it (docs/cluster.md): ask Redis without blocking this worker; the
      // answer comes back here. Not connected or no answer: the local check above is all.
      auto held = std::make_shared<request>(std::move(req));
      cluster::acquire_client_lease(
          *ctx_.cluster, client_id, stream_.get_executor(),
          [self = shared_from_this(), held, client_id](
              cluster::lease_outcome outcome, std::shared_ptr<cluster::client_lease> lease) {
            if (outcome == cluster::lease_outcome::held_elsewhere) {
              self->ctx_.clients.release(client_id);
              return self->send(make_json_error(
                  http::status::conflict, "CLIENT_ID_IN_USE",
                  "client_id '" + client_id + "' already has a live connection", held->version()));
            }
            self->open_session(std::move(*held), true, client_id, true, std::move(lease));
          });
      return;
    }
  }
  open_session(std::move(req), proxy, std::move(client_id), registered, nullptr);
}

void http_session::open_session(request req, bool proxy, std::string client_id, bool registered,
                                std::shared_ptr<cluster::client_lease> lease) {
  // From here the WebSocket's own timeouts and the keep-alive govern the socket: Beast's
  // per-operation deadlines of http_stream would only cost time on every message.
  auto session = std::make_shared<client_session>(ctx_, settings_, stream_.release_socket(),
                                                  std::move(slot_), proxy, std::move(client_id),
                                                  registered, std::move(remote_address_));
  if (lease)
    session->hold_lease(std::move(lease));
  // Bytes already read past the request belong to the WebSocket; a client must wait for 101
  // before sending frames (RFC 6455 4.1), so there are none to carry over.
  session->start(std::move(req));
}

void http_session::refuse(const admission_result &admitted, const char *component,
                          unsigned version) {
  ctx_.metrics.add(keyed::admission_refusals, admitted.code);
  // Nothing the peer chose goes into the message (the query may carry the token being refused,
  // and a varying path would make every line look new): repeats from a misconfigured page or a
  // scanner are then counted, not written (log.repeat_window).
  log_context fields;
  fields.remote_address = remote_address_;
  ctx_.log.warn(component,
                "refused a request with " + std::to_string(admitted.status) + " " + admitted.code,
                fields);
  send(make_json_error(static_cast<http::status>(admitted.status), admitted.code, admitted.message,
                       version));
}

void http_session::handle_admin(const request &req, std::string_view path) {
  const auto v = req.version();
  const admission_result admitted =
      settings_->admission.check_admin(admission_request::from(req, {}));
  if (admitted.status != 0)
    return refuse(admitted, "admin", v);
  const bool reload = path == "/api/admin/reload";
  const bool metrics_page_on = path == "/metrics" && settings_->config.metrics.enabled;
  if (!reload && !metrics_page_on && path != "/healthz" && path != "/readyz")
    return send(make_json_error(http::status::not_found, "NOT_FOUND",
                                "No such admin endpoint (/metrics, /healthz, /readyz, "
                                "POST /api/admin/reload)",
                                v));
  const http::verb allowed = reload ? http::verb::post : http::verb::get;
  if (req.method() != allowed) {
    auto res = make_json_error(http::status::method_not_allowed, "METHOD_NOT_ALLOWED",
                               std::string("Use ") + std::string(http::to_string(allowed)), v);
    res.set(http::field::allow, http::to_string(allowed));
    return send(std::move(res));
  }
  if (reload)
    return reload_configuration(req);
  if (metrics_page_on)
    return send(metrics_page(ctx_, req));
  send(path == "/healthz" ? health(ctx_, req) : readiness(ctx_, req));
}

// Runs on this worker: reading and checking the file takes milliseconds, like a SIGHUP's reload.
void http_session::reload_configuration(const request &req) {
  const auto v = req.version();
  if (!ctx_.reload_configuration)
    return send(make_json_error(http::status::service_unavailable, "RELOAD_UNAVAILABLE",
                                "This host cannot reload", v));
  ctx_.log.info("admin", "POST /api/admin/reload; reloading the configuration");
  const reload_outcome outcome = ctx_.reload_configuration();
  if (!outcome.applied)
    return send(make_json_error(
        http::status::unprocessable_entity, "CONFIG_INVALID",
        "Configuration not reloaded, the running one stays in force: " + outcome.error, v));
  send(make_json_response(http::status::ok,
                          {{"status", "reloaded"},
                           {"generation", outcome.generation},
                           {"restart_needed", outcome.restart_needed}},
                          v));
}

void http_session::start_test(const request &req) {
  stream_.expires_never(); // the connect timeout bounds the wait instead
  testing_ = true;
  auto dialer = test_connection(ctx_, stream_.get_executor(), req, remote_address_,
                                [self = shared_from_this()](http_response res) {
                                  net::dispatch(self->stream_.get_executor(),
                                                [self, res = std::move(res)]() mutable {
                                                  self->test_answered(std::move(res));
                                                });
                                });
  // A refusal may have been answered already, from inside the call.
  if (!testing_ || !dialer)
    return;
  test_ = std::move(dialer);
  watch_requester();
}

void http_session::test_answered(response res) {
  if (!testing_)
    return;
  testing_ = false;
  test_.reset();
  beast::error_code ignored;
  stream_.socket().cancel(ignored); // ends the watch
  send(std::move(res));
}

void http_session::watch_requester() {
  stream_.socket().async_wait(
      net::socket_base::wait_read,
      [self = shared_from_this()](beast::error_code ec) { self->on_requester_readable(ec); });
}

void http_session::on_requester_readable(beast::error_code ec) {
  if (!testing_ || ec == net::error::operation_aborted)
    return;
  if (!ec) {
    // Readable is EOF, a reset, or bytes of a pipelined request. Only a peek tells them apart;
    // the bytes stay for the next request, and the answer to this one still goes first.
    char byte = 0;
    const auto n =
        ::recv(stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0)
      return; // a client that pipelines and then hangs up is noticed only by the dial's end
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return watch_requester();
  }
  // Nobody waits for the answer (like nginx's "client prematurely closed connection", a
  // half-close counts too): the dial is abandoned, and with it its upstream socket, its place
  // under the caps and this session.
  testing_ = false;
  if (auto dialer = std::exchange(test_, nullptr))
    dialer->cancel();
  beast::error_code ignored;
  stream_.socket().close(ignored);
}

void http_session::send(response res) {
  const bool keep_alive = request_keep_alive_ && res.result() != http::status::bad_request &&
                          res.result_int() != 431 && res.result_int() != 413;
  res.keep_alive(keep_alive);
  pending_ = std::make_shared<response>(std::move(res));
  stream_.expires_after(settings_->config.limits.http_header_timeout);
  http::async_write(stream_, *pending_,
                    [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                      self->on_write(keep_alive, ec);
                    });
}

void http_session::on_write(bool keep_alive, beast::error_code ec) {
  pending_.reset();
  if (ec || !keep_alive) {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    return;
  }
  do_read();
}

} // namespace apistudio
