// template_plugin_test.cpp — unit tests of template_plugin's hooks on the SDK's fake host.
//
// The test executable compiles template_plugin.cpp itself, so apistudio_plugin_descriptor_v1() is
// the very function the .so exports: these tests go through the C descriptor, the SDK's C++ layer
// and the plugin's settings parsing exactly as the host does, with no host process and no socket.
#include <apistudio/testing/fake_host.hpp>

#include <gtest/gtest.h>

#include <string>

extern "C" const apistudio_plugin_descriptor *apistudio_plugin_descriptor_v1(void);

namespace {

using apistudio::testing::fake_host;
using apistudio::testing::header_list;

constexpr const char *upstream = "wss://api.example.com/feed";

TEST(template_plugin, adds_its_header_to_the_upstream_handshake) {
  fake_host host(apistudio_plugin_descriptor_v1(),
                 R"({"header_name": "X-Api-Key", "header_value": "k1"})");
  ASSERT_TRUE(host.created());
  auto session = host.open_session();

  const auto result = session.upstream_connect(upstream, "feed");

  EXPECT_EQ(result.verdict, APISTUDIO_CONTINUE);
  EXPECT_EQ(result.header("x-api-key"), "k1");
  EXPECT_TRUE(host.logs().empty());
}

TEST(template_plugin, adds_the_default_header_without_settings) {
  fake_host host(apistudio_plugin_descriptor_v1(), "{}");
  auto session = host.open_session();

  EXPECT_EQ(session.upstream_connect(upstream).header("X-Template-Plugin"), "1");
}

TEST(template_plugin, replaces_the_clients_header_by_default) {
  fake_host host(apistudio_plugin_descriptor_v1(),
                 R"({"header_name": "X-Api-Key", "header_value": "k1"})");
  auto session = host.open_session();

  const auto result = session.upstream_connect(
      upstream, "", header_list{{"X-Api-Key", "mine"}, {"x-api-key", "2"}});

  // Overwrite: one header left, with the plugin's value.
  EXPECT_EQ(result.headers, (header_list{{"X-Api-Key", "k1"}}));
}

TEST(template_plugin, keeps_the_clients_header_when_override_client_is_false) {
  fake_host host(apistudio_plugin_descriptor_v1(),
                 R"({"header_name": "X-Api-Key", "header_value": "k1", "override_client": false})");
  auto session = host.open_session();

  EXPECT_EQ(session.upstream_connect(upstream, "", {{"X-Api-Key", "mine"}}).headers,
            (header_list{{"X-Api-Key", "mine"}}));
  // Set if absent: a client that sent none gets the plugin's.
  EXPECT_EQ(session.upstream_connect(upstream).header("X-Api-Key"), "k1");
}

TEST(template_plugin, logs_a_warning_when_the_host_refuses_the_header) {
  // The handshake's own headers belong to the host: the plugin says so and lets the connection go.
  fake_host host(apistudio_plugin_descriptor_v1(), R"({"header_name": "Sec-WebSocket-Key"})");
  auto session = host.open_session();

  const auto result = session.upstream_connect(upstream);

  EXPECT_EQ(result.verdict, APISTUDIO_CONTINUE);
  EXPECT_FALSE(result.header("Sec-WebSocket-Key"));
  EXPECT_TRUE(host.logged(APISTUDIO_LOG_WARN, "session " + std::to_string(session.id()) +
                                                  ": the host refused header 'Sec-WebSocket-Key'"));
}

TEST(template_plugin, does_not_build_the_warning_when_warnings_are_off) {
  fake_host host(apistudio_plugin_descriptor_v1(), R"({"header_name": "Host"})");
  host.set_log_level(APISTUDIO_LOG_ERROR);
  auto session = host.open_session();

  EXPECT_EQ(session.upstream_connect(upstream).verdict, APISTUDIO_CONTINUE);
  EXPECT_TRUE(host.logs().empty());
}

TEST(template_plugin, puts_its_tag_in_front_of_text_from_upstream) {
  fake_host host(apistudio_plugin_descriptor_v1(), "{}");
  auto session = host.open_session();

  const auto result = session.message_from_upstream(R"({"price": 42})", false, "feed");

  EXPECT_EQ(result.verdict, APISTUDIO_REPLACE);
  EXPECT_EQ(result.replacement, R"([template] {"price": 42})");
}

TEST(template_plugin, uses_the_configured_tag) {
  fake_host host(apistudio_plugin_descriptor_v1(), R"({"tag": "> "})");
  auto session = host.open_session();

  EXPECT_EQ(session.message_from_upstream("hello").replacement, "> hello");
}

TEST(template_plugin, leaves_binary_frames_untouched) {
  fake_host host(apistudio_plugin_descriptor_v1(), "{}");
  auto session = host.open_session();

  const auto result = session.message_from_upstream(std::string("\x00\x01\xff", 3), true);

  EXPECT_EQ(result.verdict, APISTUDIO_CONTINUE);
  EXPECT_FALSE(result.replacement);
}

TEST(template_plugin, leaves_text_untouched_with_an_empty_tag) {
  fake_host host(apistudio_plugin_descriptor_v1(), R"({"tag": ""})");
  auto session = host.open_session();

  const auto result = session.message_from_upstream("hello");

  EXPECT_EQ(result.verdict, APISTUDIO_CONTINUE);
  EXPECT_FALSE(result.replacement);
}

TEST(template_plugin, leaves_what_goes_upstream_alone) {
  fake_host host(apistudio_plugin_descriptor_v1(), "{}");
  auto session = host.open_session();

  EXPECT_EQ(session.message_to_upstream("hello").verdict, APISTUDIO_CONTINUE);
  EXPECT_EQ(session.client_message(R"({"type": "ping"})").verdict, APISTUDIO_CONTINUE);
}

// A refused setting comes back as the host would print it: the message, and the JSON Pointer of
// the key when the plugin names one (it may also name the key in the message only).
void expect_refused(const std::string &settings, const std::string &key) {
  SCOPED_TRACE(settings);
  fake_host host(apistudio_plugin_descriptor_v1(), settings);
  ASSERT_FALSE(host.created());
  ASSERT_TRUE(host.create_refusal());
  const auto &why = *host.create_refusal();
  EXPECT_NE(why.message.find(key), std::string::npos) << why.message;
  EXPECT_TRUE(why.setting.empty() || why.setting == "/" + key) << why.setting;
}

TEST(template_plugin, refuses_settings_of_the_wrong_type) {
  expect_refused(R"({"tag": 1})", "tag");
  expect_refused(R"({"header_value": ["a"]})", "header_value");
  expect_refused(R"({"override_client": "yes"})", "override_client");
}

TEST(template_plugin, refuses_unknown_settings) {
  expect_refused(R"({"colour": "red"})", "colour");
}

TEST(template_plugin, refuses_an_empty_header_name) {
  expect_refused(R"({"header_name": ""})", "header_name");
}

TEST(template_plugin, refuses_settings_that_are_not_a_mapping) {
  fake_host host(apistudio_plugin_descriptor_v1(), "[1, 2]");
  ASSERT_FALSE(host.created());
  EXPECT_NE(host.create_refusal()->message.find("mapping"), std::string::npos);
}

} // namespace
