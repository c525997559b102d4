// admission.hpp — who may talk to the host at all, decided on the request line and headers
// before any upgrade, session or upstream exists (docs/security.md).
//
//  - Origin: absent (non-browser clients) is allowed unless configured otherwise; browser origins
//    on localhost / 127.0.0.1 / [::1] (any port, http or https) and the configured list are
//    allowed; everything else, including "null", is 403.
//  - Host (DNS rebinding): when the listener is on loopback only loopback names and addresses are
//    accepted (plus security.allowed_hosts); a missing Host is 400.
//  - Access tokens: when configured, "Authorization: Bearer T" or a `token` query parameter.
#pragma once

#include "policy/host_config.hpp"

#include <boost/beast/http/fields.hpp>

#include <string>
#include <string_view>

namespace apistudio {

struct admission_result {
  int status = 0; // 0: admitted; else the HTTP status to answer
  std::string code;
  std::string message;
};

struct admission_request {
  std::string_view origin; // empty when absent
  bool has_origin = false;
  std::string_view host; // the Host header
  bool has_host = false;
  std::string_view authorization; // the Authorization header
  std::string_view query;         // raw query string

  // What admission reads of a request: views into `headers`, which must outlive the result.
  static admission_request from(const boost::beast::http::fields &headers, std::string_view query);
};

class admission_policy {
public:
  admission_policy(const security_config &security, const listen_config &listen);
  admission_result check(const admission_request &request) const;
  // The admin listener's door: no token (it is bound to loopback, as Envoy's admin), but the
  // Host header must name loopback (DNS rebinding) and a browser page of another origin is
  // refused (a cross-site POST /api/admin/reload).
  admission_result check_admin(const admission_request &request) const;

  static bool is_loopback_origin(std::string_view origin);
  static bool is_loopback_host(std::string_view host_header);

private:
  const security_config &security_;
  bool listener_is_loopback_;
};

// Value of a query parameter, percent-decoded; empty if absent.
std::string query_parameter(std::string_view query, std::string_view name);

// The client_id of /api/websocket/connect/{client_id}: 1-128 characters of [A-Za-z0-9._~-].
bool is_valid_client_id(std::string_view id);

} // namespace apistudio
