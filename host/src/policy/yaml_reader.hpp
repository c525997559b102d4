// yaml_reader.hpp — the mechanics of reading the operator's YAML by hand: the one document loaded
// safely, its shape bounded, and each value read with its place and key path for messages.
//
// Why not yaml-cpp's as<T>(): as<bool> takes yes/no/on/off, as<T> knows neither the key path nor
// the ranges, and a message without FILE:LINE:COLUMN and the key leaves the operator guessing.
// Every check throws config_error through fail(), which formats that prefix.
//
// Rules of use: the configuration is untrusted input. Walk only a tree that load() returned: it has
// bounded the nesting, the node count and the text before anything recurses or copies (aliases
// can expand a few lines into millions of nodes, or into a cycle). Internal to the configuration
// loader; other code uses config_loader.hpp.
#pragma once

#include "policy/config_error.hpp"

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace apistudio::config_detail {

// Reading stops here, so a wrong path such as /dev/zero cannot eat the memory. load() applies the
// same budget to the text once aliases are expanded.
inline constexpr std::size_t max_file_bytes = 8 * 1024 * 1024;

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

// "parent.key", the key cut and without control bytes: a path in a message must stay a short,
// printable line even when the input is hostile.
std::string child_path(const std::string &parent, std::string_view key);
// "a scalar", "a list", "a mapping" or "nothing", for "expected ..., got ..." messages.
const char *kind(const YAML::Node &node);

class yaml_reader {
public:
  // One accepted key of a mapping and what to do with its value.
  struct field {
    std::string_view key;
    std::function<void(const located &)> handle;
  };

  // `source` is shown in messages exactly as given; relative paths in values start at `base_dir`.
  yaml_reader(std::string source, std::filesystem::path base_dir);

  // The document in `yaml`, checked to be a mapping within the bounds above; a null node when the
  // text holds no document or an empty one. Throws config_error for invalid YAML, a second
  // document, or a tree too deep or too large.
  YAML::Node load(const std::string &yaml) const;

  // Throws config_error "FILE:LINE:COLUMN: PATH: what" (no "PATH: " when `path` is empty).
  [[noreturn]] void fail(const YAML::Mark &mark, const std::string &path,
                         const std::string &what) const;
  // "FILE:LINE:COLUMN", or just the file when the mark is unknown.
  std::string where(const YAML::Mark &mark) const;

  // Calls each field's handler for its key; an unknown key, a duplicate key or a value that is
  // not a mapping fails. A null section (every key commented out) is an empty one.
  void read_mapping(const located &section, std::initializer_list<field> fields) const;
  // The items of a list, each with its path ("allow[2]"); null is an empty list.
  std::vector<located> read_list(const located &value) const;
  // A list of strings, each passed through `check` (which fails or returns the value to keep).
  std::vector<std::string>
  read_strings(const located &list,
               const std::function<std::string(const located &, std::string)> &check) const;

  // Typed scalars, after ${ENV} substitution. `expected` completes "expected ..., got a list".
  std::string text(const located &value, const char *expected) const;
  bool boolean(const located &value) const;
  long long integer(const located &value, long long min, long long max) const;
  // More than 0 unless `zero_allowed` (for "0s: do not wait"), at most `max`.
  std::chrono::milliseconds duration(const located &value, std::chrono::milliseconds max,
                                     bool zero_allowed = false) const;
  std::size_t size(const located &value, std::size_t min, std::size_t max) const;
  std::string path_text(const located &value) const;
  std::filesystem::path resolve(const std::string &path) const;

private:
  void check_shape(const YAML::Node &root) const;

  std::string source_;
  std::filesystem::path base_dir_;
};

} // namespace apistudio::config_detail
