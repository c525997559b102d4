// event_encoder.cpp — the host -> client events, appended straight to the caller's buffer.
// Written by hand (not nlohmann::json::dump) because an event is a fixed shape around one
// payload: building a DOM only to serialise it costs more than the rest of the round trip.
// Payload bytes are arbitrary (upstream frames): invalid UTF-8 becomes U+FFFD so the event is
// always valid JSON.
#include "base/iso_timestamp.hpp"
#include "protocol/envelope_codec.hpp"
#include "protocol/json_text.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace apistudio {

namespace {

constexpr std::string_view replacement_character = "\xEF\xBF\xBD"; // U+FFFD

// Writes the JSON escape of an ASCII byte that may not appear raw in a string; returns the end.
char *put_escape(char *d, unsigned char c) {
  char short_form = 0;
  switch (c) {
  case '"':
    short_form = '"';
    break;
  case '\\':
    short_form = '\\';
    break;
  case '\b':
    short_form = 'b';
    break;
  case '\f':
    short_form = 'f';
    break;
  case '\n':
    short_form = 'n';
    break;
  case '\r':
    short_form = 'r';
    break;
  case '\t':
    short_form = 't';
    break;
  default: {
    constexpr char hex[] = "0123456789abcdef";
    const char escape[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
    std::memcpy(d, escape, 6);
    return d + 6;
  }
  }
  d[0] = '\\';
  d[1] = short_form;
  return d + 2;
}

// ,"name":"value" — omitted when value is empty.
void append_optional_field(std::string &out, std::string_view name_with_punctuation,
                           std::string_view value) {
  if (value.empty())
    return;
  out.append(name_with_punctuation);
  append_json_string(out, value);
}

void append_ids(std::string &out, const event_ids &ids) {
  append_optional_field(out, ",\"connection_id\":", ids.connection_id);
  append_optional_field(out, ",\"request_id\":", ids.request_id);
}

void append_int(std::string &out, int value) {
  char digits[16];
  const auto result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

// ,"timestamp":"..."} — every event ends so.
void append_timestamp_and_close(std::string &out, std::int64_t unix_ms) {
  out.append(",\"timestamp\":\"");
  append_timestamp(out, unix_ms);
  out.append("\"}");
}

// {"type":"<type>","error":...,"code":...
void append_error_head(std::string &out, std::string_view type_head, std::string_view error,
                       std::string_view code) {
  out.append(type_head);
  out.append(",\"error\":");
  append_json_string(out, error);
  out.append(",\"code\":");
  append_json_string(out, code);
}

} // namespace

// Writes into room made by resize() instead of appending piece by piece: sixteen (or eight)
// plain bytes cost one load and one store, an escape a few stores. The input goes in chunks so
// the worst case (6 output bytes for one input byte) is never reserved for a whole large payload
// at once. Chunks are small and the first reserve() covers plain text plus one chunk's worst
// case: with 4 KiB chunks the 24 KiB of worst-case room made a 16 KiB payload's buffer double
// past the 64 KiB that outbound_queue keeps, so every large event reallocated, copied and
// zero-filled its buffer again (docs/performance.md). Long plain runs (64 bytes or more, or the
// whole rest) skip that room altogether: one scan and one append, nothing zero-filled.
void append_json_string(std::string &out, std::string_view bytes) {
  constexpr std::size_t chunk_bytes = 512;
  constexpr std::size_t worst_expansion = 6; // a control character becomes \u00XX
  constexpr std::size_t slack = 8;           // a word store or a UTF-8 sequence past the chunk
  const char *p = bytes.data();
  const char *const end = p + bytes.size();
  const auto *const uend = reinterpret_cast<const unsigned char *>(end);
  std::size_t size = out.size();
  out.reserve(size + bytes.size() + worst_expansion * std::min(chunk_bytes, bytes.size()) + slack +
              2);
  out.push_back('"');
  ++size;
  do {
    const char *const run_end = json_text::skip_plain_ascii(p, end);
    if (run_end == end || run_end - p >= 64) {
      out.resize(size); // drops the room the last chunk did not use (no zero-fill)
      out.append(p, run_end);
      size = out.size();
      p = run_end;
      if (p == end)
        break;
    }
    const char *const chunk_end =
        p + std::min<std::size_t>(chunk_bytes, static_cast<std::size_t>(end - p));
    out.resize(size + worst_expansion * static_cast<std::size_t>(chunk_end - p) + slack);
    char *const begin = out.data();
    char *d = begin + size;
    while (p < chunk_end) {
      if (json_text::has_prefix16 && chunk_end - p >= 16) {
        std::memcpy(d, p, 16); // room for it: at least 6 bytes per unread input byte
        const unsigned plain = json_text::plain_ascii_prefix16(p);
        p += plain;
        d += plain;
        if (plain == 16) {
          // A plain run: 64 bytes a step while it lasts (room: 6 bytes per unread input byte).
          while (chunk_end - p >= 64 && json_text::plain_ascii64(p)) {
            std::memcpy(d, p, 64);
            p += 64;
            d += 64;
          }
          continue;
        }
      } else if (json_text::little_endian && chunk_end - p >= 8) {
        std::uint64_t word;
        std::memcpy(&word, p, 8);
        std::memcpy(d, &word, 8); // room for it: at least 6 bytes per unread input byte
        const unsigned plain = json_text::plain_ascii_prefix(word);
        p += plain;
        d += plain;
        if (plain == 8)
          continue;
      } else if (json_text::is_plain_ascii(static_cast<unsigned char>(*p))) {
        *d++ = *p++;
        continue;
      }
      const auto c = static_cast<unsigned char>(*p);
      if (c < 0x80) {
        d = put_escape(d, c);
        ++p;
        continue;
      }
      const json_text::utf8_step step =
          json_text::next_utf8(reinterpret_cast<const unsigned char *>(p), uend);
      if (step.valid) {
        std::memcpy(d, p, step.length);
        d += step.length;
      } else {
        std::memcpy(d, replacement_character.data(), replacement_character.size());
        d += replacement_character.size();
      }
      p += step.length;
    }
    size = static_cast<std::size_t>(d - begin);
  } while (p < end);
  out.resize(size); // within capacity: the closing quote below does not reallocate
  out.push_back('"');
}

void encode_message_received(std::string &out, std::string_view payload, bool binary,
                             const event_ids &ids, std::int64_t unix_ms) {
  out.reserve(out.size() + (binary ? payload.size() / 3 * 4 + 4 : payload.size()) + 160);
  out.append("{\"type\":\"message_received\",\"content\":");
  if (binary) {
    out.push_back('"');
    append_base64(out, payload);
    out.append("\",\"message_type\":\"binary\"");
  } else {
    append_json_string(out, payload);
    out.append(",\"message_type\":\"text\"");
  }
  append_optional_field(out, ",\"connection_id\":", ids.connection_id);
  append_timestamp_and_close(out, unix_ms);
}

void encode_message_sent(std::string &out, std::string_view content, bool binary,
                         const event_ids &ids, std::int64_t unix_ms) {
  out.reserve(out.size() + content.size() + 160);
  out.append("{\"type\":\"message_sent\",\"content\":");
  append_json_string(out, content);
  out.append(binary ? ",\"message_type\":\"binary\"" : ",\"message_type\":\"text\"");
  append_ids(out, ids);
  append_timestamp_and_close(out, unix_ms);
}

void encode_connection_status(std::string &out, std::string_view status,
                              const status_details &details, const event_ids &ids,
                              std::int64_t unix_ms) {
  out.append("{\"type\":\"connection_status\",\"status\":");
  append_json_string(out, status);
  append_optional_field(out, ",\"url\":", details.url);
  append_optional_field(out, ",\"subprotocol\":", details.subprotocol);
  if (details.close_code != 0) {
    out.append(",\"close_code\":");
    append_int(out, details.close_code);
  }
  append_optional_field(out, ",\"close_reason\":", details.close_reason);
  append_ids(out, ids);
  append_timestamp_and_close(out, unix_ms);
}

void encode_connection_error(std::string &out, std::string_view error, std::string_view code,
                             int http_status, const event_ids &ids, std::int64_t unix_ms) {
  append_error_head(out, "{\"type\":\"connection_error\"", error, code);
  if (http_status > 0) {
    out.append(",\"http_status\":");
    append_int(out, http_status);
  }
  append_ids(out, ids);
  append_timestamp_and_close(out, unix_ms);
}

void encode_send_error(std::string &out, std::string_view error, std::string_view code,
                       const event_ids &ids, std::int64_t unix_ms) {
  append_error_head(out, "{\"type\":\"send_error\"", error, code);
  append_ids(out, ids);
  append_timestamp_and_close(out, unix_ms);
}

void encode_error(std::string &out, std::string_view error, std::string_view code,
                  const event_ids &ids, std::int64_t unix_ms) {
  append_error_head(out, "{\"type\":\"error\"", error, code);
  // The connection an error is about, when it is about one (ALREADY_CONNECTED, a plugin's
  // refusal of a command or of an upstream's message): the same field every other event uses.
  append_ids(out, ids);
  append_timestamp_and_close(out, unix_ms);
}

} // namespace apistudio
