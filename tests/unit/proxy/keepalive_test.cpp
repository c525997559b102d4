// keepalive_state: a quiet peer is pinged at the first silent tick and declared dead at the
// second; anything heard, or a tick while reads are paused, starts the count again; a peer that
// hung up is dead at once, paused or not.
#include "proxy/keepalive.hpp"

#include <gtest/gtest.h>

using apistudio::keepalive_state;
using action = keepalive_state::action;

TEST(Keepalive, SilentPeerIsPingedThenDead) {
  keepalive_state k;
  EXPECT_EQ(k.tick(true), action::ping);
  EXPECT_EQ(k.tick(true), action::dead);
}

TEST(Keepalive, APeerThatTalksIsNeverPinged) {
  keepalive_state k;
  for (int i = 0; i < 5; ++i) {
    k.heard();
    EXPECT_EQ(k.tick(true), action::none);
  }
}

TEST(Keepalive, APongAfterThePingKeepsThePeerAlive) {
  keepalive_state k;
  EXPECT_EQ(k.tick(true), action::ping);
  k.ping_finished();
  k.heard(); // the pong
  EXPECT_EQ(k.tick(true), action::none);
  EXPECT_EQ(k.tick(true), action::ping) << "silent again: a new ping";
  EXPECT_EQ(k.tick(true), action::dead);
}

TEST(Keepalive, TicksWhileNotReadingDoNotCount) {
  keepalive_state k;
  EXPECT_EQ(k.tick(true), action::ping);
  // Flow control paused the reads: a pong could not have been seen, so no verdict.
  EXPECT_EQ(k.tick(false), action::none);
  EXPECT_EQ(k.tick(false), action::none);
  k.ping_finished();
  EXPECT_EQ(k.tick(true), action::ping);
}

TEST(Keepalive, APingStuckBehindABlockedWriteIsNotSentTwice) {
  keepalive_state k;
  EXPECT_EQ(k.tick(true), action::ping); // never finishes: the write side is blocked
  k.heard();
  EXPECT_EQ(k.tick(true), action::none);
  EXPECT_EQ(k.tick(true), action::none) << "the first ping is still in flight";
  EXPECT_EQ(k.tick(true), action::dead) << "but silence still ends the peer";
}

TEST(Keepalive, APeerThatHungUpIsDeadEvenWhileReadsArePaused) {
  keepalive_state k;
  EXPECT_EQ(k.tick(false), action::none);
  EXPECT_EQ(k.tick(false, true), action::dead);
  keepalive_state talking;
  talking.heard();
  EXPECT_EQ(talking.tick(true, true), action::dead) << "a FIN or reset ends it whatever was heard";
}
