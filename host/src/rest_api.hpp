// rest_api.hpp — the JSON endpoints: active-connections, test-connection, plugins, healthz.
#pragma once

#include "http_responses.hpp"
#include "server_context.hpp"
#include "worker_types.hpp"

#include <boost/beast/http.hpp>

#include <functional>

namespace apistudio {

using rest_request = boost::beast::http::request<boost::beast::http::string_body>;
using rest_reply = std::function<void(http_response)>;

http_response active_connections(server_context &ctx, const rest_request &req);
http_response list_plugins(server_context &ctx, const rest_request &req);
http_response health(server_context &ctx, const rest_request &req);
// Opens the upstream, completes the handshake, closes it with 1000 and answers through `reply`
// (on `executor`, the HTTP session's worker). Malformed body: 422; wrong content type: 415.
void test_connection(server_context &ctx, worker_executor executor,
                     const rest_request &req, rest_reply reply);

} // namespace apistudio
