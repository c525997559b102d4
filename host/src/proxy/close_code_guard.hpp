// close_code_guard.hpp — makes a close frame with a code of 5000 or more fail the connection
// (RFC 6455 7.4.2: such codes are not allowed), which Beast 1.81 does not do by itself.
//
// Beast's detail::is_valid_close_code() accepts every code from 3000 up, so a peer's close 5000
// would be echoed. Beast answers from its own copy of the code, so nothing above it can change
// the answer; this sits below it, on the bytes a plain socket reads (coalescing_socket), and
// follows the frame headers of the stream as Beast will parse them. In a close frame whose code
// is 5000 or more it clears the code's high byte (under the mask, for a masked frame): the code
// then reads as one below 256, which Beast refuses as invalid, so Beast fails the connection
// with close 1002 and reports websocket::error::bad_close_code, as for its other protocol
// violations. Every other code (Beast already refuses 1004-1006, 1014-2999 and those under 1000)
// and every other byte is left alone.
//
// Cost: a payload is skipped in one step per read; only frame headers (2-14 bytes) and the two
// code bytes of a close frame are looked at one by one.
//
// Rules of use: feed every byte the stream's WebSocket reads, in order, from where its parser
// starts (for a client, the start of the HTTP response: skip_http_head() first). The high code
// byte is rewritten in the caller's buffer even when the low byte arrives in a later read: Beast's
// read buffer is a circular static_buffer that never moves its bytes, and a control frame is
// looked at only once all of it is there, so the byte is still where it was read.
#pragma once

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace apistudio {

class close_code_guard {
public:
  // The stream starts with an HTTP response head (the client side of a handshake).
  void skip_http_head() noexcept {
    phase_ = phase::http_head;
    matched_ = 0;
  }

  void scan(unsigned char *p, std::size_t n) noexcept {
    while (n != 0) {
      switch (phase_) {
      case phase::payload: {
        if (code_bytes_ != 0)
          return scan_code(p, n);
        const std::size_t skip = static_cast<std::size_t>(std::min<std::uint64_t>(remain_, n));
        p += skip;
        n -= skip;
        remain_ -= skip;
        if (remain_ == 0)
          phase_ = phase::header;
        break;
      }
      case phase::header:
        // Most headers arrive whole at the start of a read: no copy then.
        if (have_ == 0 && n >= 2 && n >= header_size(p[1])) {
          const std::size_t size = header_size(p[1]);
          start_frame(p);
          p += size;
          n -= size;
          break;
        }
        header_[have_++] = *p++;
        --n;
        if (have_ >= 2 && have_ == header_size(header_[1])) {
          start_frame(header_);
          have_ = 0;
        }
        break;
      case phase::http_head:
        // The head ends at the first CRLFCRLF; a 101 has no body, so frames follow at once.
        matched_ = *p == "\r\n\r\n"[matched_] ? matched_ + 1 : (*p == '\r' ? 1 : 0);
        ++p;
        --n;
        if (matched_ == 4)
          phase_ = phase::header;
        break;
      }
    }
  }

  // The first `n` bytes of a buffer sequence, as a read filled them.
  template <class MutableBufferSequence>
  void scan_read(const MutableBufferSequence &buffers, std::size_t n) noexcept {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         n != 0 && it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const boost::asio::mutable_buffer piece(*it);
      const std::size_t k = std::min(n, piece.size());
      scan(static_cast<unsigned char *>(piece.data()), k);
      n -= k;
    }
  }

  // A read's completion that passes the bytes read through `guard` before the reader sees them
  // (the layer under a WebSocket wraps its reader's handler in it). The guard's owner is kept
  // alive by the pending read.
  template <class MutableBufferSequence, class Handler> struct scanned_read {
    Handler handler;
    close_code_guard *guard;
    MutableBufferSequence buffers;

    using allocator_type = boost::asio::associated_allocator_t<Handler>;
    allocator_type get_allocator() const noexcept {
      return boost::asio::get_associated_allocator(handler);
    }
    void operator()(boost::system::error_code ec, std::size_t n) {
      guard->scan_read(buffers, n);
      std::move(handler)(ec, n);
    }
  };

private:
  enum class phase : std::uint8_t { header, payload, http_head };
  static constexpr int opcode_close = 0x8;

  static std::size_t header_size(unsigned char second) noexcept {
    const unsigned len7 = second & 0x7Fu;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((second & 0x80u) != 0 ? 4 : 0);
  }

  void start_frame(const unsigned char *h) noexcept {
    const unsigned len7 = h[1] & 0x7Fu;
    std::uint64_t len = len7;
    std::size_t at = 2;
    if (len7 >= 126) {
      const std::size_t bytes = len7 == 126 ? 2 : 8;
      len = 0;
      for (std::size_t i = 0; i < bytes; ++i)
        len = (len << 8) | h[at + i];
      at += bytes;
    }
    const bool masked = (h[1] & 0x80u) != 0;
    mask_[0] = masked ? h[at] : 0;
    mask_[1] = masked ? h[at + 1] : 0;
    remain_ = len;
    // A close frame's code is its first two payload bytes (a 1-byte payload is Beast's to refuse).
    code_bytes_ = (h[0] & 0x0Fu) == opcode_close && len >= 2 ? 2 : 0;
    phase_ = len == 0 ? phase::header : phase::payload;
  }

  void scan_code(unsigned char *p, std::size_t n) noexcept {
    if (code_bytes_ == 2) {
      high_ = p;
      code_bytes_ = 1;
      ++p;
      --n;
      --remain_;
      if (n == 0)
        return; // the low byte comes with a later read
    }
    const unsigned code = (static_cast<unsigned>(*high_ ^ mask_[0]) << 8) | (*p ^ mask_[1]);
    if (code >= 5000)
      *high_ = mask_[0]; // the high byte now unmasks to 0
    code_bytes_ = 0;
    high_ = nullptr;
    --remain_;
    if (remain_ == 0)
      phase_ = phase::header;
    scan(p + 1, n - 1);
  }

  phase phase_ = phase::header;
  std::uint8_t have_ = 0;       // header bytes gathered while a header straddles reads
  std::uint8_t code_bytes_ = 0; // close code bytes still to see (2, 1) in this frame
  std::uint8_t matched_ = 0;    // of "\r\n\r\n", in the HTTP head
  std::uint64_t remain_ = 0;    // payload bytes left in this frame
  unsigned char header_[14] = {};
  unsigned char mask_[2] = {};
  unsigned char *high_ = nullptr; // the close code's high byte, where it was read
};

} // namespace apistudio
