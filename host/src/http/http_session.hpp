// http_session.hpp — one accepted TCP connection until it becomes a WebSocket (or closes).
//
// Reads requests under a header deadline and size limits, applies admission (Origin, Host,
// tokens), then routes: WebSocket paths are upgraded into a client_session, REST paths answered
// by rest_api, the rest 404/405/426 with JSON bodies. Runs on the worker the listener chose.
#pragma once

#include "base/worker_types.hpp"
#include "cluster/client_lease.hpp"
#include "policy/admission.hpp"
#include "proxy/connection_slot.hpp"
#include "proxy/session_services.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <optional>

namespace apistudio {

class upstream_dialer;

// Which endpoints a listener's connections reach: the clients' (the proxy, /ws, the REST API,
// probes and metrics), or the admin listener's (probes, metrics, reload; docs/operations.md).
enum class endpoint_set { client, admin };

class http_session : public std::enable_shared_from_this<http_session> {
public:
  using request = boost::beast::http::request<boost::beast::http::string_body>;
  using response = boost::beast::http::response<boost::beast::http::string_body>;

  http_session(session_services &ctx, worker_socket &&socket, connection_slot slot,
               endpoint_set endpoints = endpoint_set::client);
  void run();

private:
  void do_read();
  void on_read(boost::beast::error_code ec);
  void handle(request req);
  void handle_admin(const request &req, std::string_view path);
  // A request the admission policy refused: counted, logged under `component`, answered.
  void refuse(const admission_result &admitted, const char *component, unsigned version);
  void reload_configuration(const request &req);
  void upgrade(request req, bool proxy, std::string client_id);
  void open_session(request req, bool proxy, std::string client_id, bool registered,
                    std::shared_ptr<cluster::client_lease> lease);
  void start_test(const request &req);
  void test_answered(response res);
  // While a test dials, the requester's socket is watched: gone (EOF, reset) abandons the test.
  void watch_requester();
  void on_requester_readable(boost::beast::error_code ec);
  void send(response res);
  void on_write(bool keep_alive, boost::beast::error_code ec);

  session_services &ctx_;
  endpoint_set endpoints_;
  // The settings this request is read with (its limits) and then admitted with (taken again
  // once it arrived): a reload applies to the next request on a kept-alive connection.
  std::shared_ptr<const settings_snapshot> settings_;
  http_stream stream_;
  connection_slot slot_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<response> pending_;
  std::string remote_address_;
  bool request_keep_alive_ = false;
  bool testing_ = false;                  // a test-connection is waiting for its dial
  std::shared_ptr<upstream_dialer> test_; // that dial, to cancel when the requester goes
};

} // namespace apistudio
