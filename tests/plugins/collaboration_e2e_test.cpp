// collaboration loaded from libcollaboration.so into a real host (issue 4), driven by real /ws
// clients: presence on join, status change, leave and abrupt drop; collection updates and request
// shares with server-set fields; workspace isolation; tokens in the header and the query; refusals
// before the upgrade; malformed events.
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

// Proves nothing else was queued for `c` before this point.
void expect_nothing_pending(ws_client &c) {
  c.send_text("marker: not json");
  const json e = c.read_json();
  EXPECT_EQ(e.value("type", ""), "error") << "unexpected frame: " << e.dump();
  EXPECT_EQ(e.value("code", ""), "INVALID_FORMAT") << e.dump();
}

std::string ws_target(const std::string &user, const std::string &workspace) {
  return "/ws?user_id=" + user + "&workspace_id=" + workspace;
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

  bob.send_json({{"type", "user_presence"}, {"status", "away"}, {"user_id", "mallory"}});
  expect_presence(alice, "bob", "away", "team"); // user_id is the server's, not the frame's
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
  const json seen = second.read_json();
  EXPECT_EQ(seen.value("type", ""), "user_presence") << seen.dump();
  EXPECT_EQ(seen.value("workspace_id", ""), "default");
  const std::string generated = seen.value("user_id", "");
  EXPECT_EQ(generated.rfind("user-", 0), 0u) << generated;
  const json announced = first.read_json();
  EXPECT_EQ(announced.value("workspace_id", ""), "default");
  EXPECT_NE(announced.value("user_id", ""), generated); // two different generated users
  EXPECT_EQ(announced.value("user_id", "").rfind("user-", 0), 0u);
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
