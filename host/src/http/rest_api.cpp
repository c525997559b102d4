#include "http/rest_api.hpp"

#include "base/metrics_exposition.hpp"
#include "base/process_stats.hpp"

#include "protocol/upstream_target.hpp"
#include "proxy/upstream_dialer.hpp"

#include <boost/beast/core/string.hpp>

#include <cmath>

namespace apistudio {
namespace http = boost::beast::http;
using nlohmann::json;

http_response active_connections(session_services &ctx, const rest_request &req) {
  const auto s = ctx.clients.list();
  return make_json_response(
      http::status::ok, {{"active_connections", s.active}, {"external_connections", s.external}},
      req.version());
}

http_response list_plugins(session_services &ctx, const rest_request &req) {
  json list = json::array();
  for (const auto &p : ctx.plugins.plugins())
    list.push_back({{"name", p.name},
                    {"version", p.version},
                    {"sdk_version", p.sdk_version},
                    {"file", p.file}});
  return make_json_response(http::status::ok, {{"plugins", list}}, req.version());
}

http_response health(session_services &ctx, const rest_request &req) {
  return make_json_response(
      http::status::ok,
      {{"status", ctx.stopping ? "stopping" : "ok"}, {"version", APISTUDIO_HOST_VERSION}},
      req.version());
}

http_response metrics_page(session_services &ctx, const rest_request &req) {
  http_response res{http::status::ok, req.version()};
  res.set(http::field::content_type, metrics_content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = render_metrics(ctx.metrics.collect(), read_process_stats(), APISTUDIO_HOST_VERSION);
  res.prepare_payload();
  return res;
}

http_response readiness(session_services &ctx, const rest_request &req) {
  // The plugins are loaded before the listener accepts (host_server's constructor), so a host
  // that answers at all has them. A host that started without its cluster engine
  // (cluster.start_without_engine) serves its own clients but shares nothing with the other
  // hosts: out of rotation until the engine is back.
  if (ctx.stopping)
    return make_json_error(http::status::service_unavailable, "SHUTTING_DOWN",
                           "The host is draining and takes no new sessions", req.version());
  if (ctx.cluster != nullptr && !ctx.cluster->connected())
    return make_json_error(http::status::service_unavailable, "CLUSTER_ENGINE_UNREACHABLE",
                           "The cluster engine at " + ctx.cluster->url() +
                               " is not connected; this host runs local-only until it is",
                           req.version());
  return make_json_response(http::status::ok,
                            {{"status", "ready"}, {"plugins", ctx.plugins.plugins().size()}},
                            req.version());
}

namespace {

json diagnostics_json(const dial_diagnostics &d) {
  auto ms = [](double v) -> json {
    return v < 0 ? json(nullptr) : json(std::round(v * 1000) / 1000);
  };
  json headers = json::object();
  for (const auto &[k, v] : d.response_headers)
    headers[k] = v;
  return {{"timings_ms",
           {{"dns", ms(d.dns_ms)},
            {"tcp", ms(d.tcp_ms)},
            {"tls", ms(d.tls_ms)},
            {"handshake", ms(d.handshake_ms)},
            {"total", ms(d.total_ms)}}},
          {"remote_address", d.remote_address.empty() ? json(nullptr) : json(d.remote_address)},
          {"http_status", d.http_status == 0 ? json(nullptr) : json(d.http_status)},
          {"response_headers", headers},
          {"subprotocol", d.subprotocol.empty() ? json(nullptr) : json(d.subprotocol)}};
}

http_response test_error(const rest_request &req, const std::string &url, const std::string &code,
                         const std::string &message, const dial_diagnostics *d) {
  json body = {
      {"status", "error"}, {"message", message}, {"code", code}, {"url", redacted_url(url)}};
  if (d != nullptr)
    body["diagnostics"] = diagnostics_json(*d);
  return make_json_response(http::status::ok, body, req.version());
}

bool is_json_content_type(std::string_view ct) {
  const auto semi = ct.find(';');
  auto media = ct.substr(0, semi);
  while (!media.empty() && media.back() == ' ')
    media.remove_suffix(1);
  return boost::beast::iequals(media, "application/json");
}

} // namespace

std::shared_ptr<upstream_dialer> test_connection(session_services &ctx, worker_executor executor,
                                                 const rest_request &req,
                                                 const std::string &remote_address,
                                                 rest_reply reply) {
  const auto settings = ctx.settings.current(); // a test sees the rules as they are now
  const host_config &config = settings->config;
  // Every refusal answers at once and leaves nothing to cancel.
  auto answer = [&](http_response res) -> std::shared_ptr<upstream_dialer> {
    reply(std::move(res));
    return nullptr;
  };
  // A page can send text/plain cross-site without a preflight; application/json needs one.
  if (!is_json_content_type(req[http::field::content_type]))
    return answer(make_json_error(http::status::unsupported_media_type, "UNSUPPORTED_MEDIA_TYPE",
                                  "Content-Type must be application/json", req.version()));
  json body = json::parse(req.body(), nullptr, false);
  auto unprocessable = [&](const std::string &why) {
    return answer(
        make_json_error(http::status::unprocessable_entity, "INVALID_FORMAT", why, req.version()));
  };
  if (body.is_discarded())
    return unprocessable("Body is not valid JSON");
  if (!body.is_object())
    return unprocessable("Body must be a JSON object");
  if (!body.contains("url") || !body["url"].is_string())
    return unprocessable("Field 'url' (string) is required");

  dial_request d;
  d.url = body["url"].get<std::string>();
  if (body.contains("protocols")) {
    if (!body["protocols"].is_array())
      return unprocessable("Field 'protocols' must be an array of strings");
    for (const auto &p : body["protocols"]) {
      if (!p.is_string())
        return unprocessable("Field 'protocols' must be an array of strings");
      d.protocols.push_back(p.get<std::string>());
    }
  }
  if (body.contains("headers")) {
    if (!body["headers"].is_object())
      return unprocessable("Field 'headers' must be an object of strings");
    for (const auto &[k, v] : body["headers"].items()) {
      if (!v.is_string())
        return unprocessable("Field 'headers' must be an object of strings");
      d.headers.emplace_back(k, v.get<std::string>());
    }
  }
  if (body.contains("tls_verify")) {
    if (!body["tls_verify"].is_boolean())
      return unprocessable("Field 'tls_verify' must be a boolean");
    if (!body["tls_verify"].get<bool>()) {
      if (!config.tls.allow_insecure_opt_out)
        return unprocessable("tls_verify=false is not allowed by this host");
      d.tls_verify = false;
    }
  }
  std::string why;
  if (!parse_upstream_url(d.url, d.target, why))
    return answer(test_error(req, d.url, "INVALID_URL", why, nullptr));
  if (!validate_handshake(d.headers, d.protocols, config.limits, why))
    return answer(test_error(req, d.url, "INVALID_FORMAT", why, nullptr));

  if (!ctx.plugins.empty()) {
    // The handshake a connect_external would send: a connection that works only because a plugin
    // adds its credentials must test green too, and one a plugin refuses must not.
    session_context sctx;
    sctx.id = ctx.next_session_id.fetch_add(1);
    const std::string_view target = req.target();
    sctx.path = std::string(target.substr(0, target.find('?')));
    if (const auto q = target.find('?'); q != std::string_view::npos)
      sctx.query = std::string(target.substr(q + 1));
    sctx.remote_address = remote_address;
    ctx.plugins.open_without_state(sctx);
    upstream_request_data r;
    r.url = d.url;
    r.target = d.target;
    r.headers = std::move(d.headers);
    r.protocols = std::move(d.protocols);
    const chain_outcome o = ctx.plugins.upstream_connect(sctx, r);
    if (o.verdict == APISTUDIO_FAIL)
      return answer(
          test_error(req, d.url, "PLUGIN_FAILED", "Plugin '" + o.plugin + "' failed", nullptr));
    if (o.verdict == APISTUDIO_REFUSE)
      return answer(test_error(req, d.url, r.refusal.code, r.refusal.message, nullptr));
    d.headers = std::move(r.headers);
    d.protocols = std::move(r.protocols);
  }

  // What the dial holds until it is answered or abandoned (the done handler owns it): a place
  // among the requester's concurrent tests, and its socket's place under the total cap. Both
  // guard descriptors: without them a page could keep connect_timeout-long dials open without
  // limit, each a socket no session counts.
  struct held_slots {
    per_address_count::slot per_address;
    connection_slot dial;
  };
  auto held = std::make_shared<held_slots>(held_slots{
      ctx.connection_tests.try_take(remote_address, config.limits.max_connection_tests_per_address),
      connection_slot(ctx.live_client_sockets)});
  if (!held->per_address)
    return answer(
        make_json_error(http::status::too_many_requests, "TOO_MANY_TESTS",
                        "Too many connection tests in flight from this address (at most " +
                            std::to_string(config.limits.max_connection_tests_per_address) +
                            "); wait for one to finish",
                        req.version()));
  if (ctx.live_client_sockets.load() > config.limits.max_total_connections)
    return answer(make_json_error(http::status::service_unavailable, "TOO_MANY_CONNECTIONS",
                                  "The host is at its connection limit; try again later",
                                  req.version()));

  auto dialer = upstream_dialer::create(ctx, executor, d.target.tls, d.tls_verify);
  const std::string url = d.url;
  const unsigned version = req.version();
  dialer->dial(std::move(d), [dialer, url, version, held, reply = std::move(reply)](
                                 const dial_error *e, const dial_diagnostics &diag) {
    rest_request r;
    r.version(version);
    if (e != nullptr)
      return reply(test_error(r, url, e->code, e->message, &diag));
    dialer->close(1000, "connection test complete");
    json out = {{"status", "success"},
                {"message", "WebSocket connection test successful"},
                {"url", redacted_url(url)}};
    out["diagnostics"] = diagnostics_json(diag);
    reply(make_json_response(http::status::ok, out, version));
  });
  return dialer;
}

} // namespace apistudio
