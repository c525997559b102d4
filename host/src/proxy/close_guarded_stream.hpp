// close_guarded_stream.hpp — the close-code guard for a WebSocket over TLS (wss:// upstreams).
//
// coalescing_socket scans what a plain socket reads (close_code_guard.hpp); under TLS that is
// records, not frames. This layer sits between the WebSocket and the TLS stream and scans the
// decrypted bytes instead, from the start of the upgrade answer, so a close code of 5000 or more
// from a wss:// upstream fails the connection with 1002 as it does from a ws:// one. Writes,
// teardown and the layers below pass straight through.
#pragma once

#include "proxy/close_code_guard.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <cstddef>
#include <utility>

namespace apistudio {

template <class NextLayer> class close_guarded_stream {
public:
  using executor_type = typename NextLayer::executor_type;
  using error_code = boost::beast::error_code;

  // The guard starts in the HTTP head: this is the client side of a handshake.
  template <class... Args>
  explicit close_guarded_stream(Args &&...args) : next_(std::forward<Args>(args)...) {
    guard_.skip_http_head();
  }
  // Beast builds its next layer in place and never moves it; the guard points into its buffers.
  close_guarded_stream(const close_guarded_stream &) = delete;
  close_guarded_stream &operator=(const close_guarded_stream &) = delete;

  executor_type get_executor() noexcept { return next_.get_executor(); }
  NextLayer &next_layer() noexcept { return next_; }
  const NextLayer &next_layer() const noexcept { return next_; }

  template <class MutableBufferSequence, class ReadToken>
  auto async_read_some(const MutableBufferSequence &buffers, ReadToken &&token) {
    return boost::asio::async_initiate<ReadToken, void(error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence &b) {
          next_.async_read_some(
              b, close_code_guard::scanned_read<MutableBufferSequence, decltype(handler)>{
                     std::move(handler), &guard_, b});
        },
        token, buffers);
  }

  template <class ConstBufferSequence, class WriteToken>
  auto async_write_some(const ConstBufferSequence &buffers, WriteToken &&token) {
    return next_.async_write_some(buffers, std::forward<WriteToken>(token));
  }

private:
  NextLayer next_;
  close_code_guard guard_;
};

// The WebSocket's closing handshake tears the layer below down (TLS close_notify, then TCP).
template <class NextLayer>
void teardown(boost::beast::role_type role, close_guarded_stream<NextLayer> &s,
              boost::beast::error_code &ec) {
  using boost::beast::websocket::teardown;
  teardown(role, s.next_layer(), ec);
}

template <class NextLayer, class TeardownHandler>
void async_teardown(boost::beast::role_type role, close_guarded_stream<NextLayer> &s,
                    TeardownHandler &&handler) {
  using boost::beast::websocket::async_teardown;
  async_teardown(role, s.next_layer(), std::forward<TeardownHandler>(handler));
}

} // namespace apistudio
