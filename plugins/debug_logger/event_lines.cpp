#include "debug_logger/event_lines.hpp"

#include "common/text.hpp"

namespace apistudio::plugins::debug_logger {

namespace {
std::string prefix(std::uint64_t session) { return "session " + std::to_string(session) + " "; }

std::string connection_label(std::string_view connection_id) {
  if (connection_id.empty())
    return "[default upstream]";
  return "[connection " + common::escape_for_log(connection_id) + "]";
}

std::string quoted(std::string_view s) { return "\"" + common::escape_for_log(s) + "\""; }
} // namespace

std::string payload_excerpt(std::string_view payload, bool binary, std::size_t max_bytes) {
  if (max_bytes == 0)
    return {};
  std::string_view kept = binary ? payload.substr(0, std::min(max_bytes, payload.size()))
                                 : common::utf8_prefix(payload, max_bytes);
  std::string out = binary ? common::to_hex(kept) : common::escape_for_log(kept);
  if (kept.size() < payload.size())
    out += "\xE2\x80\xA6(+" + std::to_string(payload.size() - kept.size()) + " bytes)";
  return out;
}

std::string session_opened_line(const session_facts &s) {
  std::string line = prefix(s.id) + "opened: path=" + common::escape_for_log(s.path);
  if (!s.query.empty())
    line += " query=" + quoted(redactor::redact_query(s.query));
  line += " client_id=" + quoted(s.client_id);
  line += " remote=" + common::escape_for_log(s.remote_address);
  return line;
}

std::string session_closed_line(const session_facts &s, std::uint64_t client_messages,
                                std::uint64_t upstream_messages) {
  return prefix(s.id) + "closed: path=" + common::escape_for_log(s.path) +
         " client_id=" + quoted(s.client_id) +
         " remote=" + common::escape_for_log(s.remote_address) +
         " client_messages=" + std::to_string(client_messages) +
         " upstream_messages=" + std::to_string(upstream_messages);
}

std::string message_line(std::uint64_t session, bool from_client, std::string_view connection_id,
                         std::string_view payload, bool binary, std::size_t max_bytes,
                         const redactor &r) {
  std::string line = prefix(session);
  line += from_client ? "client message" : "upstream message " + connection_label(connection_id);
  line += binary ? ": binary " : ": text ";
  line += std::to_string(payload.size()) + " bytes";
  if (max_bytes == 0 || payload.empty())
    return line;
  line += ": ";
  if (from_client && !binary)
    line += payload_excerpt(r.redact_client_frame(payload), false, max_bytes);
  else
    line += payload_excerpt(payload, binary, max_bytes);
  return line;
}

std::string
upstream_connect_line(std::uint64_t session, std::string_view connection_id, std::string_view url,
                      const std::vector<std::string_view> &protocols,
                      const std::vector<std::pair<std::string_view, std::string_view>> &headers,
                      const redactor &r) {
  std::string line = prefix(session) + "upstream connect " + connection_label(connection_id) +
                     ": url=" + common::escape_for_log(redactor::redact_url(url)) + " protocols=[";
  for (std::size_t i = 0; i < protocols.size(); ++i) {
    if (i != 0)
      line += ", ";
    line += common::escape_for_log(protocols[i]);
  }
  line += "] headers={";
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (i != 0)
      line += ", ";
    line += common::escape_for_log(headers[i].first);
    line += ": ";
    line += r.sensitive_header(headers[i].first) ? std::string(redacted)
                                                 : common::escape_for_log(headers[i].second);
  }
  line += "}";
  return line;
}

std::string upstream_opened_line(std::uint64_t session, std::string_view connection_id,
                                 std::string_view url, std::string_view subprotocol) {
  return prefix(session) + "upstream opened " + connection_label(connection_id) +
         ": url=" + common::escape_for_log(redactor::redact_url(url)) + " subprotocol=" +
         (subprotocol.empty() ? std::string("(none)") : common::escape_for_log(subprotocol));
}

std::string upstream_closed_line(std::uint64_t session, std::string_view connection_id,
                                 std::string_view url, int code, std::string_view reason) {
  return prefix(session) + "upstream closed " + connection_label(connection_id) +
         ": url=" + common::escape_for_log(redactor::redact_url(url)) +
         " code=" + std::to_string(code) + " reason=" + quoted(reason);
}

} // namespace apistudio::plugins::debug_logger
