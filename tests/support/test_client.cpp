#include "test_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace apistudio::testing {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {
tcp::endpoint loopback(std::uint16_t port) { return {net::ip::make_address("127.0.0.1"), port}; }

// Runs `ioc` until `done` or the timeout; false on timeout (the operations are cancelled).
template <class Stream>
bool run_until(net::io_context &ioc, bool &done, Stream &s, std::chrono::milliseconds timeout) {
  ioc.restart();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    ioc.run_one_for(deadline - std::chrono::steady_clock::now());
  }
  if (!done) {
    beast::get_lowest_layer(s).cancel();
    ioc.restart();
    ioc.run_for(200ms);
  }
  return done;
}
} // namespace

http_result http_request(std::uint16_t port, const std::string &method, const std::string &target,
                         const std::vector<std::pair<std::string, std::string>> &headers,
                         const std::string &body, std::chrono::milliseconds timeout) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  http_result out;
  beast::error_code ec;
  stream.socket().connect(loopback(port), ec);
  if (ec)
    return out;
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  for (const auto &[k, v] : headers)
    req.set(k, v);
  req.body() = body;
  if (!body.empty() || method == "POST")
    req.prepare_payload();
  http::response<http::string_body> res;
  beast::flat_buffer buffer;
  bool done = false;
  http::async_write(stream, req, [&](beast::error_code e, std::size_t) {
    if (e) {
      done = true;
      return;
    }
    http::async_read(stream, buffer, res, [&](beast::error_code e2, std::size_t) {
      if (!e2)
        out.status = res.result_int();
      done = true;
    });
  });
  run_until(ioc, done, stream, timeout);
  if (out.status != 0) {
    for (const auto &f : res) {
      std::string name(f.name_string());
      for (auto &c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    out.body = res.body();
  }
  return out;
}

std::string raw_exchange(std::uint16_t port, const std::string &bytes,
                         std::chrono::milliseconds timeout) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.socket().connect(loopback(port), ec);
  if (ec)
    return {};
  std::string out;
  bool done = false;
  std::array<char, 4096> chunk{};
  std::function<void()> read_more = [&] {
    stream.async_read_some(net::buffer(chunk), [&](beast::error_code e, std::size_t n) {
      out.append(chunk.data(), n);
      if (e)
        done = true;
      else
        read_more();
    });
  };
  net::async_write(stream, net::buffer(bytes), [&](beast::error_code e, std::size_t) {
    if (e)
      done = true;
    else
      read_more();
  });
  run_until(ioc, done, stream, timeout);
  return out;
}

ws_client::ws_client() : ws_(ioc_) {}
ws_client::~ws_client() {
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
}

bool ws_client::connect(std::uint16_t port, const std::string &target,
                        const std::vector<std::pair<std::string, std::string>> &headers,
                        std::chrono::milliseconds timeout) {
  beast::error_code ec;
  beast::get_lowest_layer(ws_).socket().connect(loopback(port), ec);
  if (ec)
    return false;
  ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type &r) {
    for (const auto &[k, v] : headers)
      r.set(k, v);
  }));
  websocket::response_type res;
  bool done = false, ok = false;
  ws_.async_handshake(res, "127.0.0.1:" + std::to_string(port), target, [&](beast::error_code e) {
    ok = !e;
    done = true;
  });
  run_until(ioc_, done, ws_, timeout);
  handshake_status = res.result_int();
  handshake_body = res.body().empty() ? std::string() : std::string(res.body());
  return ok;
}

void ws_client::send_text(const std::string &text) {
  ws_.text(true);
  beast::error_code ec;
  ws_.write(net::buffer(text), ec);
}

void ws_client::send_binary(const std::string &bytes) {
  ws_.binary(true);
  beast::error_code ec;
  ws_.write(net::buffer(bytes), ec);
}

std::optional<std::string> ws_client::read(std::chrono::milliseconds timeout) {
  if (!stash_.empty()) {
    auto s = std::move(stash_.front());
    stash_.erase(stash_.begin());
    return s;
  }
  if (closed_)
    return std::nullopt;
  bool done = false;
  beast::error_code result;
  ws_.async_read(buffer_, [&](beast::error_code e, std::size_t) {
    result = e;
    done = true;
  });
  if (!run_until(ioc_, done, ws_, timeout)) {
    closed_ = true; // a cancelled read leaves the stream unusable
    return std::nullopt;
  }
  if (result) {
    closed_ = true;
    close_code_ = result == websocket::error::closed ? ws_.reason().code : 1006;
    close_reason_ = std::string(ws_.reason().reason.c_str());
    return std::nullopt;
  }
  last_binary_ = ws_.got_binary();
  std::string s = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  return s;
}

nlohmann::json ws_client::read_json(std::chrono::milliseconds timeout) {
  auto s = read(timeout);
  if (!s)
    return nlohmann::json::value_t::discarded;
  return nlohmann::json::parse(*s, nullptr, false);
}

nlohmann::json ws_client::read_until(const std::string &type, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::string> skipped;
  nlohmann::json found = nlohmann::json::value_t::discarded;
  while (std::chrono::steady_clock::now() < deadline) {
    auto s = read(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!s)
      break;
    auto j = nlohmann::json::parse(*s, nullptr, false);
    if (j.is_object() && j.value("type", "") == type) {
      found = j;
      break;
    }
    skipped.push_back(std::move(*s));
  }
  stash_.insert(stash_.begin(), skipped.begin(), skipped.end());
  return found;
}

int ws_client::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  stash_.clear();
  while (!closed_ && std::chrono::steady_clock::now() < deadline)
    read(std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                               std::chrono::steady_clock::now()));
  return closed_ ? (close_code_ == 0 ? 1006 : close_code_) : 0;
}

void ws_client::close(int code) {
  bool done = false;
  ws_.async_close(websocket::close_reason(static_cast<std::uint16_t>(code)),
                  [&](beast::error_code) { done = true; });
  run_until(ioc_, done, ws_, 5s);
  closed_ = true;
}

void ws_client::drop() {
  beast::error_code ignored;
  auto &s = beast::get_lowest_layer(ws_).socket();
  s.set_option(net::socket_base::linger(true, 0), ignored); // RST, like a crashed client
  s.close(ignored);
  closed_ = true;
}

} // namespace apistudio::testing
