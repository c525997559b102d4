// event_lines.hpp — the text of each debug_logger line, built from plain values so that tests
// can check formatting and redaction without a host. Every line is one line: control bytes in
// payloads, reasons and header values are escaped.
#pragma once

#include "debug_logger/redaction.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apistudio::plugins::debug_logger {

// At most `max_bytes` of the payload (text: cut on a UTF-8 boundary and escaped; binary: hex),
// followed by "…(+N bytes)" when something was cut. Empty when max_bytes is 0.
std::string payload_excerpt(std::string_view payload, bool binary, std::size_t max_bytes);

struct session_facts {
  std::uint64_t id = 0;
  std::string_view path;
  std::string_view query;
  std::string_view client_id;
  std::string_view remote_address;
};

std::string session_opened_line(const session_facts &s);
std::string session_closed_line(const session_facts &s, std::uint64_t client_messages,
                                std::uint64_t upstream_messages);
// `from_client`: a client frame (redacted as a client envelope) or an upstream frame.
std::string message_line(std::uint64_t session, bool from_client, std::string_view connection_id,
                         std::string_view payload, bool binary, std::size_t max_bytes,
                         const redactor &r);
std::string
upstream_connect_line(std::uint64_t session, std::string_view connection_id, std::string_view url,
                      const std::vector<std::string_view> &protocols,
                      const std::vector<std::pair<std::string_view, std::string_view>> &headers,
                      const redactor &r);
std::string upstream_opened_line(std::uint64_t session, std::string_view connection_id,
                                 std::string_view url, std::string_view subprotocol);
std::string upstream_closed_line(std::uint64_t session, std::string_view connection_id,
                                 std::string_view url, int code, std::string_view reason);

} // namespace apistudio::plugins::debug_logger
