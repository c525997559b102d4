// upstream_stamp — transforms messages on their way to an upstream, built against the installed
// SDK.
//
// on_message_to_upstream receives the decoded content of every send_message (after the host parsed
// and validated the command), so the plugin edits the message itself, never the protocol envelope:
//  - a JSON object gets a field saying who sent it, e.g. {"op":"buy"} -> {"op":"buy","sent_by":
//    "api-studio"}; a value the client put in that field is overwritten, so it cannot be forged;
//  - a message containing the `forbidden` text (text or binary) is refused: the client gets
//    send_error with code MESSAGE_NOT_ALLOWED and nothing is written upstream;
//  - anything else (text that is not a JSON object, binary) passes untouched, without a copy.
// Per session it counts the messages it stamped, and logs the count when the session closes.
//
// Settings (the plugin's YAML block, handed over as JSON), all optional strings:
//   field      the field to set                                  ("sent_by")
//   value      its value                                         ("api-studio")
//   forbidden  refuse every message that contains this text      ("": refuse nothing)
#include <apistudio/plugin.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace {

namespace sdk = apistudio::sdk;

// Per session: hooks of one session never run concurrently, so it needs no lock.
struct session_counts {
  std::uint64_t stamped = 0;
};

class upstream_stamp final : public sdk::plugin<session_counts> {
public:
  // Throwing sdk::settings_error refuses the settings; its JSON Pointer lets the host print the
  // YAML location of the very key that is wrong.
  upstream_stamp(sdk::host h, std::string_view settings_json) : plugin(h) {
    const nlohmann::json s = nlohmann::json::parse(settings_json, nullptr, false);
    if (!s.is_object())
      throw sdk::settings_error("upstream_stamp: settings must be a mapping");
    for (const auto &[key, value] : s.items()) {
      const std::string pointer = (nlohmann::json::json_pointer() / key).to_string();
      if (key != "field" && key != "value" && key != "forbidden")
        throw sdk::settings_error("upstream_stamp: unknown setting '" + key + "'", pointer);
      if (!value.is_string())
        throw sdk::settings_error("upstream_stamp: " + key + ": expected a string", pointer);
    }
    field_ = s.value("field", std::string("sent_by"));
    value_ = s.value("value", std::string("api-studio"));
    forbidden_ = s.value("forbidden", std::string());
    if (field_.empty())
      throw sdk::settings_error("upstream_stamp: field: must not be empty", "/field");
  }

  sdk::outcome on_session_open(sdk::session &, const sdk::session_info &,
                               std::unique_ptr<session_counts> &counts) override {
    counts = std::make_unique<session_counts>();
    return sdk::verdict::continue_;
  }

  sdk::outcome on_message_to_upstream(sdk::session &, session_counts *counts,
                                      sdk::message &message) override {
    const std::string_view payload = message.payload();
    if (!forbidden_.empty() && payload.find(forbidden_) != std::string_view::npos) {
      // The text itself is not echoed: it may be a marker the operator keeps to themselves.
      return sdk::refuse("MESSAGE_NOT_ALLOWED",
                         "this message contains text that may not be sent upstream");
    }
    if (message.is_binary())
      return sdk::verdict::continue_;
    // ordered_json keeps the client's key order; not JSON, or JSON but not an object: untouched.
    nlohmann::ordered_json json = nlohmann::ordered_json::parse(payload, nullptr, false);
    if (!json.is_object())
      return sdk::verdict::continue_;
    json[field_] = value_;
    message.set_payload(json.dump()); // the host copies it
    if (counts != nullptr)
      ++counts->stamped;
    return sdk::verdict::replace;
  }

  void on_session_close(sdk::session &session, session_counts *counts) override {
    if (counts == nullptr || counts->stamped == 0 || !host().log_enabled(sdk::log_level::info))
      return;
    host().log(sdk::log_level::info, "session " + std::to_string(session.id()) + ": stamped " +
                                         std::to_string(counts->stamped) + " message(s)");
  }

private:
  std::string field_;
  std::string value_;
  std::string forbidden_;
};

} // namespace

APISTUDIO_PLUGIN(upstream_stamp, "upstream_stamp", "0.1.0")
