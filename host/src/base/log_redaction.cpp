// log_redaction.cpp — the rules of log_redaction.hpp, two passes over the text: URLs first (their
// userinfo has no name to recognise it by), then name/value pairs and bearer credentials.
#include "base/log_redaction.hpp"

#include "base/hex_digit.hpp"

#include <algorithm>
#include <array>

namespace apistudio {

namespace {

constexpr std::array<std::string_view, 11> secret_parameter_words{
    "token", "key", "secret", "pass", "pwd", "auth", "session", "sig", "jwt", "credential", "code"};
constexpr std::array<std::string_view, 4> always_secret_headers{
    "authorization", "proxy-authorization", "cookie", "set-cookie"};
// Header words of the debug logger plus the parameter words, except "code": in free text it
// names close codes and error codes far more often than OAuth codes (which travel in URLs,
// where the parameter rule hides them).
constexpr std::array<std::string_view, 10> secret_pair_words{
    "token", "key", "secret", "pass", "pwd", "auth", "session", "jwt", "credential", "sig"};

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == y; });
}

// `word` is lower case.
bool icontains(std::string_view text, std::string_view word) noexcept {
  if (word.size() > text.size())
    return false;
  for (std::size_t i = 0; i + word.size() <= text.size(); ++i)
    if (iequals(text.substr(i, word.size()), word))
      return true;
  return false;
}

template <std::size_t N>
bool contains_any(std::string_view text, const std::array<std::string_view, N> &words) noexcept {
  return std::any_of(words.begin(), words.end(),
                     [&](std::string_view w) { return icontains(text, w); });
}

std::string percent_decoded(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%' && i + 2 < raw.size() && hex_digit_value(raw[i + 1]) >= 0 &&
        hex_digit_value(raw[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit_value(raw[i + 1]) * 16 + hex_digit_value(raw[i + 2]));
      i += 2;
    } else {
      out += raw[i];
    }
  }
  return out;
}

// ---- URLs -----------------------------------------------------------------------------------

bool is_scheme_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '-' || c == '.';
}

// Where a URL written into prose ends: the characters RFC 3986 never allows unencoded.
bool ends_url(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' ||
         c == '\\' || c == '{' || c == '}' || c == '|' || c == '^';
}

// "a=1&token=x" -> "a=1&token=[REDACTED]".
void append_redacted_parameters(std::string &out, std::string_view params) {
  for (;;) {
    const auto amp = params.find('&');
    const std::string_view pair = params.substr(0, amp);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos &&
        is_secret_parameter_name(percent_decoded(pair.substr(0, eq)))) {
      out.append(pair.substr(0, eq + 1));
      out.append(redacted_marker);
    } else {
      out.append(pair);
    }
    if (amp == std::string_view::npos)
      return;
    out += '&';
    params.remove_prefix(amp + 1);
  }
}

void append_redacted_url(std::string &out, std::string_view url) {
  const auto scheme_end = url.find("://");
  const std::size_t authority_start = scheme_end + 3;
  const auto authority_end = std::min(url.find_first_of("/?#", authority_start), url.size());
  const std::string_view authority = url.substr(authority_start, authority_end - authority_start);
  out.append(url.substr(0, authority_start));
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    out.append(redacted_marker);
    out.append(authority.substr(at));
  } else {
    out.append(authority);
  }
  const std::string_view rest = url.substr(authority_end);
  const auto fragment = rest.find('#');
  const auto query = rest.substr(0, fragment).find('?');
  out.append(rest.substr(0, std::min(query, fragment)));
  if (query != std::string_view::npos) {
    out += '?';
    append_redacted_parameters(out, rest.substr(query + 1, fragment == std::string_view::npos
                                                               ? std::string_view::npos
                                                               : fragment - query - 1));
  }
  if (fragment != std::string_view::npos) {
    out += '#';
    append_redacted_parameters(out, rest.substr(fragment + 1));
  }
}

std::string redact_urls(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  std::size_t copied = 0;
  std::size_t at = 0;
  while ((at = text.find("://", at)) != std::string_view::npos) {
    std::size_t start = at;
    while (start > copied && is_scheme_char(text[start - 1]))
      --start;
    std::size_t end = at + 3;
    while (end < text.size() && !ends_url(text[end]))
      ++end;
    if (start == at) { // "://" without a scheme: not a URL
      at += 3;
      continue;
    }
    out.append(text.substr(copied, start - copied));
    append_redacted_url(out, text.substr(start, end - start));
    copied = at = end;
  }
  out.append(text.substr(copied));
  return out;
}

// ---- name/value pairs and bearer credentials ------------------------------------------------

bool is_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

bool is_secret_pair_name(std::string_view name) noexcept {
  return is_secret_header_name(name) || contains_any(name, secret_pair_words);
}

// How far an unquoted value reaches. After '=' (query strings, key=value prose) a value is one
// word; after ':' (a header written out) it may hold spaces ("Bearer abc"), up to punctuation
// that ends a header in prose.
bool ends_value(char c, char separator) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || c == '"' || c == '\'' || c == ',' || c == ';' || c == ')' || c == ']' || c == '}')
    return true;
  return separator == '=' && (c == ' ' || c == '&' || c == '#');
}

// The value starting at `from` (a quoted one up to its closing quote) is replaced by the marker;
// returns where the text goes on.
std::size_t append_hidden_value(std::string &out, std::string_view text, std::size_t from,
                                char separator) {
  // Already hidden by the URL pass ("token=[REDACTED]"): keep it as it is.
  if (text.substr(from, redacted_marker.size()) == redacted_marker) {
    out.append(redacted_marker);
    return from + redacted_marker.size();
  }
  if (from < text.size() && (text[from] == '"' || text[from] == '\'')) {
    const char quote = text[from];
    std::size_t end = from + 1;
    while (end < text.size() && text[end] != quote)
      end += text[end] == '\\' ? 2 : 1;
    out += quote;
    out.append(redacted_marker);
    if (end < text.size())
      out += quote;
    return std::min(end + 1, text.size());
  }
  std::size_t end = from;
  while (end < text.size() && !ends_value(text[end], separator))
    ++end;
  // A trailing space belongs to the prose, not to the value.
  while (end > from && text[end - 1] == ' ')
    --end;
  if (end > from)
    out.append(redacted_marker);
  return end;
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// ":LINE:COLUMN" (or ":LINE") starting at `at`: a file location, as in "FILE:12:7: key: what".
std::size_t location_end(std::string_view text, std::size_t at) noexcept {
  std::size_t k = at;
  for (int part = 0; part < 2 && k + 1 < text.size() && text[k] == ':' && is_digit(text[k + 1]);
       ++part) {
    ++k;
    while (k < text.size() && is_digit(text[k]))
      ++k;
  }
  return k;
}

// "apistudio.yaml", "/etc/x/session.yml": a name ending in a file extension of letters.
bool names_a_file(std::string_view name) noexcept {
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == name.size())
    return false;
  return std::all_of(name.begin() + static_cast<std::ptrdiff_t>(dot) + 1, name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); });
}

// The configuration's own errors read "FILE:LINE:COLUMN: key.path: what is wrong". Neither the
// file name (".../session.yaml:3:1") nor a key path after a location ("security.access_tokens:
// must be a list") is a secret's name, and the configuration's messages never repeat a value
// (docs/security.md): hiding them would hide where the operator has to look.
bool follows_location(std::string_view text, std::size_t name_start) noexcept {
  // The key path may hold list indexes before this name: "plugins[0].settings.tokens".
  while (name_start > 0 && (is_name_char(text[name_start - 1]) || text[name_start - 1] == '[' ||
                            text[name_start - 1] == ']'))
    --name_start;
  if (name_start < 2 || text.substr(name_start - 2, 2) != ": ")
    return false;
  std::size_t k = name_start - 2; // the ':' after the location
  const std::size_t digits_end = k;
  while (k > 0 && is_digit(text[k - 1]))
    --k;
  return k < digits_end && k > 0 && text[k - 1] == ':';
}

std::string redact_pairs(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    if (!is_name_char(text[i]) || (i > 0 && is_name_char(text[i - 1]))) {
      out += text[i++];
      continue;
    }
    std::size_t end = i;
    while (end < n && is_name_char(text[end]))
      ++end;
    const std::string_view name = text.substr(i, end - i);
    out.append(name);

    // "Bearer X" / "Basic X": the credential follows after one space.
    if ((iequals(name, "bearer") || name == "Basic") && end + 1 < n && text[end] == ' ' &&
        !ends_value(text[end + 1], '=')) {
      out += ' ';
      i = append_hidden_value(out, text, end + 1, '=');
      continue;
    }
    if (!is_secret_pair_name(name) || follows_location(text, i)) {
      i = end;
      continue;
    }
    if (const std::size_t after = location_end(text, end); after > end && names_a_file(name)) {
      out.append(text.substr(end, after - end)); // "name.yaml:4:17": a file and a place in it
      i = after;
      continue;
    }
    // name=value, name: value, "name": "value"
    std::size_t k = end;
    if (k < n && text[k] == '"' && i > 0 && text[i - 1] == '"')
      ++k;
    while (k < n && text[k] == ' ')
      ++k;
    if (k >= n || (text[k] != '=' && text[k] != ':')) {
      i = end;
      continue;
    }
    const char separator = text[k++];
    while (k < n && text[k] == ' ')
      ++k;
    out.append(text.substr(end, k - end));
    i = append_hidden_value(out, text, k, separator);
  }
  return out;
}

} // namespace

bool is_secret_parameter_name(std::string_view decoded_name) noexcept {
  return contains_any(decoded_name, secret_parameter_words);
}

bool is_secret_header_name(std::string_view name) noexcept {
  return std::any_of(always_secret_headers.begin(), always_secret_headers.end(),
                     [&](std::string_view h) { return iequals(name, h); }) ||
         contains_any(name, std::array<std::string_view, 6>{"key", "token", "secret", "password",
                                                            "auth", "session"});
}

std::string redact_secrets(std::string_view text) { return redact_pairs(redact_urls(text)); }

} // namespace apistudio
