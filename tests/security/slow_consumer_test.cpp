// Slow consumers on /ws (issue 14, item 1): a collaboration workspace whose members never read
// while another member publishes big collection updates. Before the limit, every update was
// queued for every member that did not read, without end (10 such members and 60 updates of
// 1 MiB held 600 MiB). Now each client's queue is held to limits.max_outbound_queue: a member
// past it is closed (1013) and its memory released, while a member that reads gets every update
// in order, and one update bigger than the whole limit still reaches a client that reads.
//
// Real host, real libcollaboration.so, real sockets on loopback. The members that never read use
// a small receive buffer, so that the kernel does not absorb megabytes for them.
#include "host_fixture.hpp"
#include "raw_socket.hpp"
#include "security_helpers.hpp"
#include "test_client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t queue_limit = 256 * 1024;

host_config collaboration_host() {
  host_config c = test_config();
  c.plugins = {make_plugin("collaboration")};
  c.limits.max_outbound_queue_bytes = queue_limit;
  // Only the queue limit may close a client here: the stall timeout would close the members that
  // never read too, later, and hide whether the limit did.
  c.limits.write_stall_timeout = std::chrono::minutes(10);
  // The deadline of the closing handshake, which a client that never reads never answers.
  c.limits.http_header_timeout = 3s;
  // Each close is counted by its own warning below: repeats are not folded into a summary.
  c.log.repeat_window = 0ms;
  return c;
}

std::string member(const std::string &user) { return "/ws?user_id=" + user + "&workspace_id=w1"; }

json update(int seq, std::size_t size) {
  return {{"type", "collection_updated"},
          {"collection_id", "c1"},
          {"changes", {{"seq", seq}, {"blob", std::string(size, 'u')}}}};
}

// Each slow-consumer close is a warning in the host's log.
std::size_t slow_consumer_warnings(const host_instance &host) {
  const auto lines = host.log_lines();
  return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [](const auto &l) {
    return l.find("is a slow consumer") != std::string::npos;
  }));
}

// The next collection_updated `c` reads; presence traffic of joins and leaves is skipped.
json next_update(ws_client &c) {
  for (;;) {
    const json e = c.read_json(30s);
    if (e.value("type", "") != "user_presence")
      return e;
  }
}

} // namespace

TEST(SlowConsumer, MembersThatNeverReadAreClosedAtTheQueueLimitWhileAReaderGetsEveryUpdate) {
  host_instance host(collaboration_host());
  session_directory &sessions = host.server().context().directory;

  ws_client reader;
  ASSERT_TRUE(reader.connect(host.port(), member("reader")));
  std::vector<raw_socket> idle;
  for (int i = 0; i < 3; ++i) {
    idle.emplace_back(host.port(), 4096);
    ASSERT_EQ(idle.back().upgrade(member("idle" + std::to_string(i))), 101);
  }
  ws_client publisher;
  ASSERT_TRUE(publisher.connect(host.port(), member("publisher")));
  ASSERT_TRUE(eventually([&] { return sessions.size() == 5; }));

  // 60 updates of 200 KiB: 12 MiB for each member, 47 times the limit. The publisher waits for
  // the reader to get each one, so the reader is never behind by more than one update.
  const std::size_t baseline = resident_bytes();
  std::size_t peak = baseline;
  constexpr int updates = 60;
  for (int seq = 0; seq < updates; ++seq) {
    publisher.send_json(update(seq, 200 * 1024));
    const json e = next_update(reader);
    ASSERT_EQ(e.value("type", ""), "collection_updated") << e.dump().substr(0, 200);
    ASSERT_EQ(e["changes"].value("seq", -1), seq) << "the reader got an update out of order";
    peak = std::max(peak, resident_bytes());
  }

  // What a user sees: the members that never read are gone from the host (closed at the limit,
  // then given up at the closing deadline), the reader and the publisher are not.
  const bool shed = eventually([&] { return sessions.size() == 2; }, 60s);
  peak = std::max(peak, resident_bytes());
  ASSERT_TRUE(shed) << sessions.size() - 2
                    << " member(s) that never read are still held by the host after 12 MiB were "
                       "published to them (the queue limit is 256 KiB)";
  EXPECT_EQ(slow_consumer_warnings(host), 3u) << host.log_text();

  // Each of them finds, once it reads, what the kernel held for it and then the close: 1013 if
  // the close frame got out before the deadline, else the end of the stream (1006).
  for (auto &s : idle) {
    const int code = read_close_code(s, 30s);
    EXPECT_TRUE(code == 1013 || code == 1006) << "close code " << code;
  }

  // The limit is the host's memory bound for them: three members never reading 12 MiB each
  // used to hold 36 MiB; now each holds at most the limit, what the socket layer has in hand
  // (256 KiB and a frame) and the send in flight. Under ASan resident size says nothing.
  const double grew_mib = static_cast<double>(peak - std::min(peak, baseline)) / (1024.0 * 1024.0);
  RecordProperty("rss_growth_mib", std::to_string(grew_mib));
  if (!sanitized) {
    EXPECT_LE(grew_mib, 16.0) << "resident memory grew by " << grew_mib << " MiB";
  }

  // The workspace goes on for those who read.
  publisher.send_json(update(updates, 16));
  EXPECT_EQ(next_update(reader)["changes"].value("seq", -1), updates);
}

TEST(SlowConsumer, AnUpdateBiggerThanTheWholeLimitStillReachesAMemberThatReads) {
  host_config c = collaboration_host();
  c.limits.max_outbound_queue_bytes = 64 * 1024; // the smallest limit the configuration allows
  host_instance host(c);
  ws_client reader, publisher;
  ASSERT_TRUE(reader.connect(host.port(), member("reader")));
  ASSERT_TRUE(publisher.connect(host.port(), member("publisher")));
  for (int seq = 0; seq < 3; ++seq) {
    publisher.send_json(update(seq, 1024 * 1024 - 256)); // within limits.max_message_size
    const json e = next_update(reader);
    ASSERT_EQ(e["changes"].value("seq", -1), seq) << e.dump().substr(0, 200);
    EXPECT_EQ(e["changes"]["blob"].get_ref<const std::string &>().size(), 1024u * 1024 - 256);
  }
  EXPECT_EQ(slow_consumer_warnings(host), 0u) << host.log_text();
}
