// config_loader.cpp — the operator's YAML, walked by hand into a host_config.
//
// The work is shared out, one concern per file pair:
//   yaml_reader      the one document loaded safely and bounded; values read with their place
//   config_sections  what each key means: the section readers, ranges and messages
//   yaml_to_json     plugin settings blocks, YAML into JSON
//   config_values    the grammars of single values (addresses, origins, ${ENV}) and text helpers
// This file holds the public entry points (config_loader.hpp): reading the file, and the duration,
// size and listen-address grammars the header documents (main.cpp's --listen uses the last).
#include "policy/config_loader.hpp"

#include "policy/config_sections.hpp"
#include "policy/config_values.hpp"
#include "policy/yaml_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>

namespace apistudio {

namespace fs = std::filesystem;
using config_detail::format_size;
using config_detail::gib;
using config_detail::host_port;
using config_detail::kib;
using config_detail::lower;
using config_detail::max_file_bytes;
using config_detail::mib;
using config_detail::parse_listen;
using config_detail::read_sections;
using config_detail::shown;
using config_detail::split_number;
using config_detail::yaml_reader;
using std::chrono::milliseconds;

namespace {

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
  const yaml_reader reader(source_name, directory_of(source_name));
  host_config config;
  config.source_file = source_name;
  const YAML::Node root = reader.load(yaml);
  if (!root.IsNull())
    read_sections(reader, root, config);
  return config;
}

void parse_listen_address(const std::string &text, listen_config &out) {
  host_port parsed = parse_listen(text);
  out.host = std::move(parsed.host);
  out.port = parsed.port;
}

} // namespace apistudio
