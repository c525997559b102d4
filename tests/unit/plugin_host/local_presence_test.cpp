// local_presence_test.cpp — the rules of presence_service.hpp with backend local: a member present
// while one of its sessions is, its status last set by any of them, a returning member starting
// with its join status, gone reported once when the last session leaves, plugins kept apart.
#include "plugin_host/presence_service.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace apistudio {
namespace {

struct presence_fixture {
  std::unique_ptr<presence_service> presence = make_local_presence();
  std::vector<presence_gone_event> gone;

  presence_fixture() {
    presence->on_gone([this](const presence_gone_event &g) { gone.push_back(g); });
  }

  presence_join_result join(apistudio_session_id session, std::string_view scope,
                            std::string_view member, std::string_view status = "online",
                            std::string_view plugin = "collab") {
    std::optional<presence_join_result> out;
    presence->join(plugin, session, scope, member, status,
                   [&](presence_join_result r) { out = std::move(r); });
    EXPECT_TRUE(out.has_value()) << "the local join completes before it returns";
    return out.value_or(presence_join_result{});
  }
};

using others = std::vector<std::pair<std::string, std::string>>;

TEST(LocalPresence, CountsSessionsPerMember) {
  presence_fixture f;
  auto j = f.join(1, "w", "alice");
  EXPECT_TRUE(j.first_session);
  EXPECT_TRUE(j.complete);
  EXPECT_TRUE(j.others.empty());
  j = f.join(2, "w", "bob");
  EXPECT_TRUE(j.first_session);
  EXPECT_EQ(j.others, (others{{"alice", "online"}}));

  EXPECT_TRUE(f.presence->set_status("collab", 1, "w", "away"));
  j = f.join(3, "w", "alice", "online"); // alice's second tab keeps her status
  EXPECT_FALSE(j.first_session);
  EXPECT_EQ(j.others, (others{{"bob", "online"}}));
  j = f.join(4, "w", "carol");
  EXPECT_EQ(j.others, (others{{"alice", "away"}, {"bob", "online"}})); // by member

  f.presence->leave("collab", 1, "w");
  f.presence->leave("collab", 1, "w"); // twice: nothing
  EXPECT_TRUE(f.gone.empty());         // tab 3 still open
  EXPECT_TRUE(f.presence->set_status("collab", 3, "w", "away"));
  f.presence->leave("collab", 3, "w");
  ASSERT_EQ(f.gone.size(), 1u);
  EXPECT_EQ(f.gone[0].plugin, "collab");
  EXPECT_EQ(f.gone[0].scope, "w");
  EXPECT_EQ(f.gone[0].member, "alice");
  EXPECT_EQ(f.gone[0].status, "away"); // the last status she had
  EXPECT_FALSE(f.presence->set_status("collab", 3, "w", "online"));

  j = f.join(5, "w", "alice", "online"); // back: starts with the join's status
  EXPECT_TRUE(j.first_session);
  EXPECT_EQ(f.join(6, "w", "dave").others,
            (others{{"alice", "online"}, {"bob", "online"}, {"carol", "online"}}));
}

TEST(LocalPresence, ScopesAndPluginsNeverMix) {
  presence_fixture f;
  f.join(1, "w", "alice");
  EXPECT_TRUE(f.join(2, "other", "bob").others.empty());
  EXPECT_TRUE(f.join(3, "w", "carol", "online", "another_plugin").others.empty());
  EXPECT_TRUE(f.join(4, "w", "alice", "online", "another_plugin").first_session);
  EXPECT_FALSE(f.presence->set_status("another_plugin", 1, "w", "away"));
}

TEST(LocalPresence, SessionEndLeavesEveryScope) {
  presence_fixture f;
  f.join(1, "w1", "alice");
  f.join(1, "w2", "alice");
  f.join(1, "w3", "alice", "online", "p2");
  f.join(2, "w1", "alice");
  f.presence->leave_all(1);
  ASSERT_EQ(f.gone.size(), 2u); // w1 still has session 2
  EXPECT_EQ(f.gone[0].scope, "w2");
  EXPECT_EQ(f.gone[1].plugin, "p2");
  f.presence->leave_all(1); // nothing left
  EXPECT_EQ(f.gone.size(), 2u);
  f.presence->leave_all(2);
  ASSERT_EQ(f.gone.size(), 3u);
  EXPECT_EQ(f.gone[2].scope, "w1");
  EXPECT_TRUE(f.join(3, "w1", "bob").others.empty()); // nothing kept for empty scopes
}

TEST(LocalPresence, JoiningAgainReplacesTheSessionsMember) {
  presence_fixture f;
  f.join(1, "w", "alice");
  auto j = f.join(1, "w", "bob", "away");
  EXPECT_TRUE(j.first_session);
  EXPECT_TRUE(j.others.empty()); // alice had only that session: gone
  ASSERT_EQ(f.gone.size(), 1u);
  EXPECT_EQ(f.gone[0].member, "alice");
  j = f.join(1, "w", "bob", "online"); // same member again: still one session, status kept
  EXPECT_FALSE(j.first_session);
  EXPECT_EQ(f.join(2, "w", "carol").others, (others{{"bob", "away"}}));
}

} // namespace
} // namespace apistudio
