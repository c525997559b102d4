#include "protocol/http_responses.hpp"

namespace apistudio {
namespace http = boost::beast::http;

http_response make_json_response(http::status status, const nlohmann::json &body,
                                 unsigned version) {
  http_response res{status, version};
  res.set(http::field::server, "apistudio-host/" APISTUDIO_HOST_VERSION);
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  // Never throws on bytes that came from the network: invalid UTF-8 becomes U+FFFD.
  res.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.prepare_payload();
  return res;
}

http_response make_json_error(http::status status, std::string_view code, std::string_view message,
                              unsigned version) {
  return make_json_response(
      status, {{"error", message}, {"code", code}, {"status", static_cast<int>(status)}}, version);
}

} // namespace apistudio
