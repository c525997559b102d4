// test_client.hpp — what a test uses to talk to a host: a WebSocket client and an HTTP client,
// both on loopback with timeouts (a hung host fails the test, it never hangs it).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace apistudio::testing {

using namespace std::chrono_literals;

struct http_result {
  int status = 0;
  std::map<std::string, std::string> headers; // lower-case names
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// One HTTP/1.1 request on a new connection; status 0 if the connection failed or timed out.
http_result http_request(std::uint16_t port, const std::string &method, const std::string &target,
                         const std::vector<std::pair<std::string, std::string>> &headers = {},
                         const std::string &body = {}, std::chrono::milliseconds timeout = 10s);

// Sends raw bytes and returns whatever comes back until the peer closes or the timeout.
std::string raw_exchange(std::uint16_t port, const std::string &bytes,
                         std::chrono::milliseconds timeout = 5s);

class ws_client {
public:
  ws_client();
  ~ws_client();
  // Handshake against 127.0.0.1:port; returns false and sets handshake_status on refusal.
  bool connect(std::uint16_t port, const std::string &target,
               const std::vector<std::pair<std::string, std::string>> &headers = {},
               std::chrono::milliseconds timeout = 10s);
  int handshake_status = 0;
  std::string handshake_body;

  void send_text(const std::string &text);
  void send_binary(const std::string &bytes);
  void send_json(const nlohmann::json &j) { send_text(j.dump()); }

  // Next frame; nullopt on timeout or when the connection ended (see closed()).
  std::optional<std::string> read(std::chrono::milliseconds timeout = 10s);
  // Next frame parsed as JSON (discarded JSON on timeout/close).
  nlohmann::json read_json(std::chrono::milliseconds timeout = 10s);
  // Reads events until one with "type" == type (others are kept for later reads).
  nlohmann::json read_until(const std::string &type, std::chrono::milliseconds timeout = 10s);
  // Reads until the connection ends; returns the close code (1006 if none was received).
  int wait_closed(std::chrono::milliseconds timeout = 10s);
  bool closed() const { return closed_; }
  int close_code() const { return close_code_; }
  std::string close_reason() const { return close_reason_; }
  bool last_was_binary() const { return last_binary_; }

  void close(int code = 1000);
  // Drops the TCP connection without a close frame (an abrupt disconnect).
  void drop();

private:
  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  std::vector<std::string> stash_;
  bool closed_ = false;
  bool last_binary_ = false;
  int close_code_ = 0;
  std::string close_reason_;
};

} // namespace apistudio::testing
