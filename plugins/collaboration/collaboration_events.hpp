// collaboration_events.hpp — the /ws protocol: validating what clients send, building what they
// receive, and the envelope carried on the host bus between sessions of one workspace.
//
// Clients send (JSON text frames):
//   {"type":"user_presence","status":"online"|"away"}
//   {"type":"collection_updated","collection_id":"<id>","changes":{...}}
//   {"type":"request_shared","request_id":"<id>","shared_with":["<user id>", ...]}   (1-100 users)
// Any of the three may carry a top-level "user_id": the client naming itself. Whether that counts
// is the plugin's decision (collaboration_plugin.cpp: with tokens it is ignored; without, it
// binds the session's identity once and must agree with it afterwards), so the parser only
// reports it. Fields the server owns (user_id, workspace_id, updated_by, shared_by, timestamp)
// are set by the server whatever the client wrote. Anything else -> an INVALID_FORMAT error event.
//
// Bus envelope (topic "ws:<workspace_id>"): a one-line routing header, a newline, then the event
// exactly as clients receive it, serialised once by the publisher:
//   {"from_session":<id>,"origin":<n>,"to_users":null|["<user id>",...]}\n{"type":...}
// origin: a random number of the publishing plugin instance (one per host process), since
// session ids are per process and the bus spans hosts (docs/cluster.md): the sender is the pair
// (origin, from_session). An envelope without it has origin 0.
// to_users null: every session of the workspace but the sender's; a list: only sessions of
// those users (the sender's own session included if its user is listed). A recipient parses only
// the header and forwards the event's bytes as they are: the host then queues a view of the one
// payload every recipient shares instead of a copy each (a 1 MiB update to 10 members is 1 MiB).
#pragma once

#include "collaboration/presence_store.hpp"
#include "common/json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace apistudio::plugins::collaboration {

using json = common::json;

struct presence_change {
  presence_status status;
};
struct collection_update {
  std::string collection_id;
  json changes; // an object
};
struct request_share {
  std::string request_id;
  std::vector<std::string> shared_with; // valid ids, duplicates removed, order kept
};
using client_event = std::variant<presence_change, collection_update, request_share>;

// The top-level "user_id" of a parsed event. Absent, null and "" all mean "not declared" (a
// client that does not know its user yet may send an empty one).
enum class user_claim { none, valid, invalid };

struct parse_result {
  std::optional<client_event> event;
  std::string error;                   // when !event: what is wrong, for the INVALID_FORMAT message
  user_claim claim = user_claim::none; // when event
  std::string claimed_user_id;         // when claim == valid
};

// The INVALID_FORMAT detail for a claim that is not a valid id.
inline constexpr std::string_view invalid_user_id_detail =
    "'user_id' must be 1-128 characters from A-Z a-z 0-9 . _ ~ - @";

inline constexpr std::size_t max_event_depth = 32;
inline constexpr std::size_t max_shared_with = 100;

parse_result parse_client_event(std::string_view payload, bool binary);

// Outgoing events (field order as in the spec).
json user_presence_event(std::string_view user_id, std::string_view status,
                         std::string_view workspace_id, std::string_view timestamp);
json collection_updated_event(const collection_update &update, std::string_view updated_by,
                              std::string_view timestamp);
json request_shared_event(const request_share &share, std::string_view shared_by,
                          std::string_view timestamp);
// {"type":"error","code":"<code>","error":"<message>","timestamp":"<timestamp>"}
std::string error_event(std::string_view code, std::string_view message,
                        std::string_view timestamp);
// error_event("INVALID_FORMAT", "Invalid message format: <detail>", timestamp)
std::string invalid_format_event(std::string_view detail, std::string_view timestamp);

// Never throws on odd strings (invalid UTF-8 is replaced).
std::string serialize(const json &value);

std::string bus_topic(std::string_view workspace_id);

struct bus_envelope {
  std::uint64_t from_session = 0;
  std::optional<std::vector<std::string>> to_users;
  std::string_view event;   // the serialised event; decode_envelope points it into its input
  std::uint64_t origin = 0; // the publishing instance (see "Bus envelope" above)
};
std::string encode_envelope(const bus_envelope &envelope);
// The event is not parsed again (the publisher, this plugin, wrote it): only checked to be one
// non-empty line that starts like a JSON object.
std::optional<bus_envelope> decode_envelope(std::string_view payload);

// Whether the session `me` (of the plugin instance `my_origin`) of user `my_user` gets this
// envelope's event.
bool should_deliver(const bus_envelope &envelope, std::uint64_t me, std::string_view my_user,
                    std::uint64_t my_origin = 0);

// A random non-zero origin for one plugin instance.
std::uint64_t random_origin();

} // namespace apistudio::plugins::collaboration
