// envelope_fuzz_check.hpp — the property envelope_fuzz.cpp checks on each input, shared with the
// unit test that replays tests/fuzz/corpus/envelope/. Returns "" when it holds, else what broke.
//
// For any bytes: parse_client_command() (scanner + fallback) equals the nlohmann path alone; the
// scanner alone, when it accepts, equals it too; the nlohmann path's "not valid JSON" is exactly
// nlohmann::json::accept() being false; an accepted command matches nlohmann's DOM; and the
// resulting error event is valid JSON.
#pragma once

#include "protocol/envelope_codec.hpp"
#include "protocol/envelope_parser_detail.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace apistudio::fuzz {

inline bool same_command(const client_command &a, const client_command &b) {
  return a.kind == b.kind && a.content == b.content && a.binary == b.binary && a.url == b.url &&
         a.protocols == b.protocols && a.headers == b.headers && a.tls_verify == b.tls_verify &&
         a.connection_id == b.connection_id && a.request_id == b.request_id && a.error == b.error;
}

// The command objects are reused between calls, as a session reuses its own.
inline std::string check_envelope(std::string_view frame) {
  using nlohmann::json;
  static client_command fast;
  static client_command reference;
  static client_command scan_only;

  const bool ok = parse_client_command(frame, fast);
  reference.reset();
  const bool reference_ok = detail::parse_command_reference(frame, reference);
  if (ok != reference_ok || !same_command(fast, reference))
    return "scanner+fallback and nlohmann path disagree";
  if (ok != (fast.kind != command_kind::invalid) || ok == !fast.error.empty())
    return "return value, kind and error disagree";

  scan_only.reset();
  if (detail::scan_flat_command(frame, scan_only) == detail::scan_result::parsed &&
      !same_command(scan_only, reference))
    return "scanner alone disagrees with the nlohmann path";

  if (reference.error != "Invalid message format: nesting deeper than 64 levels") {
    const bool is_json = json::accept(frame);
    if (is_json != (reference.error != "Invalid message format: not valid JSON"))
      return "'not valid JSON' differs from nlohmann::json::accept";
  }

  if (ok) {
    const json dom = json::parse(frame);
    if (fast.kind == command_kind::send_message && dom.at("content") != fast.content)
      return "content differs from nlohmann's DOM";
    if (fast.kind == command_kind::connect_external) {
      if (dom.at("url") != fast.url)
        return "url differs from nlohmann's DOM";
      if (dom.contains("protocols") && !dom["protocols"].is_null() &&
          dom["protocols"] != json(fast.protocols))
        return "protocols differ from nlohmann's DOM";
      if (dom.contains("headers") && dom["headers"].is_object()) {
        if (dom["headers"].size() != fast.headers.size())
          return "header count differs from nlohmann's DOM";
        for (const auto &[name, value] : fast.headers) {
          if (!dom["headers"].contains(name) || dom["headers"][name] != value)
            return "a header differs from nlohmann's DOM";
        }
      }
    }
    if (fast.request_id && dom.at("request_id") != *fast.request_id)
      return "request_id differs from nlohmann's DOM";
    if (fast.connection_id && dom.at("connection_id") != *fast.connection_id)
      return "connection_id differs from nlohmann's DOM";
  }

  std::string event;
  encode_error(event, fast.error, "INVALID_FORMAT",
               {fast.connection_id ? std::string_view(*fast.connection_id) : std::string_view(),
                fast.request_id ? std::string_view(*fast.request_id) : std::string_view()},
               0);
  if (!json::accept(event))
    return "the error event is not valid JSON";
  return {};
}

} // namespace apistudio::fuzz
