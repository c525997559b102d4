// envelope_scanner.cpp — the hot path of parse_client_command(): one pass over a flat JSON object,
// no DOM, no allocation (string values are views into the frame until the rules copy them).
// Written by hand because nlohmann's DOM parse plus two event dumps cost ~54,000 instructions per
// round trip against a budget of 25,000 for the whole host (bench/micro/codec_bench.cpp).
// It declines (scan_result::fallback) on anything unusual, and nlohmann then decides; see
// envelope_parser_detail.hpp for why that keeps the two paths in agreement.
#include "base/hex_digit.hpp"
#include "protocol/envelope_parser_detail.hpp"
#include "protocol/json_text.hpp"

#include <cstdint>

namespace apistudio::detail {

namespace {

constexpr std::ptrdiff_t max_integer_digits = 300; // never overflows a double

const char *skip_whitespace(const char *p, const char *end) {
  while (p != end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    ++p;
  return p;
}

// Reads the 4 hex digits after "\u" at p; -1 when they are not there.
long read_hex4(const char *p, const char *end) {
  if (end - p < 4)
    return -1;
  long value = 0;
  for (int i = 0; i < 4; ++i) {
    const int digit = hex_digit_value(p[i]);
    if (digit < 0)
      return -1;
    value = value * 16 + digit;
  }
  return value;
}

// p is just past a backslash. Returns the end of the escape, or nullptr when nlohmann would
// reject it (unknown escape, bad hex, lone or reversed surrogate).
const char *validate_escape(const char *p, const char *end) {
  if (p == end)
    return nullptr;
  switch (*p) {
  case '"':
  case '\\':
  case '/':
  case 'b':
  case 'f':
  case 'n':
  case 'r':
  case 't':
    return p + 1;
  case 'u': {
    const long unit = read_hex4(p + 1, end);
    if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF))
      return nullptr;
    p += 5;
    if (unit < 0xD800 || unit > 0xDBFF)
      return p;
    if (end - p < 2 || p[0] != '\\' || p[1] != 'u')
      return nullptr;
    const long low = read_hex4(p + 2, end);
    if (low < 0xDC00 || low > 0xDFFF)
      return nullptr;
    return p + 6;
  }
  default:
    return nullptr;
  }
}

// p is just past the opening quote. Validates the string as nlohmann would (no raw control
// characters, valid escapes, RFC 3629 UTF-8) and returns the position past the closing quote,
// or nullptr.
const char *scan_string(const char *p, const char *end, std::string_view &body, bool &escaped) {
  const char *const start = p;
  escaped = false;
  for (;;) {
    p = json_text::skip_plain_ascii(p, end);
    if (p == end)
      return nullptr;
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"') {
      body = std::string_view(start, static_cast<std::size_t>(p - start));
      return p + 1;
    }
    if (c == '\\') {
      escaped = true;
      p = validate_escape(p + 1, end);
      if (p == nullptr)
        return nullptr;
    } else if (c < 0x20) {
      return nullptr;
    } else {
      const auto *u = reinterpret_cast<const unsigned char *>(p);
      const json_text::utf8_step step =
          json_text::next_utf8(u, reinterpret_cast<const unsigned char *>(end));
      if (!step.valid)
        return nullptr;
      p += step.length;
    }
  }
}

// JSON number grammar; declines exponents and very long integer parts, whose double may
// overflow (nlohmann rejects those), so that only nlohmann judges them.
const char *scan_number(const char *p, const char *end) {
  if (*p == '-')
    ++p;
  const char *const integer_start = p;
  if (p == end)
    return nullptr;
  if (*p == '0') {
    ++p;
  } else if (*p >= '1' && *p <= '9') {
    while (p != end && *p >= '0' && *p <= '9')
      ++p;
    if (p - integer_start > max_integer_digits)
      return nullptr;
  } else {
    return nullptr;
  }
  if (p != end && *p == '.') {
    const char *const fraction_start = ++p;
    while (p != end && *p >= '0' && *p <= '9')
      ++p;
    if (p == fraction_start)
      return nullptr;
  }
  if (p != end && (*p == 'e' || *p == 'E'))
    return nullptr;
  return p;
}

const char *match_literal(const char *p, const char *end, std::string_view literal) {
  if (static_cast<std::size_t>(end - p) < literal.size() ||
      std::string_view(p, literal.size()) != literal)
    return nullptr;
  return p + literal.size();
}

// Writes the UTF-8 form of a code point at d, returns the end.
char *put_utf8(char *d, std::uint32_t code_point) {
  if (code_point < 0x80) {
    *d++ = static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    *d++ = static_cast<char>(0xC0 | (code_point >> 6));
    *d++ = static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    *d++ = static_cast<char>(0xE0 | (code_point >> 12));
    *d++ = static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    *d++ = static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    *d++ = static_cast<char>(0xF0 | (code_point >> 18));
    *d++ = static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    *d++ = static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    *d++ = static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return d;
}

} // namespace

// Decodes in place into room sized for the escaped text: an escape is never shorter than what it
// stands for (\uXXXX is 6 bytes for at most 3, a surrogate pair 12 for 4).
void append_unescaped(std::string &out, std::string_view body) {
  const std::size_t old_size = out.size();
  out.resize(old_size + body.size());
  char *const begin = out.data();
  char *d = begin + old_size;
  const char *p = body.data();
  const char *const end = p + body.size();
  while (p != end) {
    if (*p != '\\') {
      *d++ = *p++;
      continue;
    }
    ++p; // the escape after it was validated by the scanner or by nlohmann
    const char kind = *p++;
    switch (kind) {
    case 'b':
      *d++ = '\b';
      break;
    case 'f':
      *d++ = '\f';
      break;
    case 'n':
      *d++ = '\n';
      break;
    case 'r':
      *d++ = '\r';
      break;
    case 't':
      *d++ = '\t';
      break;
    case 'u': {
      auto code_point = static_cast<std::uint32_t>(read_hex4(p, end));
      p += 4;
      if (code_point >= 0xD800 && code_point <= 0xDBFF) {
        const auto low = static_cast<std::uint32_t>(read_hex4(p + 2, end));
        p += 6;
        code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
      }
      d = put_utf8(d, code_point);
      break;
    }
    default: // '"', '\\', '/'
      *d++ = kind;
      break;
    }
  }
  out.resize(static_cast<std::size_t>(d - begin));
}

scan_result scan_flat_command(std::string_view frame, client_command &out) {
  const char *p = frame.data();
  const char *const end = p + frame.size();
  envelope_fields fields;

  p = skip_whitespace(p, end);
  if (p == end || *p != '{')
    return scan_result::fallback;
  p = skip_whitespace(p + 1, end);
  if (p != end && *p == '}') {
    ++p;
  } else {
    for (;;) {
      if (p == end || *p != '"')
        return scan_result::fallback;
      std::string_view key;
      bool key_escaped = false;
      p = scan_string(p + 1, end, key, key_escaped);
      if (p == nullptr || key_escaped)
        return scan_result::fallback;
      p = skip_whitespace(p, end);
      if (p == end || *p != ':')
        return scan_result::fallback;
      p = skip_whitespace(p + 1, end);
      if (p == end)
        return scan_result::fallback;

      field_value value;
      switch (*p) {
      case '"':
        value.kind = json_kind::string;
        p = scan_string(p + 1, end, value.text, value.escaped);
        break;
      case 't':
        value.kind = json_kind::boolean;
        value.boolean = true;
        p = match_literal(p, end, "true");
        break;
      case 'f':
        value.kind = json_kind::boolean;
        p = match_literal(p, end, "false");
        break;
      case 'n':
        value.kind = json_kind::null;
        p = match_literal(p, end, "null");
        break;
      case '-':
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
      case '8':
      case '9':
        value.kind = json_kind::number;
        p = scan_number(p, end);
        break;
      default: // '{', '[' and anything invalid
        return scan_result::fallback;
      }
      if (p == nullptr)
        return scan_result::fallback;
      const envelope_field field = field_from_key(key);
      if (field != envelope_field::count)
        fields[field] = value; // a duplicate key: the last one wins
      p = skip_whitespace(p, end);
      if (p == end)
        return scan_result::fallback;
      if (*p == '}') {
        ++p;
        break;
      }
      if (*p != ',')
        return scan_result::fallback;
      p = skip_whitespace(p + 1, end);
    }
  }
  if (skip_whitespace(p, end) != end)
    return scan_result::fallback;
  apply_command_rules(fields, out);
  return scan_result::parsed;
}

} // namespace apistudio::detail
