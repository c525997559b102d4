// settings_table.hpp — a plugin's settings declared once, in a table (name, type, default,
// description), used both to validate what the operator wrote and to render the plugin's README
// table (Fluent Bit's config_map idea). A unit test checks every README still contains the table
// rendered from the code, so the two cannot drift apart.
//
// Errors are apistudio::sdk::settings_error with the message "<plugin>: <key.path>: <problem>";
// the host adds the location of the plugin's block in the YAML file. Messages never quote a
// setting's value (it may be a secret), only its path and what was expected.
#pragma once

#include <apistudio/plugin.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace apistudio::plugins::common {

// Ordered so that headers and rules apply in the order the operator wrote them.
using json = nlohmann::ordered_json;

struct setting_spec {
  std::string_view name;
  std::string_view type;          // for the documentation, e.g. "list of {messages, window}"
  std::string_view default_value; // as documented, e.g. "`connection`"
  std::string_view description;
};

// Parses the settings text the host hands over; "" and `null` mean {}. Throws settings_error on
// invalid JSON, a non-object, or a key the table does not declare (the message lists the known
// keys).
json parse_settings(std::string_view plugin, std::string_view text,
                    std::span<const setting_spec> table);

// "| Setting | Type | Default | Description |" and one row per entry, each line ending in '\n'.
std::string settings_markdown_table(std::span<const setting_spec> table);

[[noreturn]] void settings_fail(std::string_view plugin, std::string_view where,
                                std::string_view problem);

// The JSON type of `value` in words ("a string", "an array", ...), for messages.
std::string_view json_type_words(const json &value) noexcept;

// Typed readers. YAML scalars may reach us as strings ("60", "true"), so digit strings are
// accepted where an integer is expected and "true"/"false" where a boolean is.
std::string read_string(std::string_view plugin, std::string_view where, const json &value);
bool read_bool(std::string_view plugin, std::string_view where, const json &value);
std::uint64_t read_uint(std::string_view plugin, std::string_view where, const json &value,
                        std::uint64_t min, std::uint64_t max);
void require_object(std::string_view plugin, std::string_view where, const json &value);
void require_array(std::string_view plugin, std::string_view where, const json &value);
// Refuses any key of the object `value` not in `known`.
void check_keys(std::string_view plugin, std::string_view where, const json &value,
                std::initializer_list<std::string_view> known);

} // namespace apistudio::plugins::common
