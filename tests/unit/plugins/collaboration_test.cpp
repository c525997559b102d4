// Unit tests of the collaboration plugin's pure logic: identity before the upgrade, event
// validation, outgoing events, the bus envelope and its delivery filter, the presence store.
#include "collaboration/collaboration_events.hpp"
#include "collaboration/collaboration_settings.hpp"
#include "collaboration/identity.hpp"
#include "collaboration/presence_store.hpp"

#include <apistudio/plugin.hpp>

#include <gtest/gtest.h>

#include <utility>

namespace co = apistudio::plugins::collaboration;

namespace {

co::settings with_tokens() {
  return co::parse_settings(R"({"tokens":{
      "tok-alice":{"user_id":"alice","workspaces":["ws1","ws2"]},
      "tok-bob":{"user_id":"bob","workspaces":["ws2"]}}})");
}

TEST(PluginsCollaboration, IdsAreShortAndFromTheAllowedSet) {
  EXPECT_TRUE(co::valid_id("alice"));
  EXPECT_TRUE(co::valid_id("a.b_c~d-e@f"));
  EXPECT_TRUE(co::valid_id(std::string(128, 'x')));
  EXPECT_FALSE(co::valid_id(std::string(129, 'x')));
  EXPECT_FALSE(co::valid_id(""));
  EXPECT_FALSE(co::valid_id("a b"));
  EXPECT_FALSE(co::valid_id("a/b"));
  EXPECT_FALSE(co::valid_id("\xC3\xA9"));
}

TEST(PluginsCollaboration, WithoutTokensIdentityComesFromTheQuery) {
  const co::settings open;
  auto r = co::resolve_identity(open, "user_id=al%69ce&workspace_id=team%2Done", "");
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.user_id, "alice");
  EXPECT_EQ(r.workspace_id, "team-one");
  EXPECT_FALSE(r.from_token);

  r = co::resolve_identity(open, "", "");
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.user_id, ""); // not identified yet: the first event's user_id will say
  EXPECT_EQ(r.workspace_id, "default");

  EXPECT_EQ(co::resolve_identity(open, "user_id=a+b", "").http_status, 400);
  EXPECT_EQ(co::resolve_identity(open, "user_id=", "").http_status, 400);
  EXPECT_EQ(co::resolve_identity(open, "user_id=%zz", "").http_status, 400);
  EXPECT_EQ(co::resolve_identity(open, "workspace_id=a%2Fb", "").http_status, 400);
  // The first of repeated parameters counts.
  EXPECT_EQ(co::resolve_identity(open, "user_id=a&user_id=b", "").user_id, "a");
}

TEST(PluginsCollaboration, TokensAreRequiredWhenConfigured) {
  const auto config = with_tokens();
  const auto missing = co::resolve_identity(config, "user_id=alice", "");
  EXPECT_EQ(missing.http_status, 401);
  EXPECT_EQ(missing.message, "missing token");
  EXPECT_EQ(co::resolve_identity(config, "token=nope", "").http_status, 401);
  EXPECT_EQ(co::resolve_identity(config, "", "Bearer nope").http_status, 401);
  EXPECT_EQ(co::resolve_identity(config, "", "Basic tok-alice").http_status, 401);

  auto r = co::resolve_identity(config, "", "Bearer tok-alice");
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.user_id, "alice");
  EXPECT_EQ(r.workspace_id, "ws1"); // the token's first workspace
  EXPECT_TRUE(r.from_token);

  r = co::resolve_identity(config, "token=tok-bob&user_id=mallory", "");
  EXPECT_EQ(r.user_id, "bob"); // the token decides, not the query
  EXPECT_EQ(r.workspace_id, "ws2");

  // A header token the plugin does not know (e.g. the host's access token) and a valid query one.
  r = co::resolve_identity(config, "token=tok-alice", "Bearer host-access-token");
  EXPECT_EQ(r.user_id, "alice");
}

TEST(PluginsCollaboration, WorkspaceMustBeOneTheTokenAllows) {
  const auto config = with_tokens();
  EXPECT_EQ(co::resolve_identity(config, "workspace_id=ws2", "bearer tok-alice").workspace_id,
            "ws2");
  const auto denied = co::resolve_identity(config, "workspace_id=ws1", "Bearer tok-bob");
  EXPECT_EQ(denied.http_status, 403);
  EXPECT_EQ(co::resolve_identity(config, "workspace_id=a%20b", "Bearer tok-bob").http_status, 400);
  // Authentication comes first: no token, bad workspace -> 401, not 400.
  EXPECT_EQ(co::resolve_identity(config, "workspace_id=a%20b", "").http_status, 401);
}

TEST(PluginsCollaboration, TokensMayBeAListSoThatEnvironmentVariablesCanFillThem) {
  const auto config = co::parse_settings(R"({"tokens":[
      {"token":"tok-alice","user_id":"alice","workspaces":["ws1"]},
      {"token":"tok-bob","user_id":"bob","workspaces":["ws2","ws3"]}]})");
  ASSERT_EQ(config.tokens.size(), 2u);
  const auto r = co::resolve_identity(config, "workspace_id=ws3", "Bearer tok-bob");
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.user_id, "bob");
  EXPECT_EQ(r.workspace_id, "ws3");
  EXPECT_THROW(co::parse_settings(R"({"tokens":[{"user_id":"a","workspaces":["w"]}]})"),
               apistudio::sdk::settings_error);
  try {
    co::parse_settings(R"({"tokens":[{"token":"dup-secret","user_id":"a","workspaces":["w"]},
                                     {"token":"dup-secret","user_id":"b","workspaces":["w"]}]})");
    FAIL() << "a repeated token was accepted";
  } catch (const apistudio::sdk::settings_error &e) {
    EXPECT_NE(std::string(e.what()).find("tokens entry 2"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("dup-secret"), std::string::npos) << e.what();
  }
}

TEST(PluginsCollaboration, SettingsErrorsNeverQuoteATokenAndDefaultsHold) {
  const auto message = [](const char *json) -> std::string {
    try {
      co::parse_settings(json);
    } catch (const apistudio::sdk::settings_error &e) {
      return e.what();
    }
    return "accepted";
  };
  const auto bad =
      message(R"({"tokens":{"super-secret-token":{"user_id":"a b","workspaces":["w"]}}})");
  EXPECT_NE(bad.find("tokens entry 1"), std::string::npos) << bad;
  EXPECT_EQ(bad.find("super-secret-token"), std::string::npos) << bad;
  const auto no_ws =
      message(R"({"tokens":{"super-secret-token":{"user_id":"al","workspaces":[]}}})");
  EXPECT_NE(no_ws.find("(user al)"), std::string::npos) << no_ws;
  EXPECT_EQ(no_ws.find("super-secret-token"), std::string::npos);
  const auto extra =
      message(R"({"tokens":{"super-secret-token":{"user_id":"al","workspaces":["w"],"x":1}}})");
  EXPECT_EQ(extra.find("super-secret-token"), std::string::npos) << extra;
  EXPECT_NE(message(R"({"default_workspace":"a/b"})").find("default_workspace"), std::string::npos);
  EXPECT_NE(message(R"({"away_after":"later"})").find("away_after"), std::string::npos);
  EXPECT_EQ(message(R"({"away_after":"5m"})"), "accepted");
  const auto defaults = co::parse_settings("{}");
  EXPECT_TRUE(defaults.tokens.empty());
  EXPECT_EQ(defaults.default_workspace, "default");
}

// The message names a token entry by position and user; the pointer is exact, even where the
// token is a mapping key (the host resolves it to a line and never prints it).
TEST(PluginsCollaboration, RefusalsPointAtTheOffendingKey) {
  using refusal = std::pair<std::string, std::string>;
  const auto refusal_of = [](const char *json) -> refusal {
    try {
      co::parse_settings(json);
    } catch (const apistudio::sdk::settings_error &e) {
      return {e.what(), e.pointer()};
    }
    return {"accepted", ""};
  };
  EXPECT_EQ(refusal_of(R"({"tokens":[{"token":"t1","user_id":"a","workspaces":["w"]},
                                     {"token":"t2","user_id":"b","workspaces":["w","bad id"]}]})"),
            refusal("collaboration: tokens entry 2 (user b).workspaces[1]: must be 1-128 "
                    "characters from A-Z a-z 0-9 . _ ~ - @",
                    "/tokens/1/workspaces/1"));
  EXPECT_EQ(refusal_of(R"({"tokens":{"se/cr~et":{"user_id":"a b","workspaces":["w"]}}})"),
            refusal("collaboration: tokens entry 1.user_id: must be 1-128 characters from A-Z a-z "
                    "0-9 . _ ~ - @",
                    "/tokens/se~1cr~0et/user_id"));
  EXPECT_EQ(
      refusal_of(R"({"tokens":[{"token":"dup","user_id":"a","workspaces":["w"]},
                                     {"token":"dup","user_id":"b","workspaces":["w"]}]})"),
      refusal("collaboration: tokens entry 2: repeats the token of user a", "/tokens/1/token"));
  EXPECT_EQ(refusal_of(R"({"tokens":[{"token":"t","user_id":"a"}]})"),
            refusal("collaboration: tokens entry 1 (user a): needs `workspaces`", "/tokens/0"));
  EXPECT_EQ(refusal_of(R"({"tokens":[{"token":"t","user":"a"}]})"),
            refusal("collaboration: tokens entry 1.user: unknown key (known: token, user_id, "
                    "workspaces)",
                    "/tokens/0/user"));
  EXPECT_EQ(refusal_of(R"({"default_workspace":"a b"})"),
            refusal("collaboration: default_workspace: must be 1-128 characters from A-Z a-z 0-9 "
                    ". _ ~ - @",
                    "/default_workspace"));
  EXPECT_EQ(
      refusal_of(R"({"away_after":"soon"})"),
      refusal("collaboration: away_after: must be a duration such as 30s or 5m", "/away_after"));
}

TEST(PluginsCollaboration, ValidEventsParse) {
  auto r =
      co::parse_client_event(R"({"type":"user_presence","status":"away","user_id":"x"})", false);
  ASSERT_TRUE(r.event) << r.error;
  EXPECT_EQ(std::get<co::presence_change>(*r.event).status, co::presence_status::away);

  r = co::parse_client_event(
      R"({"type":"collection_updated","collection_id":"c1","changes":{"name":"N","updated_by":"forged"}})",
      false);
  ASSERT_TRUE(r.event) << r.error;
  EXPECT_EQ(std::get<co::collection_update>(*r.event).collection_id, "c1");

  r = co::parse_client_event(
      R"({"type":"request_shared","request_id":"r1","shared_with":["bob","carol","bob"]})", false);
  ASSERT_TRUE(r.event) << r.error;
  EXPECT_EQ(std::get<co::request_share>(*r.event).shared_with,
            (std::vector<std::string>{"bob", "carol"}));
}

TEST(PluginsCollaboration, AnEventsUserIdIsReportedAsAClaim) {
  const auto claim_of = [](std::string_view payload) {
    const auto r = co::parse_client_event(payload, false);
    EXPECT_TRUE(r.event) << payload << ": " << r.error;
    return std::make_pair(r.claim, r.claimed_user_id);
  };
  using c = co::user_claim;
  EXPECT_EQ(claim_of(R"({"type":"user_presence","status":"online"})"),
            std::make_pair(c::none, std::string()));
  EXPECT_EQ(claim_of(R"({"type":"user_presence","status":"online","user_id":null})").first,
            c::none);
  EXPECT_EQ(claim_of(R"({"type":"user_presence","status":"online","user_id":""})").first, c::none);
  EXPECT_EQ(claim_of(R"({"type":"user_presence","status":"away","user_id":"alice"})"),
            std::make_pair(c::valid, std::string("alice")));
  EXPECT_EQ(
      claim_of(R"({"type":"collection_updated","collection_id":"c","changes":{},"user_id":"a@b"})"),
      std::make_pair(c::valid, std::string("a@b")));
  EXPECT_EQ(
      claim_of(R"({"type":"request_shared","request_id":"r","shared_with":["b"],"user_id":"al"})"),
      std::make_pair(c::valid, std::string("al")));
  EXPECT_EQ(claim_of(R"({"type":"user_presence","status":"online","user_id":"a b"})").first,
            c::invalid);
  EXPECT_EQ(claim_of(R"({"type":"user_presence","status":"online","user_id":7})").first,
            c::invalid);
  EXPECT_EQ(claim_of(R"({"type":"user_presence","status":"online","user_id":["alice"]})").first,
            c::invalid);
  const std::string too_long =
      R"({"type":"user_presence","status":"online","user_id":")" + std::string(129, 'x') + "\"}";
  EXPECT_EQ(claim_of(too_long).first, c::invalid);
  // The event's own problems come first: a malformed event is INVALID_FORMAT whatever its user_id.
  EXPECT_FALSE(
      co::parse_client_event(R"({"type":"user_presence","user_id":"alice"})", false).event);
}

TEST(PluginsCollaboration, ErrorEventsHaveTheSpecsShape) {
  const auto e = nlohmann::json::parse(
      co::error_event("IDENTITY_MISMATCH", "why", "2025-01-01T12:00:00.000Z"));
  EXPECT_EQ(e, (nlohmann::json{{"type", "error"},
                               {"code", "IDENTITY_MISMATCH"},
                               {"error", "why"},
                               {"timestamp", "2025-01-01T12:00:00.000Z"}}));
  EXPECT_EQ(nlohmann::json::parse(co::invalid_format_event("x", "t")).value("error", ""),
            "Invalid message format: x");
}

TEST(PluginsCollaboration, MalformedEventsSayWhatIsWrong) {
  const auto error = [](std::string_view payload, bool binary = false) {
    const auto r = co::parse_client_event(payload, binary);
    EXPECT_FALSE(r.event) << payload;
    return r.error;
  };
  EXPECT_EQ(error("{}", true), "binary frames are not accepted");
  EXPECT_EQ(error("{nope"), "not valid JSON");
  EXPECT_EQ(error("[1]"), "expected a JSON object");
  EXPECT_EQ(error(R"({"status":"away"})"), "missing string field 'type'");
  EXPECT_EQ(error(R"({"type":"dance"})"), "unknown type 'dance'");
  EXPECT_NE(error(R"({"type":"user_presence","status":"offline"})").find("status"),
            std::string::npos);
  EXPECT_NE(error(R"({"type":"collection_updated","changes":{}})").find("collection_id"),
            std::string::npos);
  EXPECT_NE(
      error(R"({"type":"collection_updated","collection_id":"c1","changes":[]})").find("changes"),
      std::string::npos);
  EXPECT_NE(
      error(R"({"type":"request_shared","request_id":"r1","shared_with":[]})").find("shared_with"),
      std::string::npos);
  EXPECT_NE(error(R"({"type":"request_shared","request_id":"r1","shared_with":["a b"]})")
                .find("shared_with"),
            std::string::npos);
  std::string many = R"({"type":"request_shared","request_id":"r1","shared_with":[)";
  for (int i = 0; i < 101; ++i)
    many += (i ? ",\"u" : "\"u") + std::to_string(i) + "\"";
  many += "]}";
  EXPECT_NE(error(many).find("more than 100"), std::string::npos);
  std::string deep = R"({"type":"collection_updated","collection_id":"c","changes":)";
  deep += std::string(1000, '[') + std::string(1000, ']') + "}";
  EXPECT_NE(error(deep).find("nested"), std::string::npos);
}

TEST(PluginsCollaboration, OutgoingEventsHaveTheSpecsShapeWithServerFields) {
  const auto ts = "2025-01-01T12:00:00.000Z";
  EXPECT_EQ(co::serialize(co::user_presence_event("alice", "online", "ws1", ts)),
            R"({"type":"user_presence","user_id":"alice","status":"online","workspace_id":"ws1",)"
            R"("timestamp":"2025-01-01T12:00:00.000Z"})");
  const auto parsed = co::parse_client_event(
      R"({"type":"collection_updated","collection_id":"c1","changes":{"name":"N","updated_by":"forged"}})",
      false);
  EXPECT_EQ(co::serialize(co::collection_updated_event(
                std::get<co::collection_update>(*parsed.event), "alice", ts)),
            R"({"type":"collection_updated","collection_id":"c1","changes":{"name":"N",)"
            R"("updated_by":"alice"},"timestamp":"2025-01-01T12:00:00.000Z"})");
  EXPECT_EQ(
      co::serialize(co::request_shared_event({"r1", {"bob"}}, "alice", ts)),
      R"({"type":"request_shared","request_id":"r1","shared_by":"alice","shared_with":["bob"],)"
      R"("timestamp":"2025-01-01T12:00:00.000Z"})");
  EXPECT_EQ(co::invalid_format_event("not valid JSON", ts),
            R"({"type":"error","code":"INVALID_FORMAT","error":"Invalid message format: not valid )"
            R"(JSON","timestamp":"2025-01-01T12:00:00.000Z"})");
}

TEST(PluginsCollaboration, EnvelopeRoundTripsAndFiltersRecipients) {
  const std::string presence = co::serialize(co::user_presence_event("a", "online", "w", "t"));
  const co::bus_envelope broadcast{7, std::nullopt, presence};
  const std::string encoded = co::encode_envelope(broadcast);
  const auto decoded = co::decode_envelope(encoded);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->from_session, 7u);
  EXPECT_FALSE(decoded->to_users);
  EXPECT_EQ(decoded->event, presence);
  EXPECT_FALSE(co::should_deliver(*decoded, 7, "a")); // not back to the sender
  EXPECT_TRUE(co::should_deliver(*decoded, 8, "a"));  // the user's other session does get it
  EXPECT_TRUE(co::should_deliver(*decoded, 9, "b"));

  const co::bus_envelope share{7, std::vector<std::string>{"bob"}, "{}"};
  const auto to_bob = co::decode_envelope(co::encode_envelope(share));
  ASSERT_TRUE(to_bob);
  EXPECT_TRUE(co::should_deliver(*to_bob, 9, "bob"));
  EXPECT_FALSE(co::should_deliver(*to_bob, 10, "carol"));

  EXPECT_FALSE(co::decode_envelope("nope"));
  EXPECT_FALSE(co::decode_envelope("{\"from_session\":1,\"to_users\":\"bob\"}\n{}"));
  EXPECT_FALSE(co::decode_envelope("{\"from_session\":1}\n{}"));
  EXPECT_FALSE(co::decode_envelope("{\"from_session\":1,\"to_users\":null}\n"));
  EXPECT_FALSE(co::decode_envelope("{\"from_session\":1,\"to_users\":null}\n[]"));
  EXPECT_EQ(co::bus_topic("ws1"), "ws:ws1");
}

// Session ids are per process and the bus spans hosts: the sender is (origin, from_session), so
// session 7 of another host is not mistaken for the sender (docs/cluster.md).
TEST(PluginsCollaboration, TheSenderIsItsOriginAndSessionNotTheSessionAlone) {
  const std::uint64_t here = co::random_origin(), there = co::random_origin();
  ASSERT_NE(here, 0u);
  ASSERT_NE(here, there);
  const co::bus_envelope broadcast{7, std::nullopt, "{}", there};
  const auto decoded = co::decode_envelope(co::encode_envelope(broadcast));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->origin, there);
  EXPECT_TRUE(co::should_deliver(*decoded, 7, "a", here));   // same id, another host
  EXPECT_FALSE(co::should_deliver(*decoded, 7, "a", there)); // the sender itself
  EXPECT_TRUE(co::should_deliver(*decoded, 8, "a", there));
  // Without an origin (an older publisher): 0, as before.
  const auto old = co::decode_envelope("{\"from_session\":7,\"to_users\":null}\n{}");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->origin, 0u);
  EXPECT_FALSE(co::should_deliver(*old, 7, "a"));
  EXPECT_FALSE(co::decode_envelope("{\"from_session\":7,\"origin\":-1,\"to_users\":null}\n{}"));
}

// The event travels as the bytes clients get: serialised once by the publisher, never parsed
// again, and what a recipient forwards is a part of the bus payload itself (the host shares it).
TEST(PluginsCollaboration, EnvelopeCarriesTheEventSerialisedOnceAndRecipientsForwardAPartOfIt) {
  co::collection_update update{"c1", co::json{{"name", std::string(4096, 'x')}}};
  const std::string event =
      co::serialize(co::collection_updated_event(update, "alice", "2025-01-01T12:00:00.000Z"));
  const std::string payload = co::encode_envelope({3, std::nullopt, event});
  ASSERT_LT(payload.size(), event.size() + 64) << "the routing header stays small";
  const auto decoded = co::decode_envelope(payload);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->event, event);
  EXPECT_GE(decoded->event.data(), payload.data());
  EXPECT_EQ(decoded->event.data() + decoded->event.size(), payload.data() + payload.size());
}

TEST(PluginsCollaboration, PresenceStoreCountsSessionsPerUser) {
  co::in_memory_presence_store store;
  auto j = store.join("w", "alice", 1);
  EXPECT_TRUE(j.first_session);
  EXPECT_TRUE(j.others.empty());
  j = store.join("w", "bob", 2);
  EXPECT_TRUE(j.first_session);
  ASSERT_EQ(j.others.size(), 1u);
  EXPECT_EQ(j.others[0].user_id, "alice");

  EXPECT_TRUE(store.set_status("w", "alice", co::presence_status::away));
  j = store.join("w", "alice", 3); // alice's second tab
  EXPECT_FALSE(j.first_session);
  ASSERT_EQ(j.others.size(), 1u);
  EXPECT_EQ(j.others[0].user_id, "bob");

  j = store.join("w", "carol", 4);
  ASSERT_EQ(j.others.size(), 2u);
  EXPECT_EQ(j.others[0].user_id, "alice");
  EXPECT_EQ(j.others[0].status, co::presence_status::away); // as last set

  EXPECT_FALSE(store.leave("w", "alice", 1)); // tab 3 still open
  EXPECT_FALSE(store.leave("w", "alice", 1)); // twice: nothing
  EXPECT_TRUE(store.leave("w", "alice", 3));
  EXPECT_FALSE(store.set_status("w", "alice", co::presence_status::online));
  EXPECT_EQ(store.join("w", "alice", 5).others.size(), 2u);
  EXPECT_EQ(store.members("w")[0].status, co::presence_status::online); // back, starts online

  EXPECT_TRUE(store.members("other").empty()); // workspaces never mix
  EXPECT_TRUE(store.join("other", "alice", 6).others.empty());
  EXPECT_EQ(store.workspace_count(), 2u);
  EXPECT_TRUE(store.leave("w", "alice", 5));
  EXPECT_TRUE(store.leave("w", "bob", 2));
  EXPECT_TRUE(store.leave("w", "carol", 4));
  EXPECT_TRUE(store.leave("other", "alice", 6));
  EXPECT_EQ(store.workspace_count(), 0u); // nothing kept for empty workspaces
}

} // namespace
