// config_loader.cpp — the operator's YAML, walked by hand into a host_config.
//
// Why not yaml-cpp's as<T>(): as<bool> takes yes/no/on/off, as<T> knows neither the key path nor
// the ranges, and a message without FILE:LINE:COLUMN and the key leaves the operator guessing.
// Every check here throws config_error through reader::fail(), which formats that prefix.
//
// Untrusted input: the walk is bounded before anything recurses (check_shape: 64 levels, a node
// budget against alias bombs and alias cycles), and yaml-cpp's own recursion guard is caught.
#include "policy/config_loader.hpp"

#include "policy/config_values.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace apistudio {
namespace {

using config_detail::canonical_origin;
using config_detail::format_duration;
using config_detail::format_size;
using config_detail::gib;
using config_detail::host_port;
using config_detail::is_alpha;
using config_detail::is_digit;
using config_detail::key_hint;
using config_detail::kib;
using config_detail::lower;
using config_detail::mib;
using config_detail::parse_listen;
using config_detail::shown;
using config_detail::split_number;
using config_detail::substitute_env;
using config_detail::to_lower;
using config_detail::valid_utf8;

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr int max_nesting_depth = 64;
// Aliases let a few lines expand into millions of nodes ("billion laughs"); a real configuration
// has a few hundred, plugin settings included.
constexpr std::size_t max_expanded_nodes = 200'000;
// Reading stops here, so a wrong path such as /dev/zero cannot eat the memory.
constexpr std::size_t max_file_bytes = 8 * 1024 * 1024;
// The same budget for text once aliases are expanded: 200k aliases of one 8 KiB string would
// otherwise become 1.6 GB of JSON.
constexpr std::size_t max_expanded_bytes = max_file_bytes;

// ----------------------------------------------------------------------------------------------
// The walk

// A value and where to point when it is wrong.
struct located {
  YAML::Node node;
  // yaml-cpp marks an empty (null) value at the start of the next line; the key is clearer.
  YAML::Mark key_mark;
  std::string path;

  YAML::Mark mark() const {
    const YAML::Mark own = node.Mark();
    return (node.IsNull() || own.is_null()) ? key_mark : own;
  }
};

// Keys are shown cut and without control bytes: a path must stay a short, printable line even
// when the input is hostile.
std::string child_path(const std::string &parent, std::string_view key) {
  constexpr std::size_t max_key_shown = 40;
  std::string shown_key;
  for (char c : key.substr(0, max_key_shown))
    shown_key += (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) ? '?' : c;
  if (key.size() > max_key_shown)
    shown_key += "...";
  return parent.empty() ? shown_key : parent + "." + shown_key;
}

std::string item_path(const std::string &parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

const char *kind(const YAML::Node &node) {
  switch (node.Type()) {
  case YAML::NodeType::Scalar:
    return "a scalar";
  case YAML::NodeType::Sequence:
    return "a list";
  case YAML::NodeType::Map:
    return "a mapping";
  default:
    return "nothing";
  }
}

std::string short_tag(const std::string &tag) {
  constexpr std::string_view core = "tag:yaml.org,2002:";
  if (tag.compare(0, core.size(), core) == 0)
    return "!!" + tag.substr(core.size());
  return tag;
}

class reader {
public:
  reader(std::string source, fs::path base_dir)
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

  host_config read(const std::string &yaml);

private:
  struct field {
    std::string_view key;
    std::function<void(const located &)> handle;
  };

  [[noreturn]] void fail(const YAML::Mark &mark, const std::string &path,
                         const std::string &what) const;
  std::string where(const YAML::Mark &mark) const;

  void check_shape(const YAML::Node &root) const;
  void read_mapping(const located &section, std::initializer_list<field> fields) const;
  std::vector<located> read_list(const located &value) const;

  std::string text(const located &value, const char *expected) const;
  bool boolean(const located &value) const;
  long long integer(const located &value, long long min, long long max) const;
  milliseconds duration(const located &value, milliseconds max) const;
  std::size_t size(const located &value, std::size_t min, std::size_t max) const;
  std::string path_text(const located &value) const;
  fs::path resolve(const std::string &path) const;

  void read_server(const located &section);
  void read_limits(const located &section);
  void read_keepalive(const located &section);
  void read_tls(const located &section);
  void read_egress(const located &section);
  void read_security(const located &section);
  void read_plugins(const located &list);
  std::vector<egress_rule> read_rules(const located &list) const;
  std::vector<std::string>
  read_strings(const located &list,
               const std::function<std::string(const located &, std::string)> &check) const;
  nlohmann::json to_json(const located &value) const;
  nlohmann::json scalar_to_json(const located &value) const;

  std::string source_;
  fs::path base_dir_;
  host_config config_;
};

std::string reader::where(const YAML::Mark &mark) const {
  if (mark.is_null() || mark.line < 0 || mark.column < 0)
    return source_;
  return source_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

void reader::fail(const YAML::Mark &mark, const std::string &path, const std::string &what) const {
  throw config_error(where(mark) + ": " + (path.empty() ? "" : path + ": ") + what);
}

// yaml-cpp 0.7's LoadAll() never returns on some invalid input (a stray ',' at the top level
// yields empty documents forever without consuming it, allocating each time). So the stream is
// first walked with a parser that stops at the second document or when it stops advancing, and
// only then the first document is loaded.
class document_counter : public YAML::EventHandler {
public:
  std::vector<YAML::Mark> starts;

  void OnDocumentStart(const YAML::Mark &mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark &, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark &, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark &, const std::string &, YAML::anchor_t,
                const std::string &) override {}
  void OnSequenceStart(const YAML::Mark &, const std::string &, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark &, const std::string &, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

host_config reader::read(const std::string &yaml) {
  config_.source_file = source_;
  std::optional<YAML::Node> loaded; // emplaced, never assigned: Node::operator= writes through
  try {
    std::istringstream stream(yaml);
    YAML::Parser parser(stream);
    document_counter counter;
    while (parser.HandleNextDocument(counter)) {
      if (counter.starts.size() < 2)
        continue;
      const YAML::Mark &first = counter.starts[0];
      const YAML::Mark &second = counter.starts[1];
      if (second.pos == first.pos)
        fail(second, "",
             "invalid YAML: unexpected character (a ',' or another flow indicator outside "
             "[...] or {...}?)");
      fail(second, "", "only one YAML document is allowed (found a second '---')");
    }
    if (counter.starts.empty())
      return std::move(config_); // nothing but comments and blank lines
    loaded.emplace(YAML::Load(yaml));
  } catch (const YAML::DeepRecursion &e) {
    fail(e.mark, "", "nested deeper than " + std::to_string(max_nesting_depth) + " levels");
  } catch (const YAML::Exception &e) {
    fail(e.mark, "", "invalid YAML: " + e.msg);
  }
  const YAML::Node &root = *loaded;
  if (root.IsNull())
    return std::move(config_);
  if (!root.IsMap())
    fail(root.Mark(), "",
         std::string("the top level must be a mapping of settings (server:, limits:, ...), got ") +
             kind(root));
  check_shape(root);

  const located top{root, root.Mark(), ""};
  read_mapping(top, {
                        {"server", [this](const located &v) { read_server(v); }},
                        {"limits", [this](const located &v) { read_limits(v); }},
                        {"keepalive", [this](const located &v) { read_keepalive(v); }},
                        {"tls", [this](const located &v) { read_tls(v); }},
                        {"egress", [this](const located &v) { read_egress(v); }},
                        {"security", [this](const located &v) { read_security(v); }},
                        {"debug", [this](const located &v) { config_.debug = boolean(v); }},
                        {"plugin_dir",
                         [this](const located &v) {
                           const std::string dir = path_text(v);
                           if (dir.empty())
                             fail(v.mark(), v.path,
                                  "empty directory (remove the key for the "
                                  "default)");
                           config_.plugin_dir = resolve(dir).string();
                         }},
                        {"plugins", [this](const located &v) { read_plugins(v); }},
                    });
  return std::move(config_);
}

// Everything after this may recurse or copy: settings become JSON recursively, alias cycles
// (`&a [*a]`) would never end, and aliases of long values multiply memory. So this walk is
// iterative (a frame per level, never more than max_nesting_depth of them), and counts nodes and
// scalar bytes as if aliases were expanded.
void reader::check_shape(const YAML::Node &root) const {
  struct frame {
    YAML::Node node;
    YAML::const_iterator it;
    YAML::const_iterator end;
    std::size_t index = 0; // sequences: position of `it`, for the path
    int stage = 0;         // 0: visit the entry's key (maps) or item, 1: its value, 2: advance
  };
  std::vector<frame> stack;
  std::size_t nodes = 0;
  std::size_t bytes = 0;
  // The key path of the entry each frame is visiting; built only for a message.
  const auto path = [&stack] {
    std::string out;
    for (const frame &f : stack) {
      if (f.it == f.end)
        break;
      if (f.node.IsSequence())
        out = item_path(out, f.index);
      else
        out = child_path(out, f.it->first.IsScalar() ? f.it->first.Scalar() : "?");
    }
    return out;
  };
  const auto enter = [&](const YAML::Node &node) {
    if (++nodes > max_expanded_nodes)
      fail(node.Mark(), path(),
           "too many values (more than " + std::to_string(max_expanded_nodes) +
               " once aliases are expanded)");
    if (node.IsScalar()) {
      bytes += node.Scalar().size();
      if (bytes > max_expanded_bytes)
        fail(node.Mark(), path(),
             "too much text (more than " + format_size(max_expanded_bytes) +
                 " once aliases are expanded)");
    }
    if (!node.IsMap() && !node.IsSequence())
      return;
    if (stack.size() >= static_cast<std::size_t>(max_nesting_depth))
      fail(node.Mark(), path(),
           "nested deeper than " + std::to_string(max_nesting_depth) + " levels");
    stack.push_back(frame{node, node.begin(), node.end()});
  };

  enter(root);
  while (!stack.empty()) {
    frame &top = stack.back();
    if (top.it == top.end) {
      stack.pop_back();
      continue;
    }
    const bool map = top.node.IsMap();
    if (top.stage == 2) {
      ++top.it;
      ++top.index;
      top.stage = 0;
      continue;
    }
    // `top` may move when enter() pushes: read what is needed first.
    const YAML::Node child =
        top.stage == 0 ? (map ? top.it->first : YAML::Node(*top.it)) : top.it->second;
    top.stage = (map && top.stage == 0) ? 1 : 2;
    enter(child);
  }
}

void reader::read_mapping(const located &section, std::initializer_list<field> fields) const {
  if (section.node.IsNull())
    return; // "limits:" with everything commented out: all defaults
  if (!section.node.IsMap())
    fail(section.mark(), section.path,
         std::string("expected a mapping, got ") + kind(section.node));
  std::map<std::string, YAML::Mark, std::less<>> seen;
  for (auto it = section.node.begin(); it != section.node.end(); ++it) {
    const YAML::Node key = it->first;
    const std::string key_text = key.IsScalar() ? key.Scalar() : std::string();
    if (!key.IsScalar())
      fail(key.Mark().is_null() ? section.mark() : key.Mark(), section.path,
           std::string("expected a key name, got ") + kind(key));
    const std::string path = child_path(section.path, key_text);
    if (const auto previous = seen.find(key_text); previous != seen.end())
      fail(key.Mark(), path,
           "duplicate key (first written at line " + std::to_string(previous->second.line + 1) +
               ")");
    seen.emplace(key_text, key.Mark());
    const auto match = std::find_if(fields.begin(), fields.end(),
                                    [&](const field &f) { return f.key == key_text; });
    if (match == fields.end()) {
      std::vector<std::string_view> known;
      for (const field &f : fields)
        known.push_back(f.key);
      fail(key.Mark(), path, "unknown key " + shown(key_text, '\'') + key_hint(key_text, known));
    }
    match->handle(located{it->second, key.Mark(), path});
  }
}

std::vector<located> reader::read_list(const located &value) const {
  std::vector<located> items;
  if (value.node.IsNull())
    return items; // "allow:" with nothing after it: an empty list
  if (!value.node.IsSequence())
    fail(value.mark(), value.path, std::string("expected a list, got ") + kind(value.node));
  std::size_t index = 0;
  for (const YAML::Node &item : value.node) {
    const YAML::Mark mark = item.Mark().is_null() ? value.mark() : item.Mark();
    items.push_back(located{item, mark, item_path(value.path, index++)});
  }
  return items;
}

std::string reader::text(const located &value, const char *expected) const {
  if (!value.node.IsScalar())
    fail(value.mark(), value.path,
         std::string("expected ") + expected + ", got " + kind(value.node) +
             (value.node.IsNull() ? " (remove the key to get the default)" : ""));
  try {
    return substitute_env(value.node.Scalar());
  } catch (const std::invalid_argument &e) {
    fail(value.mark(), value.path, e.what());
  }
}

bool reader::boolean(const located &value) const {
  // YAML 1.2 core schema booleans only: "yes", "on" and "1" are typos more often than intent.
  const std::string word = text(value, "true or false");
  if (word == "true" || word == "True" || word == "TRUE")
    return true;
  if (word == "false" || word == "False" || word == "FALSE")
    return false;
  fail(value.mark(), value.path, "invalid boolean " + shown(word) + " (expected true or false)");
}

long long reader::integer(const located &value, long long min, long long max) const {
  const std::string word = text(value, "a whole number");
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  long long number = 0;
  const char *begin = word.data() + (!word.empty() && word.front() == '+' ? 1 : 0);
  const auto [end, ec] = std::from_chars(begin, word.data() + word.size(), number);
  if (ec == std::errc::result_out_of_range)
    fail(value.mark(), value.path, shown(word) + " is out of range (expected " + range + ")");
  if (word.empty() || ec != std::errc{} || end != word.data() + word.size())
    fail(value.mark(), value.path,
         "invalid whole number " + shown(word) + " (expected " + range + ")");
  if (number < min || number > max)
    fail(value.mark(), value.path, shown(word) + " is out of range (expected " + range + ")");
  return number;
}

milliseconds reader::duration(const located &value, milliseconds max) const {
  const std::string word = text(value, "a duration such as 30s");
  milliseconds result{};
  try {
    result = parse_duration(word);
  } catch (const std::invalid_argument &e) {
    fail(value.mark(), value.path,
         "invalid duration " + shown(word) + ": " + e.what() + " (use e.g. 30s, 500ms, 2m)");
  }
  if (result <= milliseconds::zero() || result > max)
    fail(value.mark(), value.path,
         shown(word) + " is out of range (expected more than 0 and at most " +
             format_duration(max) + ")");
  return result;
}

std::size_t reader::size(const located &value, std::size_t min, std::size_t max) const {
  const std::string word = text(value, "a size such as 1MiB");
  std::size_t result = 0;
  try {
    result = parse_size(word);
  } catch (const std::invalid_argument &e) {
    fail(value.mark(), value.path,
         "invalid size " + shown(word) + ": " + e.what() + " (use e.g. 1MiB, 64KiB, 1MB, 1048576)");
  }
  if (result < min || result > max)
    fail(value.mark(), value.path,
         shown(word) + " is out of range (expected " + format_size(min) + " .. " +
             format_size(max) + ")");
  return result;
}

// The system would silently cut a path at a NUL byte ("\0" is valid in a quoted YAML string).
std::string reader::path_text(const located &value) const {
  std::string path = text(value, "a path");
  if (path.find('\0') != std::string::npos)
    fail(value.mark(), value.path, "a path cannot contain a NUL byte");
  return path;
}

fs::path reader::resolve(const std::string &path) const {
  fs::path p(path);
  if (p.is_relative())
    p = base_dir_ / p;
  return p.lexically_normal();
}

void reader::read_server(const located &section) {
  read_mapping(
      section,
      {
          {"listen",
           [this](const located &v) {
             const std::string word = text(v, "HOST:PORT");
             try {
               host_port parsed = parse_listen(word);
               config_.listen.host = std::move(parsed.host);
               config_.listen.port = parsed.port;
             } catch (const std::invalid_argument &e) {
               fail(v.mark(), v.path,
                    "invalid address " + shown(word) + ": " + e.what() +
                        " (expected HOST:PORT, e.g. 127.0.0.1:58123 or [::1]:58123)");
             }
           }},
          {"worker_threads",
           [this](const located &v) {
             config_.worker_threads = static_cast<int>(integer(v, 0, 256));
           }},
          {"allow_public_without_auth",
           [this](const located &v) { config_.listen.allow_public_without_auth = boolean(v); }},
      });
}

void reader::read_limits(const located &section) {
  limits_config &l = config_.limits;
  read_mapping(
      section,
      {
          {"connect_timeout", [&](const located &v) { l.connect_timeout = duration(v, 10min); }},
          {"max_message_size",
           [&](const located &v) { l.max_message_bytes = size(v, 1, 64 * mib); }},
          {"max_connections_per_client",
           [&](const located &v) {
             l.max_connections_per_client = static_cast<std::size_t>(integer(v, 1, 1000));
           }},
          {"max_total_connections",
           [&](const located &v) {
             l.max_total_connections = static_cast<std::size_t>(integer(v, 1, 1'000'000));
           }},
          {"max_outbound_queue",
           [&](const located &v) { l.max_outbound_queue_bytes = size(v, 64 * kib, gib); }},
          {"max_http_header_size",
           [&](const located &v) { l.max_http_header_bytes = size(v, kib, mib); }},
          {"max_http_body_size",
           [&](const located &v) { l.max_http_body_bytes = size(v, kib, 64 * mib); }},
          {"max_handshake_headers",
           [&](const located &v) {
             l.max_handshake_headers = static_cast<std::size_t>(integer(v, 0, 1000));
           }},
          {"max_header_value_size",
           [&](const located &v) { l.max_header_value_bytes = size(v, 1, mib); }},
          {"http_header_timeout",
           [&](const located &v) { l.http_header_timeout = duration(v, 10min); }},
          {"write_stall_timeout",
           [&](const located &v) { l.write_stall_timeout = duration(v, 1h); }},
      });
}

void reader::read_keepalive(const located &section) {
  // The keep-alive (keepalive.hpp) pings after idle_timeout / 2 of silence and drops the peer
  // after idle_timeout: one setting says both, so there is no separate ping interval to contradict.
  read_mapping(section, {
                            {"idle_timeout",
                             [&](const located &v) {
                               config_.keepalive.idle_timeout = duration(v, 24h);
                             }},
                        });
}

void reader::read_tls(const located &section) {
  read_mapping(section,
               {
                   {"verify", [this](const located &v) { config_.tls.verify = boolean(v); }},
                   {"ca_file",
                    [this](const located &v) {
                      const std::string file = path_text(v);
                      if (file.empty()) {
                        config_.tls.ca_file.clear();
                        return;
                      }
                      const fs::path resolved = resolve(file);
                      std::error_code ec;
                      if (!fs::is_regular_file(resolved, ec))
                        fail(v.mark(), v.path,
                             "CA file " + shown(file) + " (" + shown(resolved.string()) +
                                 ") does not exist or is not a file (relative paths start at "
                                 "the config file's directory)");
                      config_.tls.ca_file = resolved.string();
                    }},
                   {"allow_insecure_opt_out",
                    [this](const located &v) { config_.tls.allow_insecure_opt_out = boolean(v); }},
               });
}

std::vector<egress_rule> reader::read_rules(const located &list) const {
  std::vector<egress_rule> rules;
  for (const located &item : read_list(list)) {
    std::string pattern = text(item, "a host, address or CIDR pattern");
    const bool blank = pattern.find_first_of(" \t\r\n") != std::string::npos;
    if (pattern.empty() || blank)
      fail(item.mark(), item.path,
           "invalid pattern " + shown(pattern) +
               " (expected a host, address or CIDR such as *.example.com or 10.0.0.0/8)");
    rules.push_back(egress_rule{std::move(pattern), item.mark().line + 1});
  }
  return rules;
}

void reader::read_egress(const located &section) {
  read_mapping(section,
               {
                   {"preset",
                    [this](const located &v) {
                      const std::string preset = text(v, "a preset name");
                      if (preset != "local-dev" && preset != "public-only")
                        fail(v.mark(), v.path,
                             "unknown preset " + shown(preset) +
                                 " (expected local-dev or public-only)");
                      config_.egress.preset = preset;
                    }},
                   {"allow", [this](const located &v) { config_.egress.allow = read_rules(v); }},
                   {"deny", [this](const located &v) { config_.egress.deny = read_rules(v); }},
               });
}

std::vector<std::string>
reader::read_strings(const located &list,
                     const std::function<std::string(const located &, std::string)> &check) const {
  std::vector<std::string> out;
  for (const located &item : read_list(list))
    out.push_back(check(item, text(item, "a string")));
  return out;
}

void reader::read_security(const located &section) {
  security_config &s = config_.security;
  const auto origin = [this](const located &item, std::string word) {
    try {
      return canonical_origin(word);
    } catch (const std::invalid_argument &e) {
      fail(item.mark(), item.path,
           std::string(e.what()) +
               " (expected scheme://host[:port], e.g. https://app.example.com)");
    }
  };
  // Tokens are secrets: messages say what is wrong without repeating them.
  const auto token = [this](const located &item, std::string word) {
    if (word.empty())
      fail(item.mark(), item.path, "empty access token (an unset ${VAR:-} default?)");
    for (char c : word)
      if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) == 0x7F)
        fail(item.mark(), item.path,
             "an access token cannot contain spaces or control characters (expected the bare "
             "token, without \"Bearer \")");
    return word;
  };
  const auto host = [this](const located &item, std::string word) {
    const bool url = word.find('/') != std::string::npos;
    const bool ok = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
      return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_' || c == ':' ||
             c == '[' || c == ']';
    });
    if (url || !ok)
      fail(item.mark(), item.path,
           "invalid host name " + shown(word) +
               " (expected a name as sent in the Host header, e.g. studio.example.com, not a URL)");
    return lower(word);
  };
  read_mapping(
      section,
      {
          {"allowed_origins",
           [&](const located &v) { s.allowed_origins = read_strings(v, origin); }},
          {"allow_missing_origin", [&](const located &v) { s.allow_missing_origin = boolean(v); }},
          {"access_tokens", [&](const located &v) { s.access_tokens = read_strings(v, token); }},
          {"allowed_hosts", [&](const located &v) { s.allowed_hosts = read_strings(v, host); }},
      });
}

void reader::read_plugins(const located &list) {
  std::map<std::string, int, std::less<>> first_line;
  for (const located &entry : read_list(list)) {
    if (!entry.node.IsMap())
      fail(entry.mark(), entry.path,
           std::string("expected a mapping such as '- name: rate_limiter', got ") +
               kind(entry.node));
    plugin_config plugin;
    const YAML::Mark at = entry.mark();
    plugin.location = where(at);
    bool named = false;
    read_mapping(
        entry,
        {
            {"name",
             [&](const located &v) {
               plugin.name = text(v, "a plugin name");
               const bool ok =
                   !plugin.name.empty() &&
                   std::all_of(plugin.name.begin(), plugin.name.end(), [](char c) {
                     return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-';
                   });
               if (!ok)
                 fail(v.mark(), v.path,
                      "invalid plugin name " + shown(plugin.name) +
                          " (expected letters, digits, '_', '.' and '-', e.g. rate_limiter)");
               named = true;
             }},
            {"path",
             [&](const located &v) {
               plugin.path = path_text(v);
               if (plugin.path.empty())
                 fail(v.mark(), v.path,
                      "empty path (remove the key to load lib<name>.so from plugin_dir)");
             }},
            {"enabled", [&](const located &v) { plugin.enabled = boolean(v); }},
            {"settings",
             [&](const located &v) {
               if (v.node.IsNull())
                 return; // "settings:" with nothing under it
               if (!v.node.IsMap())
                 fail(v.mark(), v.path,
                      std::string("expected a mapping, got ") + kind(v.node) +
                          " (write settings: {} for none)");
               plugin.settings = to_json(v);
             }},
        });
    if (!named)
      fail(at, entry.path, "missing required key 'name' (e.g. - name: rate_limiter)");
    // The name identifies the plugin in logs and errors; two entries would be indistinguishable.
    if (const auto previous = first_line.find(plugin.name); previous != first_line.end())
      fail(at, entry.path,
           "plugin " + shown(plugin.name) + " is listed twice (first at line " +
               std::to_string(previous->second) + ")");
    first_line.emplace(plugin.name, at.line + 1);
    config_.plugins.push_back(std::move(plugin));
  }
}

// Recursion is bounded: check_shape() refused anything deeper than max_nesting_depth.
nlohmann::json reader::to_json(const located &value) const {
  const YAML::Node &node = value.node;
  if (node.IsSequence()) {
    nlohmann::json array = nlohmann::json::array();
    for (const located &item : read_list(value))
      array.push_back(to_json(item));
    return array;
  }
  if (node.IsMap()) {
    nlohmann::json object = nlohmann::json::object();
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Mark key_mark = key.Mark().is_null() ? value.mark() : key.Mark();
      if (!key.IsScalar())
        fail(key_mark, value.path, std::string("expected a key name, got ") + kind(key));
      const std::string &name = key.Scalar();
      const std::string path = child_path(value.path, name);
      if (!valid_utf8(name))
        fail(key_mark, path, "key is not valid UTF-8");
      if (object.contains(name))
        fail(key_mark, path, "duplicate key");
      object[name] = to_json(located{it->second, key_mark, path});
    }
    return object;
  }
  if (node.IsScalar())
    return scalar_to_json(value);
  if (node.Tag() == "tag:yaml.org,2002:str")
    return ""; // `!!str` with nothing after it
  return nullptr;
}

// The YAML 1.2 core schema, applied after ${ENV} substitution: a plain `port: ${PORT}` is a
// number, a quoted one a string. Anything JSON cannot hold (.inf, .nan, 2^64) is an error rather
// than a silent change.
nlohmann::json reader::scalar_to_json(const located &value) const {
  const std::string tag = value.node.Tag();
  const std::string raw = value.node.Scalar();
  const std::string word = text(value, "a value");
  if (!valid_utf8(word))
    fail(value.mark(), value.path, "value is not valid UTF-8");

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
      fail(value.mark(), value.path,
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
      fail(value.mark(), value.path,
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
      fail(value.mark(), value.path,
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
    fail(value.mark(), value.path, shown(raw) + " is not a valid " + short_tag(tag));
  fail(value.mark(), value.path,
       "unsupported tag " + shown(short_tag(tag)) + " (expected a plain or quoted value)");
}

std::string read_file(const std::string &path) {
  const auto failure = [&](int error) {
    return config_error("cannot read " + path + ": " + std::system_category().message(error));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw failure(errno);
  std::string content;
  std::array<char, 64 * 1024> buffer{};
  for (;;) {
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      const int error = errno;
      ::close(fd);
      throw failure(error);
    }
    if (got == 0)
      break;
    content.append(buffer.data(), static_cast<std::size_t>(got));
    if (content.size() > max_file_bytes) {
      ::close(fd);
      throw config_error("cannot read " + path + ": larger than " + format_size(max_file_bytes) +
                         " (is this really the configuration file?)");
    }
  }
  ::close(fd);
  return content;
}

fs::path directory_of(const std::string &source) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(fs::path(source.empty() ? "." : source), ec);
  if (ec)
    return fs::path(source).parent_path();
  return absolute.parent_path();
}

} // namespace

std::chrono::milliseconds parse_duration(const std::string &text) {
  const auto [value, unit] = split_number(text, "duration");
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "s")
    factor = 1000;
  else if (unit == "ms")
    factor = 1;
  else if (unit == "m")
    factor = 60'000;
  else if (unit == "h")
    factor = 3'600'000;
  else
    throw std::invalid_argument("unknown unit " + shown(unit));
  constexpr auto max_ms = static_cast<std::uint64_t>(std::numeric_limits<milliseconds::rep>::max());
  if (value > max_ms / factor)
    throw std::invalid_argument("too large");
  return milliseconds(static_cast<milliseconds::rep>(value * factor));
}

std::size_t parse_size(const std::string &text) {
  const auto [value, unit] = split_number(text, "size");
  struct suffix {
    std::string_view name;
    std::uint64_t factor;
  };
  // Case does not matter: "1mb" cannot mean anything but megabytes here.
  static constexpr std::array<suffix, 8> suffixes = {{{"", 1},
                                                      {"b", 1},
                                                      {"kb", 1000},
                                                      {"mb", 1000 * 1000},
                                                      {"gb", 1000 * 1000 * 1000},
                                                      {"kib", kib},
                                                      {"mib", mib},
                                                      {"gib", gib}}};
  const std::string unit_lower = lower(unit);
  const auto match = std::find_if(suffixes.begin(), suffixes.end(),
                                  [&](const suffix &s) { return s.name == unit_lower; });
  if (match == suffixes.end())
    throw std::invalid_argument("unknown unit " + shown(unit));
  if (value > std::numeric_limits<std::size_t>::max() / match->factor)
    throw std::invalid_argument("too large");
  return static_cast<std::size_t>(value * match->factor);
}

host_config load_config(const std::string &path) {
  return load_config_from_string(read_file(path), path);
}

host_config load_config_from_string(const std::string &yaml, const std::string &source_name) {
  return reader(source_name, directory_of(source_name)).read(yaml);
}

void parse_listen_address(const std::string &text, listen_config &out) {
  host_port parsed = parse_listen(text);
  out.host = std::move(parsed.host);
  out.port = parsed.port;
}

} // namespace apistudio
