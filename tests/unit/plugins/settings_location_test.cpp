// The two halves of "a settings error points at the bad key" (issue 13), joined without a .so: the
// host's config loader keeps where each setting was written, a shipped plugin's refusal carries
// the JSON pointer of the bad setting, and together they name the key's own FILE:LINE:COLUMN.
#include "auth_header_injector/auth_header_injector_settings.hpp"
#include "policy/config_loader.hpp"
#include "rate_limiter/rate_limiter_settings.hpp"

#include <apistudio/settings_error.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

namespace ahi = apistudio::plugins::auth_header_injector;

// What the host will print after "refused its settings at ": the location of the refusal's
// pointer in `yaml`, then the plugin's message.
template <class Parse> std::string refusal_at(const std::string &yaml, Parse parse) {
  const apistudio::host_config c = apistudio::load_config_from_string(yaml, "host.yaml");
  const apistudio::plugin_config &entry = c.plugins.at(0);
  try {
    parse(entry.settings.dump()); // the text the host hands to on_create
  } catch (const apistudio::sdk::settings_error &e) {
    return entry.location_of(e.pointer()) + ": " + e.what();
  }
  return "accepted";
}

TEST(PluginSettingsLocation, NestedRefusalNamesTheKeysOwnLine) {
  const std::string yaml = "plugins:\n"
                           "  - name: auth_header_injector\n"
                           "    settings:\n"
                           "      rules:\n"
                           "        - name: github\n"
                           "          match:\n"
                           "            host: \"*.github.com\"\n"
                           "            port: 0\n"
                           "          set: {X-Api-Key: abc}\n";
  EXPECT_EQ(refusal_at(yaml, [](const std::string &s) { ahi::parse_settings(s, {}); }),
            "host.yaml:8:13: auth_header_injector: rules[0] (github).match.port: must be an "
            "integer from 1 to 65535");
}

TEST(PluginSettingsLocation, FlowStyleAndListItemsToo) {
  const auto rate_limiter = [](const std::string &s) {
    apistudio::plugins::rate_limiter::parse_settings(s);
  };
  EXPECT_EQ(refusal_at("plugins:\n"
                       "  - name: rate_limiter\n"
                       "    settings: {limits: [{messages: 0, window: 60s}]}\n",
                       rate_limiter),
            "host.yaml:3:26: rate_limiter: limits[0].messages: must be an integer from 1 to "
            "1000000");
  EXPECT_EQ(refusal_at("plugins:\n"
                       "  - name: rate_limiter\n"
                       "    settings:\n"
                       "      limits:\n"
                       "        - {messages: 1, window: 1s}\n"
                       "        - {messages: 2, window: 1s, burst: 3}\n",
                       rate_limiter),
            "host.yaml:6:37: rate_limiter: limits[1].burst: unknown key (known: messages, window)");
  // An unknown top-level key points at itself, not at `settings:`.
  EXPECT_EQ(refusal_at("plugins:\n"
                       "  - name: rate_limiter\n"
                       "    settings:\n"
                       "      limts: []\n",
                       rate_limiter),
            "host.yaml:4:7: rate_limiter: limts: unknown setting (known: limits, scope)");
}

} // namespace
