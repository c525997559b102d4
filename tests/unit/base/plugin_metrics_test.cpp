// plugin_metrics: what a plugin may register (names, help, labels), the limits (metrics per
// plugin, label values per metric, then "other"), who may update what, and counts summed across
// threads.
#include "base/plugin_metrics.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using namespace apistudio;

namespace {

constexpr std::string_view owner_a = "p", owner_b = "q"; // plugin entries

std::int64_t value_of(const plugin_metrics &m, std::string_view family, std::string_view label) {
  for (const auto &f : m.collect())
    if (f.name == family)
      for (const auto &s : f.values)
        if (s.label_value == label)
          return s.value;
  return -1;
}

} // namespace

TEST(PluginMetrics, NamesHelpAndLabelsAreValidatedWithAReason) {
  EXPECT_EQ(plugin_metric_refusal("refusals_total", "Refusals.", "scope"), "");
  EXPECT_EQ(plugin_metric_refusal("_x", "h", ""), "");
  EXPECT_NE(plugin_metric_refusal("", "h", ""), "");
  EXPECT_NE(plugin_metric_refusal("9lives", "h", ""), "");
  EXPECT_NE(plugin_metric_refusal("with-dash", "h", ""), "");
  EXPECT_NE(plugin_metric_refusal("with:colon", "h", ""), "");
  EXPECT_NE(plugin_metric_refusal(std::string(65, 'a'), "h", ""), "");
  EXPECT_NE(plugin_metric_refusal("ok", "", ""), "");
  EXPECT_NE(plugin_metric_refusal("ok", "two\nlines", ""), "");
  EXPECT_NE(plugin_metric_refusal("ok", "back\\slash", ""), "");
  EXPECT_NE(plugin_metric_refusal("ok", std::string(513, 'h'), ""), "");
  EXPECT_NE(plugin_metric_refusal("ok", "h", "__reserved"), "");
  EXPECT_NE(plugin_metric_refusal("ok", "h", "le"), "");
  EXPECT_NE(plugin_metric_refusal("ok", "h", "bad label"), "");
  EXPECT_NE(plugin_metric_refusal("with-dash", "h", "").find("with-dash"), std::string::npos);
}

TEST(PluginMetrics, TheFamilyNameCarriesThePluginsConfiguredName) {
  EXPECT_EQ(plugin_metric_family_name("rate_limiter", "x_total"),
            "apistudio_plugin_rate_limiter_x_total");
  EXPECT_EQ(plugin_metric_family_name("edge-limiter.2", "x"), "apistudio_plugin_edge_limiter_2_x");
}

TEST(PluginMetrics, RefusesDuplicatesHostNamesBadKindsAndTooManyPerPlugin) {
  plugin_metrics m;
  std::string why;
  const auto a = m.register_metric("p", plugin_metric_kind::counter, "x_total", "h", "", why);
  EXPECT_NE(a, 0u);
  // The same entry again (a fresh instance after a reload): the same metric.
  EXPECT_EQ(m.register_metric("p", plugin_metric_kind::counter, "x_total", "h", "", why), a);
  EXPECT_EQ(m.register_metric("p", plugin_metric_kind::gauge, "x_total", "h", "", why), 0u);
  EXPECT_NE(why.find("another kind"), std::string::npos) << why;
  // Entry "p_x" with "total" would be the same family as entry "p" with "x_total".
  EXPECT_EQ(m.register_metric("p_x", plugin_metric_kind::counter, "total", "h", "", why), 0u);
  EXPECT_NE(why.find("by plugin 'p'"), std::string::npos) << why;
  EXPECT_EQ(m.register_metric("hook", plugin_metric_kind::counter, "calls_total", "h", "", why),
            0u);
  EXPECT_NE(why.find("host's own"), std::string::npos) << why;
  EXPECT_EQ(m.register_metric(owner_a, static_cast<plugin_metric_kind>(7), "k", "h", "", why), 0u);
  for (std::size_t i = 1; i < plugin_metrics::max_metrics_per_plugin; ++i)
    EXPECT_NE(m.register_metric(owner_a, plugin_metric_kind::counter, "m" + std::to_string(i), "h",
                                "", why),
              0u)
        << why;
  EXPECT_EQ(m.register_metric(owner_a, plugin_metric_kind::counter, "one_more", "h", "", why), 0u);
  EXPECT_NE(why.find("at most 16"), std::string::npos) << why;
  // Another plugin still has its own allowance.
  EXPECT_NE(m.register_metric(owner_b, plugin_metric_kind::counter, "one_more", "h", "", why), 0u);
}

TEST(PluginMetrics, OnlyTheOwnerUpdatesAndCountersOnlyGrow) {
  plugin_metrics m;
  std::string why;
  const auto c = m.register_metric(owner_a, plugin_metric_kind::counter, "c_total", "h", "", why);
  const auto g = m.register_metric(owner_a, plugin_metric_kind::gauge, "g", "h", "", why);
  EXPECT_TRUE(m.add(owner_a, c, {}, 2));
  EXPECT_FALSE(m.add(owner_b, c, {}, 5));  // not b's
  EXPECT_FALSE(m.add(owner_a, c, {}, -1)); // a counter only grows
  EXPECT_FALSE(m.set(owner_a, c, {}, 9));  // nor is it set
  EXPECT_FALSE(m.add(owner_a, 0, {}, 1));
  EXPECT_FALSE(m.add(owner_a, 99, {}, 1));
  EXPECT_TRUE(m.add(owner_a, g, {}, 4));
  EXPECT_TRUE(m.add(owner_a, g, {}, -6));
  EXPECT_EQ(value_of(m, "apistudio_plugin_p_c_total", ""), 2);
  EXPECT_EQ(value_of(m, "apistudio_plugin_p_g", ""), -2);
  EXPECT_TRUE(m.set(owner_a, g, {}, 7));
  EXPECT_EQ(value_of(m, "apistudio_plugin_p_g", ""), 7);
}

TEST(PluginMetrics, LabelValuesPastTheLimitAreCountedAsOther) {
  plugin_metrics m;
  std::string why;
  const auto c =
      m.register_metric(owner_a, plugin_metric_kind::counter, "by_user_total", "h", "user", why);
  for (int i = 0; i < 40; ++i)
    ASSERT_TRUE(m.add(owner_a, c, "u" + std::to_string(i), 1));
  const auto families = m.collect();
  ASSERT_EQ(families.size(), 1u);
  ASSERT_EQ(families[0].values.size(), plugin_metrics::max_label_values);
  EXPECT_EQ(value_of(m, "apistudio_plugin_p_by_user_total", "u14"), 1);
  EXPECT_EQ(value_of(m, "apistudio_plugin_p_by_user_total", "u15"), -1);
  EXPECT_EQ(value_of(m, "apistudio_plugin_p_by_user_total", "other"), 25);
  // A value that has its own slot keeps it.
  ASSERT_TRUE(m.add(owner_a, c, "u3", 1));
  EXPECT_EQ(value_of(m, "apistudio_plugin_p_by_user_total", "u3"), 2);
}

TEST(PluginMetrics, UpdatesFromManyThreadsAreAllCounted) {
  plugin_metrics m;
  std::string why;
  const auto c =
      m.register_metric(owner_a, plugin_metric_kind::counter, "hits_total", "h", "kind", why);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10'000; ++i)
        m.add(owner_a, c, i % 2 == 0 ? "even" : "odd" + std::to_string(t % 2), 1);
    });
  for (auto &t : threads)
    t.join();
  EXPECT_EQ(value_of(m, "apistudio_plugin_p_hits_total", "even"), 20'000);
  EXPECT_EQ(value_of(m, "apistudio_plugin_p_hits_total", "odd0"), 10'000);
  EXPECT_EQ(value_of(m, "apistudio_plugin_p_hits_total", "odd1"), 10'000);
}
