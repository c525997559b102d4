// envelope_codec.hpp — the JSON envelopes of the proxy protocol (docs/protocol.md).
//
// Client -> host: parse_client_command() turns one text frame into a client_command. The hot
// command (send_message with flat string fields) goes through a purpose-built scanner; anything
// else falls back to nlohmann::json. Both paths agree on every input (fuzzed).
// Host -> client: the encode_* functions append one event to `out` by hand. They never throw on
// payload bytes: invalid UTF-8 is replaced by U+FFFD, control characters are \u-escaped.
// The caller clears and reuses `out` so that steady state allocates nothing.
//
// Client commands, as accepted (optional fields that are JSON null count as absent):
//   every command: "type" (string, required), "connection_id" (string, <= 128 bytes),
//                  "request_id" (string, <= 256 bytes); unknown fields are ignored.
//   send_message:  "content" (string, required), "message_type" ("text" | "binary").
//   connect_external: "url" (string, required), "protocols" (array of strings),
//                  "headers" (object of string -> string), "tls_verify" (bool).
//                  protocols and headers hold at most 64 entries each.
//   disconnect_external: nothing else.
// Duplicate keys: the last one wins (as with nlohmann; a repeated header name keeps its first
// place). Refused: nesting deeper than 64 levels, invalid UTF-8 or lone surrogates in strings,
// numbers that overflow a double. On error only kind, error and request_id are filled in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apistudio {

enum class command_kind { invalid, connect_external, send_message, disconnect_external };

struct client_command {
  command_kind kind = command_kind::invalid;
  // send_message
  std::string content; // decoded JSON string (for binary: still base64 text)
  bool binary = false; // message_type == "binary"
  // connect_external
  std::string url;
  std::vector<std::string> protocols;
  std::vector<std::pair<std::string, std::string>> headers; // in the order sent
  std::optional<bool> tls_verify;                           // extension; see docs
  // any command (extensions)
  std::optional<std::string> connection_id;
  std::optional<std::string> request_id;
  // when kind == invalid: what is wrong, for the INVALID_FORMAT error event
  std::string error;

  void reset(); // keeps string capacity

  // Not part of the result: where reset() parks the optional ids' buffers so that the next parse
  // reuses them instead of allocating.
  std::string spare_connection_id_;
  std::string spare_request_id_;
};

// Returns false (and sets out.kind = invalid, out.error) for anything that is not a valid command:
// bad JSON, not an object, unknown/missing type, missing or mistyped field, non-string
// request_id/connection_id, connection_id longer than 128 bytes. Unknown extra fields are ignored.
// If a request_id could be read before the error was found, out.request_id is set so the error
// event can echo it.
bool parse_client_command(std::string_view frame, client_command &out);

// Appends a JSON string literal (with quotes) of arbitrary bytes: never throws.
void append_json_string(std::string &out, std::string_view bytes);

// Base64 (RFC 4648, with padding). decode replaces out's contents (capacity kept) and returns
// false, leaving out empty, on anything but canonical padded base64: characters outside the
// alphabet, whitespace, a length not a multiple of 4, misplaced '=' or non-zero padding bits.
void append_base64(std::string &out, std::string_view bytes);
bool decode_base64(std::string_view text, std::string &out);

// Optional correlation fields shared by the events below; empty views are omitted.
struct event_ids {
  std::string_view connection_id;
  std::string_view request_id;
};

// {"type":"message_received","content":...,"message_type":"text"|"binary",["connection_id"],"timestamp"}
// payload is the upstream frame: text is escaped, binary is base64-encoded here.
void encode_message_received(std::string &out, std::string_view payload, bool binary,
                             const event_ids &ids, std::int64_t unix_ms);
// {"type":"message_sent","content":...,"message_type",["connection_id"],["request_id"],"timestamp"}
// content is the client's own "content" string, echoed as is (for binary: the base64 text).
void encode_message_sent(std::string &out, std::string_view content, bool binary,
                         const event_ids &ids, std::int64_t unix_ms);

struct status_details {
  std::string_view url;         // on connecting/connected
  std::string_view subprotocol; // on connected (omitted when empty)
  int close_code = 0;           // on disconnected (omitted when 0)
  std::string_view close_reason;
};
// {"type":"connection_status","status":...,[details],["connection_id"],["request_id"],"timestamp"}
void encode_connection_status(std::string &out, std::string_view status,
                              const status_details &details, const event_ids &ids,
                              std::int64_t unix_ms);

// {"type":"connection_error","error":...,"code":...,["http_status"],["connection_id"],["request_id"],"timestamp"}
void encode_connection_error(std::string &out, std::string_view error, std::string_view code,
                             int http_status, const event_ids &ids, std::int64_t unix_ms);
// {"type":"send_error","error":...,"code":...,["connection_id"],["request_id"],"timestamp"}
void encode_send_error(std::string &out, std::string_view error, std::string_view code,
                       const event_ids &ids, std::int64_t unix_ms);
// {"type":"error","error":...,"code":...,["request_id"],"timestamp"}
void encode_error(std::string &out, std::string_view error, std::string_view code,
                  const event_ids &ids, std::int64_t unix_ms);

} // namespace apistudio
