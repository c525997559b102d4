// collaboration loaded from libcollaboration.so into a real host (issue 4), driven by real /ws
// clients: presence on join, status change, leave and abrupt drop; collection updates and request
// shares with server-set fields; workspace isolation; tokens in the header and the query; refusals
// before the upgrade; malformed events; without tokens, the identity a client declares in its
// first event (bound to the connection, announced once).
//
// "Nothing arrives" is shown with a marker: the client sends a malformed frame, and the
// INVALID_FORMAT answer must be the next frame it reads.
#include "plugin_e2e.hpp"

#include <map>
#include <set>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;

namespace {

host_config collaboration(json settings = json::object()) {
  return config_with({make_plugin("collaboration", std::move(settings))});
}

void expect_server_timestamp(const json &e) {
  const std::string ts = e.value("timestamp", "");
  ASSERT_EQ(ts.size(), 24u) << e.dump();
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts.back(), 'Z');
}

void expect_presence(ws_client &c, const std::string &user, const std::string &status,
                     const std::string &workspace) {
  const json e = c.read_json();
  EXPECT_EQ(e.value("type", ""), "user_presence") << e.dump();
  EXPECT_EQ(e.value("user_id", ""), user) << e.dump();
  EXPECT_EQ(e.value("status", ""), status) << e.dump();
  EXPECT_EQ(e.value("workspace_id", ""), workspace) << e.dump();
  expect_server_timestamp(e);
}

} // namespace

TEST(CollaborationE2E, PresenceOnJoinLeaveAndAbruptDrop) {
  host_instance host(collaboration());
  ws_client alice, bob, carol;
  ASSERT_TRUE(alice.connect(host.port(), ws_target("alice", "team")));
  ASSERT_TRUE(bob.connect(host.port(), ws_target("bob", "team")));
  // The joiner gets the current presence; the member already there hears about the joiner.
  expect_presence(bob, "alice", "online", "team");
  expect_presence(alice, "bob", "online", "team");

  ASSERT_TRUE(carol.connect(host.port(), ws_target("carol", "team")));
  std::set<std::string> seen;
  for (int i = 0; i < 2; ++i) {
    const json e = carol.read_json();
    EXPECT_EQ(e.value("status", ""), "online") << e.dump();
    seen.insert(e.value("user_id", ""));
  }
  EXPECT_EQ(seen, (std::set<std::string>{"alice", "bob"}));
  expect_presence(alice, "carol", "online", "team");
  expect_presence(bob, "carol", "online", "team");

  bob.close(); // a clean leave
  expect_presence(alice, "bob", "offline", "team");
  expect_presence(carol, "bob", "offline", "team");

  carol.drop(); // an abrupt one: no close frame
  expect_presence(alice, "carol", "offline", "team");
  expect_nothing_pending(alice);
}

TEST(CollaborationE2E, AwayStatusReachesOthersAndLaterJoiners) {
  host_instance host(collaboration());
  ws_client alice, bob;
  ASSERT_TRUE(alice.connect(host.port(), ws_target("alice", "team")));
  ASSERT_TRUE(bob.connect(host.port(), ws_target("bob", "team")));
  expect_presence(bob, "alice", "online", "team");
  expect_presence(alice, "bob", "online", "team");

  bob.send_json({{"type", "user_presence"}, {"status", "away"}, {"workspace_id", "elsewhere"}});
  expect_presence(alice, "bob", "away", "team"); // workspace_id is the server's, not the frame's
  expect_nothing_pending(bob);                   // the sender gets no copy

  ws_client dave;
  ASSERT_TRUE(dave.connect(host.port(), ws_target("dave", "team")));
  std::map<std::string, std::string> status;
  for (int i = 0; i < 2; ++i) {
    const json e = dave.read_json();
    status[e.value("user_id", "")] = e.value("status", "");
  }
  EXPECT_EQ(status, (std::map<std::string, std::string>{{"alice", "online"}, {"bob", "away"}}));
}

TEST(CollaborationE2E, CollectionUpdatesGoToOtherMembersWithServerFields) {
  host_instance host(collaboration());
  ws_client alice, bob, outsider;
  ASSERT_TRUE(alice.connect(host.port(), ws_target("alice", "team")));
  ASSERT_TRUE(bob.connect(host.port(), ws_target("bob", "team")));
  ASSERT_TRUE(outsider.connect(host.port(), ws_target("eve", "other")));
  expect_presence(bob, "alice", "online", "team");
  expect_presence(alice, "bob", "online", "team");

  alice.send_json({{"type", "collection_updated"},
                   {"collection_id", "c1"},
                   {"changes", {{"name", "New name"}, {"updated_by", "mallory"}}},
                   {"timestamp", "1999-01-01T00:00:00.000Z"},
                   {"extra", "not forwarded"}});
  const json e = bob.read_json();
  EXPECT_EQ(e.value("type", ""), "collection_updated") << e.dump();
  EXPECT_EQ(e["collection_id"], "c1");
  EXPECT_EQ(e["changes"], (json{{"name", "New name"}, {"updated_by", "alice"}}));
  EXPECT_NE(e.value("timestamp", ""), "1999-01-01T00:00:00.000Z");
  expect_server_timestamp(e);
  EXPECT_FALSE(e.contains("extra")) << e.dump();
  expect_nothing_pending(alice);    // not echoed to the sender
  expect_nothing_pending(outsider); // nor to another workspace
}

TEST(CollaborationE2E, RequestSharesReachOnlyTheListedMembers) {
  host_instance host(collaboration());
  ws_client alice, bob, carol, dave_elsewhere;
  ASSERT_TRUE(alice.connect(host.port(), ws_target("alice", "team")));
  ASSERT_TRUE(bob.connect(host.port(), ws_target("bob", "team")));
  ASSERT_TRUE(carol.connect(host.port(), ws_target("carol", "team")));
  ASSERT_TRUE(dave_elsewhere.connect(host.port(), ws_target("dave", "other")));
  // Drain the presence traffic of the joins: alice 2, bob 2, carol 2.
  for (auto *c : {&alice, &bob, &carol})
    for (int i = 0; i < 2; ++i)
      ASSERT_EQ(c->read_json().value("type", ""), "user_presence");

  alice.send_json({{"type", "request_shared"},
                   {"request_id", "r1"},
                   {"shared_with", {"bob", "dave"}},
                   {"shared_by", "mallory"}});
  const json e = bob.read_json();
  EXPECT_EQ(e.value("type", ""), "request_shared") << e.dump();
  EXPECT_EQ(e["request_id"], "r1");
  EXPECT_EQ(e["shared_by"], "alice");
  EXPECT_EQ(e["shared_with"], (json{"bob", "dave"}));
  expect_server_timestamp(e);
  expect_nothing_pending(carol);          // a member not listed
  expect_nothing_pending(dave_elsewhere); // listed, but not in the workspace
  expect_nothing_pending(alice);
}

TEST(CollaborationE2E, WorkspacesAreIsolated) {
  host_instance host(collaboration());
  ws_client a1, b1;
  ASSERT_TRUE(a1.connect(host.port(), ws_target("alice", "one")));
  ASSERT_TRUE(b1.connect(host.port(), ws_target("bob", "two")));
  a1.send_json({{"type", "user_presence"}, {"status", "away"}});
  a1.send_json(
      {{"type", "collection_updated"}, {"collection_id", "c"}, {"changes", json::object()}});
  expect_nothing_pending(a1); // both frames handled before carol joins
  ws_client a2;               // a second member of "one" proves the events were sent
  ASSERT_TRUE(a2.connect(host.port(), ws_target("carol", "one")));
  expect_presence(a2, "alice", "away", "one");
  a1.close();
  expect_presence(a2, "alice", "offline", "one");
  expect_nothing_pending(b1); // bob in "two" saw no join, status, update or leave of "one"
}

TEST(CollaborationE2E, PlainClientWithoutParametersJoinsTheDefaultWorkspace) {
  host_instance host(collaboration());
  ws_client first, second;
  ASSERT_TRUE(first.connect(host.port(), "/ws"));
  ASSERT_TRUE(second.connect(host.port(), "/ws"));
  first.send_json({{"type", "user_presence"}, {"status", "online"}, {"user_id", "alice"}});
  expect_presence(second, "alice", "online", "default");
}

// ---- Identity without tokens: the query's user_id, else the first one an event declares ----

// The spec's own flow: connect without user_id, name yourself in user_presence. Nobody sees a
// generated stranger; the name sticks to the connection for its later events.
TEST(CollaborationE2E, ClientsThatNameThemselvesInUserPresenceAppearUnderThatName) {
  host_instance host(collaboration());
  ws_client first, second;
  ASSERT_TRUE(first.connect(host.port(), "/ws?workspace_id=w1"));
  ASSERT_TRUE(second.connect(host.port(), "/ws?workspace_id=w1"));
  expect_nothing_pending(first); // not identified: nobody was announced to anybody
  expect_nothing_pending(second);

  first.send_json({{"type", "user_presence"}, {"status", "online"}, {"user_id", "alice"}});
  expect_presence(second, "alice", "online", "w1");
  second.send_json({{"type", "user_presence"}, {"status", "online"}, {"user_id", "bob"}});
  expect_presence(first, "bob", "online", "w1");

  // Later events without user_id are alice's; repeating the same user_id is fine.
  first.send_json(
      {{"type", "collection_updated"}, {"collection_id", "c1"}, {"changes", {{"name", "N"}}}});
  EXPECT_EQ(second.read_json()["changes"]["updated_by"], "alice");
  first.send_json({{"type", "request_shared"},
                   {"request_id", "r1"},
                   {"shared_with", {"bob"}},
                   {"user_id", "alice"}});
  EXPECT_EQ(second.read_json().value("shared_by", ""), "alice");
  first.send_json({{"type", "user_presence"}, {"status", "away"}});
  expect_presence(second, "alice", "away", "w1");

  // A later joiner's snapshot lists both under their names; leaving announces the name too.
  ws_client third;
  ASSERT_TRUE(third.connect(host.port(), "/ws?user_id=carol&workspace_id=w1"));
  std::map<std::string, std::string> status;
  for (int i = 0; i < 2; ++i) {
    const json e = third.read_json();
    status[e.value("user_id", "")] = e.value("status", "");
  }
  EXPECT_EQ(status, (std::map<std::string, std::string>{{"alice", "away"}, {"bob", "online"}}));
  expect_presence(first, "carol", "online", "w1");
  expect_presence(second, "carol", "online", "w1");
  first.close();
  expect_presence(second, "alice", "offline", "w1");
  expect_presence(third, "alice", "offline", "w1");
  expect_nothing_pending(second);
}

// An undeclared session is a silent observer: it gets the snapshot and the workspace's
// broadcasts, is never listed or announced, and may not publish until it names itself.
TEST(CollaborationE2E, UndeclaredSessionsReceiveButAreNeitherListedNorAnnounced) {
  host_instance host(collaboration());
  ws_client bob, lurker;
  ASSERT_TRUE(bob.connect(host.port(), ws_target("bob", "team")));
  ASSERT_TRUE(lurker.connect(host.port(), "/ws?workspace_id=team"));
  expect_presence(lurker, "bob", "online", "team"); // the snapshot, at once

  bob.send_json(
      {{"type", "collection_updated"}, {"collection_id", "c1"}, {"changes", json::object()}});
  EXPECT_EQ(lurker.read_json().value("collection_id", ""), "c1");

  for (const json &event :
       {json{{"type", "collection_updated"}, {"collection_id", "c2"}, {"changes", json::object()}},
        json{{"type", "user_presence"}, {"status", "away"}},
        json{{"type", "user_presence"}, {"status", "away"}, {"user_id", ""}},
        json{{"type", "request_shared"}, {"request_id", "r"}, {"shared_with", {"bob"}}}}) {
    lurker.send_json(event);
    const json e = lurker.read_json();
    EXPECT_EQ(e.value("type", ""), "error") << e.dump();
    EXPECT_EQ(e.value("code", ""), "IDENTITY_REQUIRED") << event.dump() << " -> " << e.dump();
    EXPECT_NE(e.value("error", "").find("user_id"), std::string::npos) << e.dump();
    expect_server_timestamp(e);
  }

  ws_client dave; // lists bob only
  ASSERT_TRUE(dave.connect(host.port(), ws_target("dave", "team")));
  expect_presence(dave, "bob", "online", "team");
  expect_nothing_pending(dave);
  expect_presence(lurker, "dave", "online", "team");
  expect_presence(bob, "dave", "online", "team");
  lurker.close(); // leaving unnamed announces nothing
  expect_nothing_pending(bob);
  expect_nothing_pending(dave);
}

TEST(CollaborationE2E, TheQueryUserIdWinsAndAnIdentityOnceBoundNeverChanges) {
  host_instance host(collaboration());
  ws_client alice, bob, named_later;
  ASSERT_TRUE(alice.connect(host.port(), ws_target("alice", "team")));
  ASSERT_TRUE(bob.connect(host.port(), ws_target("bob", "team")));
  expect_presence(bob, "alice", "online", "team");
  expect_presence(alice, "bob", "online", "team");

  // Bound by the query: another user_id in an event is refused and published to nobody.
  alice.send_json({{"type", "user_presence"}, {"status", "away"}, {"user_id", "mallory"}});
  json e = alice.read_json();
  EXPECT_EQ(e.value("type", ""), "error") << e.dump();
  EXPECT_EQ(e.value("code", ""), "IDENTITY_MISMATCH") << e.dump();
  EXPECT_NE(e.value("error", "").find("'alice'"), std::string::npos) << e.dump();
  expect_server_timestamp(e);
  alice.send_json({{"type", "user_presence"}, {"status", "away"}, {"user_id", "alice"}});
  expect_presence(bob, "alice", "away", "team");

  // Bound by its first event: the same, for every event type.
  ASSERT_TRUE(named_later.connect(host.port(), "/ws?workspace_id=team"));
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(named_later.read_json().value("type", ""), "user_presence"); // the snapshot
  named_later.send_json({{"type", "collection_updated"},
                         {"collection_id", "c1"},
                         {"changes", {{"a", 1}}},
                         {"user_id", "carol"}});
  expect_presence(alice, "carol", "online", "team"); // the join, then the event
  expect_presence(bob, "carol", "online", "team");
  EXPECT_EQ(bob.read_json()["changes"]["updated_by"], "carol");
  EXPECT_EQ(alice.read_json()["changes"]["updated_by"], "carol");
  for (const json &event :
       {json{{"type", "user_presence"}, {"status", "online"}, {"user_id", "mallory"}},
        json{{"type", "collection_updated"},
             {"collection_id", "c2"},
             {"changes", json::object()},
             {"user_id", "alice"}},
        json{{"type", "request_shared"},
             {"request_id", "r"},
             {"shared_with", {"bob"}},
             {"user_id", "bob"}}}) {
    named_later.send_json(event);
    EXPECT_EQ(named_later.read_json().value("code", ""), "IDENTITY_MISMATCH") << event.dump();
  }
  expect_nothing_pending(alice);
  expect_nothing_pending(bob);
  named_later.close();
  expect_presence(alice, "carol", "offline", "team");
}

TEST(CollaborationE2E, AnInvalidDeclaredUserIdIsRefusedAndBindsNothing) {
  host_instance host(collaboration());
  ws_client bob, client;
  ASSERT_TRUE(bob.connect(host.port(), ws_target("bob", "team")));
  ASSERT_TRUE(client.connect(host.port(), "/ws?workspace_id=team"));
  expect_presence(client, "bob", "online", "team");
  for (const json &user_id : {json("a b"), json(std::string(129, 'x')), json("caf\u00e9"), json(42),
                              json{{"id", "alice"}}}) {
    client.send_json({{"type", "user_presence"}, {"status", "online"}, {"user_id", user_id}});
    const json e = client.read_json();
    EXPECT_EQ(e.value("code", ""), "INVALID_FORMAT") << user_id.dump() << " -> " << e.dump();
    EXPECT_EQ(e.value("error", ""),
              "Invalid message format: 'user_id' must be 1-128 characters from A-Z a-z 0-9 . _ ~ "
              "- @")
        << e.dump();
  }
  // Still unnamed; a valid one (128 characters is the limit) then binds.
  client.send_json({{"type", "user_presence"}, {"status", "online"}});
  EXPECT_EQ(client.read_json().value("code", ""), "IDENTITY_REQUIRED");
  expect_nothing_pending(bob);
  const std::string longest(128, 'x');
  client.send_json({{"type", "user_presence"}, {"status", "online"}, {"user_id", longest}});
  expect_presence(bob, longest, "online", "team");
}

// Announced once: by the declaring user_presence itself (with its status), and not at all when
// the user is already online through another connection.
TEST(CollaborationE2E, TheJoinOfADeclaredIdentityIsAnnouncedOnce) {
  host_instance host(collaboration());
  ws_client bob, tab1, tab2;
  ASSERT_TRUE(bob.connect(host.port(), ws_target("bob", "team")));
  ASSERT_TRUE(tab1.connect(host.port(), "/ws?workspace_id=team"));
  expect_presence(tab1, "bob", "online", "team");
  tab1.send_json({{"type", "user_presence"}, {"status", "away"}, {"user_id", "alice"}});
  expect_presence(bob, "alice", "away", "team"); // one event: the join with its status
  expect_nothing_pending(bob);

  ASSERT_TRUE(tab2.connect(host.port(), "/ws?workspace_id=team"));
  std::map<std::string, std::string> status;
  for (int i = 0; i < 2; ++i) {
    const json e = tab2.read_json();
    status[e.value("user_id", "")] = e.value("status", "");
  }
  EXPECT_EQ(status, (std::map<std::string, std::string>{{"alice", "away"}, {"bob", "online"}}));
  tab2.send_json({{"type", "collection_updated"},
                  {"collection_id", "c1"},
                  {"changes", json::object()},
                  {"user_id", "alice"}});
  // alice was online already: no second "online", only the update.
  const json update = bob.read_json();
  EXPECT_EQ(update.value("type", ""), "collection_updated") << update.dump();
  EXPECT_EQ(update["changes"]["updated_by"], "alice");
  EXPECT_EQ(tab1.read_json().value("type", ""), "collection_updated"); // her other tab hears it
  expect_nothing_pending(bob);
  tab2.close(); // alice still has tab1: not offline yet
  expect_nothing_pending(bob);
  tab1.close();
  expect_presence(bob, "alice", "offline", "team");
}

TEST(CollaborationE2E, MalformedEventsGetInvalidFormatAndTheSocketStaysOpen) {
  host_instance host(collaboration());
  ws_client alice, bob;
  ASSERT_TRUE(alice.connect(host.port(), ws_target("alice", "team")));
  ASSERT_TRUE(bob.connect(host.port(), ws_target("bob", "team")));
  expect_presence(bob, "alice", "online", "team");
  expect_presence(alice, "bob", "online", "team");
  const std::vector<std::string> bad = {
      "not json",
      "[1,2]",
      R"({"type":"dance"})",
      R"({"type":"collection_updated"})",
      R"({"type":"user_presence","status":"sleeping"})",
      R"({"type":"request_shared","request_id":"r","shared_with":[]})"};
  for (const auto &frame : bad) {
    alice.send_text(frame);
    const json e = alice.read_json();
    EXPECT_EQ(e.value("type", ""), "error") << frame << " -> " << e.dump();
    EXPECT_EQ(e.value("code", ""), "INVALID_FORMAT") << frame << " -> " << e.dump();
    EXPECT_EQ(e.value("error", "").rfind("Invalid message format: ", 0), 0u) << e.dump();
    expect_server_timestamp(e);
  }
  alice.send_binary("binary");
  EXPECT_EQ(alice.read_json().value("code", ""), "INVALID_FORMAT");
  // Still open, still a member.
  alice.send_json(
      {{"type", "collection_updated"}, {"collection_id", "c9"}, {"changes", {{"a", 1}}}});
  EXPECT_EQ(bob.read_json().value("collection_id", ""), "c9");
  EXPECT_FALSE(alice.closed());
}

TEST(CollaborationE2E, TokensFixIdentityAndRefuseBadOnesBeforeTheUpgrade) {
  const json settings = {
      {"tokens",
       {{{"token", "tok-alice-0123456789"},
         {"user_id", "alice"},
         {"workspaces", {"team", "personal"}}},
        {{"token", "tok-bob-0123456789"}, {"user_id", "bob"}, {"workspaces", {"team"}}}}}};
  host_instance host(collaboration(settings));

  ws_client alice, bob;
  // Bearer header; a user_id parameter is ignored when a token decides.
  ASSERT_TRUE(alice.connect(host.port(), "/ws?user_id=mallory",
                            {{"Authorization", "Bearer tok-alice-0123456789"}}));
  // Query token, as browsers must.
  ASSERT_TRUE(bob.connect(host.port(), "/ws?token=tok-bob-0123456789&workspace_id=team"));
  expect_presence(bob, "alice", "online", "team"); // the token's first workspace
  expect_presence(alice, "bob", "online", "team");
  alice.send_json({{"type", "collection_updated"},
                   {"collection_id", "c1"},
                   {"changes", {{"updated_by", "mallory"}}}});
  EXPECT_EQ(bob.read_json()["changes"]["updated_by"], "alice");
  // With tokens an event's user_id is ignored, whatever it holds: the token decides.
  alice.send_json({{"type", "user_presence"}, {"status", "away"}, {"user_id", "mallory"}});
  expect_presence(bob, "alice", "away", "team");
  alice.send_json({{"type", "user_presence"}, {"status", "online"}, {"user_id", "not valid!"}});
  expect_presence(bob, "alice", "online", "team");
  expect_nothing_pending(alice);

  struct refusal {
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    int status;
  };
  const std::vector<refusal> refused = {
      {"/ws", {}, 401},
      {"/ws?token=wrong", {}, 401},
      {"/ws", {{"Authorization", "Bearer wrong"}}, 401},
      {"/ws?token=tok-bob-0123456789&workspace_id=personal", {}, 403},
      {"/ws?token=tok-bob-0123456789&workspace_id=bad%20id", {}, 400},
  };
  for (const auto &r : refused) {
    SCOPED_TRACE(r.target);
    ws_client c;
    EXPECT_FALSE(c.connect(host.port(), r.target, r.headers));
    EXPECT_EQ(c.handshake_status, r.status) << c.handshake_body;
    EXPECT_EQ(c.handshake_body.find("tok-"), std::string::npos) << c.handshake_body;
  }
  EXPECT_EQ(host.log_text().find("tok-alice-0123456789"), std::string::npos);
  expect_nothing_pending(alice); // the refused clients never joined
}

TEST(CollaborationE2E, ProxySocketsAreNotAffected) {
  test_upstream echo;
  host_instance host(collaboration());
  ws_client c;
  ASSERT_TRUE(open_proxy(c, host.port(), "proxy-user", echo.url()));
  c.send_json(send_message("hi"));
  EXPECT_EQ(c.read_until("message_received")["content"], "hi");
}
