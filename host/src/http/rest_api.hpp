// rest_api.hpp — the HTTP endpoints: active-connections, test-connection, plugins, healthz,
// readyz and the metrics.
#pragma once

#include "base/worker_types.hpp"
#include "protocol/http_responses.hpp"
#include "proxy/session_services.hpp"

#include <boost/beast/http.hpp>

#include <functional>
#include <memory>
#include <string>

namespace apistudio {

class upstream_dialer;

using rest_request = boost::beast::http::request<boost::beast::http::string_body>;
using rest_reply = std::function<void(http_response)>;

http_response active_connections(session_services &ctx, const rest_request &req);
http_response list_plugins(session_services &ctx, const rest_request &req);
// Liveness: 200 while the process serves HTTP at all ("stopping" while it drains or closes).
http_response health(session_services &ctx, const rest_request &req);
// The Prometheus text exposition (0.0.4) of ctx.metrics and the process (docs/operations.md).
http_response metrics_page(session_services &ctx, const rest_request &req);

// Readiness: 200 once the plugins are loaded and the host takes sessions; 503 SHUTTING_DOWN from
// the start of a drain; 503 CLUSTER_ENGINE_UNREACHABLE while a configured Redis engine is not
// connected (docs/cluster.md).
http_response readiness(session_services &ctx, const rest_request &req);
// Opens the upstream, completes the handshake, closes it with 1000 and answers through `reply`
// (on `executor`, the HTTP session's worker). Malformed body: 422; wrong content type: 415;
// `remote_address` already has limits.max_connection_tests_per_address tests in flight: 429;
// the dial would pass limits.max_total_connections: 503.
// Returns the dialer while the dial runs (nullptr when `reply` was already called): cancelling
// it abandons the test, closes the upstream socket and drops `reply` uncalled.
std::shared_ptr<upstream_dialer> test_connection(session_services &ctx, worker_executor executor,
                                                 const rest_request &req,
                                                 const std::string &remote_address,
                                                 rest_reply reply);

} // namespace apistudio
