// base64.cpp — RFC 4648 base64 with padding, for binary frames inside JSON events.
// By hand rather than OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock: those need a separate output
// buffer (we append in place to the event being built), and EVP_DecodeBlock skips whitespace
// and reports padding as decoded zero bytes, where the protocol wants strict rejection.
#include "protocol/envelope_codec.hpp"

#include <array>
#include <cstdint>

namespace apistudio {

namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t invalid = 0xFF;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  table.fill(invalid);
  for (std::uint8_t i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(alphabet[i])] = i;
  return table;
}
constexpr std::array<std::uint8_t, 256> decode_table = make_decode_table();

std::uint32_t sextet(char c) { return decode_table[static_cast<unsigned char>(c)]; }

} // namespace

void append_base64(std::string &out, std::string_view bytes) {
  const std::size_t old_size = out.size();
  out.resize(old_size + (bytes.size() + 2) / 3 * 4);
  char *d = out.data() + old_size;
  const auto *s = reinterpret_cast<const unsigned char *>(bytes.data());
  std::size_t remaining = bytes.size();
  for (; remaining >= 3; remaining -= 3, s += 3, d += 4) {
    const std::uint32_t group = (std::uint32_t{s[0]} << 16) | (std::uint32_t{s[1]} << 8) | s[2];
    d[0] = alphabet[group >> 18];
    d[1] = alphabet[(group >> 12) & 0x3F];
    d[2] = alphabet[(group >> 6) & 0x3F];
    d[3] = alphabet[group & 0x3F];
  }
  if (remaining == 0)
    return;
  std::uint32_t group = std::uint32_t{s[0]} << 16;
  if (remaining == 2)
    group |= std::uint32_t{s[1]} << 8;
  d[0] = alphabet[group >> 18];
  d[1] = alphabet[(group >> 12) & 0x3F];
  d[2] = remaining == 2 ? alphabet[(group >> 6) & 0x3F] : '=';
  d[3] = '=';
}

bool decode_base64(std::string_view text, std::string &out) {
  out.clear();
  if (text.size() % 4 != 0)
    return false;
  if (text.empty())
    return true;
  const std::size_t padding = text.back() != '=' ? 0 : text[text.size() - 2] == '=' ? 2 : 1;
  out.resize(text.size() / 4 * 3 - padding);
  char *d = out.data();
  const char *s = text.data();
  // Every group but the last is four alphabet characters.
  for (std::size_t groups = text.size() / 4 - 1; groups > 0; --groups, s += 4, d += 3) {
    const std::uint32_t a = sextet(s[0]);
    const std::uint32_t b = sextet(s[1]);
    const std::uint32_t c = sextet(s[2]);
    const std::uint32_t e = sextet(s[3]);
    if ((a | b | c | e) >= 64) { // `invalid` has the top bits set
      out.clear();
      return false;
    }
    const std::uint32_t group = (a << 18) | (b << 12) | (c << 6) | e;
    d[0] = static_cast<char>(group >> 16);
    d[1] = static_cast<char>((group >> 8) & 0xFF);
    d[2] = static_cast<char>(group & 0xFF);
  }
  const std::uint32_t a = sextet(s[0]);
  const std::uint32_t b = sextet(s[1]);
  const std::uint32_t c = padding == 2 ? 0 : sextet(s[2]);
  const std::uint32_t e = padding >= 1 ? 0 : sextet(s[3]);
  // Canonical only: the bits the padding drops must be zero.
  const bool valid = (a | b | c | e) < 64 && !(padding == 1 && (c & 0x3) != 0) &&
                     !(padding == 2 && (b & 0xF) != 0);
  if (!valid) {
    out.clear();
    return false;
  }
  const std::uint32_t group = (a << 18) | (b << 12) | (c << 6) | e;
  d[0] = static_cast<char>(group >> 16);
  if (padding < 2)
    d[1] = static_cast<char>((group >> 8) & 0xFF);
  if (padding < 1)
    d[2] = static_cast<char>(group & 0xFF);
  return true;
}

} // namespace apistudio
