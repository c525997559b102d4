// http_responses.hpp — every HTTP answer of the host has a JSON body (docs/protocol.md):
// errors are {"error": message, "code": CODE, "status": N}.
#pragma once

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <string_view>

namespace apistudio {

using http_response = boost::beast::http::response<boost::beast::http::string_body>;

http_response make_json_response(boost::beast::http::status status, const nlohmann::json &body,
                                 unsigned version);
http_response make_json_error(boost::beast::http::status status, std::string_view code,
                              std::string_view message, unsigned version);

} // namespace apistudio
