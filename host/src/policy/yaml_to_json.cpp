// yaml_to_json.cpp — a plugin's settings block from YAML into JSON (yaml_to_json.hpp).
#include "policy/yaml_to_json.hpp"

#include "policy/config_values.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace apistudio::config_detail {
namespace {

std::string short_tag(const std::string &tag) {
  constexpr std::string_view core = "tag:yaml.org,2002:";
  if (tag.compare(0, core.size(), core) == 0)
    return "!!" + tag.substr(core.size());
  return tag;
}

// The YAML 1.2 core schema, applied after ${ENV} substitution: a plain `port: ${PORT}` is a
// number, a quoted one a string. Anything JSON cannot hold (.inf, .nan, 2^64) is an error rather
// than a silent change.
nlohmann::json scalar_to_json(const yaml_reader &reader, const located &value) {
  const std::string tag = value.node.Tag();
  const std::string raw = value.node.Scalar();
  const std::string word = reader.text(value, "a value");
  if (!valid_utf8(word))
    reader.fail(value.mark(), value.path, "value is not valid UTF-8");

  const auto as_integer = [&]() -> std::optional<nlohmann::json> {
    // Core schema: [-+]? [0-9]+ | 0o [0-7]+ | 0x [0-9a-fA-F]+
    std::string_view digits = word;
    int base = 10;
    bool negative = false;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'o')) {
      base = digits[1] == 'x' ? 16 : 8;
      digits.remove_prefix(2);
    } else if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) {
      negative = digits.front() == '-';
      digits.remove_prefix(1);
    }
    const auto in_base = [base](char c) {
      if (base == 16)
        return is_digit(c) || (to_lower(c) >= 'a' && to_lower(c) <= 'f');
      return c >= '0' && c < static_cast<char>('0' + base);
    };
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), in_base))
      return std::nullopt;
    std::uint64_t magnitude = 0;
    const auto [stop, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
    constexpr auto max_signed =
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (ec != std::errc{} || stop != digits.data() + digits.size() ||
        (negative && magnitude > max_signed + 1))
      reader.fail(value.mark(), value.path,
                  "integer " + shown(word) + " does not fit in 64 bits (write it as a string)");
    if (negative)
      return nlohmann::json(magnitude == max_signed + 1 ? std::numeric_limits<std::int64_t>::min()
                                                        : -static_cast<std::int64_t>(magnitude));
    if (magnitude <= max_signed)
      return nlohmann::json(static_cast<std::int64_t>(magnitude));
    return nlohmann::json(magnitude);
  };
  const auto as_float = [&]() -> std::optional<nlohmann::json> {
    static constexpr std::array<std::string_view, 9> special = {
        ".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"};
    if (std::find(special.begin(), special.end(), word) != special.end() ||
        ((word.front() == '+') && std::find(special.begin(), special.end(),
                                            std::string_view(word).substr(1)) != special.end()))
      reader.fail(value.mark(), value.path,
                  shown(word) + " cannot be represented in JSON (write it as a string)");
    // Core schema: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    std::size_t i = 0;
    if (i < word.size() && (word[i] == '-' || word[i] == '+'))
      ++i;
    const std::size_t number_start = i;
    std::size_t int_digits = 0;
    while (i < word.size() && is_digit(word[i])) {
      ++i;
      ++int_digits;
    }
    std::size_t fraction_digits = 0;
    if (i < word.size() && word[i] == '.') {
      ++i;
      while (i < word.size() && is_digit(word[i])) {
        ++i;
        ++fraction_digits;
      }
    }
    if (int_digits == 0 && fraction_digits == 0)
      return std::nullopt;
    if (i < word.size() && (word[i] == 'e' || word[i] == 'E')) {
      ++i;
      if (i < word.size() && (word[i] == '-' || word[i] == '+'))
        ++i;
      std::size_t exponent_digits = 0;
      while (i < word.size() && is_digit(word[i])) {
        ++i;
        ++exponent_digits;
      }
      if (exponent_digits == 0)
        return std::nullopt;
    }
    if (i != word.size())
      return std::nullopt;
    double number = 0;
    const char *begin = word.data() + number_start;
    const auto [stop, ec] = std::from_chars(begin, word.data() + word.size(), number);
    if (ec != std::errc{} || stop != word.data() + word.size() || !std::isfinite(number))
      reader.fail(value.mark(), value.path,
                  shown(word) + " cannot be represented in JSON (write it as a string)");
    return nlohmann::json(word.front() == '-' ? -number : number);
  };
  const auto as_bool = [&]() -> std::optional<nlohmann::json> {
    if (word == "true" || word == "True" || word == "TRUE")
      return nlohmann::json(true);
    if (word == "false" || word == "False" || word == "FALSE")
      return nlohmann::json(false);
    return std::nullopt;
  };
  const auto is_null = [&] {
    return word == "~" || word == "null" || word == "Null" || word == "NULL";
  };

  if (tag == "!" || tag == "tag:yaml.org,2002:str")
    return word; // quoted, or explicitly a string
  if (tag == "?") {
    if (word.empty())
      return word; // `${VAR:-}`: the operator asked for an empty value, not for null
    if (is_null())
      return nullptr;
    if (auto b = as_bool())
      return *b;
    if (auto i = as_integer())
      return *i;
    if (auto f = as_float())
      return *f;
    return word;
  }
  if (tag == "tag:yaml.org,2002:null" && (word.empty() || is_null()))
    return nullptr;
  if (tag == "tag:yaml.org,2002:bool")
    if (auto b = as_bool())
      return *b;
  if (tag == "tag:yaml.org,2002:int" && !word.empty())
    if (auto i = as_integer())
      return *i;
  if (tag == "tag:yaml.org,2002:float" && !word.empty()) {
    if (auto f = as_float())
      return *f;
  }
  const bool core = tag == "tag:yaml.org,2002:null" || tag == "tag:yaml.org,2002:bool" ||
                    tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float";
  if (core)
    reader.fail(value.mark(), value.path, shown(raw) + " is not a valid " + short_tag(tag));
  reader.fail(value.mark(), value.path,
              "unsupported tag " + shown(short_tag(tag)) + " (expected a plain or quoted value)");
}

// Recursion is bounded: yaml_reader::load() refused anything nested too deeply. `locations` is
// null when nobody asked where things are.
nlohmann::json convert(const yaml_reader &reader, const located &value,
                       std::map<std::string, std::string> *locations,
                       const nlohmann::json::json_pointer &pointer) {
  if (locations != nullptr)
    (*locations)[pointer.to_string()] = reader.where(value.key_mark);
  const YAML::Node &node = value.node;
  if (node.IsSequence()) {
    nlohmann::json array = nlohmann::json::array();
    for (const located &item : reader.read_list(value))
      array.push_back(convert(reader, item, locations, pointer / array.size()));
    return array;
  }
  if (node.IsMap()) {
    nlohmann::json object = nlohmann::json::object();
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Mark key_mark = key.Mark().is_null() ? value.mark() : key.Mark();
      if (!key.IsScalar())
        reader.fail(key_mark, value.path, std::string("expected a key name, got ") + kind(key));
      const std::string &name = key.Scalar();
      const std::string path = child_path(value.path, name);
      if (!valid_utf8(name))
        reader.fail(key_mark, path, "key is not valid UTF-8");
      if (object.contains(name))
        reader.fail(key_mark, path, "duplicate key");
      object[name] =
          convert(reader, located{it->second, key_mark, path}, locations, pointer / name);
    }
    return object;
  }
  if (node.IsScalar())
    return scalar_to_json(reader, value);
  if (node.Tag() == "tag:yaml.org,2002:str")
    return ""; // `!!str` with nothing after it
  return nullptr;
}

} // namespace

nlohmann::json yaml_to_json(const yaml_reader &reader, const located &value) {
  return convert(reader, value, nullptr, nlohmann::json::json_pointer());
}

nlohmann::json yaml_to_json(const yaml_reader &reader, const located &value,
                            std::map<std::string, std::string> &locations) {
  return convert(reader, value, &locations, nlohmann::json::json_pointer());
}

} // namespace apistudio::config_detail
