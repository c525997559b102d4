// settings.hpp — a plugin's settings declared once, in a table (name, type, default,
// description), used both to validate what the operator wrote and to render the plugin's README
// table (Fluent Bit's config_map idea). The shipped plugins use it, and a unit test of theirs
// checks that every README still contains the table rendered from the code.
//
// Typical use, in the plugin's constructor:
//
//     namespace cfg = apistudio::sdk::settings;
//     constexpr cfg::setting_spec table[] = {
//         {"limit", "integer", "`10`", "Messages per second."},
//     };
//     const cfg::json s = cfg::parse_settings("my_plugin", settings_json, table);
//     const cfg::key_path root;
//     if (const auto it = s.find("limit"); it != s.end())
//       limit_ = cfg::read_uint("my_plugin", root.key("limit"), *it, 1, 1000);
//
// Errors are apistudio::sdk::settings_error with the message "<plugin>: <key.path>: <problem>"
// and the RFC 6901 JSON Pointer of the key ("/limits/0/window"), from which the host prints that
// key's own FILE:LINE:COLUMN of the YAML file. Messages never quote a setting's value (it may be
// a secret), only its path and what was expected; keep that rule in the messages you pass to
// fail().
//
// Requirements: C++17 and nlohmann/json 3 (Debian: nlohmann-json3-dev). The SDK target itself
// does not depend on nlohmann/json; a plugin that includes this header links it:
//     find_package(nlohmann_json 3 REQUIRED)
//     target_link_libraries(my_plugin PRIVATE nlohmann_json::nlohmann_json)
// Everything here is inline: nothing to link from the SDK, and nothing crosses the C boundary
// (plugin.hpp turns the exception into the refusal message).
#ifndef APISTUDIO_SETTINGS_HPP
#define APISTUDIO_SETTINGS_HPP

#include <apistudio/settings_error.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace apistudio::sdk::settings {

// Ordered, so that lists and mappings apply in the order the operator wrote them.
using json = nlohmann::ordered_json;

struct setting_spec {
  std::string_view name;
  std::string_view type;          // for the documentation, e.g. "list of {messages, window}"
  std::string_view default_value; // as documented, e.g. "`connection`"
  std::string_view description;
};

// A non-owning view of a table (C++17 has no std::span): made from a C array, a std::array, a
// std::vector or a std::span of setting_spec. The table must outlive the view.
class spec_table {
public:
  constexpr spec_table() noexcept = default;
  constexpr spec_table(const setting_spec *data, std::size_t size) noexcept
      : data_(data), size_(size) {}
  template <class Table,
            class = std::enable_if_t<std::is_convertible_v<
                decltype(std::data(std::declval<const Table &>())), const setting_spec *>>>
  constexpr spec_table(const Table &specs) noexcept // NOLINT(google-explicit-constructor)
      : data_(std::data(specs)), size_(std::size(specs)) {}

  constexpr const setting_spec *begin() const noexcept { return data_; }
  constexpr const setting_spec *end() const noexcept { return data_ + size_; }
  constexpr std::size_t size() const noexcept { return size_; }

private:
  const setting_spec *data_ = nullptr;
  std::size_t size_ = 0;
};

// One reference token of a JSON Pointer: '~' becomes "~0" and '/' becomes "~1" (RFC 6901).
inline std::string pointer_token(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (const char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

// Where a setting is, said twice: in words for the message ("rules[0] (github).set.X-Key") and
// as the JSON Pointer for the host ("/rules/0/set/X-Key"). The two are built together, so they
// cannot disagree. Default-constructed, it is the settings block itself ("settings", "").
class key_path {
public:
  key_path() = default;
  // For a place the helpers below cannot build; `pointer` must already be escaped.
  key_path(std::string words, std::string pointer)
      : words_(std::move(words)), pointer_(std::move(pointer)), root_(false) {}

  // A key of the mapping here: "a.b", "/a/b"; on the block itself just "b", "/b".
  key_path key(std::string_view name) const {
    return {root_ ? std::string(name) : words_ + "." + std::string(name),
            pointer_ + "/" + pointer_token(name)};
  }
  // An item of the list here: "a[2]", "/a/2".
  key_path index(std::size_t i) const {
    return {words_ + "[" + std::to_string(i) + "]", pointer_ + "/" + std::to_string(i)};
  }
  // The same place, in other words: a label the operator recognises ("rules[0] (github)"), or
  // one that avoids a key which is a secret ("tokens entry 1").
  key_path labelled(std::string words) const { return {std::move(words), pointer_}; }

  const std::string &words() const noexcept { return words_; }
  const std::string &pointer() const noexcept { return pointer_; }

private:
  std::string words_ = "settings";
  std::string pointer_;
  bool root_ = true;
};

// Throws settings_error "<plugin>: <where>: <problem>" pointing at `where`.
[[noreturn]] inline void fail(std::string_view plugin, const key_path &where,
                              std::string_view problem) {
  std::string message(plugin);
  message += ": ";
  message += where.words();
  message += ": ";
  message += problem;
  throw settings_error(std::move(message), where.pointer());
}

// The JSON type of `value` in words ("a string", "an array", ...), for messages.
inline std::string_view json_type_words(const json &value) noexcept {
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

// Parses the settings text the host hands over; "" and `null` mean {}. Throws settings_error on
// invalid JSON, a non-object, or a key the table does not declare (the message lists the known
// keys, the pointer names the unknown one).
inline json parse_settings(std::string_view plugin, std::string_view text, spec_table specs) {
  const key_path root;
  json settings;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    settings = json::object();
  } else {
    settings = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (settings.is_discarded())
      fail(plugin, root, "not valid JSON");
    if (settings.is_null())
      settings = json::object();
  }
  if (!settings.is_object())
    fail(plugin, root,
         std::string("must be a mapping, got ") + std::string(json_type_words(settings)));
  for (const auto &item : settings.items()) {
    bool known = false;
    for (const auto &spec : specs)
      known = known || spec.name == item.key();
    if (known)
      continue;
    std::string names;
    for (const auto &spec : specs) {
      if (!names.empty())
        names += ", ";
      names += spec.name;
    }
    fail(plugin, root.key(item.key()), "unknown setting (known: " + names + ")");
  }
  return settings;
}

// "| Setting | Type | Default | Description |" and one row per entry, each line ending in '\n'.
inline std::string settings_markdown_table(spec_table specs) {
  std::string out = "| Setting | Type | Default | Description |\n|---|---|---|---|\n";
  for (const auto &spec : specs) {
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

// Typed readers. YAML scalars may reach a plugin as strings ("60", "true"), so digit strings are
// accepted where an integer is expected and "true"/"false" where a boolean is.
inline std::string read_string(std::string_view plugin, const key_path &where, const json &value) {
  if (!value.is_string())
    fail(plugin, where,
         std::string("must be a string, got ") + std::string(json_type_words(value)));
  return value.get<std::string>();
}

inline bool read_bool(std::string_view plugin, const key_path &where, const json &value) {
  if (value.is_boolean())
    return value.get<bool>();
  if (value.is_string()) {
    const auto &s = value.get_ref<const std::string &>();
    if (s == "true")
      return true;
    if (s == "false")
      return false;
  }
  fail(plugin, where,
       std::string("must be true or false, got ") + std::string(json_type_words(value)));
}

inline std::uint64_t read_uint(std::string_view plugin, const key_path &where, const json &value,
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
    ok = !s.empty() && s.size() <= 19; // 19 digits always fit in 64 bits
    for (const char c : s)
      ok = ok && c >= '0' && c <= '9';
    if (ok)
      number = std::stoull(s);
  }
  if (!ok || number < min || number > max)
    fail(plugin, where,
         "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  return number;
}

inline void require_object(std::string_view plugin, const key_path &where, const json &value) {
  if (!value.is_object())
    fail(plugin, where,
         std::string("must be a mapping, got ") + std::string(json_type_words(value)));
}

inline void require_array(std::string_view plugin, const key_path &where, const json &value) {
  if (!value.is_array())
    fail(plugin, where, std::string("must be a list, got ") + std::string(json_type_words(value)));
}

// Refuses any key of the object `value` (at `where`) not in `known`, pointing at that key.
inline void check_keys(std::string_view plugin, const key_path &where, const json &value,
                       std::initializer_list<std::string_view> known) {
  for (const auto &item : value.items()) {
    bool found = false;
    for (const auto k : known)
      found = found || k == item.key();
    if (found)
      continue;
    std::string names;
    for (const auto k : known) {
      if (!names.empty())
        names += ", ";
      names += k;
    }
    fail(plugin, where.key(item.key()), "unknown key (known: " + names + ")");
  }
}

} // namespace apistudio::sdk::settings

#endif // APISTUDIO_SETTINGS_HPP
