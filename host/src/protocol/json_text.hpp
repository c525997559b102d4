// json_text.hpp — byte-level helpers for JSON string bodies shared by the envelope scanner and the
// event encoder: UTF-8 validation (RFC 3629, exactly the rules nlohmann's lexer applies) and a
// word-at-a-time skip over bytes that need no attention. Internal to the envelope codec.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace apistudio::json_text {

// One step over a byte >= 0x80. `length` is the whole sequence when valid; when not, it is the
// maximal ill-formed prefix (>= 1 byte) that one U+FFFD replaces (Unicode's recommended practice).
struct utf8_step {
  std::size_t length;
  bool valid;
};

inline utf8_step next_utf8(const unsigned char *p, const unsigned char *end) noexcept {
  const unsigned lead = p[0];
  std::size_t continuation = 0;
  unsigned second_lo = 0x80;
  unsigned second_hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    continuation = 1;
  } else if (lead == 0xE0) {
    continuation = 2;
    second_lo = 0xA0; // no overlongs
  } else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
    continuation = 2;
  } else if (lead == 0xED) {
    continuation = 2;
    second_hi = 0x9F; // no UTF-16 surrogates
  } else if (lead == 0xF0) {
    continuation = 3;
    second_lo = 0x90; // no overlongs
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    continuation = 3;
  } else if (lead == 0xF4) {
    continuation = 3;
    second_hi = 0x8F; // nothing above U+10FFFF
  } else {
    return {1, false}; // stray continuation byte, C0/C1, F5..FF
  }
  if (end - p < 2 || p[1] < second_lo || p[1] > second_hi)
    return {1, false};
  for (std::size_t i = 2; i <= continuation; ++i) {
    if (static_cast<std::size_t>(end - p) <= i || (p[i] & 0xC0) != 0x80)
      return {i, false};
  }
  return {continuation + 1, true};
}

inline bool is_plain_ascii(unsigned char c) noexcept {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

// For 8 bytes read little-endian: the number of leading bytes that are plain ASCII (8 if all).
inline unsigned plain_ascii_prefix(std::uint64_t word) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t highs = 0x8080808080808080ULL;
  const std::uint64_t below_space = (word - ones * 0x20) & ~word;
  const std::uint64_t quote = word ^ (ones * '"');
  const std::uint64_t backslash = word ^ (ones * '\\');
  // The lowest flagged byte is exact: borrows only disturb the bytes above a flagged one.
  const std::uint64_t flags =
      (below_space | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) | word) & highs;
  return flags == 0 ? 8 : static_cast<unsigned>(std::countr_zero(flags)) >> 3;
}

inline constexpr bool little_endian = std::endian::native == std::endian::little;

// Whether plain_ascii_prefix16 is a single SSE2 compare (x86-64 always has SSE2). Elsewhere the
// callers go eight bytes at a time with plain_ascii_prefix.
#if defined(__SSE2__)
inline constexpr bool has_prefix16 = true;
#else
inline constexpr bool has_prefix16 = false;
#endif

// For the 16 bytes at p (all readable): the number of leading plain ASCII bytes (16 if all).
// Measured (bench/micro/codec_bench, docs/performance.md): the 16 KiB payloads of the large
// workload spend most of the codec's time in these loops; SSE2 halves the instructions per byte.
inline unsigned plain_ascii_prefix16(const char *p) noexcept {
#if defined(__SSE2__)
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
  // Signed compare: bytes >= 0x80 are negative, so "below space" flags non-ASCII bytes too.
  const __m128i special = _mm_or_si128(
      _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  const auto mask = static_cast<unsigned>(_mm_movemask_epi8(special));
  return mask == 0 ? 16 : static_cast<unsigned>(std::countr_zero(mask));
#else
  unsigned plain = 0;
  while (plain < 16 && is_plain_ascii(static_cast<unsigned char>(p[plain])))
    ++plain;
  return plain;
#endif
}

// Whether the 64 bytes at p (all readable) are all plain ASCII: four SSE2 checks, one branch.
// Callers try it only inside a plain run (after sixteen plain bytes), so escape-heavy text does
// not pay for it; long runs cost about half the instructions per byte of the 16-byte step.
inline bool plain_ascii64(const char *p) noexcept {
#if defined(__SSE2__)
  // Written out four times: GCC at -O2 does not unroll the loop, which doubles the cost.
  const auto special = [](const char *q) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(q));
    return _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                     _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  };
  const __m128i any = _mm_or_si128(_mm_or_si128(special(p), special(p + 16)),
                                   _mm_or_si128(special(p + 32), special(p + 48)));
  return _mm_movemask_epi8(any) == 0;
#else
  for (int i = 0; i < 64; ++i)
    if (!is_plain_ascii(static_cast<unsigned char>(p[i])))
      return false;
  return true;
#endif
}

// Returns the first byte in [p, end) that is a control character (< 0x20), '"', '\\' or
// non-ASCII, or end. Sixteen or eight bytes at a time (64 inside a run): JSON payloads are
// mostly plain ASCII runs.
inline const char *skip_plain_ascii(const char *p, const char *end) noexcept {
  if constexpr (has_prefix16) {
    while (end - p >= 16) {
      const unsigned plain = plain_ascii_prefix16(p);
      p += plain;
      if (plain != 16)
        return p;
      while (end - p >= 64 && plain_ascii64(p))
        p += 64;
    }
  }
  if constexpr (little_endian) {
    while (end - p >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p, 8);
      const unsigned plain = plain_ascii_prefix(word);
      p += plain;
      if (plain != 8)
        return p;
    }
  }
  while (p != end && is_plain_ascii(static_cast<unsigned char>(*p)))
    ++p;
  return p;
}

} // namespace apistudio::json_text
