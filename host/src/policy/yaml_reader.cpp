// yaml_reader.cpp — loading the one document safely and reading values with their place
// (yaml_reader.hpp).
#include "policy/yaml_reader.hpp"

#include "policy/config_loader.hpp"
#include "policy/config_values.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace apistudio::config_detail {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

constexpr int max_nesting_depth = 64;
// Aliases let a few lines expand into millions of nodes ("billion laughs"); a real configuration
// has a few hundred, plugin settings included.
constexpr std::size_t max_expanded_nodes = 200'000;
// The file's budget again, for text once aliases are expanded: 200k aliases of one 8 KiB string
// would otherwise become 1.6 GB of JSON.
constexpr std::size_t max_expanded_bytes = max_file_bytes;

std::string item_path(const std::string &parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
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

} // namespace

std::string child_path(const std::string &parent, std::string_view key) {
  constexpr std::size_t max_key_shown = 40;
  std::string shown_key;
  for (char c : key.substr(0, max_key_shown))
    shown_key += (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) ? '?' : c;
  if (key.size() > max_key_shown)
    shown_key += "...";
  return parent.empty() ? shown_key : parent + "." + shown_key;
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

yaml_reader::yaml_reader(std::string source, fs::path base_dir)
    : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

std::string yaml_reader::where(const YAML::Mark &mark) const {
  if (mark.is_null() || mark.line < 0 || mark.column < 0)
    return source_;
  return source_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

void yaml_reader::fail(const YAML::Mark &mark, const std::string &path,
                       const std::string &what) const {
  throw config_error(where(mark) + ": " + (path.empty() ? "" : path + ": ") + what);
}

YAML::Node yaml_reader::load(const std::string &yaml) const {
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
      return YAML::Node(); // nothing but comments and blank lines
    loaded.emplace(YAML::Load(yaml));
  } catch (const YAML::DeepRecursion &e) {
    fail(e.mark, "", "nested deeper than " + std::to_string(max_nesting_depth) + " levels");
  } catch (const YAML::Exception &e) {
    fail(e.mark, "", "invalid YAML: " + e.msg);
  }
  const YAML::Node root = *loaded;
  if (root.IsNull())
    return root;
  if (!root.IsMap())
    fail(root.Mark(), "",
         std::string("the top level must be a mapping of settings (server:, limits:, ...), got ") +
             kind(root));
  check_shape(root);
  return root;
}

// Everything after this may recurse or copy: settings become JSON recursively, alias cycles
// (`&a [*a]`) would never end, and aliases of long values multiply memory. So this walk is
// iterative (a frame per level, never more than max_nesting_depth of them), and counts nodes and
// scalar bytes as if aliases were expanded.
void yaml_reader::check_shape(const YAML::Node &root) const {
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

void yaml_reader::read_mapping(const located &section, std::initializer_list<field> fields) const {
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

std::vector<located> yaml_reader::read_list(const located &value) const {
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

std::string yaml_reader::text(const located &value, const char *expected) const {
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

bool yaml_reader::boolean(const located &value) const {
  // YAML 1.2 core schema booleans only: "yes", "on" and "1" are typos more often than intent.
  const std::string word = text(value, "true or false");
  if (word == "true" || word == "True" || word == "TRUE")
    return true;
  if (word == "false" || word == "False" || word == "FALSE")
    return false;
  fail(value.mark(), value.path, "invalid boolean " + shown(word) + " (expected true or false)");
}

long long yaml_reader::integer(const located &value, long long min, long long max) const {
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

milliseconds yaml_reader::duration(const located &value, milliseconds max,
                                   bool zero_allowed) const {
  const std::string word = text(value, "a duration such as 30s");
  milliseconds result{};
  try {
    result = parse_duration(word);
  } catch (const std::invalid_argument &e) {
    fail(value.mark(), value.path,
         "invalid duration " + shown(word) + ": " + e.what() + " (use e.g. 30s, 500ms, 2m)");
  }
  if ((zero_allowed ? result < milliseconds::zero() : result <= milliseconds::zero()) ||
      result > max)
    fail(value.mark(), value.path,
         shown(word) + " is out of range (expected " + (zero_allowed ? "0" : "more than 0") +
             " and at most " + format_duration(max) + ")");
  return result;
}

std::size_t yaml_reader::size(const located &value, std::size_t min, std::size_t max) const {
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
std::string yaml_reader::path_text(const located &value) const {
  std::string path = text(value, "a path");
  if (path.find('\0') != std::string::npos)
    fail(value.mark(), value.path, "a path cannot contain a NUL byte");
  return path;
}

fs::path yaml_reader::resolve(const std::string &path) const {
  fs::path p(path);
  if (p.is_relative())
    p = base_dir_ / p;
  return p.lexically_normal();
}

std::vector<std::string> yaml_reader::read_strings(
    const located &list,
    const std::function<std::string(const located &, std::string)> &check) const {
  std::vector<std::string> out;
  for (const located &item : read_list(list))
    out.push_back(check(item, text(item, "a string")));
  return out;
}

} // namespace apistudio::config_detail
