// keepalive_state: a peer from which no bytes arrived since the last tick is pinged, and declared
// dead at the next silent tick; bytes that arrived (read or not) start the count again, and so
// does, while reads are paused, a write the pause waits for that moved; a peer that hung up is
// dead at once.
#include "proxy/keepalive.hpp"

#include <gtest/gtest.h>

using apistudio::keepalive_state;
using apistudio::peer_signs;
using action = keepalive_state::action;
using namespace std::chrono_literals;

namespace {

// Ticks every second, as with idle_timeout 2 s; the peer's socket says how long it has been
// silent at each tick.
class ticker {
public:
  action tick(std::chrono::milliseconds since_data, bool waited_on_moved = false,
              bool hung_up = false) {
    now_ += 1s;
    return state_.tick(now_, peer_signs{hung_up, since_data}, waited_on_moved);
  }
  keepalive_state &state() { return state_; }

private:
  keepalive_state::clock::time_point now_{};
  keepalive_state state_{now_};
};

} // namespace

TEST(Keepalive, SilentPeerIsPingedThenDead) {
  ticker k;
  EXPECT_EQ(k.tick(1500ms), action::ping);
  EXPECT_EQ(k.tick(2500ms), action::dead);
}

TEST(Keepalive, APeerThatTalksIsNeverPinged) {
  ticker k;
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(k.tick(300ms), action::none);
}

// A pong comes right after the ping: at the next tick its age is the tick interval itself, and
// the socket's clock (jiffies) may round it up past it. Judged by arrival time, it still counts.
TEST(Keepalive, APongRightAfterThePingCountsWhateverTheRounding) {
  ticker k;
  EXPECT_EQ(k.tick(1500ms), action::ping);
  k.state().ping_finished();
  EXPECT_EQ(k.tick(1004ms), action::none) << "arrived 1 ms after the ping, rounded up by a jiffy";
}

TEST(Keepalive, TheSameBytesSeenAgainAreNotNews) {
  ticker k;
  EXPECT_EQ(k.tick(300ms), action::none);
  EXPECT_EQ(k.tick(1304ms), action::ping) << "the same arrival, rounded the other way";
  EXPECT_EQ(k.tick(2296ms), action::dead);
}

TEST(Keepalive, APongAfterThePingKeepsThePeerAlive) {
  ticker k;
  EXPECT_EQ(k.tick(1500ms), action::ping);
  k.state().ping_finished();
  EXPECT_EQ(k.tick(900ms), action::none) << "the pong arrived 100 ms after the ping";
  EXPECT_EQ(k.tick(1900ms), action::ping) << "silent again: a new ping";
  EXPECT_EQ(k.tick(2900ms), action::dead);
}

// The defect of issue 14 (2a): a paused tick used to count as heard, so a client that froze while
// its upstream read nothing stayed until the upstream's write stall deadline, and then an idle
// timeout more, because the bytes read once the pause lifted looked new.
TEST(Keepalive, PausedTicksDoNotHideASilentPeer) {
  ticker k;
  EXPECT_EQ(k.tick(1200ms, false), action::ping);
  EXPECT_EQ(k.tick(2200ms, false), action::dead);
}

TEST(Keepalive, PausedBehindAWriteThatMovesIsNotJudged) {
  ticker k;
  // The peer cannot send (its window is full of what we have not read) while we wait for the
  // other side; the wait moves, so the silence is ours.
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(k.tick(std::chrono::milliseconds(1200 + 1000 * i), true), action::none);
  EXPECT_EQ(k.tick(6200ms, false), action::ping) << "nothing moved since the last tick";
  EXPECT_EQ(k.tick(7200ms, false), action::dead);
}

TEST(Keepalive, APingStuckBehindABlockedWriteIsNotSentTwice) {
  ticker k;
  EXPECT_EQ(k.tick(1500ms), action::ping); // never finishes: the write side is blocked
  EXPECT_EQ(k.tick(200ms), action::none);
  EXPECT_EQ(k.tick(1200ms), action::none) << "the first ping is still in flight";
  EXPECT_EQ(k.tick(2200ms), action::dead) << "but silence still ends the peer";
}

TEST(Keepalive, APeerThatHungUpIsDeadPausedOrNot) {
  ticker paused;
  EXPECT_EQ(paused.tick(1500ms, true, true), action::dead);
  ticker talking;
  EXPECT_EQ(talking.tick(0ms, false, true), action::dead)
      << "a FIN or reset ends it whatever was heard";
}
