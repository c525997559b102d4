// close_code_guard: a close frame with a code of 5000 or more gets a code Beast refuses (high byte
// 0), wherever the reads split the bytes; every other byte of the stream stays as it was.
#include "proxy/close_code_guard.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

using apistudio::close_code_guard;

namespace {

std::string frame(int opcode, const std::string &payload, bool masked) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  const std::uint64_t n = payload.size();
  const char mask_bit = masked ? static_cast<char>(0x80) : 0;
  if (n < 126) {
    f += static_cast<char>(mask_bit | static_cast<char>(n));
  } else if (n <= 0xffff) {
    f += static_cast<char>(mask_bit | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n);
  } else {
    f += static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8)
      f += static_cast<char>(n >> shift);
  }
  const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (masked)
    f.append(reinterpret_cast<const char *>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    f += static_cast<char>(payload[i] ^ (masked ? key[i % 4] : 0));
  return f;
}

std::string close_payload(int code) {
  return std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)} + "bye";
}

// Feeds `bytes` in two reads split at `at`.
std::string scanned(std::string bytes, std::size_t at, bool http_head = false) {
  close_code_guard g;
  if (http_head)
    g.skip_http_head();
  auto *p = reinterpret_cast<unsigned char *>(bytes.data());
  g.scan(p, at);
  g.scan(p + at, bytes.size() - at);
  return bytes;
}

// The same stream with the close frame's code as the guard must leave it.
std::string expected(const std::string &before, int code, bool masked, const std::string &after) {
  std::string f = frame(0x8, close_payload(code), masked);
  if (code >= 5000) {
    const std::size_t hi = masked ? 6 : 2;
    f[hi] = masked ? static_cast<char>(0x37) : 0;
  }
  return before + f + after;
}

} // namespace

TEST(CloseCodeGuard, CodesFrom5000AreMadeInvalidAtEverySplit) {
  for (const bool masked : {true, false}) {
    // Data frames around it whose payloads look like close frames must not confuse it.
    const std::string before = frame(0x1, std::string("\x88\x02\x13\x88", 4), masked) +
                               frame(0x2, std::string(300, '\x88'), masked);
    const std::string after = frame(0x1, "after", masked);
    for (const int code : {1000, 3000, 4999, 5000, 5001, 0xffff}) {
      const std::string in = before + frame(0x8, close_payload(code), masked) + after;
      const std::string want = expected(before, code, masked, after);
      for (std::size_t at = 0; at <= in.size(); ++at)
        ASSERT_EQ(scanned(in, at), want) << "code " << code << " split at " << at;
    }
  }
}

TEST(CloseCodeGuard, LargeFramesAreSkippedWhole) {
  const std::string big = frame(0x2, std::string(70000, '\x88'), true);
  const std::string in = big + frame(0x8, close_payload(5000), true);
  EXPECT_EQ(scanned(in, 3), expected(big, 5000, true, ""));
  EXPECT_EQ(scanned(in, 70000), expected(big, 5000, true, ""));
}

TEST(CloseCodeGuard, AClientSkipsTheHttpHeadFirst) {
  const std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           "X-Odd: \r\r\n\r\n";
  const std::string in = head + frame(0x8, close_payload(5000), false);
  for (std::size_t at = 0; at <= in.size(); ++at)
    ASSERT_EQ(scanned(in, at, true), expected(head, 5000, false, "")) << at;
}

TEST(CloseCodeGuard, EmptyAndOneByteCloseFramesAreLeftToBeast) {
  const std::string in = frame(0x8, "", true) + frame(0x8, "\x13", true);
  for (std::size_t at = 0; at <= in.size(); ++at)
    ASSERT_EQ(scanned(in, at), in) << at;
}
