// The Redis client of the cluster engine (host/src/cluster/redis_client.cpp and its Asio adapter)
// against a real redis-server on loopback: replies of every type, completions on the caller's
// executor, AUTH and SELECT, refusals, the per-command timeout, the bound on requests in flight
// and reconnection after Redis comes back.
#include "base/logger.hpp"
#include "cluster/redis_client.hpp"
#include "redis_server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

using namespace apistudio;
using namespace apistudio::cluster;
using namespace apistudio::testing;
using namespace std::chrono_literals;
namespace net = boost::asio;

namespace {

// A client on its own thread (as the engine runs it) and a second "worker" thread whose
// executor receives the completions.
class client_harness {
public:
  explicit client_harness(redis_options options) {
    client_ = redis_client::create(engine_.get_executor(), std::move(options), log_);
    engine_thread_ = std::thread([this] { engine_.run(); });
    worker_thread_ = std::thread([this] {
      worker_id_ = std::this_thread::get_id();
      worker_.run();
    });
  }
  ~client_harness() {
    client_->stop();
    engine_work_.reset();
    worker_work_.reset();
    engine_thread_.join();
    worker_thread_.join();
  }

  // Starts and returns the first outcome: "" connected, else the reason.
  std::string start() {
    auto first = std::make_shared<std::promise<std::string>>();
    auto told = std::make_shared<std::atomic<bool>>(false);
    auto result = first->get_future();
    client_->start([this, first, told](bool up, const std::string &reason) {
      std::lock_guard lock(mutex_);
      events_.push_back(up ? "up" : "down: " + reason);
      if (!told->exchange(true))
        first->set_value(up ? "" : reason);
    });
    if (result.wait_for(20s) != std::future_status::ready)
      return "no outcome within 20 s";
    return result.get();
  }

  struct outcome {
    boost::system::error_code ec;
    redis_reply reply;
    bool on_worker = false;
  };
  outcome run(std::vector<std::string> args) {
    auto done = std::make_shared<std::promise<outcome>>();
    auto result = done->get_future();
    client_->command(
        std::move(args), worker_.get_executor(),
        [this, done](boost::system::error_code ec, redis_reply reply) {
          done->set_value({ec, std::move(reply), std::this_thread::get_id() == worker_id_});
        });
    if (result.wait_for(20s) != std::future_status::ready) {
      ADD_FAILURE() << "no completion within 20 s";
      return {};
    }
    return result.get();
  }

  bool wait_connected(bool want, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (client_->connected() == want)
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return client_->connected() == want;
  }

  std::vector<std::string> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  // Subscriber mode: before start().
  void subscribe(const std::string &channel) {
    client_->subscribe(channel, [this](std::string payload) {
      std::lock_guard lock(mutex_);
      messages_.push_back(std::move(payload));
    });
  }
  std::vector<std::string> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  redis_client &client() { return *client_; }
  net::io_context &worker() { return worker_; }

private:
  logger log_{log_level::warn};
  net::io_context engine_;
  net::io_context worker_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> engine_work_{
      engine_.get_executor()};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> worker_work_{
      worker_.get_executor()};
  std::shared_ptr<redis_client> client_;
  std::thread engine_thread_, worker_thread_;
  std::thread::id worker_id_;
  mutable std::mutex mutex_;
  std::vector<std::string> events_;
  std::vector<std::string> messages_;
};

redis_options options_for(const redis_server &server, int db = 0) {
  redis_options o;
  o.url = server.url(db);
  o.host = "127.0.0.1";
  o.port = server.port();
  o.db = db;
  o.connect_timeout = 2s;
  o.command_timeout = 2s;
  o.min_backoff = 20ms;
  o.max_backoff = 200ms;
  return o;
}

} // namespace

TEST(RedisClient, RepliesOfEveryTypeArriveOnTheCallersExecutor) {
  redis_server server;
  client_harness h(options_for(server));
  ASSERT_EQ(h.start(), "");
  EXPECT_TRUE(h.client().connected());

  auto set = h.run({"SET", "k", std::string("v\0al", 4)}); // binary-safe
  EXPECT_FALSE(set.ec) << set.ec.message();
  EXPECT_EQ(set.reply.kind, redis_reply::type::status);
  EXPECT_EQ(set.reply.text, "OK");
  EXPECT_TRUE(set.on_worker);

  auto get = h.run({"GET", "k"});
  EXPECT_EQ(get.reply.kind, redis_reply::type::string);
  EXPECT_EQ(get.reply.text, std::string("v\0al", 4));

  EXPECT_EQ(h.run({"GET", "missing"}).reply.kind, redis_reply::type::nil);
  auto incr = h.run({"INCRBY", "n", "41"});
  EXPECT_EQ(incr.reply.kind, redis_reply::type::integer);
  EXPECT_EQ(incr.reply.integer, 41);

  h.run({"RPUSH", "l", "a", "b"});
  auto range = h.run({"LRANGE", "l", "0", "-1"});
  ASSERT_EQ(range.reply.kind, redis_reply::type::array);
  ASSERT_EQ(range.reply.elements.size(), 2u);
  EXPECT_EQ(range.reply.elements[1].text, "b");

  auto wrong = h.run({"INCR", "l"}); // a key of the wrong type: an error reply, not an error_code
  EXPECT_FALSE(wrong.ec);
  EXPECT_TRUE(wrong.reply.is_error());
  EXPECT_NE(wrong.reply.text.find("WRONGTYPE"), std::string::npos) << wrong.reply.text;
}

TEST(RedisClient, SelectsTheDatabaseOfTheUrl) {
  redis_server server;
  client_harness h(options_for(server, 3));
  ASSERT_EQ(h.start(), "");
  h.run({"SET", "in-three", "1"});
  EXPECT_EQ(server.command("GET in-three"), "$-1\r\n"); // database 0
  EXPECT_EQ(server.command("EXISTS in-three"), ":0\r\n");
  EXPECT_EQ(server.command("DBSIZE"), ":0\r\n");
}

TEST(RedisClient, AuthWithThePasswordAndRefusalWithRedisWords) {
  redis_server server(0, {"--requirepass", "right-pass"});
  {
    auto o = options_for(server);
    o.password = "right-pass";
    client_harness h(o);
    ASSERT_EQ(h.start(), "");
    EXPECT_EQ(h.run({"PING"}).reply.text, "PONG");
  }
  auto o = options_for(server);
  o.password = "wrong-pass";
  client_harness h(o);
  const std::string reason = h.start();
  EXPECT_NE(reason.find("AUTH refused"), std::string::npos) << reason;
  EXPECT_EQ(reason.find("wrong-pass"), std::string::npos) << reason;
  EXPECT_FALSE(h.client().connected());
}

TEST(RedisClient, UnreachableFailsTheAttemptAndCommandsFailAtOnce) {
  const std::uint16_t port = free_loopback_port();
  redis_options o;
  o.url = "redis://127.0.0.1:" + std::to_string(port) + "/0";
  o.host = "127.0.0.1";
  o.port = port;
  o.connect_timeout = 2s;
  client_harness h(o);
  const std::string reason = h.start();
  EXPECT_NE(reason.find("refused"), std::string::npos) << reason;
  auto r = h.run({"PING"});
  EXPECT_EQ(r.ec, cluster_errc::not_connected);
  EXPECT_TRUE(r.on_worker);
}

TEST(RedisClient, ReconnectsWithBackoffWhenRedisComesBack) {
  auto server = std::make_unique<redis_server>();
  const std::uint16_t port = server->port();
  client_harness h(options_for(*server));
  ASSERT_EQ(h.start(), "");
  server->stop();
  ASSERT_TRUE(h.wait_connected(false, 10s));
  EXPECT_NE(h.run({"PING"}).ec, boost::system::error_code{});
  server = std::make_unique<redis_server>(port);
  ASSERT_TRUE(h.wait_connected(true, 15s));
  EXPECT_EQ(h.run({"PING"}).reply.text, "PONG");
  const auto events = h.events();
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front(), "up");
  EXPECT_EQ(events.back(), "up");
}

// Subscriber mode (the cross-host bus): connected means subscribed, messages are binary-safe, and
// a reconnection subscribes again by itself.
TEST(RedisClient, ASubscriberGetsEveryMessageAndSubscribesAgainAfterALoss) {
  auto server = std::make_unique<redis_server>();
  const std::uint16_t port = server->port();
  client_harness h(options_for(*server));
  h.subscribe("test:chan");
  ASSERT_EQ(h.start(), "");
  // Connected only once Redis confirmed the SUBSCRIBE: one subscriber right away.
  EXPECT_EQ(server->command("PUBLISH test:chan hello"), ":1\r\n");
  EXPECT_EQ(server->command("PUBLISH test:chan \"a\\x00b\\nc\""), ":1\r\n");
  EXPECT_EQ(server->command("PUBLISH other:chan nope"), ":0\r\n");
  const auto arrived = [&h](std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (h.messages().size() < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    return h.messages().size() >= n;
  };
  ASSERT_TRUE(arrived(2));
  EXPECT_EQ(h.messages(), (std::vector<std::string>{"hello", std::string("a\0b\nc", 5)}));

  server->stop();
  ASSERT_TRUE(h.wait_connected(false, 10s));
  server = std::make_unique<redis_server>(port);
  ASSERT_TRUE(h.wait_connected(true, 15s));
  EXPECT_EQ(server->command("PUBLISH test:chan again"), ":1\r\n");
  ASSERT_TRUE(arrived(3));
  EXPECT_EQ(h.messages().back(), "again");
}

TEST(RedisClient, ACommandPastItsTimeoutFailsAndTheLinkIsRemade) {
  redis_server server;
  auto o = options_for(server);
  o.command_timeout = 300ms;
  client_harness h(o);
  ASSERT_EQ(h.start(), "");
  // Redis holds every client's commands for 1.5 s: the PING cannot be answered in time.
  ASSERT_EQ(server.command("CLIENT PAUSE 1500 ALL"), "+OK\r\n");
  const auto started = std::chrono::steady_clock::now();
  auto r = h.run({"PING"});
  EXPECT_EQ(r.ec, cluster_errc::timed_out) << r.ec.message();
  EXPECT_TRUE(r.on_worker);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1400ms); // failed, not answered late
  // Past the pause the client is connected again and works.
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  std::string text;
  while (std::chrono::steady_clock::now() < deadline && text != "PONG") {
    text = h.run({"PING"}).reply.text;
    if (text != "PONG")
      std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(text, "PONG");
}

TEST(RedisClient, RequestsInFlightAreBounded) {
  redis_server server;
  auto o = options_for(server);
  o.max_in_flight = 2;
  o.command_timeout = 3s;
  client_harness h(o);
  ASSERT_EQ(h.start(), "");
  ASSERT_EQ(server.command("CLIENT PAUSE 1000 ALL"), "+OK\r\n");
  std::atomic<int> answered{0};
  for (int i = 0; i < 2; ++i)
    h.client().command({"PING"}, h.worker().get_executor(),
                       [&](boost::system::error_code, redis_reply) { ++answered; });
  auto third = h.run({"PING"});
  EXPECT_EQ(third.ec, cluster_errc::too_many_in_flight);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (answered < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(answered, 2);
  EXPECT_EQ(h.run({"PING"}).reply.text, "PONG"); // the slots are free again
}

TEST(RedisClient, StopFailsWhatIsPendingAndNothingComesLater) {
  redis_server server;
  auto o = options_for(server);
  o.command_timeout = 5s;
  client_harness h(o);
  ASSERT_EQ(h.start(), "");
  ASSERT_EQ(server.command("CLIENT PAUSE 1000 ALL"), "+OK\r\n");
  auto done = std::make_shared<std::promise<boost::system::error_code>>();
  auto result = done->get_future();
  h.client().command({"PING"}, h.worker().get_executor(),
                     [done](boost::system::error_code ec, redis_reply) { done->set_value(ec); });
  h.client().stop();
  ASSERT_EQ(result.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(result.get(), cluster_errc::stopped);
  EXPECT_FALSE(h.client().connected());
}
