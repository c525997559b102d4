// query_string.hpp — splitting "a=1&b=two" and percent-decoding its parts.
//
// Parameters are returned raw (views into the input, still encoded) so that a caller rewriting a
// query (log redaction) keeps everything it does not touch byte for byte; decode what you read.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace apistudio::plugins::common {

struct query_param {
  std::string_view raw_name;
  std::string_view raw_value; // empty when the parameter had no '='
  bool has_value = false;
};

// Splits on '&' (empty segments are skipped). A leading '?' is not expected.
std::vector<query_param> split_query(std::string_view query);

// Decodes %XX escapes; with `plus_as_space` a '+' becomes ' ' (HTML forms, URLSearchParams).
// nullopt for a malformed escape ("%4", "%zz") or an encoded NUL.
std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space = true);

// The decoded value of the FIRST parameter whose decoded name equals `name`; nullopt if absent.
// A present parameter whose value does not decode yields `malformed` = true and nullopt.
struct query_lookup {
  std::optional<std::string> value;
  bool malformed = false;
};
query_lookup find_query_value(std::string_view query, std::string_view name);

} // namespace apistudio::plugins::common
