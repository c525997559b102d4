#include "common/query_string.hpp"

namespace apistudio::plugins::common {

std::vector<query_param> split_query(std::string_view query) {
  std::vector<query_param> out;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos)
      end = query.size();
    const std::string_view part = query.substr(start, end - start);
    if (!part.empty()) {
      const auto eq = part.find('=');
      if (eq == std::string_view::npos)
        out.push_back({part, {}, false});
      else
        out.push_back({part.substr(0, eq), part.substr(eq + 1), true});
    }
    start = end + 1;
  }
  return out;
}

namespace {
int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}
} // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size())
        return std::nullopt;
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      const char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\0')
        return std::nullopt;
      out += decoded;
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

query_lookup find_query_value(std::string_view query, std::string_view name) {
  for (const auto &p : split_query(query)) {
    const auto decoded_name = percent_decode(p.raw_name);
    if (!decoded_name || *decoded_name != name)
      continue;
    query_lookup result;
    result.value = percent_decode(p.raw_value);
    result.malformed = !result.value.has_value();
    return result;
  }
  return {};
}

} // namespace apistudio::plugins::common
