// cluster_bus_envelope.hpp — what one bus message looks like on the cross-host channel
// (docs/cluster.md, "The cross-host bus"): the origin node, the topic and the payload, binary-safe.
//
//   APISTUDIO-BUS 1 <node_id length> <topic length>\n<node_id><topic><payload>
//
// Length-prefixed rather than JSON: the payload is whatever a plugin published (any bytes, not
// necessarily UTF-8), and is carried without escaping or a second copy. Whatever comes from
// Redis is untrusted (anyone who can PUBLISH there writes to this channel): decode() checks
// every part against the bounds below and says which rule it broke.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace apistudio {

struct bus_envelope_view {
  std::string_view node_id;
  std::string_view topic;
  std::string_view payload;
};

inline constexpr std::size_t max_bus_node_id = 128;
inline constexpr std::size_t max_bus_topic = 1024;
// A collaboration event carries up to limits.max_message_bytes (1 MiB) of client JSON, which
// escaping can grow; past this a message neither leaves nor is accepted.
inline constexpr std::size_t max_bus_payload = 8 * 1024 * 1024;

// Why decode() refused (one log line per kind, docs/cluster.md).
enum class bus_envelope_error { none, not_an_envelope, version, oversize, bad_node_id, bad_topic };
std::string_view describe(bus_envelope_error e) noexcept;

// Whether a node id can travel: 1..max_bus_node_id printable ASCII characters, no space.
bool valid_bus_node_id(std::string_view node_id) noexcept;

std::string encode_bus_envelope(std::string_view node_id, std::string_view topic,
                                std::string_view payload);
// The views point into `text`. On failure, `why` says which rule failed.
std::optional<bus_envelope_view> decode_bus_envelope(std::string_view text,
                                                     bus_envelope_error &why);

} // namespace apistudio
