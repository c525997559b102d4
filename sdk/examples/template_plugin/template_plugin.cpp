// template_plugin — a starting point for an API Studio plugin, built against the installed SDK.
//
// It does two small things, each in one hook:
//  - on_upstream_connect: adds a configurable header to the upstream handshake of every
//    connect_external (e.g. an API key the browser should not hold);
//  - on_message_from_upstream: puts a configurable tag in front of every text message an upstream
//    sends, before the host wraps it into message_received for the client.
// Settings (the plugin's YAML block, handed over as JSON), all optional:
//   header_name      header to add                                   ("X-Template-Plugin")
//   header_value     its value                                       ("1")
//   override_client  true: replace a header the client sent with the same name;
//                    false: keep the client's                         (true)
//   tag              text put in front of upstream text frames ("" to leave them alone)
//   ("[template] ")
//
// Hooks of one session never run concurrently, so per-session work needs no lock; this plugin
// keeps no mutable state at all, so it needs none anywhere.
#include <apistudio/plugin.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace {

namespace sdk = apistudio::sdk;

class template_plugin final : public sdk::plugin<> { // no per-session state
public:
  // Throwing sdk::settings_error refuses the settings: the host prints the message with the
  // location of this plugin's entry in its YAML file and does not start.
  template_plugin(sdk::host h, std::string_view settings_json) : plugin(h) {
    const nlohmann::json s = nlohmann::json::parse(settings_json, nullptr, false);
    if (!s.is_object())
      throw sdk::settings_error("template_plugin: settings must be a mapping");
    for (const auto &[key, value] : s.items()) {
      if (key == "header_name" || key == "header_value" || key == "tag") {
        if (!value.is_string())
          throw sdk::settings_error("template_plugin: " + key + ": expected a string");
      } else if (key == "override_client") {
        if (!value.is_boolean())
          throw sdk::settings_error("template_plugin: override_client: expected true or false");
      } else {
        throw sdk::settings_error("template_plugin: unknown setting '" + key + "'");
      }
    }
    header_name_ = s.value("header_name", std::string("X-Template-Plugin"));
    header_value_ = s.value("header_value", std::string("1"));
    override_client_ = s.value("override_client", true);
    tag_ = s.value("tag", std::string("[template] "));
    if (header_name_.empty())
      throw sdk::settings_error("template_plugin: header_name: must not be empty");
  }

  sdk::outcome on_upstream_connect(sdk::session &session, sdk::no_state *,
                                   sdk::upstream_request &request) override {
    const auto mode = override_client_ ? sdk::header_mode::overwrite : sdk::header_mode::if_absent;
    // The host refuses names that are not HTTP tokens, values with control characters, and the
    // headers it owns (Host, Upgrade, Connection, Sec-WebSocket-*): say so, and carry on.
    if (!request.set_header(header_name_, header_value_, mode) &&
        host().log_enabled(sdk::log_level::warn)) {
      host().log(sdk::log_level::warn, "session " + std::to_string(session.id()) +
                                           ": the host refused header '" + header_name_ + "'");
    }
    return sdk::verdict::continue_;
  }

  sdk::outcome on_message_from_upstream(sdk::session &, sdk::no_state *,
                                        sdk::message &message) override {
    // Binary frames and an empty tag pass untouched: no copy is made on that path.
    if (tag_.empty() || message.is_binary())
      return sdk::verdict::continue_;
    std::string tagged;
    tagged.reserve(tag_.size() + message.payload().size());
    tagged.append(tag_).append(message.payload());
    message.set_payload(tagged); // the host copies it
    return sdk::verdict::replace;
  }

private:
  std::string header_name_;
  std::string header_value_;
  bool override_client_ = true;
  std::string tag_;
};

} // namespace

// The library's two C entry points: the SDK version it was built with, and its descriptor.
APISTUDIO_PLUGIN(template_plugin, "template_plugin", "0.1.0")
