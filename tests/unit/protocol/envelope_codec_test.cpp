// Tests of the envelope codec: client command parsing (scanner and nlohmann paths and their
// agreement), event encoding (always valid JSON), base64 and timestamps.
#include "base/iso_timestamp.hpp"
#include "protocol/envelope_codec.hpp"
#include "protocol/envelope_parser_detail.hpp"

#include "../../fuzz/encoder_fuzz_check.hpp"
#include "../../fuzz/envelope_fuzz_check.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace apistudio {
namespace {

using nlohmann::json;
using namespace std::string_literals;

// A readable, unambiguous rendering of everything a parse produces, for EXPECT_EQ diffs.
std::string describe(const client_command &c) {
  json j;
  j["kind"] = static_cast<int>(c.kind);
  j["content"] = c.content;
  j["binary"] = c.binary;
  j["url"] = c.url;
  j["protocols"] = c.protocols;
  j["headers"] = c.headers;
  j["tls_verify"] = c.tls_verify ? json(*c.tls_verify) : json();
  j["connection_id"] = c.connection_id ? json(*c.connection_id) : json();
  j["request_id"] = c.request_id ? json(*c.request_id) : json();
  j["error"] = c.error;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

client_command parse(std::string_view frame) {
  client_command c;
  parse_client_command(frame, c);
  return c;
}

// Parses and also checks that the nlohmann path alone gives the same answer.
client_command parse_checked(std::string_view frame) {
  client_command fast;
  const bool ok = parse_client_command(frame, fast);
  EXPECT_EQ(ok, fast.kind != command_kind::invalid) << frame;
  client_command reference;
  const bool reference_ok = detail::parse_command_reference(frame, reference);
  EXPECT_EQ(ok, reference_ok) << frame;
  EXPECT_EQ(describe(fast), describe(reference)) << frame;
  return fast;
}

bool taken_by_scanner(std::string_view frame) {
  client_command c;
  return detail::scan_flat_command(frame, c) == detail::scan_result::parsed;
}

std::string error_of(std::string_view frame) {
  const client_command c = parse_checked(frame);
  EXPECT_EQ(c.kind, command_kind::invalid) << frame;
  return c.error;
}

// ---------------------------------------------------------------------------------------------
// send_message

TEST(EnvelopeParse, SendMessageTextIsTakenByTheScanner) {
  const std::string frame = R"({"type":"send_message","content":"hi","message_type":"text"})";
  EXPECT_TRUE(taken_by_scanner(frame));
  const client_command c = parse_checked(frame);
  EXPECT_EQ(c.kind, command_kind::send_message);
  EXPECT_EQ(c.content, "hi");
  EXPECT_FALSE(c.binary);
  EXPECT_FALSE(c.connection_id);
  EXPECT_FALSE(c.request_id);
  EXPECT_TRUE(c.error.empty());
}

TEST(EnvelopeParse, SendMessageDefaultsToTextAndAcceptsBinary) {
  EXPECT_FALSE(parse_checked(R"({"type":"send_message","content":"x"})").binary);
  EXPECT_FALSE(
      parse_checked(R"({"type":"send_message","content":"x","message_type":null})").binary);
  const client_command c =
      parse_checked(R"({"message_type":"binary","content":"AAEC","type":"send_message"})");
  EXPECT_EQ(c.kind, command_kind::send_message);
  EXPECT_TRUE(c.binary);
  EXPECT_EQ(c.content, "AAEC"); // still base64: the session decodes it
}

TEST(EnvelopeParse, SendMessageFieldErrors) {
  EXPECT_EQ(error_of(R"({"type":"send_message"})"),
            "Invalid message format: missing field 'content'");
  for (const char *bad : {"5", "null", "true", "[]", "{}", "[\"a\"]"}) {
    EXPECT_EQ(error_of(R"({"type":"send_message","content":)"s + bad + "}"),
              "Invalid message format: field 'content' must be a string")
        << bad;
  }
  for (const char *bad : {"\"TEXT\"", "\"blob\"", "\"\"", "1", "false", "[\"text\"]"}) {
    EXPECT_EQ(error_of(R"({"type":"send_message","content":"x","message_type":)"s + bad + "}"),
              "Invalid message format: field 'message_type' must be 'text' or 'binary'")
        << bad;
  }
}

TEST(EnvelopeParse, SendMessageWithIds) {
  const client_command c = parse_checked(
      R"({"type":"send_message","content":"x","connection_id":"c-1","request_id":"r-9"})");
  ASSERT_TRUE(c.connection_id);
  ASSERT_TRUE(c.request_id);
  EXPECT_EQ(*c.connection_id, "c-1");
  EXPECT_EQ(*c.request_id, "r-9");
  const client_command nulls = parse_checked(
      R"({"type":"send_message","content":"x","connection_id":null,"request_id":null})");
  EXPECT_EQ(nulls.kind, command_kind::send_message);
  EXPECT_FALSE(nulls.connection_id);
  EXPECT_FALSE(nulls.request_id);
}

// ---------------------------------------------------------------------------------------------
// connect_external / disconnect_external

TEST(EnvelopeParse, ConnectExternalWithEverything) {
  const std::string frame = R"({
    "type": "connect_external",
    "url": "wss://echo.websocket.org",
    "protocols": ["protocol1", "protocol2"],
    "headers": {"X-Zeta": "1", "Authorization": "Bearer token", "A": ""},
    "tls_verify": false,
    "connection_id": "up-1"
  })";
  EXPECT_FALSE(taken_by_scanner(frame)); // nested values go to nlohmann
  const client_command c = parse_checked(frame);
  EXPECT_EQ(c.kind, command_kind::connect_external);
  EXPECT_EQ(c.url, "wss://echo.websocket.org");
  EXPECT_EQ(c.protocols, (std::vector<std::string>{"protocol1", "protocol2"}));
  using header = std::pair<std::string, std::string>;
  EXPECT_EQ(c.headers,
            (std::vector<header>{{"X-Zeta", "1"}, {"Authorization", "Bearer token"}, {"A", ""}}));
  ASSERT_TRUE(c.tls_verify);
  EXPECT_FALSE(*c.tls_verify);
  EXPECT_EQ(*c.connection_id, "up-1");
}

TEST(EnvelopeParse, ConnectExternalMinimalAndOptionalNulls) {
  const client_command c = parse_checked(R"({"type":"connect_external","url":"ws://a"})");
  EXPECT_EQ(c.kind, command_kind::connect_external);
  EXPECT_TRUE(c.protocols.empty());
  EXPECT_TRUE(c.headers.empty());
  EXPECT_FALSE(c.tls_verify);
  const client_command n = parse_checked(
      R"({"type":"connect_external","url":"ws://a","protocols":null,"headers":null,"tls_verify":null})");
  EXPECT_EQ(n.kind, command_kind::connect_external);
  const client_command t = parse_checked(
      R"({"type":"connect_external","url":"ws://a","tls_verify":true,"protocols":[]})");
  ASSERT_TRUE(t.tls_verify);
  EXPECT_TRUE(*t.tls_verify);
}

TEST(EnvelopeParse, ConnectExternalFieldErrors) {
  EXPECT_EQ(error_of(R"({"type":"connect_external"})"),
            "Invalid message format: missing field 'url'");
  EXPECT_EQ(error_of(R"({"type":"connect_external","url":7})"),
            "Invalid message format: field 'url' must be a string");
  for (const char *bad : {"\"p\"", "{}", "[1]", "[\"a\",null]", "[[\"a\"]]", "[{}]", "true"}) {
    EXPECT_EQ(error_of(R"({"type":"connect_external","url":"ws://a","protocols":)"s + bad + "}"),
              "Invalid message format: field 'protocols' must be an array of strings")
        << bad;
  }
  for (const char *bad : {"\"h\"", "[]", "[\"a\"]", R"({"a":1})", R"({"a":"1","b":null})",
                          R"({"a":{"b":"c"}})", R"({"a":["b"]})"}) {
    EXPECT_EQ(error_of(R"({"type":"connect_external","url":"ws://a","headers":)"s + bad + "}"),
              "Invalid message format: field 'headers' must be an object of strings")
        << bad;
  }
  for (const char *bad : {"\"true\"", "1", "0", "[]"}) {
    EXPECT_EQ(error_of(R"({"type":"connect_external","url":"ws://a","tls_verify":)"s + bad + "}"),
              "Invalid message format: field 'tls_verify' must be true or false")
        << bad;
  }
}

TEST(EnvelopeParse, ConnectExternalListLimits) {
  auto with_protocols = [](int count) {
    std::string frame = R"({"type":"connect_external","url":"ws://a","protocols":[)";
    for (int i = 0; i < count; ++i)
      frame += (i ? ",\"p" : "\"p") + std::to_string(i) + "\"";
    return frame + "]}";
  };
  auto with_headers = [](int count) {
    std::string frame = R"({"type":"connect_external","url":"ws://a","headers":{)";
    for (int i = 0; i < count; ++i)
      frame += (i ? ",\"h" : "\"h") + std::to_string(i) + "\":\"v\"";
    return frame + "}}";
  };
  EXPECT_EQ(parse_checked(with_protocols(64)).protocols.size(), 64u);
  EXPECT_EQ(error_of(with_protocols(65)),
            "Invalid message format: field 'protocols' has more than 64 entries");
  EXPECT_EQ(parse_checked(with_headers(64)).headers.size(), 64u);
  EXPECT_EQ(error_of(with_headers(65)),
            "Invalid message format: field 'headers' has more than 64 entries");
}

TEST(EnvelopeParse, DuplicateHeaderNameKeepsFirstPlaceLastValue) {
  const client_command c = parse_checked(
      R"({"type":"connect_external","url":"ws://a","headers":{"A":"1","B":"2","A":"3"}})");
  using header = std::pair<std::string, std::string>;
  EXPECT_EQ(c.headers, (std::vector<header>{{"A", "3"}, {"B", "2"}}));
}

TEST(EnvelopeParse, DisconnectExternalNeedsNothingAndDropsOtherCommandsFields) {
  const client_command c = parse_checked(
      R"({"type":"disconnect_external","content":5,"url":[],"protocols":["x"],"headers":{"a":"b"}})");
  EXPECT_EQ(c.kind, command_kind::disconnect_external);
  EXPECT_TRUE(c.content.empty());
  EXPECT_TRUE(c.url.empty());
  EXPECT_TRUE(c.protocols.empty());
  EXPECT_TRUE(c.headers.empty());
  EXPECT_EQ(parse_checked(R"({"type":"disconnect_external","connection_id":"c"})").kind,
            command_kind::disconnect_external);
}

// ---------------------------------------------------------------------------------------------
// type, ids, request_id echo

TEST(EnvelopeParse, TypeErrors) {
  EXPECT_EQ(error_of(R"({"content":"x"})"), "Invalid message format: missing field 'type'");
  EXPECT_EQ(error_of(R"({})"), "Invalid message format: missing field 'type'");
  for (const char *bad : {"null", "1", "true", "[\"send_message\"]", "{}"}) {
    EXPECT_EQ(error_of(R"({"type":)"s + bad + "}"),
              "Invalid message format: field 'type' must be a string")
        << bad;
  }
  EXPECT_EQ(error_of(R"({"type":"foo"})"), "Invalid message format: unknown type 'foo'");
  EXPECT_EQ(error_of(R"({"type":"Send_Message","content":"x"})"),
            "Invalid message format: unknown type 'Send_Message'");
  EXPECT_EQ(error_of(R"({"type":""})"), "Invalid message format: unknown type ''");
}

TEST(EnvelopeParse, UnknownTypeEchoIsCutOnACharacterBoundary) {
  const std::string name = std::string(63, 'a') + "\xC3\xA9" + std::string(100, 'b'); // é at 63
  const std::string message = error_of(R"({"type":")" + name + "\"}");
  EXPECT_EQ(message, "Invalid message format: unknown type '" + std::string(63, 'a') + "'");
  EXPECT_TRUE(json::accept(json(message).dump())); // still valid UTF-8
}

TEST(EnvelopeParse, IdErrorsAndLimits) {
  const std::string head = R"({"type":"send_message","content":"x",)";
  EXPECT_EQ(error_of(head + R"("connection_id":5})"),
            "Invalid message format: field 'connection_id' must be a string");
  EXPECT_EQ(error_of(head + R"("request_id":{"a":1}})"),
            "Invalid message format: field 'request_id' must be a string");
  EXPECT_EQ(parse_checked(head + R"("connection_id":")" + std::string(128, 'c') + "\"}")
                .connection_id->size(),
            128u);
  EXPECT_EQ(error_of(head + R"("connection_id":")" + std::string(129, 'c') + "\"}"),
            "Invalid message format: field 'connection_id' is longer than 128 bytes");
  EXPECT_EQ(
      parse_checked(head + R"("request_id":")" + std::string(256, 'r') + "\"}").request_id->size(),
      256u);
  const client_command too_long =
      parse_checked(head + R"("request_id":")" + std::string(257, 'r') + "\"}");
  EXPECT_EQ(too_long.error, "Invalid message format: field 'request_id' is longer than 256 bytes");
  EXPECT_FALSE(too_long.request_id);
  // The limit is on the decoded bytes: 128 escaped characters are 128 bytes.
  std::string escaped_id;
  for (int i = 0; i < 128; ++i)
    escaped_id += "\\u0063";
  EXPECT_EQ(*parse_checked(head + R"("connection_id":")" + escaped_id + "\"}").connection_id,
            std::string(128, 'c'));
}

TEST(EnvelopeParse, ErrorsEchoTheRequestId) {
  const client_command missing = parse_checked(R"({"request_id":"r1","type":"send_message"})");
  EXPECT_EQ(missing.error, "Invalid message format: missing field 'content'");
  ASSERT_TRUE(missing.request_id);
  EXPECT_EQ(*missing.request_id, "r1");

  const client_command unknown = parse_checked(R"({"type":"nope","request_id":"r2"})");
  ASSERT_TRUE(unknown.request_id);
  EXPECT_EQ(*unknown.request_id, "r2");

  const client_command bad_id = parse_checked(R"({"type":"send_message","request_id":"r3",
    "connection_id":7,"content":"x"})");
  EXPECT_EQ(bad_id.error, "Invalid message format: field 'connection_id' must be a string");
  EXPECT_FALSE(bad_id.connection_id);
  EXPECT_EQ(*bad_id.request_id, "r3");

  // Read before a syntax error: still echoed.
  const client_command broken = parse_checked(R"({"request_id":"r4","type":"send_message",)");
  EXPECT_EQ(broken.error, "Invalid message format: not valid JSON");
  ASSERT_TRUE(broken.request_id);
  EXPECT_EQ(*broken.request_id, "r4");
}

// ---------------------------------------------------------------------------------------------
// JSON syntax

TEST(EnvelopeParse, WhitespaceKeyOrderAndUnknownFields) {
  const std::string frame =
      " \t\r\n{ \"extra\" : 1.5e3 , \"content\"\n:\t\"hello\" ,\"seq\":-0,\"flag\":true,"
      "\"nothing\":null,\"type\" :\"send_message\" , \"n\":12.25 } \n";
  const client_command c = parse_checked(frame);
  EXPECT_EQ(c.kind, command_kind::send_message);
  EXPECT_EQ(c.content, "hello");
  EXPECT_TRUE(taken_by_scanner(
      R"({"a":1,"content":"x","b":false,"type":"send_message","c":null,"d":-0.5})"));
}

TEST(EnvelopeParse, UnknownNestedFieldsAreSkipped) {
  const std::string frame =
      R"({"meta":{"a":[1,2,{"b":"c"}],"d":{}},"type":"send_message","list":[[],[[]]],"content":"ok"})";
  EXPECT_FALSE(taken_by_scanner(frame));
  const client_command c = parse_checked(frame);
  EXPECT_EQ(c.kind, command_kind::send_message);
  EXPECT_EQ(c.content, "ok");
}

TEST(EnvelopeParse, DuplicateKeysLastOneWins) {
  const client_command c = parse_checked(
      R"({"type":"bogus","content":"first","type":"send_message","content":"second"})");
  EXPECT_EQ(c.kind, command_kind::send_message);
  EXPECT_EQ(c.content, "second");
  EXPECT_EQ(error_of(R"({"type":"send_message","content":"x","content":1})"),
            "Invalid message format: field 'content' must be a string");
  const client_command p = parse_checked(
      R"({"type":"connect_external","url":"ws://a","protocols":["a","b"],"protocols":["c"]})");
  EXPECT_EQ(p.protocols, std::vector<std::string>{"c"});
  EXPECT_EQ(error_of(R"({"type":"connect_external","url":"u","protocols":["a"],"protocols":"b"})"),
            "Invalid message format: field 'protocols' must be an array of strings");
}

TEST(EnvelopeParse, NotValidJson) {
  for (const char *bad : {"",
                          " ",
                          "{",
                          "}",
                          "{\"type\":\"send_message\"",
                          "{\"type\" \"x\"}",
                          "{\"type\":\"send_message\",}",
                          "{,}",
                          "{'type':'x'}",
                          "{type:1}",
                          "{\"type\":\"x\"} x",
                          "{\"type\":\"x\"}{}",
                          "{\"a\":tru}",
                          "{\"a\":True}",
                          "{\"a\":nul}",
                          "{\"a\":01}",
                          "{\"a\":1.}",
                          "{\"a\":.5}",
                          "{\"a\":-}",
                          "{\"a\":+1}",
                          "{\"a\":1e}",
                          "{\"a\":0x10}",
                          "{\"a\":\"x\" /* c */}",
                          "{\"a\":NaN}",
                          "{\"a\":\"\\x\"}",
                          "{\"a\":\"\\u12G4\"}",
                          "{\"a\":\"\\u123\"}",
                          "{\"a\":\"tab\there\"}",
                          "{\"a\":[1,]}",
                          "{\"a\":{\"b\"}}"}) {
    EXPECT_EQ(error_of(bad), "Invalid message format: not valid JSON") << bad;
  }
}

TEST(EnvelopeParse, NotAnObject) {
  for (const char *bad : {"[]", "[{\"type\":\"send_message\",\"content\":\"x\"}]",
                          "\"send_message\"", "5", "null", "true"}) {
    EXPECT_EQ(error_of(bad), "Invalid message format: expected a JSON object") << bad;
  }
}

TEST(EnvelopeParse, ByteOrderMarkIsAcceptedLikeNlohmann) {
  const client_command c = parse_checked("\xEF\xBB\xBF{\"type\":\"disconnect_external\"}");
  EXPECT_EQ(c.kind, command_kind::disconnect_external);
}

TEST(EnvelopeParse, Escapes) {
  const std::string frame =
      R"({"type":"send_message","content":"q\" b\\ s\/ \b\f\n\r\t A\u0041 \u00e9\u20AC \ud83d\ude00 nul\u0000."})";
  EXPECT_TRUE(taken_by_scanner(frame));
  const client_command c = parse_checked(frame);
  EXPECT_EQ(c.content,
            "q\" b\\ s/ \b\f\n\r\t AA \xC3\xA9\xE2\x82\xAC \xF0\x9F\x98\x80 nul"s + '\0' + ".");
  // Raw UTF-8 passes through untouched.
  EXPECT_EQ(
      parse_checked("{\"type\":\"send_message\",\"content\":\"\xC3\xA9\xF0\x9F\x98\x80\x7F\"}")
          .content,
      "\xC3\xA9\xF0\x9F\x98\x80\x7F");
}

TEST(EnvelopeParse, EscapedKeysAreMatched) {
  const client_command c =
      parse_checked(R"({"\u0074ype":"send_message","cont\u0065nt":"x","\/":1})");
  EXPECT_EQ(c.kind, command_kind::send_message);
  EXPECT_EQ(c.content, "x");
}

TEST(EnvelopeParse, LoneSurrogatesAreInvalid) {
  for (const char *bad :
       {R"("\ud800")", R"("\udc00")", R"("\ud800x")", R"("\ud800\u0041")", R"("\ud800\ud800")",
        R"("\ude00\ud83d")", R"("\uDBFF\")", R"("\ud83d\")"}) {
    EXPECT_EQ(error_of(R"({"type":"send_message","content":)"s + bad + "}"),
              "Invalid message format: not valid JSON")
        << bad;
  }
  EXPECT_EQ(parse_checked(R"({"type":"send_message","content":"\uDBFF\uDFFF"})").content,
            "\xF4\x8F\xBF\xBF");
}

TEST(EnvelopeParse, InvalidUtf8IsRejected) {
  for (const std::string &bad :
       {"\xFF"s, "\xC0\xAF"s, "\xC1\xBF"s, "\xE0\x80\xAF"s, "\xED\xA0\x80"s, "\xF0\x80\x80\xAF"s,
        "\xF4\x90\x80\x80"s, "\xF5\x80\x80\x80"s, "\x80"s, "\xC3"s, "\xE2\x82"s, "\xF0\x9F\x98"s,
        "a\xC3("s}) {
    EXPECT_EQ(error_of("{\"type\":\"send_message\",\"content\":\"" + bad + "\"}"),
              "Invalid message format: not valid JSON");
    EXPECT_EQ(error_of("{\"type\":\"send_message\",\"content\":\"x\",\"" + bad + "\":1}"),
              "Invalid message format: not valid JSON");
  }
}

TEST(EnvelopeParse, DeepNestingIsRefusedWithoutRecursing) {
  EXPECT_EQ(error_of(std::string(100'000, '[')),
            "Invalid message format: nesting deeper than 64 levels");
  std::string objects;
  for (int i = 0; i < 100'000; ++i)
    objects += "{\"a\":";
  EXPECT_EQ(error_of(objects), "Invalid message format: nesting deeper than 64 levels");

  auto nested = [](int levels) { // the top-level object is level 1
    return R"({"type":"send_message","content":"x","deep":)" + std::string(levels - 1, '[') +
           std::string(levels - 1, ']') + "}";
  };
  EXPECT_EQ(parse_checked(nested(64)).kind, command_kind::send_message);
  EXPECT_EQ(error_of(nested(65)), "Invalid message format: nesting deeper than 64 levels");
  // Brackets inside strings are text.
  EXPECT_EQ(parse_checked(R"({"type":"send_message","content":")" + std::string(1000, '[') + "\"}")
                .content.size(),
            1000u);
}

TEST(EnvelopeParse, TenThousandKeys) {
  std::string flat = "{";
  for (int i = 0; i < 10'000; ++i)
    flat += "\"k" + std::to_string(i) + "\":" + (i % 2 ? "\"v\"," : "1,");
  const std::string tail = R"("type":"send_message","content":"end"})";
  EXPECT_TRUE(taken_by_scanner(flat + tail));
  EXPECT_EQ(parse_checked(flat + tail).content, "end");
  const std::string nested = flat + R"("n":[1],)" + tail; // through nlohmann
  EXPECT_EQ(parse_checked(nested).content, "end");
}

TEST(EnvelopeParse, HugeNumbers) {
  const std::string head = R"({"type":"send_message","content":"x","n":)";
  // Finite as a double: accepted (and ignored).
  for (const std::string &ok :
       {"123456789012345678901234567890"s, std::string(300, '9'), std::string(308, '9'),
        "-" + std::string(308, '9'), "1e308"s, "0."s + std::string(500, '0') + "1", "1e-400"s,
        "18446744073709551616"s, "-9223372036854775809"s}) {
    EXPECT_EQ(parse_checked(head + ok + "}").kind, command_kind::send_message) << ok;
  }
  // nlohmann refuses numbers that overflow a double.
  for (const std::string &bad :
       {"1e400"s, "-1E309"s, std::string(309, '9'), "1" + std::string(400, '0') + ".5"}) {
    EXPECT_EQ(error_of(head + bad + "}"), "Invalid message format: not valid JSON") << bad;
  }
}

TEST(EnvelopeParse, LargeContent) {
  const std::string payload(1 << 20, 'z');
  EXPECT_EQ(parse_checked(R"({"type":"send_message","content":")" + payload + "\"}").content,
            payload);
}

TEST(EnvelopeParse, ResetKeepsBuffersAndSteadyStateReusesThem) {
  client_command c;
  const std::string request_id = "0f8fad5b-d9cb-469f-a165-70867728950e"; // beyond SSO
  const std::string connection_id = "upstream-connection-0001-beyond-sso";
  auto frame = [&](const std::string &content) {
    return R"({"type":"send_message","content":")" + content + R"(","connection_id":")" +
           connection_id + R"(","request_id":")" + request_id + "\"}";
  };
  ASSERT_TRUE(parse_client_command(frame(std::string(500, 'a')), c));
  const char *content_buffer = c.content.data();
  const std::size_t content_capacity = c.content.capacity();
  const char *request_buffer = c.request_id->data();
  const char *connection_buffer = c.connection_id->data();

  c.reset();
  EXPECT_EQ(c.kind, command_kind::invalid);
  EXPECT_TRUE(c.content.empty());
  EXPECT_EQ(c.content.capacity(), content_capacity);
  EXPECT_FALSE(c.request_id);
  EXPECT_FALSE(c.connection_id);

  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(parse_client_command(frame(std::string(100 + i, 'b')), c));
    EXPECT_EQ(c.content.data(), content_buffer);
    EXPECT_EQ(c.request_id->data(), request_buffer);
    EXPECT_EQ(c.connection_id->data(), connection_buffer);
    EXPECT_EQ(*c.request_id, request_id);
  }
  // An error in between does not lose them either.
  EXPECT_FALSE(parse_client_command(R"({"type":"send_message"})", c));
  ASSERT_TRUE(parse_client_command(frame("c"), c));
  EXPECT_EQ(c.content.data(), content_buffer);
  EXPECT_EQ(c.request_id->data(), request_buffer);
  EXPECT_EQ(c.connection_id->data(), connection_buffer);
}

TEST(EnvelopeParse, ResultDoesNotLeakFromThePreviousParse) {
  client_command c;
  ASSERT_TRUE(parse_client_command(
      R"({"type":"connect_external","url":"ws://a","protocols":["p"],"headers":{"h":"v"},"tls_verify":true,"connection_id":"c","request_id":"r"})",
      c));
  ASSERT_TRUE(parse_client_command(R"({"type":"send_message","content":"x"})", c));
  EXPECT_EQ(describe(c), describe(parse(R"({"type":"send_message","content":"x"})")));
}

// ---------------------------------------------------------------------------------------------
// The two parsers agree on random envelopes.

class envelope_generator {
public:
  explicit envelope_generator(std::uint32_t seed) : rng_(seed) {}

  std::string envelope() {
    std::vector<std::string> keys;
    const int members = pick(0, 7);
    for (int i = 0; i < members; ++i)
      keys.push_back(key());
    if (chance(60)) { // make a plausible command likely: a type and its required field
      keys.insert(keys.begin() + pick(0, static_cast<int>(keys.size())), "type");
      keys.insert(keys.begin() + pick(0, static_cast<int>(keys.size())),
                  chance(50) ? "content" : "url");
    }
    std::string text = ws() + "{" + ws();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i > 0)
        text += "," + ws();
      text += "\"" + keys[i] + "\"" + ws() + ":" + ws() + value_for(keys[i]) + ws();
    }
    text += "}" + ws();
    corrupt(text);
    return text;
  }

private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return pick(1, 100) <= percent; }

  std::string ws() {
    static const char *const choices[] = {"", "", "", " ", "\n", "\t ", "\r\n  "};
    return choices[pick(0, 6)];
  }

  std::string key() {
    static const char *const keys[] = {
        "type",      "type",       "content",       "content",    "message_type",  "url",
        "protocols", "headers",    "tls_verify",    "request_id", "connection_id", "seq",
        "x",         "\\u0074ype", "cont\\u0065nt", "",           "typ",           "\xC3\xA9"};
    return keys[pick(0, static_cast<int>(std::size(keys)) - 1)];
  }

  std::string string_body() {
    static const char *const pieces[] = {"a",
                                         "Z",
                                         " ",
                                         "send_message",
                                         "connect_external",
                                         "disconnect_external",
                                         "text",
                                         "binary",
                                         "\\\"",
                                         "\\\\",
                                         "\\/",
                                         "\\n",
                                         "\\t",
                                         "\\b\\f\\r",
                                         "\\u0041",
                                         "\\u00e9",
                                         "\\uD83D\\uDE00",
                                         "\\u0000",
                                         "\xC3\xA9",
                                         "\xE2\x82\xAC",
                                         "\xF0\x9F\x98\x80",
                                         "\x7F",
                                         "[{",
                                         "ws://host/path"};
    static const char *const broken[] = {"\x01",     "\xFF", "\xC3",         "\\uD800",
                                         "\\uDC00x", "\\x",  "\xED\xA0\x80", "\\u12"};
    std::string body;
    const int count = pick(0, 5);
    for (int i = 0; i < count; ++i) {
      if (chance(2))
        body += broken[pick(0, static_cast<int>(std::size(broken)) - 1)];
      else
        body += pieces[pick(0, static_cast<int>(std::size(pieces)) - 1)];
    }
    return body;
  }

  // Mostly what the field wants, so that many envelopes are valid commands.
  std::string value_for(const std::string &name) {
    if (!chance(80))
      return value(0);
    if (name == "type") {
      static const char *const types[] = {"send_message", "send_message", "connect_external",
                                          "disconnect_external", "bogus"};
      return "\"" + std::string(types[pick(0, 4)]) + "\"";
    }
    if (name == "message_type")
      return chance(50) ? "\"text\"" : "\"binary\"";
    if (name == "tls_verify")
      return chance(50) ? "true" : "false";
    if (name == "protocols" || name == "headers") {
      const bool object = name == "headers";
      std::string list = object ? "{" : "[";
      const int count = pick(0, 3);
      for (int i = 0; i < count; ++i) {
        list += i ? "," : "";
        if (object)
          list += "\"" + string_body() + "\":";
        list += "\"" + string_body() + "\"";
      }
      return list + (object ? "}" : "]");
    }
    return "\"" + string_body() + "\"";
  }

  std::string value(int depth) {
    static const char *const numbers[] = {"0",
                                          "-0",
                                          "12",
                                          "3.25",
                                          "-7.5e3",
                                          "1e400",
                                          "01",
                                          "1.",
                                          "-",
                                          "1E-2",
                                          "123456789012345678901234567890",
                                          "2.0",
                                          "-12.50",
                                          "9e99"};
    switch (pick(0, 13)) {
    case 0:
      return "true";
    case 1:
      return "false";
    case 2:
      return "null";
    case 3:
      return numbers[pick(0, static_cast<int>(std::size(numbers)) - 1)];
    case 4:
    case 5:
      if (depth < 4) {
        std::string array = "[" + ws();
        const int count = pick(0, 3);
        for (int i = 0; i < count; ++i)
          array += (i ? "," : "") + value(depth + 1) + ws();
        return array + "]";
      }
      return "[]";
    case 6:
      if (depth < 4) {
        std::string object = "{" + ws();
        const int count = pick(0, 3);
        for (int i = 0; i < count; ++i)
          object += std::string(i ? "," : "") + "\"" + string_body() + "\":" + value(depth + 1);
        return object + "}";
      }
      return "{}";
    default:
      return "\"" + string_body() + "\"";
    }
  }

  void corrupt(std::string &text) {
    if (text.empty() || !chance(10))
      return;
    const auto at = static_cast<std::size_t>(pick(0, static_cast<int>(text.size()) - 1));
    switch (pick(0, 3)) {
    case 0:
      text.resize(at);
      break;
    case 1:
      text.insert(at, 1, "{}[],:\"\\ x0"[pick(0, 10)]);
      break;
    case 2:
      text.erase(at, 1);
      break;
    default:
      text[at] = static_cast<char>(pick(0, 255));
      break;
    }
  }

  std::mt19937 rng_;
};

TEST(EnvelopeParse, ScannerAndNlohmannAgreeOnRandomEnvelopes) {
  envelope_generator generator(20250101);
  int scanned = 0;
  int valid = 0;
  constexpr int rounds = 40'000;
  for (int i = 0; i < rounds; ++i) {
    const std::string frame = generator.envelope();
    client_command fast;
    const bool ok = parse_client_command(frame, fast);
    client_command reference;
    const bool reference_ok = detail::parse_command_reference(frame, reference);
    ASSERT_EQ(ok, reference_ok) << frame;
    ASSERT_EQ(describe(fast), describe(reference)) << frame;

    client_command scan_only;
    if (detail::scan_flat_command(frame, scan_only) == detail::scan_result::parsed) {
      ++scanned;
      ASSERT_EQ(describe(scan_only), describe(reference)) << frame;
    }
    valid += ok ? 1 : 0;

    // The nlohmann path's idea of valid JSON is nlohmann's own.
    const bool is_json = json::accept(frame);
    ASSERT_EQ(is_json, reference.error != "Invalid message format: not valid JSON") << frame;
    if (ok) {
      const json dom = json::parse(frame);
      if (fast.kind == command_kind::send_message) {
        ASSERT_EQ(dom.at("content").get<std::string>(), fast.content) << frame;
      }
      if (fast.request_id) {
        ASSERT_EQ(dom.at("request_id").get<std::string>(), *fast.request_id) << frame;
      }
      if (fast.kind == command_kind::connect_external) {
        ASSERT_EQ(dom.at("url").get<std::string>(), fast.url) << frame;
        if (dom.contains("headers") && dom["headers"].is_object()) {
          ASSERT_EQ(dom["headers"].size(), fast.headers.size()) << frame;
          for (const auto &[name, header_value] : fast.headers)
            ASSERT_EQ(dom["headers"].at(name).get<std::string>(), header_value) << frame;
        }
      }
    }
  }
  RecordProperty("scanned", scanned);
  RecordProperty("valid", valid);
  // The generator must actually reach both paths and produce commands.
  EXPECT_GT(scanned, rounds / 10);
  EXPECT_GT(valid, rounds / 10);
  EXPECT_LT(scanned, rounds);
}

// ---------------------------------------------------------------------------------------------
// Encoding

constexpr std::int64_t new_year_noon = 1735732800000; // 2025-01-01T12:00:00.000Z

json parse_event(const std::string &text) {
  EXPECT_TRUE(json::accept(text)) << text;
  return json::parse(text);
}

TEST(EnvelopeEncode, MessageReceivedText) {
  std::string out;
  encode_message_received(out, "hello \"world\"", false, {"c1", "ignored"}, new_year_noon);
  EXPECT_EQ(out, R"({"type":"message_received","content":"hello \"world\"","message_type":"text",)"
                 R"("connection_id":"c1","timestamp":"2025-01-01T12:00:00.000Z"})");
  out.clear();
  encode_message_received(out, "", false, {}, new_year_noon);
  EXPECT_EQ(out, R"({"type":"message_received","content":"","message_type":"text",)"
                 R"("timestamp":"2025-01-01T12:00:00.000Z"})");
}

TEST(EnvelopeEncode, MessageReceivedBinaryIsBase64) {
  std::string out = "prefix:";
  const std::string payload("\x00\xFF\x10 binary"s);
  encode_message_received(out, payload, true, {}, new_year_noon + 5);
  const std::string event = out.substr(7); // appends, never clears
  EXPECT_EQ(out.substr(0, 7), "prefix:");
  const json j = parse_event(event);
  EXPECT_EQ(j["type"], "message_received");
  EXPECT_EQ(j["message_type"], "binary");
  EXPECT_EQ(j["timestamp"], "2025-01-01T12:00:00.005Z");
  std::string decoded;
  ASSERT_TRUE(decode_base64(j["content"].get<std::string>(), decoded));
  EXPECT_EQ(decoded, payload);
}

TEST(EnvelopeEncode, MessageSent) {
  std::string out;
  encode_message_sent(out, "hi", false, {"c", "r"}, new_year_noon);
  EXPECT_EQ(out, R"({"type":"message_sent","content":"hi","message_type":"text",)"
                 R"("connection_id":"c","request_id":"r","timestamp":"2025-01-01T12:00:00.000Z"})");
  out.clear();
  encode_message_sent(out, "AAEC", true, {"", "r"}, new_year_noon);
  EXPECT_EQ(out, R"({"type":"message_sent","content":"AAEC","message_type":"binary",)"
                 R"("request_id":"r","timestamp":"2025-01-01T12:00:00.000Z"})");
}

TEST(EnvelopeEncode, ConnectionStatus) {
  std::string out;
  encode_connection_status(out, "connected", {"wss://x/y", "chat", 0, ""}, {"c", "r"},
                           new_year_noon);
  EXPECT_EQ(out, R"({"type":"connection_status","status":"connected","url":"wss://x/y",)"
                 R"("subprotocol":"chat","connection_id":"c","request_id":"r",)"
                 R"("timestamp":"2025-01-01T12:00:00.000Z"})");
  out.clear();
  encode_connection_status(out, "disconnected", {"", "", 1001, "going away"}, {}, new_year_noon);
  EXPECT_EQ(out, R"({"type":"connection_status","status":"disconnected","close_code":1001,)"
                 R"("close_reason":"going away","timestamp":"2025-01-01T12:00:00.000Z"})");
  out.clear();
  encode_connection_status(out, "connecting", {}, {}, new_year_noon);
  EXPECT_EQ(out, R"({"type":"connection_status","status":"connecting",)"
                 R"("timestamp":"2025-01-01T12:00:00.000Z"})");
}

TEST(EnvelopeEncode, ErrorEvents) {
  std::string out;
  encode_connection_error(out, "Connection refused", "CONNECT_FAILED", 0, {"c", ""}, new_year_noon);
  EXPECT_EQ(
      out,
      R"({"type":"connection_error","error":"Connection refused",)"
      R"("code":"CONNECT_FAILED","connection_id":"c","timestamp":"2025-01-01T12:00:00.000Z"})");
  out.clear();
  encode_connection_error(out, "Authentication failed", "AUTH_FAILED", 401, {"", "r"},
                          new_year_noon);
  EXPECT_EQ(out, R"({"type":"connection_error","error":"Authentication failed",)"
                 R"("code":"AUTH_FAILED","http_status":401,"request_id":"r",)"
                 R"("timestamp":"2025-01-01T12:00:00.000Z"})");
  out.clear();
  encode_send_error(out, "Failed to send message", "NOT_CONNECTED", {"c", "r"}, new_year_noon);
  EXPECT_EQ(out, R"({"type":"send_error","error":"Failed to send message","code":"NOT_CONNECTED",)"
                 R"("connection_id":"c","request_id":"r","timestamp":"2025-01-01T12:00:00.000Z"})");
  out.clear();
  encode_error(out, "Invalid message format: unknown type 'x'", "INVALID_FORMAT", {"c", "r"},
               new_year_noon);
  EXPECT_EQ(out, R"({"type":"error","error":"Invalid message format: unknown type 'x'",)"
                 R"("code":"INVALID_FORMAT","connection_id":"c","request_id":"r",)"
                 R"("timestamp":"2025-01-01T12:00:00.000Z"})");
}

TEST(EnvelopeEncode, EscapesControlCharactersQuotesAndBackslashes) {
  std::string out;
  append_json_string(out, "\"\\/\b\f\n\r\t\x01\x1F\x7F"s + '\0' + "end");
  EXPECT_EQ(out, R"("\"\\/\b\f\n\r\t\u0001\u001f)"s + "\x7F" + R"(\u0000end")");
  EXPECT_EQ(parse_event(out).get<std::string>(), "\"\\/\b\f\n\r\t\x01\x1F\x7F"s + '\0' + "end");
}

TEST(EnvelopeEncode, EveryByteValueRoundTripsOrIsReplaced) {
  for (int b = 0; b < 256; ++b) {
    const std::string input(1, static_cast<char>(b));
    std::string out;
    append_json_string(out, input);
    const std::string back = parse_event(out).get<std::string>();
    if (b < 0x80)
      EXPECT_EQ(back, input) << b;
    else
      EXPECT_EQ(back, "\xEF\xBF\xBD") << b; // a lone byte >= 0x80 is never valid UTF-8
  }
}

TEST(EnvelopeEncode, ValidUtf8IsCopiedExactly) {
  const std::string text =
      "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF \xEF\xBF\xBF "
      "\xE0\xA0\x80 \xED\x9F\xBF \xEE\x80\x80 \xF0\x90\x80\x80";
  std::string out;
  append_json_string(out, text);
  EXPECT_EQ(out, "\"" + text + "\"");
}

TEST(EnvelopeEncode, InvalidUtf8BecomesReplacementCharacters) {
  const std::string fffd = "\xEF\xBF\xBD";
  struct sample {
    std::string input;
    std::string expected;
  };
  const sample samples[] = {
      {"a\xFF"
       "b",
       "a" + fffd + "b"},
      {"\xC0\x80", fffd + fffd}, // overlong NUL: two bytes, two marks
      {"\xE2\x82", fffd},        // truncated: one mark for the prefix
      {"\xE2\x82(", fffd + "("},
      {"\xED\xA0\x80", fffd + fffd + fffd},            // encoded surrogate
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd}, // above U+10FFFF
      {"\xF0\x9F\x98", fffd},
      {"\xF0\x9F\x98\xC3\xA9", fffd + "\xC3\xA9"},
      {"\x80\x80", fffd + fffd},
  };
  for (const sample &s : samples) {
    std::string out;
    append_json_string(out, s.input);
    EXPECT_EQ(out, "\"" + s.expected + "\"") << s.input;
    EXPECT_EQ(parse_event(out).get<std::string>(), s.expected);
  }
}

TEST(EnvelopeEncode, RandomPayloadsAlwaysGiveValidJson) {
  static const char *const valid_pieces[] = {
      "a", " ", "\"", "\\", "\n", "\x01", "\x7F", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
  std::mt19937 rng(7);
  int valid_payloads = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string payload;
    const std::size_t pieces = rng() % 40;
    for (std::size_t k = 0; k < pieces; ++k) {
      if (i % 2 == 0)
        payload += valid_pieces[rng() % std::size(valid_pieces)];
      else
        payload += static_cast<char>(rng() % 4 == 0 ? rng() % 256 : 0x20 + rng() % 0x60);
    }
    std::string out;
    encode_message_received(out, payload, false, {"c", "r"}, new_year_noon);
    ASSERT_TRUE(json::accept(out)) << payload;
    const std::string content = json::parse(out)["content"].get<std::string>();
    bool valid_utf8 = true;
    try {
      (void)json(payload).dump(); // nlohmann's own UTF-8 check
    } catch (const json::type_error &) {
      valid_utf8 = false;
    }
    if (valid_utf8) {
      ++valid_payloads;
      ASSERT_EQ(content, payload);
    }
    out.clear();
    encode_message_received(out, payload, true, {}, new_year_noon);
    std::string decoded;
    ASSERT_TRUE(decode_base64(json::parse(out)["content"].get<std::string>(), decoded));
    ASSERT_EQ(decoded, payload);
  }
  EXPECT_GT(valid_payloads, 1500);
}

// The encoder works in 512-byte chunks: characters and escapes across the seams stay whole.
TEST(EnvelopeEncode, ChunkSeamsSplitNothing) {
  const std::string fffd = "\xEF\xBF\xBD";
  for (std::size_t lead = 4080; lead <= 4100; ++lead) {
    for (const std::string &piece :
         {"\xE2\x82\xAC"s, "\xF0\x9F\x98\x80"s, "\n\x01\""s, "\xC3\xA9"s}) {
      const std::string payload = std::string(lead, 'a') + piece + std::string(lead % 13, 'z');
      std::string out;
      append_json_string(out, payload);
      ASSERT_EQ(out, json(payload).dump()) << lead; // byte for byte what nlohmann writes
    }
    const std::string broken = std::string(lead, 'a') + "\xF0\x9F\x98" + "b";
    std::string out;
    append_json_string(out, broken);
    ASSERT_EQ(parse_event(out).get<std::string>(), std::string(lead, 'a') + fffd + "b") << lead;
  }
  const std::string controls(10'000, '\x01'); // the worst expansion, over several chunks
  std::string out;
  append_json_string(out, controls);
  EXPECT_EQ(out.size(), controls.size() * 6 + 2);
  EXPECT_EQ(parse_event(out).get<std::string>(), controls);
}

// Inside a plain run the encoder and the scanner step 64 bytes at a time: a quote, control
// character, backslash or non-ASCII byte at any place of such a block, after a run of any length
// and in any chunk, is still found and handled exactly as nlohmann does.
TEST(EnvelopeEncode, SpecialBytesAnywhereInLongPlainRunsAreFound) {
  for (const std::string &special : {"\""s, "\\"s, "\n"s, "\x1f"s, "\xC3\xA9"s, "\xE2\x82\xAC"s}) {
    for (std::size_t run = 0; run < 300; ++run) {
      for (const std::size_t lead : {std::size_t{0}, std::size_t{500}}) { // near a chunk seam too
        std::string content(lead + run, 'a');
        for (std::size_t i = 0; i < content.size(); ++i)
          content[i] = static_cast<char>('a' + (i * 7) % 26);
        content += special;
        content += std::string(70, 'z');
        std::string out;
        append_json_string(out, content);
        ASSERT_EQ(out, json(content).dump()) << "run " << run << " lead " << lead;

        client_command cmd;
        const std::string envelope = R"({"type":"send_message","content":)" + out + "}";
        ASSERT_TRUE(parse_client_command(envelope, cmd)) << cmd.error;
        ASSERT_EQ(cmd.content, content) << "run " << run << " lead " << lead;
      }
    }
  }
}

TEST(EnvelopeEncode, LongTextPayloadRoundTrips) {
  std::string payload;
  for (int i = 0; i < 16 * 1024; ++i)
    payload += static_cast<char>(i % 7 == 0 ? '\n' : 'a' + i % 26);
  payload += "\xE2\x82\xAC";
  std::string out;
  encode_message_received(out, payload, false, {}, new_year_noon);
  EXPECT_EQ(parse_event(out)["content"].get<std::string>(), payload);
}

// ---------------------------------------------------------------------------------------------
// base64

TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto &[plain, encoded] : vectors) {
    std::string out = "x";
    append_base64(out, plain);
    EXPECT_EQ(out, "x" + encoded);
    std::string decoded = "stale";
    ASSERT_TRUE(decode_base64(encoded, decoded)) << encoded;
    EXPECT_EQ(decoded, plain);
  }
  std::string out;
  append_base64(out, "\xFB\xFF\xBF"s);
  EXPECT_EQ(out, "+/+/");
}

TEST(Base64, RoundTripsEveryByteAndRandomData) {
  std::string all;
  for (int b = 0; b < 256; ++b)
    all += static_cast<char>(b);
  std::mt19937 rng(42);
  for (int i = 0; i < 500; ++i) {
    std::string data = i == 0 ? all : std::string(rng() % 100, '\0');
    if (i != 0)
      for (char &c : data)
        c = static_cast<char>(rng());
    std::string encoded;
    append_base64(encoded, data);
    EXPECT_EQ(encoded.size() % 4, 0u);
    std::string decoded;
    ASSERT_TRUE(decode_base64(encoded, decoded));
    ASSERT_EQ(decoded, data);
  }
}

TEST(Base64, RejectsInvalidInput) {
  for (const std::string &bad :
       {"Zg"s,           "Zg="s,    "Z"s,     "Z==="s,    "===="s, "=Zg="s,     "Zg==Zg=="s,
        "Zm9v YmFy"s,    "Zm9v\n"s, " Zm9v"s, "Zm9vYmF"s, "Zm-v"s, "Zm_v"s,     "Zm9\x80"s,
        "Zm9v\0\0\0\0"s, "Zh=="s,   "Zm9="s,  "Zg=a"s,    "Z=g="s, "Zm9vYg=a"s, "Zm9vY==="s}) {
    std::string out = "stale";
    EXPECT_FALSE(decode_base64(bad, out)) << bad;
    EXPECT_TRUE(out.empty()) << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// Timestamps

TEST(Timestamp, KnownValues) {
  EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(1735732800000), "2025-01-01T12:00:00.000Z");
  EXPECT_EQ(format_timestamp(951782400000), "2000-02-29T00:00:00.000Z"); // 400-year leap
  EXPECT_EQ(format_timestamp(1709164800000), "2024-02-29T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(4107456000000), "2100-02-28T00:00:00.000Z"); // not a leap year
  EXPECT_EQ(format_timestamp(4107542400000), "2100-03-01T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(-2203891200000), "1900-03-01T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(1234567890123), "2009-02-13T23:31:30.123Z");
  EXPECT_EQ(format_timestamp(946684799999), "1999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_timestamp(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_timestamp(253402300799999), "9999-12-31T23:59:59.999Z");
}

TEST(Timestamp, ClampsToFourDigitYears) {
  EXPECT_EQ(format_timestamp(std::numeric_limits<std::int64_t>::max()), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_timestamp(std::numeric_limits<std::int64_t>::min()), "0000-01-01T00:00:00.000Z");
}

TEST(Timestamp, CacheFollowsTheSecond) {
  EXPECT_EQ(format_timestamp(1735732800999), "2025-01-01T12:00:00.999Z");
  EXPECT_EQ(format_timestamp(1735732801000), "2025-01-01T12:00:01.000Z");
  EXPECT_EQ(format_timestamp(1735732800001), "2025-01-01T12:00:00.001Z"); // back again
  std::string out = "t=";
  append_timestamp(out, 1735732801002);
  EXPECT_EQ(out, "t=2025-01-01T12:00:01.002Z");
}

TEST(Timestamp, AgreesWithGmtime) {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 5000; ++i) {
    const auto ms = static_cast<std::int64_t>(rng() % 8'000'000'000'000ULL) - 1'000'000'000'000;
    const std::int64_t seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    ASSERT_NE(gmtime_r(&t, &tm), nullptr);
    char expected[96];
    std::snprintf(expected, sizeof expected, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms - seconds * 1000));
    ASSERT_EQ(format_timestamp(ms), expected) << ms;
  }
}

// ---------------------------------------------------------------------------------------------
// The fuzz corpora are replayed here, so every input that once broke the codec stays covered.

#ifdef APISTUDIO_SOURCE_DIR
void replay_corpus(const char *name, std::string (*check)(std::string_view)) {
  namespace fs = std::filesystem;
  const fs::path corpus = fs::path(APISTUDIO_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / name;
  ASSERT_TRUE(fs::is_directory(corpus)) << corpus;
  int files = 0;
  for (const auto &entry : fs::directory_iterator(corpus)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(check(bytes), "") << entry.path();
    ++files;
  }
  EXPECT_GE(files, 10);
}

TEST(EnvelopeFuzzCorpus, EnvelopeInputsKeepTheirProperties) {
  replay_corpus("envelope", fuzz::check_envelope);
}

TEST(EnvelopeFuzzCorpus, EncoderInputsKeepTheirProperties) {
  replay_corpus("encoder", fuzz::check_encoder);
}
#endif

} // namespace
} // namespace apistudio
