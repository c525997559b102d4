#include "common/settings_table.hpp"

#include <limits>

namespace apistudio::plugins::common {

[[noreturn]] void settings_fail(std::string_view plugin, std::string_view where,
                                std::string_view problem) {
  std::string message(plugin);
  message += ": ";
  message += where;
  message += ": ";
  message += problem;
  throw sdk::settings_error(message);
}

std::string_view json_type_words(const json &value) noexcept {
  switch (value.type()) {
  case json::value_t::null:
    return "null";
  case json::value_t::object:
    return "an object";
  case json::value_t::array:
    return "an array";
  case json::value_t::string:
    return "a string";
  case json::value_t::boolean:
    return "a boolean";
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
    return "an integer";
  case json::value_t::number_float:
    return "a number with a fraction";
  default:
    return "binary data";
  }
}

namespace {
std::string known_list(std::initializer_list<std::string_view> known) {
  std::string out;
  for (const auto k : known) {
    if (!out.empty())
      out += ", ";
    out += k;
  }
  return out;
}
} // namespace

json parse_settings(std::string_view plugin, std::string_view text,
                    std::span<const setting_spec> table) {
  json settings;
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    settings = json::object();
  } else {
    settings = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (settings.is_discarded())
      settings_fail(plugin, "settings", "not valid JSON");
    if (settings.is_null())
      settings = json::object();
  }
  if (!settings.is_object())
    settings_fail(plugin, "settings",
                  std::string("must be a mapping, got ") + std::string(json_type_words(settings)));
  for (const auto &item : settings.items()) {
    bool known = false;
    for (const auto &spec : table)
      known = known || spec.name == item.key();
    if (known)
      continue;
    std::string names;
    for (const auto &spec : table) {
      if (!names.empty())
        names += ", ";
      names += spec.name;
    }
    settings_fail(plugin, item.key(), "unknown setting (known: " + names + ")");
  }
  return settings;
}

std::string settings_markdown_table(std::span<const setting_spec> table) {
  std::string out = "| Setting | Type | Default | Description |\n|---|---|---|---|\n";
  for (const auto &spec : table) {
    out += "| `";
    out += spec.name;
    out += "` | ";
    out += spec.type;
    out += " | ";
    out += spec.default_value;
    out += " | ";
    out += spec.description;
    out += " |\n";
  }
  return out;
}

std::string read_string(std::string_view plugin, std::string_view where, const json &value) {
  if (!value.is_string())
    settings_fail(plugin, where,
                  std::string("must be a string, got ") + std::string(json_type_words(value)));
  return value.get<std::string>();
}

bool read_bool(std::string_view plugin, std::string_view where, const json &value) {
  if (value.is_boolean())
    return value.get<bool>();
  if (value.is_string()) {
    const auto &s = value.get_ref<const std::string &>();
    if (s == "true")
      return true;
    if (s == "false")
      return false;
  }
  settings_fail(plugin, where,
                std::string("must be true or false, got ") + std::string(json_type_words(value)));
}

std::uint64_t read_uint(std::string_view plugin, std::string_view where, const json &value,
                        std::uint64_t min, std::uint64_t max) {
  std::uint64_t number = 0;
  bool ok = false;
  if (value.is_number_unsigned()) {
    number = value.get<std::uint64_t>();
    ok = true;
  } else if (value.is_number_integer()) {
    const auto signed_number = value.get<std::int64_t>();
    ok = signed_number >= 0;
    number = ok ? static_cast<std::uint64_t>(signed_number) : 0;
  } else if (value.is_string()) {
    const auto &s = value.get_ref<const std::string &>();
    ok = !s.empty() && s.size() <= 19;
    for (const char c : s)
      ok = ok && c >= '0' && c <= '9';
    if (ok)
      number = std::stoull(s);
  }
  if (!ok || number < min || number > max)
    settings_fail(plugin, where,
                  "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  return number;
}

void require_object(std::string_view plugin, std::string_view where, const json &value) {
  if (!value.is_object())
    settings_fail(plugin, where,
                  std::string("must be a mapping, got ") + std::string(json_type_words(value)));
}

void require_array(std::string_view plugin, std::string_view where, const json &value) {
  if (!value.is_array())
    settings_fail(plugin, where,
                  std::string("must be a list, got ") + std::string(json_type_words(value)));
}

void check_keys(std::string_view plugin, std::string_view where, const json &value,
                std::initializer_list<std::string_view> known) {
  for (const auto &item : value.items()) {
    bool found = false;
    for (const auto k : known)
      found = found || k == item.key();
    if (!found)
      settings_fail(plugin, std::string(where) + "." + item.key(),
                    "unknown key (known: " + known_list(known) + ")");
  }
}

} // namespace apistudio::plugins::common
