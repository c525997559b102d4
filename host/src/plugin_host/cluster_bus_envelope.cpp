// cluster_bus_envelope.cpp — see cluster_bus_envelope.hpp.
#include "plugin_host/cluster_bus_envelope.hpp"

#include <charconv>

namespace apistudio {
namespace {

constexpr std::string_view magic = "APISTUDIO-BUS ";
constexpr std::string_view version = "1";
// "APISTUDIO-BUS 1 128 1024\n" and some slack: a longer first line is not ours.
constexpr std::size_t max_header = 64;

// A decimal without sign or leading zero, up to `limit`; advances `at` past it. `malformed`:
// what a length that is not one means.
bus_envelope_error read_length(std::string_view line, std::size_t &at, std::size_t limit,
                               std::size_t &out, bus_envelope_error malformed) {
  const char *first = line.data() + at;
  const char *last = line.data() + line.size();
  if (first == last || *first == '0')
    return malformed;
  const auto [end, ec] = std::from_chars(first, last, out);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && out > limit))
    return bus_envelope_error::oversize;
  if (ec != std::errc())
    return malformed;
  at += static_cast<std::size_t>(end - first);
  return bus_envelope_error::none;
}

} // namespace

std::string_view describe(bus_envelope_error e) noexcept {
  switch (e) {
  case bus_envelope_error::none:
    return "valid";
  case bus_envelope_error::not_an_envelope:
    return "not a bus envelope";
  case bus_envelope_error::version:
    return "an envelope version this host does not know";
  case bus_envelope_error::oversize:
    return "larger than the bounds (node id, topic, payload)";
  case bus_envelope_error::bad_node_id:
    return "an invalid origin node id";
  case bus_envelope_error::bad_topic:
    return "an invalid topic";
  }
  return "invalid";
}

bool valid_bus_node_id(std::string_view node_id) noexcept {
  if (node_id.empty() || node_id.size() > max_bus_node_id)
    return false;
  for (const char c : node_id)
    if (c <= ' ' || c > '~')
      return false;
  return true;
}

std::string encode_bus_envelope(std::string_view node_id, std::string_view topic,
                                std::string_view payload) {
  std::string out;
  out.reserve(max_header + node_id.size() + topic.size() + payload.size());
  out.append(magic).append(version).append(1, ' ');
  out.append(std::to_string(node_id.size())).append(1, ' ');
  out.append(std::to_string(topic.size())).append(1, '\n');
  out.append(node_id).append(topic).append(payload);
  return out;
}

std::optional<bus_envelope_view> decode_bus_envelope(std::string_view text,
                                                     bus_envelope_error &why) {
  const auto fail = [&why](bus_envelope_error e) {
    why = e;
    return std::nullopt;
  };
  why = bus_envelope_error::none;
  const auto newline = text.substr(0, max_header).find('\n');
  if (text.substr(0, magic.size()) != magic || newline == std::string_view::npos)
    return fail(bus_envelope_error::not_an_envelope);
  const std::string_view line = text.substr(0, newline);
  std::size_t at = magic.size();
  const auto space = line.find(' ', at);
  if (space == std::string_view::npos)
    return fail(bus_envelope_error::not_an_envelope);
  if (line.substr(at, space - at) != version)
    return fail(bus_envelope_error::version);
  at = space + 1;
  std::size_t node_length = 0, topic_length = 0;
  if (const auto e =
          read_length(line, at, max_bus_node_id, node_length, bus_envelope_error::bad_node_id);
      e != bus_envelope_error::none)
    return fail(e);
  if (at >= line.size() || line[at] != ' ')
    return fail(bus_envelope_error::not_an_envelope);
  ++at;
  if (const auto e =
          read_length(line, at, max_bus_topic, topic_length, bus_envelope_error::bad_topic);
      e != bus_envelope_error::none)
    return fail(e);
  if (at != line.size())
    return fail(bus_envelope_error::not_an_envelope);
  const std::string_view body = text.substr(newline + 1);
  if (body.size() < node_length + topic_length)
    return fail(bus_envelope_error::not_an_envelope);
  if (body.size() - node_length - topic_length > max_bus_payload)
    return fail(bus_envelope_error::oversize);
  bus_envelope_view out{body.substr(0, node_length), body.substr(node_length, topic_length),
                        body.substr(node_length + topic_length)};
  if (!valid_bus_node_id(out.node_id))
    return fail(bus_envelope_error::bad_node_id);
  // "<plugin>/<topic>" (host_api.cpp): a plugin name, a slash; no control characters.
  const auto slash = out.topic.find('/');
  if (slash == 0 || slash == std::string_view::npos)
    return fail(bus_envelope_error::bad_topic);
  for (const char c : out.topic)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return fail(bus_envelope_error::bad_topic);
  return out;
}

} // namespace apistudio
