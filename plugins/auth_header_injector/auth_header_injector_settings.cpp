#include "auth_header_injector/auth_header_injector_settings.hpp"

#include "common/text.hpp"

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace apistudio::plugins::auth_header_injector {

namespace cfg = sdk::settings;

namespace {

constexpr std::array<cfg::setting_spec, 1> top_table{{
    {"rules", "list of rules", "`[]`",
     "Header edits for `connect_external` handshakes, applied in order; every matching rule "
     "applies. See the rule keys below."},
}};

constexpr std::array<cfg::setting_spec, 6> rules_table{{
    {"name", "string", "none", "A label for logs and error messages (otherwise `rules[N]`)."},
    {"match", "mapping", "`{}` (every URL)",
     "All keys optional, all must match: `scheme` (`ws`/`wss`), `host` (exact, or `*.example.com` "
     "for any subdomain at any depth but not `example.com` itself, or `*`), `port` (compared with "
     "the URL's port or its scheme's default), `path_prefix` (segment-wise: `/v1` matches `/v1` "
     "and `/v1/x`, not `/v10`; on the normalised path, so `/v1/../admin` is not under `/v1`)."},
    {"set", "mapping of header name to value", "`{}`",
     "Headers to set. With `override_client: true` they replace what the client sent."},
    {"append", "mapping of header name to value", "`{}`",
     "Headers added after any existing value of the same name."},
    {"remove", "list of header names", "`[]`", "Headers removed first (e.g. `X-Debug`)."},
    {"override_client", "boolean", "`true`",
     "`true`: a `set` header replaces the client's; `false`: the client's header is kept when "
     "present and ours is only added when absent."},
}};

constexpr std::array<cfg::setting_spec, 4> values_table{{
    {"value", "string", "none",
     "A literal value (`${VAR}` is expanded by the host's config loader). A bare string may be "
     "written instead of the mapping."},
    {"env", "string", "none",
     "Name of an environment variable read once at load; unset or empty refuses the settings."},
    {"file", "string", "none",
     "Path of a file read once at load (at most 64 KiB); trailing CR/LF are trimmed; unreadable "
     "or empty refuses the settings."},
    {"prefix", "string", "`\"\"`", "Put before the value, e.g. `\"Bearer \"`."},
}};

constexpr std::size_t max_secret_file_bytes = 64 * 1024;

bool token_char(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// HTAB and visible bytes only: a CR or LF would split the request, a NUL truncate it.
bool valid_header_value(std::string_view v) noexcept {
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return false;
  }
  return true;
}

std::string resolve_value(const cfg::json &spec, const cfg::key_path &where,
                          const secret_sources &sources) {
  if (spec.is_string()) {
    auto value = spec.get<std::string>();
    if (!valid_header_value(value))
      cfg::fail(plugin_name, where, "the value contains a control character");
    return value;
  }
  cfg::require_object(plugin_name, where, spec);
  cfg::check_keys(plugin_name, where, spec, {"value", "env", "file", "prefix"});
  const int sources_given = static_cast<int>(spec.contains("value")) +
                            static_cast<int>(spec.contains("env")) +
                            static_cast<int>(spec.contains("file"));
  if (sources_given != 1)
    cfg::fail(plugin_name, where, "needs exactly one of `value`, `env`, `file`");
  std::string prefix;
  if (spec.contains("prefix"))
    prefix = cfg::read_string(plugin_name, where.key("prefix"), spec["prefix"]);

  std::string value;
  std::string origin = "the value";
  if (spec.contains("value")) {
    value = cfg::read_string(plugin_name, where.key("value"), spec["value"]);
  } else if (spec.contains("env")) {
    const auto name = cfg::read_string(plugin_name, where.key("env"), spec["env"]);
    // The message names the header; the pointer, the line that names the variable.
    const auto env_at = where.key("env").labelled(where.words());
    const auto found = sources.env ? sources.env(name) : std::nullopt;
    if (!found)
      cfg::fail(plugin_name, env_at, "environment variable " + name + " is not set");
    if (found->empty())
      cfg::fail(plugin_name, env_at, "environment variable " + name + " is empty");
    value = *found;
    origin = "environment variable " + name;
  } else {
    const auto path = cfg::read_string(plugin_name, where.key("file"), spec["file"]);
    const auto file_at = where.key("file").labelled(where.words());
    std::string why = "cannot be read";
    const auto found = sources.read_file ? sources.read_file(path, why) : std::nullopt;
    if (!found)
      cfg::fail(plugin_name, file_at, "file " + path + ": " + why);
    value = *found;
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r'))
      value.pop_back();
    if (value.empty())
      cfg::fail(plugin_name, file_at, "file " + path + " is empty");
    origin = "file " + path;
  }
  value = prefix + value;
  if (!valid_header_value(value))
    cfg::fail(plugin_name, where, origin + " contains a line break or another control character");
  return value;
}

void parse_edits(const cfg::json &map, const cfg::key_path &where, edit_kind kind,
                 const secret_sources &sources, std::vector<header_edit> &out) {
  cfg::require_object(plugin_name, where, map);
  for (const auto &item : map.items()) {
    const auto at = where.key(item.key());
    if (!valid_injectable_header_name(item.key()))
      cfg::fail(plugin_name, at,
                "not a header name this plugin may set (a token, and not one of the "
                "handshake headers the host owns)");
    out.push_back({kind, item.key(), resolve_value(item.value(), at, sources)});
  }
}

std::string lower_host_pattern(std::string pattern, const cfg::key_path &where) {
  pattern = common::to_lower(pattern);
  // An IPv6 literal is compared the way URLs write it: in brackets.
  if (pattern.find(':') != std::string::npos && pattern.front() != '[')
    pattern = "[" + pattern + "]";
  const bool wildcard = pattern.size() > 2 && pattern.rfind("*.", 0) == 0;
  const std::string_view rest = wildcard ? std::string_view(pattern).substr(2) : pattern;
  if (pattern != "*" && (rest.find('*') != std::string_view::npos || rest.empty()))
    cfg::fail(plugin_name, where,
              "must be a host name, `*.domain` (one leading wildcard label) or `*`");
  return pattern;
}

url_match parse_match(const cfg::json &m, const cfg::key_path &where) {
  cfg::require_object(plugin_name, where, m);
  cfg::check_keys(plugin_name, where, m, {"scheme", "host", "port", "path_prefix"});
  url_match out;
  if (m.contains("scheme")) {
    const auto at = where.key("scheme");
    auto scheme = common::to_lower(cfg::read_string(plugin_name, at, m["scheme"]));
    if (scheme != "ws" && scheme != "wss")
      cfg::fail(plugin_name, at, "must be ws or wss");
    out.scheme = std::move(scheme);
  }
  if (m.contains("host")) {
    const auto at = where.key("host");
    out.host_pattern = lower_host_pattern(cfg::read_string(plugin_name, at, m["host"]), at);
  }
  if (m.contains("port"))
    out.port = static_cast<std::uint16_t>(
        cfg::read_uint(plugin_name, where.key("port"), m["port"], 1, 65535));
  if (m.contains("path_prefix")) {
    const auto at = where.key("path_prefix");
    auto prefix = cfg::read_string(plugin_name, at, m["path_prefix"]);
    if (prefix.empty() || prefix.front() != '/')
      cfg::fail(plugin_name, at, "must start with /");
    out.path_prefix = std::move(prefix);
  }
  return out;
}

header_rule parse_rule(const cfg::json &r, const cfg::key_path &where,
                       const secret_sources &sources) {
  cfg::require_object(plugin_name, where, r);
  header_rule rule;
  rule.label = where.words();
  if (r.contains("name")) {
    rule.label += " (" + cfg::read_string(plugin_name, where.key("name"), r["name"]) + ")";
  }
  // Messages name the rule as the operator knows it; pointers stay "/rules/N/...".
  const auto at = where.labelled(rule.label);
  cfg::check_keys(plugin_name, at, r,
                  {"name", "match", "set", "append", "remove", "override_client"});
  if (r.contains("match"))
    rule.match = parse_match(r["match"], at.key("match"));
  bool override_client = true;
  if (r.contains("override_client"))
    override_client = cfg::read_bool(plugin_name, at.key("override_client"), r["override_client"]);
  if (r.contains("remove")) {
    const auto &list = r["remove"];
    const auto list_at = at.key("remove");
    cfg::require_array(plugin_name, list_at, list);
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto name = cfg::read_string(plugin_name, list_at.index(i), list[i]);
      if (!valid_injectable_header_name(name))
        cfg::fail(plugin_name, list_at.index(i), "not a header name this plugin may remove");
      rule.edits.push_back({edit_kind::remove, std::move(name), {}});
    }
  }
  if (r.contains("set"))
    parse_edits(r["set"], at.key("set"),
                override_client ? edit_kind::set : edit_kind::set_if_absent, sources, rule.edits);
  if (r.contains("append"))
    parse_edits(r["append"], at.key("append"), edit_kind::append, sources, rule.edits);
  if (rule.edits.empty())
    cfg::fail(plugin_name, at, "has none of set, append, remove");
  return rule;
}

} // namespace

std::span<const cfg::setting_spec> settings_table() noexcept { return top_table; }
std::span<const cfg::setting_spec> rule_table() noexcept { return rules_table; }
std::span<const cfg::setting_spec> value_table() noexcept { return values_table; }

bool valid_injectable_header_name(std::string_view name) noexcept {
  if (name.empty())
    return false;
  for (const char c : name)
    if (!token_char(c))
      return false;
  for (const std::string_view owned :
       {"host", "connection", "upgrade", "content-length", "transfer-encoding"})
    if (common::iequals(name, owned))
      return false;
  return !common::istarts_with(name, "sec-websocket-");
}

secret_sources system_secret_sources() {
  secret_sources s;
  s.env = [](const std::string &name) -> std::optional<std::string> {
    const char *value = std::getenv(name.c_str());
    if (value == nullptr)
      return std::nullopt;
    return std::string(value);
  };
  s.read_file = [](const std::string &path, std::string &why) -> std::optional<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      why = std::strerror(errno);
      return std::nullopt;
    }
    std::string content(max_secret_file_bytes + 1, '\0');
    in.read(content.data(), static_cast<std::streamsize>(content.size()));
    if (in.bad()) {
      why = "read error";
      return std::nullopt;
    }
    content.resize(static_cast<std::size_t>(in.gcount()));
    if (content.size() > max_secret_file_bytes) {
      why = "larger than 64 KiB";
      return std::nullopt;
    }
    return content;
  };
  return s;
}

settings parse_settings(std::string_view json_text, const secret_sources &sources) {
  const auto json = cfg::parse_settings(plugin_name, json_text, top_table);
  const auto rules_at = cfg::key_path().key("rules");
  settings out;
  if (const auto it = json.find("rules"); it != json.end() && !it->is_null()) {
    cfg::require_array(plugin_name, rules_at, *it);
    for (std::size_t i = 0; i < it->size(); ++i)
      out.rules.push_back(parse_rule((*it)[i], rules_at.index(i), sources));
  }
  return out;
}

} // namespace apistudio::plugins::auth_header_injector
