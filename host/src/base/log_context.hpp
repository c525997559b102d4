// log_context.hpp — the vocabulary of a log line: its level, the output format, and what the
// event is about (the structured fields of log.format: json, also shown in the text format).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace apistudio {

enum class log_level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

// text: "2025-01-01T12:00:00.000Z INFO  [component] message key=value ..." (the default);
// json: one object per line (docs/operations.md, "Logs").
enum class log_format { text, json };

// What an event is about, where the code that logs it knows. Empty (0 / "") means unknown and is
// left out of the line. Views: valid during the logging call only.
struct log_context {
  std::uint64_t session_id = 0; // the host's id of a client session (0 is "no session")
  std::string_view client_id;
  std::string_view connection_id; // an upstream connection of the session
  std::string_view upstream_host; // "host:port" of that upstream
  std::string_view plugin;        // the configured plugin a line comes from or is about
  std::string_view remote_address;

  bool empty() const noexcept {
    return session_id == 0 && client_id.empty() && connection_id.empty() && upstream_host.empty() &&
           plugin.empty() && remote_address.empty();
  }
};

// A log_context that owns its text, for lines written later (repeat summaries).
struct owned_log_context {
  std::uint64_t session_id = 0;
  std::string client_id;
  std::string connection_id;
  std::string upstream_host;
  std::string plugin;
  std::string remote_address;

  owned_log_context() = default;
  explicit owned_log_context(const log_context &c)
      : session_id(c.session_id), client_id(c.client_id), connection_id(c.connection_id),
        upstream_host(c.upstream_host), plugin(c.plugin), remote_address(c.remote_address) {}
  log_context view() const noexcept {
    return {session_id, client_id, connection_id, upstream_host, plugin, remote_address};
  }
};

} // namespace apistudio
