// Unit tests of the SDK's settings helpers (sdk/include/apistudio/settings.hpp): the messages keep
// the "<plugin>: <key.path>: <problem>" form and never a value, and every refusal carries the
// RFC 6901 pointer of the key, from which the host finds the key's own line in the YAML file.
#include <apistudio/settings.hpp>

#include <gtest/gtest.h>

#include <array>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace cfg = apistudio::sdk::settings;
using apistudio::sdk::settings_error;

namespace {

using refusal = std::pair<std::string, std::string>; // what(), pointer()

template <class F> refusal refusal_of(F &&f) {
  try {
    f();
  } catch (const settings_error &e) {
    return {e.what(), e.pointer()};
  }
  return {"accepted", ""};
}

constexpr cfg::setting_spec table[] = {
    {"limit", "integer", "`10`", "How many."},
    {"a/b~c", "string", "none", "A key that needs escaping."},
};

TEST(SdkSettings, SettingsErrorCarriesItsPointerThroughCopies) {
  const settings_error plain("p: x: bad");
  EXPECT_STREQ(plain.what(), "p: x: bad");
  EXPECT_EQ(plain.pointer(), "");
  const settings_error located("p: x: bad", "/x");
  const settings_error copy = located; // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(copy.pointer(), "/x");
  EXPECT_STREQ(copy.what(), "p: x: bad");
}

TEST(SdkSettings, PointerTokensEscapeTildeThenSlash) {
  EXPECT_EQ(cfg::pointer_token("plain"), "plain");
  EXPECT_EQ(cfg::pointer_token("a/b"), "a~1b");
  EXPECT_EQ(cfg::pointer_token("m~n"), "m~0n");
  EXPECT_EQ(cfg::pointer_token("~1"), "~01"); // not "~1": a literal "~1" must stay two characters
  EXPECT_EQ(cfg::pointer_token(""), "");
}

TEST(SdkSettings, KeyPathsSayTheSamePlaceInWordsAndAsAPointer) {
  const cfg::key_path root;
  EXPECT_EQ(root.words(), "settings");
  EXPECT_EQ(root.pointer(), "");
  const auto header = root.key("rules").index(2).key("set").key("X/Y");
  EXPECT_EQ(header.words(), "rules[2].set.X/Y");
  EXPECT_EQ(header.pointer(), "/rules/2/set/X~1Y");
  const auto labelled = root.key("rules").index(0).labelled("rules[0] (github)");
  EXPECT_EQ(labelled.words(), "rules[0] (github)");
  EXPECT_EQ(labelled.pointer(), "/rules/0");
  EXPECT_EQ(labelled.key("match").words(), "rules[0] (github).match");
  EXPECT_EQ(labelled.key("match").pointer(), "/rules/0/match");
  const cfg::key_path made("tokens entry 1", "/tokens/0");
  EXPECT_EQ(made.key("user_id").words(), "tokens entry 1.user_id");
}

TEST(SdkSettings, FailFormatsTheMessageAndKeepsThePointer) {
  const auto where = cfg::key_path().key("limits").index(1);
  EXPECT_EQ(refusal_of([&] { cfg::fail("p", where, "is wrong"); }),
            refusal("p: limits[1]: is wrong", "/limits/1"));
}

TEST(SdkSettings, ParseSettingsTakesEmptyAndNullAsNoSettings) {
  EXPECT_EQ(cfg::parse_settings("p", "", table), cfg::json::object());
  EXPECT_EQ(cfg::parse_settings("p", " \n", table), cfg::json::object());
  EXPECT_EQ(cfg::parse_settings("p", "null", table), cfg::json::object());
  const auto s = cfg::parse_settings("p", R"({"limit": 3, "a/b~c": "x"})", table);
  EXPECT_EQ(s["limit"], 3);
  EXPECT_EQ(s.begin().key(), "limit"); // ordered as written
}

TEST(SdkSettings, ParseSettingsRefusalsPointAtTheBlockOrTheUnknownKey) {
  EXPECT_EQ(refusal_of([] { cfg::parse_settings("p", "{", table); }),
            refusal("p: settings: not valid JSON", ""));
  EXPECT_EQ(refusal_of([] { cfg::parse_settings("p", "[1]", table); }),
            refusal("p: settings: must be a mapping, got an array", ""));
  EXPECT_EQ(refusal_of([] { cfg::parse_settings("p", R"({"limit":1,"x/y":2})", table); }),
            refusal("p: x/y: unknown setting (known: limit, a/b~c)", "/x~1y"));
}

TEST(SdkSettings, ReadersPointAtTheValueTheyRead) {
  const auto at = cfg::key_path().key("outer").key("inner");
  EXPECT_EQ(cfg::read_string("p", at, cfg::json("s")), "s");
  EXPECT_EQ(refusal_of([&] { cfg::read_string("p", at, cfg::json(1)); }),
            refusal("p: outer.inner: must be a string, got an integer", "/outer/inner"));
  EXPECT_TRUE(cfg::read_bool("p", at, cfg::json(true)));
  EXPECT_FALSE(cfg::read_bool("p", at, cfg::json("false")));
  EXPECT_EQ(refusal_of([&] { cfg::read_bool("p", at, cfg::json("yes")); }),
            refusal("p: outer.inner: must be true or false, got a string", "/outer/inner"));
  EXPECT_EQ(cfg::read_uint("p", at, cfg::json("42"), 1, 100), 42u);
  EXPECT_EQ(refusal_of([&] { cfg::read_uint("p", at, cfg::json(0), 1, 100); }),
            refusal("p: outer.inner: must be an integer from 1 to 100", "/outer/inner"));
  EXPECT_EQ(refusal_of([&] { cfg::require_object("p", at, cfg::json::array()); }),
            refusal("p: outer.inner: must be a mapping, got an array", "/outer/inner"));
  EXPECT_EQ(refusal_of([&] { cfg::require_array("p", at, cfg::json(nullptr)); }),
            refusal("p: outer.inner: must be a list, got null", "/outer/inner"));
}

TEST(SdkSettings, ValuesAreNeverQuoted) {
  const auto at = cfg::key_path().key("token");
  const auto r = refusal_of([&] { cfg::read_uint("p", at, cfg::json("hunter2-secret"), 1, 9); });
  EXPECT_EQ(r.first.find("hunter2"), std::string::npos) << r.first;
}

TEST(SdkSettings, CheckKeysPointsAtTheUnknownKey) {
  const auto at = cfg::key_path().key("rules").index(0);
  const cfg::json rule = {{"name", "x"}, {"sett", 1}};
  cfg::check_keys("p", at, cfg::json{{"name", "x"}}, {"name", "set"});
  EXPECT_EQ(refusal_of([&] {
              cfg::check_keys("p", at, rule, {"name", "set"});
            }),
            refusal("p: rules[0].sett: unknown key (known: name, set)", "/rules/0/sett"));
}

TEST(SdkSettings, TablesComeFromArraysVectorsAndSpans) {
  constexpr std::array<cfg::setting_spec, 1> array{{{"n", "t", "d", "e"}}};
  const std::vector<cfg::setting_spec> vector(std::begin(table), std::end(table));
  EXPECT_EQ(cfg::spec_table(table).size(), 2u);
  EXPECT_EQ(cfg::spec_table(array).size(), 1u);
  EXPECT_EQ(cfg::spec_table(vector).size(), 2u);
  EXPECT_EQ(cfg::spec_table(std::span<const cfg::setting_spec>(array)).size(), 1u);
  EXPECT_EQ(cfg::settings_markdown_table(array), "| Setting | Type | Default | Description |\n"
                                                 "|---|---|---|---|\n"
                                                 "| `n` | t | d | e |\n");
}

TEST(SdkSettings, TypeWords) {
  EXPECT_EQ(cfg::json_type_words(cfg::json(nullptr)), "null");
  EXPECT_EQ(cfg::json_type_words(cfg::json::object()), "an object");
  EXPECT_EQ(cfg::json_type_words(cfg::json(-1)), "an integer");
  EXPECT_EQ(cfg::json_type_words(cfg::json(1u)), "an integer");
  EXPECT_EQ(cfg::json_type_words(cfg::json(1.5)), "a number with a fraction");
  EXPECT_EQ(cfg::json_type_words(cfg::json(false)), "a boolean");
}

} // namespace
