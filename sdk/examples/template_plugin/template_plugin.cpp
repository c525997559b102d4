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
#include <apistudio/settings.hpp> // needs nlohmann/json, which CMakeLists.txt links

#include <string>
#include <string_view>

namespace {

namespace sdk = apistudio::sdk;
namespace cfg = apistudio::sdk::settings;

constexpr std::string_view plugin_name = "template_plugin";

// The settings, declared once: parse_settings() refuses any other key, and
// cfg::settings_markdown_table(settings_table) renders the table of README.md.
constexpr cfg::setting_spec settings_table[] = {
    {"header_name", "string", "`X-Template-Plugin`",
     "Header added to every upstream handshake. Must be an HTTP token; the host refuses the "
     "headers it owns (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-*`) and the plugin logs a "
     "warning."},
    {"header_value", "string", "`1`", "Its value (no control characters)."},
    {"override_client", "boolean", "`true`",
     "`true`: replaces a header of the same name the client asked for in `connect_external`; "
     "`false`: keeps the client's."},
    {"tag", "string", "`[template] `",
     "Put in front of every upstream text frame; `\"\"` leaves frames untouched. Binary frames "
     "are never changed."},
};

class template_plugin final : public sdk::plugin<> { // no per-session state
public:
  // Throwing sdk::settings_error refuses the settings: the host prints the message with the
  // location of the offending key in its YAML file and does not start. The cfg:: helpers throw it
  // with the key's path in the message and its JSON pointer for the host.
  template_plugin(sdk::host h, std::string_view settings_json) : plugin(h) {
    const cfg::json s = cfg::parse_settings(plugin_name, settings_json, settings_table);
    const cfg::key_path root;
    const auto text = [&](const char *key, std::string fallback) {
      const auto it = s.find(key);
      return it == s.end() ? fallback : cfg::read_string(plugin_name, root.key(key), *it);
    };
    header_name_ = text("header_name", "X-Template-Plugin");
    header_value_ = text("header_value", "1");
    tag_ = text("tag", "[template] ");
    if (const auto it = s.find("override_client"); it != s.end())
      override_client_ = cfg::read_bool(plugin_name, root.key("override_client"), *it);
    if (header_name_.empty())
      cfg::fail(plugin_name, root.key("header_name"), "must not be empty");
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
