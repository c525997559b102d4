// rest_api.hpp — the JSON endpoints: active-connections, test-connection, plugins, healthz.
#pragma once

#include "base/worker_types.hpp"
#include "protocol/http_responses.hpp"
#include "proxy/session_services.hpp"

#include <boost/beast/http.hpp>

#include <functional>

namespace apistudio {

using rest_request = boost::beast::http::request<boost::beast::http::string_body>;
using rest_reply = std::function<void(http_response)>;

http_response active_connections(session_services &ctx, const rest_request &req);
http_response list_plugins(session_services &ctx, const rest_request &req);
http_response health(session_services &ctx, const rest_request &req);
// Opens the upstream, completes the handshake, closes it with 1000 and answers through `reply`
// (on `executor`, the HTTP session's worker). Malformed body: 422; wrong content type: 415.
void test_connection(session_services &ctx, worker_executor executor, const rest_request &req,
                     rest_reply reply);

} // namespace apistudio
