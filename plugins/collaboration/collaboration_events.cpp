#include "collaboration/collaboration_events.hpp"

#include "collaboration/collaboration_settings.hpp"
#include "common/json_depth.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <random>

namespace apistudio::plugins::collaboration {

namespace {
parse_result ok(client_event event) {
  parse_result r;
  r.event = std::move(event);
  return r;
}

parse_result fail(std::string why) {
  parse_result r;
  r.error = std::move(why);
  return r;
}

// A string field that must hold a valid id; empty optional plus `why` otherwise.
std::optional<std::string> id_field(const json &object, std::string_view name, std::string &why) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) {
    why = "missing string field '" + std::string(name) + "'";
    return std::nullopt;
  }
  const auto &value = it->get_ref<const std::string &>();
  if (!valid_id(value)) {
    why = "'" + std::string(name) + "' must be 1-128 characters from A-Z a-z 0-9 . _ ~ - @";
    return std::nullopt;
  }
  return value;
}

void read_user_claim(const json &frame, parse_result &r) {
  const auto it = frame.find("user_id");
  if (it == frame.end() || it->is_null())
    return;
  if (!it->is_string()) {
    r.claim = user_claim::invalid;
    return;
  }
  const auto &value = it->get_ref<const std::string &>();
  if (value.empty())
    return;
  if (!valid_id(value)) {
    r.claim = user_claim::invalid;
    return;
  }
  r.claim = user_claim::valid;
  r.claimed_user_id = value;
}

// The fields of one event type; `frame` is a parsed object with a string "type".
parse_result parse_event_body(json &frame, const std::string &type) {
  std::string why;

  if (type == "user_presence") {
    const auto status_it = frame.find("status");
    const auto status = status_it != frame.end() && status_it->is_string()
                            ? parse_presence_status(status_it->get_ref<const std::string &>())
                            : std::nullopt;
    if (!status)
      return fail("'status' must be \"online\" or \"away\"");
    return ok(presence_change{*status});
  }
  if (type == "collection_updated") {
    auto id = id_field(frame, "collection_id", why);
    if (!id)
      return fail(why);
    auto changes = frame.find("changes");
    if (changes == frame.end() || !changes->is_object())
      return fail("'changes' must be a JSON object");
    return ok(collection_update{std::move(*id), std::move(*changes)});
  }
  if (type == "request_shared") {
    auto id = id_field(frame, "request_id", why);
    if (!id)
      return fail(why);
    const auto list = frame.find("shared_with");
    if (list == frame.end() || !list->is_array() || list->empty())
      return fail("'shared_with' must be a non-empty array of user ids");
    if (list->size() > max_shared_with)
      return fail("'shared_with' lists more than " + std::to_string(max_shared_with) + " users");
    request_share share{std::move(*id), {}};
    for (const auto &user : *list) {
      if (!user.is_string() || !valid_id(user.get_ref<const std::string &>()))
        return fail("'shared_with' entries must be user ids (1-128 characters from A-Z a-z 0-9 "
                    ". _ ~ - @)");
      const auto &name = user.get_ref<const std::string &>();
      if (std::find(share.shared_with.begin(), share.shared_with.end(), name) ==
          share.shared_with.end())
        share.shared_with.push_back(name);
    }
    return ok(std::move(share));
  }
  // Echo a bounded, escaped piece of the unknown type: it comes from the network.
  return fail("unknown type '" + common::escape_for_log(common::utf8_prefix(type, 64)) + "'");
}
} // namespace

parse_result parse_client_event(std::string_view payload, bool binary) {
  if (binary)
    return fail("binary frames are not accepted");
  if (common::json_nesting_exceeds(payload, max_event_depth))
    return fail("nested deeper than " + std::to_string(max_event_depth) + " levels");
  auto frame = json::parse(payload.begin(), payload.end(), nullptr, false);
  if (frame.is_discarded())
    return fail("not valid JSON");
  if (!frame.is_object())
    return fail("expected a JSON object");
  const auto type_it = frame.find("type");
  if (type_it == frame.end() || !type_it->is_string())
    return fail("missing string field 'type'");
  const std::string type = type_it->get_ref<const std::string &>();
  auto r = parse_event_body(frame, type);
  if (r.event)
    read_user_claim(frame, r);
  return r;
}

json user_presence_event(std::string_view user_id, std::string_view status,
                         std::string_view workspace_id, std::string_view timestamp) {
  json e;
  e["type"] = "user_presence";
  e["user_id"] = user_id;
  e["status"] = status;
  e["workspace_id"] = workspace_id;
  e["timestamp"] = timestamp;
  return e;
}

json collection_updated_event(const collection_update &update, std::string_view updated_by,
                              std::string_view timestamp) {
  json e;
  e["type"] = "collection_updated";
  e["collection_id"] = update.collection_id;
  e["changes"] = update.changes;
  e["changes"]["updated_by"] = updated_by; // the server's word, never the client's
  e["timestamp"] = timestamp;
  return e;
}

json request_shared_event(const request_share &share, std::string_view shared_by,
                          std::string_view timestamp) {
  json e;
  e["type"] = "request_shared";
  e["request_id"] = share.request_id;
  e["shared_by"] = shared_by;
  e["shared_with"] = share.shared_with;
  e["timestamp"] = timestamp;
  return e;
}

std::string error_event(std::string_view code, std::string_view message,
                        std::string_view timestamp) {
  json e;
  e["type"] = "error";
  e["code"] = code;
  e["error"] = message;
  e["timestamp"] = timestamp;
  return serialize(e);
}

std::string invalid_format_event(std::string_view detail, std::string_view timestamp) {
  return error_event("INVALID_FORMAT", "Invalid message format: " + std::string(detail), timestamp);
}

std::string serialize(const json &value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string bus_topic(std::string_view workspace_id) { return "ws:" + std::string(workspace_id); }

std::string encode_envelope(const bus_envelope &envelope) {
  json header;
  header["from_session"] = envelope.from_session;
  header["origin"] = envelope.origin;
  header["to_users"] = envelope.to_users ? json(*envelope.to_users) : json(nullptr);
  // serialize() escapes control characters in strings: the header holds no newline of its own.
  std::string out = serialize(header);
  out.reserve(out.size() + 1 + envelope.event.size());
  out += '\n';
  out += envelope.event;
  return out;
}

std::optional<bus_envelope> decode_envelope(std::string_view payload) {
  const auto newline = payload.find('\n');
  if (newline == std::string_view::npos)
    return std::nullopt;
  const std::string_view head = payload.substr(0, newline);
  const std::string_view event = payload.substr(newline + 1);
  if (event.empty() || event.front() != '{' || event.find('\n') != std::string_view::npos)
    return std::nullopt;
  auto h = json::parse(head.begin(), head.end(), nullptr, false);
  if (h.is_discarded() || !h.is_object())
    return std::nullopt;
  const auto from = h.find("from_session");
  const auto to = h.find("to_users");
  if (from == h.end() || !from->is_number_unsigned() || to == h.end())
    return std::nullopt;
  bus_envelope out;
  out.from_session = from->get<std::uint64_t>();
  if (const auto origin = h.find("origin"); origin != h.end()) {
    if (!origin->is_number_unsigned())
      return std::nullopt;
    out.origin = origin->get<std::uint64_t>();
  }
  if (to->is_array()) {
    out.to_users.emplace();
    for (const auto &u : *to) {
      if (!u.is_string())
        return std::nullopt;
      out.to_users->push_back(u.get<std::string>());
    }
  } else if (!to->is_null()) {
    return std::nullopt;
  }
  out.event = event;
  return out;
}

bool should_deliver(const bus_envelope &envelope, std::uint64_t me, std::string_view my_user,
                    std::uint64_t my_origin) {
  if (!envelope.to_users)
    return envelope.from_session != me || envelope.origin != my_origin;
  const auto &users = *envelope.to_users;
  return std::find(users.begin(), users.end(), my_user) != users.end();
}

std::uint64_t random_origin() {
  std::random_device device;
  std::uint64_t out = 0;
  while (out == 0)
    out = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  return out;
}

} // namespace apistudio::plugins::collaboration
