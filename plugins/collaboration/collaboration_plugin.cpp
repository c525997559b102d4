// collaboration_plugin.cpp — the hooks of the /ws collaboration endpoint: identity before the
// upgrade, presence on join/leave, fan-out of client events through the host bus. Every /ws frame
// is answered (an error event) or dropped: the host answers unhandled /ws frames itself. Other
// paths are not this plugin's business: every hook returns at once for them.
//
// Joining happens in on_session_open, the only hook that runs when a client connects. Presence is
// the host's (SDK 1.2: join_presence, with backend redis spanning every host): the join completes
// on the session's thread with the snapshot, sent to the joiner then (frames queued before the
// 101 response are written after it), and "online" is published when it was the user's first
// session of the workspace. A session refused later by another plugin still gets
// on_session_close, which leaves. "offline" is published from on_presence_gone, which the host
// calls once for the whole cluster when a user's last session left (or its host died).
//
// Identity: the token's user, else ?user_id=, else (no tokens only) the first valid user_id the
// client declares in an event. Until then the session is subscribed and got the snapshot, but is
// neither listed nor announced, and its events other than that declaration are refused
// (IDENTITY_REQUIRED). Once bound, a different user_id in an event is refused
// (IDENTITY_MISMATCH): the client's word binds once per connection. All hooks of one session run
// on its thread, so member_state needs no lock.
#include "collaboration/collaboration_events.hpp"
#include "collaboration/collaboration_settings.hpp"
#include "collaboration/identity.hpp"
#include "collaboration/presence_store.hpp"

#include "common/iso_time.hpp"

#include <apistudio/plugin.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace apistudio::plugins::collaboration {
namespace {

constexpr std::string_view collaboration_path = "/ws";

// Error codes of this plugin besides the spec's INVALID_FORMAT (docs/plugins.md, "Errors").
constexpr std::string_view identity_required_code = "IDENTITY_REQUIRED";
constexpr std::string_view identity_mismatch_code = "IDENTITY_MISMATCH";

// How long after its snapshot a session drops a presence event that only repeats it.
constexpr std::uint64_t snapshot_echo_window_ms = 5000;
// Broadcasts held while a join's snapshot is awaited; past it they are sent as they come.
constexpr std::size_t max_held_before_snapshot = 256;

struct member_state {
  std::string user_id; // empty: not identified yet (no tokens, no ?user_id=, nothing declared)
  std::string workspace_id;
  std::string topic;
  bool identified() const noexcept { return !user_id.empty(); }

  // The snapshot comes first. A join completes later than the subscription (a Redis round trip
  // with cluster.backend redis), so the workspace's broadcasts arriving in between are held and
  // sent after it. A user who joined just before us is both in the snapshot and announced by
  // their own join's "online", which reaches us before or after the snapshot: the announcement
  // that repeats what the snapshot said, within snapshot_echo_window_ms, is dropped.
  bool snapshot_pending = false;
  std::vector<std::string> held;
  std::map<std::string, std::string, std::less<>> snapshot_said; // user -> status
  std::uint64_t snapshot_said_until_ms = 0;
};

class collaboration_plugin final : public sdk::plugin<member_state> {
public:
  collaboration_plugin(sdk::host h, std::string_view settings_json)
      : plugin(h), settings_(parse_settings(settings_json)) {
    if (settings_.tokens.empty())
      host().log(sdk::log_level::info,
                 "no tokens configured: /ws clients name themselves with ?user_id= or the "
                 "user_id of their first event (unauthenticated)");
  }

  sdk::outcome on_session_open(sdk::session &session, const sdk::session_info &info,
                               std::unique_ptr<member_state> &state) override {
    if (info.path != collaboration_path)
      return sdk::verdict::continue_;
    auto who = resolve_identity(settings_, info.query, info.header("Authorization"));
    if (who.http_status != 0)
      return sdk::refuse({}, who.message, who.http_status);

    auto member = std::make_unique<member_state>();
    member->workspace_id = std::move(who.workspace_id);
    member->topic = bus_topic(member->workspace_id);
    const auto id = session.id();
    // Subscribe before reading the store: whoever joins after us (in the store) publishes after
    // our subscription, so we see them either in our snapshot or as an event — at worst both.
    host().subscribe(id, member->topic);
    const auto now = common::iso8601_now();
    if (who.user_id.empty()) {
      // Not identified yet: the session gets the snapshot and the workspace's broadcasts now,
      // but is not listed and announced until it declares a user_id (bind_identity).
      for (const auto &other : local_.members(member->workspace_id))
        host().send(id, serialize(user_presence_event(other.user_id, to_string(other.status),
                                                      member->workspace_id, now)));
    } else {
      session.set_identity(who.user_id);
      member->user_id = std::move(who.user_id);
      join(*member, id, presence_status::online, true, nullptr);
    }
    state = std::move(member);
    return sdk::verdict::continue_;
  }

  void on_session_close(sdk::session &session, member_state *member) override {
    if (member == nullptr)
      return;
    const auto id = session.id();
    host().unsubscribe(id, member->topic);
    if (member->identified()) {
      local_.leave(member->workspace_id, member->user_id, id);
      host().leave_presence(id, member->workspace_id); // "offline": on_presence_gone
    }
  }

  void on_presence_gone(std::string_view scope, std::string_view user,
                        std::string_view /*status*/) override {
    // No session sends this: sender 0 (never a session id) reaches every session of the
    // workspace, on every host (the bus spans them).
    publish(bus_topic(scope), 0, std::nullopt,
            user_presence_event(user, "offline", scope, common::iso8601_now()));
  }

  sdk::outcome on_client_message(sdk::session &session, member_state *member,
                                 sdk::message &message) override {
    if (member == nullptr)
      return sdk::verdict::continue_;
    const auto now = common::iso8601_now();
    auto parsed = parse_client_event(message.payload(), message.is_binary());
    if (!parsed.event) {
      message.set_reply(invalid_format_event(parsed.error, now));
      return sdk::verdict::reply;
    }
    const auto id = session.id();
    // With tokens the token decides and an event's user_id is ignored, as before. Without, the
    // user_id is the client's word: it binds an unidentified session and must agree afterwards.
    if (settings_.tokens.empty()) {
      if (parsed.claim == user_claim::invalid) {
        message.set_reply(invalid_format_event(invalid_user_id_detail, now));
        return sdk::verdict::reply;
      }
      if (parsed.claim == user_claim::valid && member->identified() &&
          parsed.claimed_user_id != member->user_id) {
        message.set_reply(error_event(identity_mismatch_code,
                                      "this connection is bound to user_id '" + member->user_id +
                                          "': reconnect to use another one",
                                      now));
        return sdk::verdict::reply;
      }
      if (!member->identified()) {
        if (parsed.claim != user_claim::valid) {
          message.set_reply(
              error_event(identity_required_code,
                          "declare who you are first: send {\"type\":\"user_presence\",\"status\":"
                          "\"online\",\"user_id\":\"<your id>\"} or connect with ?user_id=",
                          now));
          return sdk::verdict::reply;
        }
        bind_identity(session, *member, std::move(parsed.claimed_user_id),
                      std::move(*parsed.event));
        return sdk::verdict::handled; // the event is published once the join completed
      }
    }
    forward(*member, id, *parsed.event, now);
    return sdk::verdict::handled; // published: the event needs no answer
  }

  void on_bus_message(sdk::session &session, member_state *member, std::string_view topic,
                      std::string_view payload) override {
    // Only the workspace this session joined, whatever else might be published.
    if (member == nullptr || topic != member->topic)
      return;
    const auto envelope = decode_envelope(payload);
    if (!envelope || !should_deliver(*envelope, session.id(), member->user_id, origin_))
      return;
    if (member->snapshot_pending && member->held.size() < max_held_before_snapshot) {
      member->held.emplace_back(envelope->event);
      return;
    }
    if (repeats_snapshot(*member, envelope->event))
      return;
    // A session not identified yet has an empty user_id, which no to_users list holds (ids are
    // never empty): it gets broadcasts, never a share. A part of `payload` itself: the host
    // shares the delivery between recipients, no copy.
    host().send(session.id(), envelope->event);
  }

private:
  // Whether `event` is a user_presence saying what this session's snapshot said of that user, just
  // after the snapshot (member_state). Any presence event of a user ends the check for that user.
  bool repeats_snapshot(member_state &member, std::string_view event) const {
    if (member.snapshot_said.empty())
      return false;
    if (host().now_ms() > member.snapshot_said_until_ms) {
      member.snapshot_said.clear();
      return false;
    }
    // Events are serialised with their keys in the order they were built, type first
    // (collaboration_events.cpp): anything else is not a user_presence, and costs no parse.
    constexpr std::string_view presence_prefix = R"({"type":"user_presence",)";
    if (event.substr(0, presence_prefix.size()) != presence_prefix)
      return false;
    const json parsed = json::parse(event, nullptr, false);
    if (!parsed.is_object() || parsed.value("type", "") != "user_presence")
      return false;
    const auto said = member.snapshot_said.find(parsed.value("user_id", ""));
    if (said == member.snapshot_said.end())
      return false;
    const bool same = said->second == parsed.value("status", "");
    member.snapshot_said.erase(said);
    return same;
  }

  // Publishes a client's event to its workspace (a presence change also becomes its status).
  void forward(const member_state &member, sdk::session_id id, const client_event &event,
               std::string_view now) {
    if (const auto *p = std::get_if<presence_change>(&event)) {
      host().set_presence_status(id, member.workspace_id, to_string(p->status));
      local_.set_status(member.workspace_id, member.user_id, p->status);
      publish(member.topic, id, std::nullopt,
              user_presence_event(member.user_id, to_string(p->status), member.workspace_id, now));
    } else if (const auto *c = std::get_if<collection_update>(&event)) {
      publish(member.topic, id, std::nullopt, collection_updated_event(*c, member.user_id, now));
    } else if (const auto *r = std::get_if<request_share>(&event)) {
      publish(member.topic, id, r->shared_with, request_shared_event(*r, member.user_id, now));
    }
  }

  // Joins the workspace's presence as member.user_id with `status`. On completion (the session's
  // thread, while it lives): the snapshot to the joiner when `send_snapshot`, "online" (or
  // `status`) published when it was the user's first session, then `then(first_session)`.
  // The completion holds copies, never `member`: the session's state may be gone by then.
  void join(member_state &member, sdk::session_id id, presence_status status, bool send_snapshot,
            std::function<void(const member_state &, bool)> then) {
    local_.join(member.workspace_id, member.user_id, id);
    if (status != presence_status::online)
      local_.set_status(member.workspace_id, member.user_id, status);
    member.snapshot_pending = send_snapshot;
    // `state` is used only with a snapshot, which the host hands over on the session's thread
    // while the session (and so its state) lives; the rest works on copies.
    const bool joined = host().join_presence(
        id, member.workspace_id, member.user_id, to_string(status),
        [this, id, status, state = &member, copy = member,
         then = std::move(then)](const sdk::presence_snapshot *snapshot) {
          if (snapshot == nullptr)
            return; // the session ended first (or the join was refused)
          const auto now = common::iso8601_now();
          if (state->snapshot_pending)
            deliver_snapshot(*state, id, *snapshot, now);
          if (snapshot->first_session)
            publish(copy.topic, id, std::nullopt,
                    user_presence_event(copy.user_id, to_string(status), copy.workspace_id, now));
          if (then)
            then(copy, snapshot->first_session);
        });
    if (!joined && member.snapshot_pending) {
      member.snapshot_pending = false; // no snapshot will come: what was held goes now
      release_held(member, id);
    }
  }

  void deliver_snapshot(member_state &member, sdk::session_id id,
                        const sdk::presence_snapshot &snapshot, std::string_view now) {
    for (const auto &other : snapshot.members) {
      host().send(
          id, serialize(user_presence_event(other.member, other.status, member.workspace_id, now)));
      member.snapshot_said[other.member] = other.status;
    }
    member.snapshot_said_until_ms = host().now_ms() + snapshot_echo_window_ms;
    member.snapshot_pending = false;
    release_held(member, id);
  }

  void release_held(member_state &member, sdk::session_id id) {
    auto held = std::move(member.held);
    member.held.clear();
    for (const auto &event : held)
      if (!repeats_snapshot(member, event))
        host().send(id, event);
  }

  // Joins presence under the first user_id the session declared and announces it when it is the
  // user's first session of the workspace: one user_presence, with the status of `event` when it
  // is a user_presence (so the join and that status are one announcement), else "online"; then
  // `event` itself, unless that announcement carried it. The snapshot was sent at open and the
  // session has been subscribed since, so nothing is resent.
  void bind_identity(sdk::session &session, member_state &member, std::string user_id,
                     client_event event) {
    session.set_identity(user_id);
    member.user_id = std::move(user_id);
    auto status = presence_status::online;
    const auto *p = std::get_if<presence_change>(&event);
    if (p != nullptr)
      status = p->status;
    const bool is_presence = p != nullptr;
    join(member, session.id(), status, false,
         [this, id = session.id(), is_presence, event = std::move(event)](const member_state &m,
                                                                          bool announced) {
           if (!(announced && is_presence))
             forward(m, id, event, common::iso8601_now());
         });
  }

  void publish(const std::string &topic, sdk::session_id from,
               std::optional<std::vector<std::string>> to_users, json event) const {
    // Serialised once here, for every recipient (collaboration_events.hpp, "Bus envelope").
    const std::string text = serialize(event);
    host().publish(topic, encode_envelope({from, std::move(to_users), text, origin_}));
  }

  const settings settings_;
  // This host's members, for the snapshot of a session not identified yet (it is not in the
  // host's presence, which lists a scope only to a joiner): docs/plugins.md.
  in_memory_presence_store local_;
  // Session ids are per process: with the bus spanning hosts, (origin_, id) names the sender.
  const std::uint64_t origin_ = random_origin();
};

} // namespace
} // namespace apistudio::plugins::collaboration

APISTUDIO_PLUGIN(apistudio::plugins::collaboration::collaboration_plugin, "collaboration", "1.0.0")
