// upstream_stamp_test.cpp — unit tests of upstream_stamp's hooks on the SDK's fake host.
//
// upstream_stamp.cpp is compiled into this test, so apistudio_plugin_descriptor_v1() is the very
// descriptor the .so exports: the tests go through the C ABI and the SDK's C++ layer as the host
// does.
#include <apistudio/testing/fake_host.hpp>

#include <gtest/gtest.h>

#include <string>

extern "C" const apistudio_plugin_descriptor *apistudio_plugin_descriptor_v1(void);

namespace {

using apistudio::testing::fake_host;

TEST(upstream_stamp, stamps_a_json_object_going_upstream) {
  fake_host host(apistudio_plugin_descriptor_v1());
  auto session = host.open_session("/api/websocket/connect/c1", "", "c1");

  const auto result = session.message_to_upstream(R"({"op": "buy", "qty": 2})", false, "", "r1");

  EXPECT_EQ(result.verdict, APISTUDIO_REPLACE);
  // The client's keys keep their order; the stamp comes last.
  EXPECT_EQ(result.replacement, R"({"op":"buy","qty":2,"sent_by":"api-studio"})");
}

TEST(upstream_stamp, uses_the_configured_field_and_value) {
  fake_host host(apistudio_plugin_descriptor_v1(), R"({"field": "origin", "value": "desk-7"})");
  auto session = host.open_session();

  EXPECT_EQ(session.message_to_upstream("{}").replacement, R"({"origin":"desk-7"})");
}

TEST(upstream_stamp, overwrites_a_stamp_the_client_wrote_itself) {
  fake_host host(apistudio_plugin_descriptor_v1());
  auto session = host.open_session();

  EXPECT_EQ(session.message_to_upstream(R"({"sent_by": "someone else", "a": 1})").replacement,
            R"({"sent_by":"api-studio","a":1})");
}

TEST(upstream_stamp, leaves_everything_but_json_objects_alone) {
  fake_host host(apistudio_plugin_descriptor_v1());
  auto session = host.open_session();

  for (const char *payload : {"hello", "[1, 2]", "\"text\"", "42", "{not json", ""}) {
    SCOPED_TRACE(payload);
    const auto result = session.message_to_upstream(payload);
    EXPECT_EQ(result.verdict, APISTUDIO_CONTINUE);
    EXPECT_FALSE(result.replacement);
  }
  const auto binary = session.message_to_upstream(R"({"looks": "like json"})", true);
  EXPECT_EQ(binary.verdict, APISTUDIO_CONTINUE);
  EXPECT_FALSE(binary.replacement);
}

TEST(upstream_stamp, refuses_a_message_with_the_forbidden_text) {
  fake_host host(apistudio_plugin_descriptor_v1(), R"({"forbidden": "INTERNAL-ONLY"})");
  auto session = host.open_session();

  for (bool binary : {false, true}) {
    const auto result = session.message_to_upstream(R"({"note": "INTERNAL-ONLY: q3"})", binary);
    EXPECT_EQ(result.verdict, APISTUDIO_REFUSE);
    ASSERT_TRUE(result.refusal);
    EXPECT_EQ(result.refusal->code, "MESSAGE_NOT_ALLOWED");
    EXPECT_EQ(result.refusal->message.find("INTERNAL-ONLY"), std::string::npos)
        << "the forbidden text is not echoed";
    EXPECT_FALSE(result.replacement);
  }
  // A refusal answers that one message; the session goes on.
  EXPECT_TRUE(session.is_open());
  EXPECT_EQ(session.message_to_upstream(R"({"note": "public"})").verdict, APISTUDIO_REPLACE);
}

TEST(upstream_stamp, refuses_nothing_without_a_forbidden_text) {
  fake_host host(apistudio_plugin_descriptor_v1());
  auto session = host.open_session();

  EXPECT_EQ(session.message_to_upstream("INTERNAL-ONLY").verdict, APISTUDIO_CONTINUE);
}

TEST(upstream_stamp, touches_only_what_goes_upstream) {
  fake_host host(apistudio_plugin_descriptor_v1(), R"({"forbidden": "x"})");
  auto session = host.open_session();

  EXPECT_EQ(session.client_message(R"({"type": "send_message", "data": "x"})").verdict,
            APISTUDIO_CONTINUE);
  EXPECT_EQ(session.message_from_upstream(R"({"a": "x"})").verdict, APISTUDIO_CONTINUE);
}

TEST(upstream_stamp, logs_each_sessions_count_when_it_closes) {
  fake_host host(apistudio_plugin_descriptor_v1());
  auto busy = host.open_session();
  auto quiet = host.open_session();
  busy.message_to_upstream("{}");
  busy.message_to_upstream("not json");
  busy.message_to_upstream(R"({"a": 1})");
  quiet.message_to_upstream("not json");

  busy.close();
  quiet.close();

  ASSERT_EQ(host.logs().size(), 1u);
  EXPECT_TRUE(host.logged(APISTUDIO_LOG_INFO,
                          "session " + std::to_string(busy.id()) + ": stamped 2 message(s)"));
}

TEST(upstream_stamp, counts_stay_apart_per_session) {
  fake_host host(apistudio_plugin_descriptor_v1());
  {
    auto a = host.open_session();
    auto b = host.open_session();
    a.message_to_upstream("{}");
    b.message_to_upstream("{}");
    b.message_to_upstream("{}");
  } // destroying a fake_session closes it
  EXPECT_TRUE(host.logged(APISTUDIO_LOG_INFO, "stamped 1 message(s)"));
  EXPECT_TRUE(host.logged(APISTUDIO_LOG_INFO, "stamped 2 message(s)"));
}

// The host prints a refused setting with the YAML location of the key its JSON Pointer names.
void expect_refused(const std::string &settings, const std::string &pointer,
                    const std::string &message_part) {
  SCOPED_TRACE(settings);
  fake_host host(apistudio_plugin_descriptor_v1(), settings);
  ASSERT_FALSE(host.created());
  ASSERT_TRUE(host.create_refusal());
  EXPECT_EQ(host.create_refusal()->setting, pointer);
  EXPECT_NE(host.create_refusal()->message.find(message_part), std::string::npos)
      << host.create_refusal()->message;
}

TEST(upstream_stamp, refuses_wrong_settings_naming_the_key) {
  expect_refused(R"({"field": ""})", "/field", "must not be empty");
  expect_refused(R"({"value": 3})", "/value", "expected a string");
  expect_refused(R"({"forbidden": null})", "/forbidden", "expected a string");
  expect_refused(R"({"a/b": "x"})", "/a~1b", "unknown setting 'a/b'");
  expect_refused("[]", "", "must be a mapping");
}

} // namespace
