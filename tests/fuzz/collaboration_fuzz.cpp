// collaboration_fuzz.cpp — libFuzzer target for the collaboration plugin's event handling: what a
// /ws client sends (parse_client_event and the events built from it), what travels on the bus
// between sessions (decode_envelope / encode_envelope / should_deliver), and who a client is
// (resolve_identity, with and without tokens). All of it reads network input.
//
// Input: byte 0 picks options (bit 0: the frame is binary); the rest is the payload. For the
// identity check the payload is split at the first '\n' into the query string and the
// Authorization header.
//
// Properties: nothing throws or crashes; a frame gives exactly an event or an error; every event
// and error built from it serializes to valid JSON with the server-owned fields the server's;
// an envelope that decodes re-encodes to the same thing; identities are valid ids, tokens decide
// them when configured, and refusals never repeat a token.
//
// Build: see tests/fuzz/CMakeLists.txt (scripts/fuzz.sh). The committed corpus
// tests/fuzz/corpus/collaboration/ is replayed by CTest (fuzz_replay_collaboration).
#include "collaboration/collaboration_events.hpp"
#include "collaboration/collaboration_settings.hpp"
#include "collaboration/identity.hpp"
#include "fuzz_invariant.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace collab = apistudio::plugins::collaboration;
using nlohmann::json;

using apistudio::fuzz::check;

constexpr std::string_view timestamp = "2025-01-01T12:00:00.000Z";
constexpr std::string_view server_user = "user-server";

void check_built(const json &event, const char *type) {
  const std::string text = collab::serialize(event);
  check(json::accept(text), "a built event serializes to valid JSON");
  const json back = json::parse(text);
  check(back.at("type") == type, "a built event keeps its type");
  check(back.at("timestamp") == timestamp, "a built event carries the server's timestamp");
}

void fuzz_client_event(std::string_view payload, bool binary) {
  const collab::parse_result r = collab::parse_client_event(payload, binary);
  check(r.event.has_value() != !r.error.empty(), "exactly one of event and error");
  if (!r.event) {
    check(!binary || r.error.find("binary") != std::string::npos, "binary frames are refused");
    const std::string error = collab::invalid_format_event(r.error, timestamp);
    check(json::accept(error), "the error event is valid JSON");
    check(json::parse(error).at("code") == "INVALID_FORMAT", "the error event says INVALID_FORMAT");
    return;
  }
  check(!binary, "a binary frame never gives an event");
  check(r.claim == collab::user_claim::valid ? collab::valid_id(r.claimed_user_id)
                                             : r.claimed_user_id.empty(),
        "a claimed user_id is reported only when it is a valid id");
  if (const auto *presence = std::get_if<collab::presence_change>(&*r.event)) {
    const auto status = collab::to_string(presence->status);
    check(status == "online" || status == "away", "presence is online or away");
    check_built(collab::user_presence_event(server_user, status, "ws-1", timestamp),
                "user_presence");
  } else if (const auto *update = std::get_if<collab::collection_update>(&*r.event)) {
    check(collab::valid_id(update->collection_id), "collection ids are valid ids");
    check(update->changes.is_object(), "changes is an object");
    const json e = collab::collection_updated_event(*update, server_user, timestamp);
    check_built(e, "collection_updated");
    check(e.at("changes").at("updated_by") == server_user, "updated_by is the server's word");
  } else if (const auto *share = std::get_if<collab::request_share>(&*r.event)) {
    check(collab::valid_id(share->request_id), "request ids are valid ids");
    check(!share->shared_with.empty() && share->shared_with.size() <= collab::max_shared_with,
          "shared_with holds 1 to 100 users");
    for (std::size_t i = 0; i < share->shared_with.size(); ++i) {
      check(collab::valid_id(share->shared_with[i]), "shared_with entries are valid ids");
      for (std::size_t j = 0; j < i; ++j)
        check(share->shared_with[i] != share->shared_with[j], "shared_with has no duplicates");
    }
    const json e = collab::request_shared_event(*share, server_user, timestamp);
    check_built(e, "request_shared");
    check(e.at("shared_by") == server_user, "shared_by is the server's word");
  }
}

void fuzz_envelope(std::string_view payload) {
  const auto envelope = collab::decode_envelope(payload);
  if (!envelope)
    return;
  check(!envelope->event.empty() && envelope->event.front() == '{',
        "an envelope's event looks like an object");
  check(envelope->event.data() >= payload.data() &&
            envelope->event.data() + envelope->event.size() == payload.data() + payload.size(),
        "an envelope's event is the end of the payload itself");
  const std::string text = collab::encode_envelope(*envelope);
  const std::string_view header = std::string_view(text).substr(0, text.find('\n'));
  check(json::accept(header), "an envelope's header re-encodes to valid JSON");
  const auto again = collab::decode_envelope(text);
  check(again.has_value(), "a re-encoded envelope decodes");
  check(again->from_session == envelope->from_session && again->origin == envelope->origin &&
            again->to_users == envelope->to_users && again->event == envelope->event,
        "an envelope round-trips");
  const std::uint64_t me = envelope->from_session ^ 1;
  if (!envelope->to_users) {
    check(!collab::should_deliver(*envelope, envelope->from_session, "anyone", envelope->origin),
          "a broadcast skips its sender");
    check(collab::should_deliver(*envelope, me, "anyone", envelope->origin),
          "a broadcast reaches the others");
    check(collab::should_deliver(*envelope, envelope->from_session, "anyone", envelope->origin ^ 1),
          "a broadcast reaches the same session id of another origin");
  } else {
    for (const auto &user : *envelope->to_users)
      check(collab::should_deliver(*envelope, me, user, envelope->origin),
            "a listed user gets the event");
  }
}

void fuzz_identity(std::string_view query, std::string_view authorization) {
  static const collab::settings open = [] {
    collab::settings s;
    s.default_workspace = "lobby";
    return s;
  }();
  static const collab::settings guarded = [] {
    collab::settings s;
    s.tokens = {{"tok-alice-SECRET", "alice", {"team", "personal"}},
                {"tok-bob-SECRET", "bob", {"team"}}};
    return s;
  }();
  const auto anonymous = collab::resolve_identity(open, query, authorization);
  check(anonymous.http_status == 0 || anonymous.http_status == 400,
        "without tokens: accepted or 400");
  if (anonymous.http_status == 0) {
    check((anonymous.user_id.empty() || collab::valid_id(anonymous.user_id)) &&
              collab::valid_id(anonymous.workspace_id),
          "without tokens: the identity is made of valid ids (or no user yet)");
    check(!anonymous.from_token, "without tokens: not from a token");
  } else {
    check(!anonymous.message.empty(), "a refusal says why");
  }

  const auto checked = collab::resolve_identity(guarded, query, authorization);
  const int s = checked.http_status;
  check(s == 0 || s == 400 || s == 401 || s == 403, "with tokens: 0, 400, 401 or 403");
  check(checked.message.find("SECRET") == std::string::npos, "a refusal never repeats a token");
  if (s == 0) {
    check(checked.from_token, "with tokens: the identity comes from a token");
    check(checked.user_id == "alice" || checked.user_id == "bob", "the token decides the user");
    const bool allowed = checked.workspace_id == "team" ||
                         (checked.user_id == "alice" && checked.workspace_id == "personal");
    check(allowed, "only a workspace the token grants");
    // Every token ends in SECRET: it must have been presented, as is or percent-encoded.
    const bool presented = authorization.find("SECRET") != std::string_view::npos ||
                           query.find("SECRET") != std::string_view::npos ||
                           query.find('%') != std::string_view::npos;
    check(presented, "no access without presenting a token");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  if (size == 0)
    return 0;
  const bool binary = (data[0] & 1) != 0;
  const std::string_view payload(reinterpret_cast<const char *>(data + 1), size - 1);
  fuzz_client_event(payload, binary);
  fuzz_envelope(payload);
  const auto newline = payload.find('\n');
  fuzz_identity(payload.substr(0, newline), newline == std::string_view::npos
                                                ? std::string_view{}
                                                : payload.substr(newline + 1));
  return 0;
}
