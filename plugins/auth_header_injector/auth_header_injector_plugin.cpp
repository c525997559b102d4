// auth_header_injector_plugin.cpp — the hook: on every connect_external handshake apply the
// edits of the rules matching the upstream URL. Values are credentials: only header names and
// rule labels are ever logged.
#include "auth_header_injector/auth_header_injector_settings.hpp"
#include "auth_header_injector/header_rules.hpp"

#include <apistudio/plugin.hpp>

#include <string>

namespace apistudio::plugins::auth_header_injector {
namespace {

class auth_header_injector_plugin final : public sdk::plugin<> {
public:
  auth_header_injector_plugin(sdk::host h, std::string_view settings_json)
      : plugin(h), settings_(parse_settings(settings_json, system_secret_sources())) {}

  sdk::outcome on_upstream_connect(sdk::session &session, sdk::no_state *,
                                   sdk::upstream_request &request) override {
    if (settings_.rules.empty())
      return sdk::verdict::continue_;
    const auto plan = plan_for(settings_.rules, request.url_parts());
    const bool debug = host().log_enabled(sdk::log_level::debug);
    for (const auto &step : plan) {
      const auto &edit = *step.edit;
      bool accepted = true;
      switch (edit.kind) {
      case edit_kind::remove:
        request.remove_header(edit.name);
        break;
      case edit_kind::set:
        accepted = request.set_header(edit.name, edit.value, sdk::header_mode::overwrite);
        break;
      case edit_kind::set_if_absent:
        accepted = request.set_header(edit.name, edit.value, sdk::header_mode::if_absent);
        break;
      case edit_kind::append:
        accepted = request.set_header(edit.name, edit.value, sdk::header_mode::append);
        break;
      }
      if (!accepted) {
        host().log(sdk::log_level::warn, "session " + std::to_string(session.id()) + ": " +
                                             step.rule->label + ": the host refused header " +
                                             edit.name);
      } else if (debug) {
        static constexpr const char *verbs[] = {"removed", "set", "set (if absent)", "appended"};
        host().log(sdk::log_level::debug, "session " + std::to_string(session.id()) + ": " +
                                              step.rule->label + ": " +
                                              verbs[static_cast<int>(edit.kind)] + " " + edit.name);
      }
    }
    return sdk::verdict::continue_;
  }

private:
  const settings settings_;
};

} // namespace
} // namespace apistudio::plugins::auth_header_injector

APISTUDIO_PLUGIN(apistudio::plugins::auth_header_injector::auth_header_injector_plugin,
                 "auth_header_injector", "1.0.0")
