// local_message_bus_test.cpp — subscriptions, one shared delivery per publication, clean-up at
// session end, and no lock held while a port is called.
#include "plugin_host/message_bus.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

namespace apistudio {
namespace {

class recording_port final : public session_port {
public:
  void post_send(std::shared_ptr<const void>, std::string_view, bool) override {}
  void post_close(int, std::string) override {}
  void post_bus(std::shared_ptr<const bus_delivery> d) override {
    deliveries.push_back(d);
    if (on_bus)
      on_bus();
  }
  boost::asio::any_io_executor executor() override { return {}; }
  session_context &context() override { return ctx; }

  session_context ctx;
  std::vector<std::shared_ptr<const bus_delivery>> deliveries;
  std::function<void()> on_bus;
};

class local_message_bus_test : public ::testing::Test {
protected:
  std::shared_ptr<recording_port> add(apistudio_session_id id) {
    auto port = std::make_shared<recording_port>();
    directory_.add(id, port);
    ports_.push_back(port);
    return port;
  }
  session_directory directory_;
  std::unique_ptr<message_bus> bus_ = make_local_message_bus(directory_);
  std::vector<std::shared_ptr<recording_port>> ports_;
};

TEST_F(local_message_bus_test, delivers_one_shared_payload_to_subscribers_only) {
  auto a = add(1), b = add(2), c = add(3);
  bus_->subscribe("room", 1);
  bus_->subscribe("room", 2);
  bus_->subscribe("other", 3);
  bus_->publish("room", "hello");
  ASSERT_EQ(a->deliveries.size(), 1u);
  ASSERT_EQ(b->deliveries.size(), 1u);
  EXPECT_TRUE(c->deliveries.empty());
  EXPECT_EQ(a->deliveries[0].get(), b->deliveries[0].get()); // one copy for everybody
  EXPECT_EQ(a->deliveries[0]->topic, "room");
  EXPECT_EQ(a->deliveries[0]->payload, "hello");
}

TEST_F(local_message_bus_test, subscribing_twice_delivers_once) {
  auto a = add(1);
  bus_->subscribe("room", 1);
  bus_->subscribe("room", 1);
  bus_->publish("room", "x");
  EXPECT_EQ(a->deliveries.size(), 1u);
}

TEST_F(local_message_bus_test, unsubscribe_and_unsubscribe_all) {
  auto a = add(1), b = add(2);
  bus_->subscribe("room", 1);
  bus_->subscribe("room", 2);
  bus_->subscribe("news", 2);
  bus_->unsubscribe("room", 1);
  bus_->publish("room", "1");
  EXPECT_TRUE(a->deliveries.empty());
  EXPECT_EQ(b->deliveries.size(), 1u);

  bus_->unsubscribe_all(2);
  bus_->publish("room", "2");
  bus_->publish("news", "3");
  EXPECT_EQ(b->deliveries.size(), 1u);

  bus_->unsubscribe("never", 5); // unknown topic and session: nothing happens
  bus_->unsubscribe_all(5);
}

TEST_F(local_message_bus_test, skips_sessions_that_are_gone) {
  auto a = add(1);
  bus_->subscribe("room", 1);
  bus_->subscribe("room", 2); // never in the directory
  {
    auto gone = add(3);
    bus_->subscribe("room", 3);
  }
  ports_.pop_back(); // the port of session 3 is destroyed: its weak pointer expires
  bus_->publish("room", "x");
  EXPECT_EQ(a->deliveries.size(), 1u);
}

TEST_F(local_message_bus_test, a_port_may_call_back_into_the_bus) {
  auto a = add(1), b = add(2);
  bus_->subscribe("ping", 1);
  bus_->subscribe("pong", 2);
  bool answered = false;
  a->on_bus = [&] {
    if (answered)
      return;
    answered = true;
    bus_->subscribe("pong", 1); // would deadlock if publish held its lock here
    bus_->publish("pong", "back");
  };
  bus_->publish("ping", "go");
  EXPECT_EQ(a->deliveries.size(), 2u); // "go", then its own "back"
  ASSERT_EQ(b->deliveries.size(), 1u);
  EXPECT_EQ(b->deliveries[0]->payload, "back");
}

} // namespace
} // namespace apistudio
