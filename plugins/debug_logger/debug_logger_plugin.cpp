// debug_logger_plugin.cpp — the spec's debug mode: one info line per WebSocket event, secrets
// redacted. When off, every hook returns before formatting anything.
//
// The host runs client->upstream hooks in config order and upstream->client hooks in reverse:
// listed LAST, this plugin sees handshake headers after every other plugin edited them (and
// redacts those too), and upstream frames before the others touch them.
#include "debug_logger/debug_logger_settings.hpp"
#include "debug_logger/event_lines.hpp"
#include "debug_logger/redaction.hpp"

#include <apistudio/plugin.hpp>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

namespace apistudio::plugins::debug_logger {
namespace {

std::optional<std::string> websocket_debug_env() {
  const char *v = std::getenv("WEBSOCKET_DEBUG");
  return v == nullptr ? std::nullopt : std::optional<std::string>(v);
}

struct session_record {
  std::uint64_t id = 0;
  std::string path;
  std::string client_id;
  std::string remote_address;
  std::uint64_t client_messages = 0;
  std::uint64_t upstream_messages = 0;
};

class debug_logger_plugin final : public sdk::plugin<session_record> {
public:
  debug_logger_plugin(sdk::host h, std::string_view settings_json)
      : plugin(h), settings_(parse_settings(settings_json, websocket_debug_env())),
        redactor_(settings_.redact_headers) {}

  sdk::outcome on_session_open(sdk::session &, const sdk::session_info &info,
                               std::unique_ptr<session_record> &state) override {
    if (!on())
      return sdk::verdict::continue_;
    auto record = std::make_unique<session_record>();
    record->id = info.id;
    record->path = info.path;
    record->client_id = info.client_id;
    record->remote_address = info.remote_address;
    write(
        session_opened_line({info.id, info.path, info.query, info.client_id, info.remote_address}));
    state = std::move(record);
    return sdk::verdict::continue_;
  }

  void on_session_close(sdk::session &session, session_record *record) override {
    if (!on() || record == nullptr)
      return;
    write(session_closed_line(
        {session.id(), record->path, {}, record->client_id, record->remote_address},
        record->client_messages, record->upstream_messages));
  }

  sdk::outcome on_client_message(sdk::session &session, session_record *record,
                                 sdk::message &message) override {
    if (!on())
      return sdk::verdict::continue_;
    if (record != nullptr)
      ++record->client_messages;
    write(message_line(session.id(), true, {}, message.payload(), message.is_binary(),
                       settings_.max_payload_log_bytes, redactor_));
    return sdk::verdict::continue_;
  }

  sdk::outcome on_message_from_upstream(sdk::session &session, session_record *record,
                                        sdk::message &message) override {
    if (!on())
      return sdk::verdict::continue_;
    if (record != nullptr)
      ++record->upstream_messages;
    write(message_line(session.id(), false, message.connection_id(), message.payload(),
                       message.is_binary(), settings_.max_payload_log_bytes, redactor_));
    return sdk::verdict::continue_;
  }

  sdk::outcome on_upstream_connect(sdk::session &session, session_record *,
                                   sdk::upstream_request &request) override {
    if (!on())
      return sdk::verdict::continue_;
    std::vector<std::pair<std::string_view, std::string_view>> headers;
    for (const auto &h : request.headers())
      headers.emplace_back(h.name, h.value);
    write(upstream_connect_line(session.id(), request.connection_id(), request.url(),
                                request.protocols(), headers, redactor_));
    return sdk::verdict::continue_;
  }

  void on_upstream_opened(sdk::session &session, session_record *,
                          const sdk::upstream_info &info) override {
    if (!on())
      return;
    write(upstream_opened_line(session.id(), info.connection_id, info.url, info.subprotocol));
  }

  void on_upstream_closed(sdk::session &session, session_record *,
                          const sdk::upstream_info &info) override {
    if (!on())
      return;
    write(upstream_closed_line(session.id(), info.connection_id, info.url, info.close_code,
                               info.close_reason));
  }

private:
  // Off, or the host would not print info lines: nothing is formatted.
  bool on() const noexcept { return settings_.enabled && host().log_enabled(sdk::log_level::info); }
  void write(const std::string &line) const { host().log(sdk::log_level::info, line); }

  const settings settings_;
  const redactor redactor_;
};

} // namespace
} // namespace apistudio::plugins::debug_logger

APISTUDIO_PLUGIN(apistudio::plugins::debug_logger::debug_logger_plugin, "debug_logger", "1.0.0")
