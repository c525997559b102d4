// The cross-host bus (cluster.backend: redis; host/src/plugin_host/cluster_message_bus.cpp),
// end to end: two hosts in this process on one real redis-server, each with the collaboration
// plugin loaded from libcollaboration.so, driven by real /ws clients. Presence, collection
// updates and request shares cross hosts with the rules of one host (workspace isolation,
// shared_with); with Redis gone each host keeps its own sessions served and counts the drops;
// after Redis returns on the same port the hosts subscribe again; a foreign publisher's garbage
// is refused and counted.
//
// "Nothing arrives" is shown with a marker, as in collaboration_e2e_test.cpp: the client sends a
// malformed frame, and the INVALID_FORMAT answer must be the next frame it reads. Cross-host
// traffic goes through Redis, so before a marker the tests wait for a later event sent the same
// way (the bus keeps one publisher's order).
#include "cluster/cluster_engine.hpp"
#include "plugin_e2e.hpp"
#include "redis_server.hpp"

#include <regex>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

host_config clustered(const redis_server &server, const std::string &node) {
  host_config c = config_with({make_plugin("collaboration")});
  c.cluster = cluster_on(server, node);
  return c;
}

std::int64_t bus_count(std::uint16_t port, const std::string &outcome) {
  const auto r = http_request(port, "GET", "/metrics");
  const std::regex line("apistudio_cluster_bus_messages_total\\{outcome=\"" + outcome +
                        "\"\\} ([0-9]+)");
  std::smatch m;
  if (r.status != 200 || !std::regex_search(r.body, m, line))
    return -1;
  return std::stoll(m[1]);
}

std::int64_t engine_connected(std::uint16_t port) {
  const auto r = http_request(port, "GET", "/metrics");
  const std::regex line("\napistudio_cluster_engine_connected ([0-9-]+)");
  std::smatch m;
  if (r.status != 200 || !std::regex_search(r.body, m, line))
    return -1;
  return std::stoll(m[1]);
}

// Host `h` has taken `n` envelopes from the other host (whether or not anyone there listened):
// a publish that raced a later join has landed before that join.
void wait_received(std::uint16_t port, std::int64_t n) {
  EXPECT_TRUE(eventually([&] { return bus_count(port, "received") == n; }))
      << bus_count(port, "received") << " received, not " << n;
}

void expect_event(ws_client &c, const std::string &type, const std::string &key,
                  const std::string &value) {
  const json e = c.read_json();
  EXPECT_EQ(e.value("type", ""), type) << e.dump();
  EXPECT_EQ(e.value(key, ""), value) << e.dump();
}

json update(const std::string &collection) {
  return {{"type", "collection_updated"},
          {"collection_id", collection},
          {"changes", {{"name", collection}}}};
}

} // namespace

TEST(ClusterBus, CollaborationSpansHostsWithTheRulesOfOneHost) {
  redis_server server;
  host_instance a(clustered(server, "node-a"));
  host_instance b(clustered(server, "node-b"));
  ASSERT_TRUE(bus_subscribers_are(server, 2));

  // The first /ws session of each host: the same session id on both (ids are per process),
  // which must not make alice's host take bob's events for her own.
  // A join's snapshot lists the members of every host (presence in Redis).
  ws_client alice, bob, carol, eve_a, dave_b;
  ASSERT_TRUE(alice.connect(a.port(), ws_target("alice", "team")));
  wait_received(b.port(), 1); // alice online, before bob is there to hear it
  ASSERT_TRUE(bob.connect(b.port(), ws_target("bob", "team")));
  expect_presence(bob, "alice", "online"); // in b's snapshot, from host a
  expect_presence(alice, "bob", "online"); // from host b
  ASSERT_TRUE(carol.connect(b.port(), ws_target("carol", "team")));
  expect_presence(carol, "alice", "online"); // the snapshot, ordered by member
  expect_presence(carol, "bob", "online");
  expect_presence(bob, "carol", "online");
  expect_presence(alice, "carol", "online");
  ASSERT_TRUE(dave_b.connect(b.port(), ws_target("dave", "other")));
  wait_received(a.port(), 3); // bob, carol and dave online
  ASSERT_TRUE(eve_a.connect(a.port(), ws_target("eve", "other")));
  expect_presence(eve_a, "dave", "online"); // her snapshot
  expect_presence(dave_b, "eve", "online"); // "other" spans the hosts too

  // collection_updated from b reaches a (and b's other member), not the sender.
  bob.send_json(update("c1"));
  {
    const json e = alice.read_json();
    EXPECT_EQ(e.value("type", ""), "collection_updated") << e.dump();
    EXPECT_EQ(e.value("collection_id", ""), "c1");
    EXPECT_EQ(e["changes"].value("updated_by", ""), "bob") << e.dump();
  }
  expect_event(carol, "collection_updated", "collection_id", "c1");

  // request_shared from a: only the listed users, on any host.
  alice.send_json({{"type", "request_shared"}, {"request_id", "r1"}, {"shared_with", {"bob"}}});
  {
    const json e = bob.read_json();
    EXPECT_EQ(e.value("type", ""), "request_shared") << e.dump();
    EXPECT_EQ(e.value("shared_by", ""), "alice");
    EXPECT_EQ(e["shared_with"], (json{"bob"}));
  }
  // Presence changes from a reach b.
  alice.send_json({{"type", "user_presence"}, {"status", "away"}});
  expect_presence(bob, "alice", "away");
  expect_presence(carol, "alice", "away"); // after the share: carol was not listed
  expect_nothing_pending(carol);
  expect_nothing_pending(alice); // no echo of her own events across the hosts
  expect_nothing_pending(bob);

  // Another workspace saw none of it, on either host (a's or b's events).
  dave_b.send_json(update("d1")); // its own workspace's traffic, as a later event
  eve_a.send_json({{"type", "user_presence"}, {"status", "away"}});
  expect_event(eve_a, "collection_updated", "collection_id", "d1");
  expect_presence(dave_b, "eve", "away");
  expect_nothing_pending(eve_a);
  expect_nothing_pending(dave_b);
  expect_nothing_pending(alice); // nor did "team", on either host
  expect_nothing_pending(carol);

  // A leave on b reaches a.
  bob.close();
  expect_presence(alice, "bob", "offline");
  expect_presence(carol, "bob", "offline");

  EXPECT_GT(bus_count(a.port(), "published"), 0);
  EXPECT_GT(bus_count(a.port(), "received"), 0);
  EXPECT_EQ(bus_count(a.port(), "dropped"), 0);
  EXPECT_EQ(bus_count(a.port(), "refused"), 0);
  EXPECT_EQ(engine_connected(a.port()), 1);
}

TEST(ClusterBus, RedisLostThenBackOnTheSamePort) {
  auto server = std::make_unique<redis_server>();
  const std::uint16_t redis_port = server->port();
  host_instance a(clustered(*server, "node-a"));
  host_instance b(clustered(*server, "node-b"));
  ASSERT_TRUE(bus_subscribers_are(*server, 2));
  ws_client alice, carol, bob;
  ASSERT_TRUE(alice.connect(a.port(), ws_target("alice", "team")));
  ASSERT_TRUE(carol.connect(a.port(), ws_target("carol", "team")));
  expect_presence(carol, "alice", "online");
  expect_presence(alice, "carol", "online");
  wait_received(b.port(), 2);
  ASSERT_TRUE(bob.connect(b.port(), ws_target("bob", "team")));
  expect_presence(bob, "alice", "online"); // his snapshot spans the hosts
  expect_presence(bob, "carol", "online");
  {
    SCOPED_TRACE("alice hears bob");
    expect_presence(alice, "bob", "online");
  }
  {
    SCOPED_TRACE("carol hears bob");
    expect_presence(carol, "bob", "online");
  }

  server->stop();
  ASSERT_TRUE(eventually([&] { return !a.server().context().cluster->connected(); }, 10s));
  EXPECT_TRUE(eventually([&] { return engine_connected(a.port()) == 0; }, 10s));
  // The sessions of one host still hear each other; the copies for host b are dropped.
  const auto dropped_before = bus_count(a.port(), "dropped");
  alice.send_json(update("during-1"));
  alice.send_json(update("during-2"));
  expect_event(carol, "collection_updated", "collection_id", "during-1");
  expect_event(carol, "collection_updated", "collection_id", "during-2");
  EXPECT_TRUE(eventually([&] { return bus_count(a.port(), "dropped") >= dropped_before + 2; }));
  expect_nothing_pending(bob);
  // Logged once for the outage, not once per message.
  EXPECT_EQ(count_of(a.log_text(), "cross-host bus: a publish for the other hosts was dropped"), 1u)
      << a.log_text();
  EXPECT_TRUE(eventually(
      [&] { return count_of(a.log_text(), "cross-host bus: lost the subscription") >= 1; }));
  EXPECT_EQ(count_of(a.log_text(), "cross-host bus: lost the subscription"), 1u);

  // Redis back on the same port: both hosts subscribe again, and cross-host delivery resumes.
  server = std::make_unique<redis_server>(redis_port);
  ASSERT_TRUE(bus_subscribers_are(*server, 2));
  ASSERT_TRUE(eventually([&] { return a.server().context().cluster->connected(); }, 15s));
  ASSERT_TRUE(eventually([&] { return b.server().context().cluster->connected(); }, 15s));
  alice.send_json(update("after"));
  expect_event(bob, "collection_updated", "collection_id", "after");
  expect_event(carol, "collection_updated", "collection_id", "after");
  bob.send_json(update("back"));
  expect_event(alice, "collection_updated", "collection_id", "back");
  EXPECT_TRUE(a.log_contains("cross-host bus: subscribed to apistudio:bus again"));
  EXPECT_TRUE(eventually([&] { return engine_connected(a.port()) == 1; }, 10s));
}

TEST(ClusterBus, AForeignPublisherIsRefusedCountedAndHarmless) {
  redis_server server;
  host_instance a(clustered(server, "node-a"));
  host_instance b(clustered(server, "node-b"));
  ASSERT_TRUE(bus_subscribers_are(server, 2));
  ws_client alice, bob;
  ASSERT_TRUE(alice.connect(a.port(), ws_target("alice", "team")));
  wait_received(b.port(), 1);
  ASSERT_TRUE(bob.connect(b.port(), ws_target("bob", "team")));
  expect_presence(alice, "bob", "online");

  // Garbage, twice; a future version; a topic without its plugin's prefix.
  EXPECT_EQ(server.command("PUBLISH apistudio:bus garbage"), ":2\r\n");
  EXPECT_EQ(server.command("PUBLISH apistudio:bus garbage-again"), ":2\r\n");
  EXPECT_EQ(server.command("PUBLISH apistudio:bus \"APISTUDIO-BUS 9 1 3\\nxa/b{}\""), ":2\r\n");
  EXPECT_EQ(server.command("PUBLISH apistudio:bus \"APISTUDIO-BUS 1 1 7\\nxws:team{}\""), ":2\r\n");
  EXPECT_TRUE(eventually([&] { return bus_count(a.port(), "refused") == 4; }));
  EXPECT_TRUE(eventually([&] { return bus_count(b.port(), "refused") == 4; }));
  // One line per kind of refusal, not per message.
  const std::string log = a.log_text();
  EXPECT_EQ(count_of(log, "cross-host bus: refused a message"), 3u) << log;
  EXPECT_NE(log.find("not a bus envelope"), std::string::npos);
  EXPECT_NE(log.find("version this host does not know"), std::string::npos);
  EXPECT_NE(log.find("an invalid topic"), std::string::npos);

  // Nothing reached the clients, and the bus goes on working.
  bob.send_json(update("still"));
  expect_event(alice, "collection_updated", "collection_id", "still");
  expect_nothing_pending(alice);
  EXPECT_EQ(bus_count(a.port(), "received"), 2); // bob's join and update: no garbage
}
