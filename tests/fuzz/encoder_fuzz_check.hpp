// encoder_fuzz_check.hpp — the property encoder_fuzz.cpp checks on each input, shared with the
// unit test that replays tests/fuzz/corpus/encoder/. Returns "" when it holds, else what broke.
//
// For any payload bytes: message_received as text and as binary is valid JSON; valid UTF-8 comes
// back exactly (and is escaped byte for byte as nlohmann's dump() would); binary comes back
// exactly through base64; and any text decode_base64() accepts re-encodes to itself.
#pragma once

#include "base/iso_timestamp.hpp"
#include "protocol/envelope_codec.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace apistudio::fuzz {

inline std::string check_encoder(std::string_view payload) {
  using nlohmann::json;
  static std::string out; // reused, as the session reuses its write buffer
  const auto unix_ms = static_cast<std::int64_t>(payload.size()) * 86'399'937 - 1'000'000'000;

  out.clear();
  encode_message_received(out, payload, false, {"conn", "req"}, unix_ms);
  if (!json::accept(out))
    return "text event is not valid JSON";
  const json text_event = json::parse(out);
  if (text_event.size() != 5 || text_event["type"] != "message_received" ||
      text_event["message_type"] != "text" || text_event["connection_id"] != "conn" ||
      text_event["timestamp"] != format_timestamp(unix_ms))
    return "text event has the wrong fields";
  const std::string content = text_event["content"].get<std::string>();

  std::string nlohmann_dump;
  bool valid_utf8 = true;
  try {
    nlohmann_dump = json(std::string(payload)).dump();
  } catch (const json::type_error &) {
    valid_utf8 = false;
  }
  if (valid_utf8) {
    if (content != payload)
      return "valid UTF-8 did not round-trip";
    std::string alone;
    append_json_string(alone, payload);
    if (alone != nlohmann_dump)
      return "escaping differs from nlohmann's dump()";
  } else if (content.find("\xEF\xBF\xBD") == std::string::npos) {
    return "invalid UTF-8 left no U+FFFD";
  }

  out.clear();
  encode_message_received(out, payload, true, {}, unix_ms);
  if (!json::accept(out))
    return "binary event is not valid JSON";
  const json binary_event = json::parse(out);
  if (binary_event.size() != 4 || binary_event["message_type"] != "binary")
    return "binary event has the wrong fields";
  std::string decoded;
  if (!decode_base64(binary_event["content"].get<std::string>(), decoded) || decoded != payload)
    return "binary payload did not round-trip through base64";

  if (decode_base64(payload, decoded)) {
    std::string again;
    append_base64(again, decoded);
    if (again != payload)
      return "decode_base64 accepted non-canonical base64";
  }
  return {};
}

} // namespace apistudio::fuzz
