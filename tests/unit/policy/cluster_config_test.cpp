// The cluster: section of the YAML (host/src/policy/config_sections.cpp, read_cluster): defaults,
// every key, and each mistake reported at FILE:LINE:COLUMN with its key path.
#include "policy/config_loader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace apistudio {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

host_config load(const std::string &yaml) { return load_config_from_string(yaml, "test.yaml"); }

std::string error_of(const std::string &yaml) {
  try {
    load(yaml);
  } catch (const config_error &e) {
    return e.what();
  }
  ADD_FAILURE() << "no config_error for:\n" << yaml;
  return {};
}

TEST(ClusterConfig, DefaultsAreLocalWithoutRedis) {
  for (const char *yaml : {"", "cluster:\n", "cluster: {}\n", "cluster:\n  backend: local\n"}) {
    SCOPED_TRACE(yaml);
    const cluster_config c = load(yaml).cluster;
    EXPECT_EQ(c.backend, cluster_backend::local);
    EXPECT_TRUE(c.url.empty());
    EXPECT_TRUE(c.password.empty());
    EXPECT_TRUE(c.node_id.empty()); // host name + pid, chosen at start
    EXPECT_EQ(c.key_prefix, "apistudio:");
    EXPECT_EQ(c.connect_timeout, 5s);
    EXPECT_EQ(c.command_timeout, 1s);
    EXPECT_EQ(c.lease_ttl, 15s);
    EXPECT_EQ(c.presence_ttl, 10s);
    EXPECT_EQ(c.counter_sync_interval, 100ms);
    EXPECT_FALSE(c.start_without_engine);
  }
}

TEST(ClusterConfig, ReadsEveryKey) {
  ::setenv("APISTUDIO_TEST_REDIS_PASSWORD", "s3cret", 1);
  const cluster_config c = load("cluster:\n"
                                "  backend: redis\n"
                                "  url: redis://redis.internal:6380/3\n"
                                "  password: ${APISTUDIO_TEST_REDIS_PASSWORD}\n"
                                "  node_id: host-a\n"
                                "  key_prefix: \"team1:\"\n"
                                "  connect_timeout: 2s\n"
                                "  command_timeout: 250ms\n"
                                "  lease_ttl: 3s\n"
                                "  presence_ttl: 4s\n"
                                "  counter_sync_interval: 50ms\n"
                                "  start_without_engine: true\n")
                               .cluster;
  ::unsetenv("APISTUDIO_TEST_REDIS_PASSWORD");
  EXPECT_EQ(c.backend, cluster_backend::redis);
  EXPECT_EQ(c.url, "redis://redis.internal:6380/3");
  EXPECT_EQ(c.redis_host, "redis.internal");
  EXPECT_EQ(c.redis_port, 6380);
  EXPECT_EQ(c.redis_db, 3);
  EXPECT_EQ(c.password, "s3cret");
  EXPECT_EQ(c.node_id, "host-a");
  EXPECT_EQ(c.key_prefix, "team1:");
  EXPECT_EQ(c.connect_timeout, 2s);
  EXPECT_EQ(c.command_timeout, 250ms);
  EXPECT_EQ(c.lease_ttl, 3s);
  EXPECT_EQ(c.presence_ttl, 4s);
  EXPECT_EQ(c.counter_sync_interval, 50ms);
  EXPECT_TRUE(c.start_without_engine);
}

TEST(ClusterConfig, UrlPortAndDatabaseHaveDefaults) {
  cluster_config c = load("cluster: {backend: redis, url: \"redis://127.0.0.1\"}").cluster;
  EXPECT_EQ(c.redis_host, "127.0.0.1");
  EXPECT_EQ(c.redis_port, 6379);
  EXPECT_EQ(c.redis_db, 0);
  c = load("cluster: {backend: redis, url: \"redis://[::1]:7000/\"}").cluster;
  EXPECT_EQ(c.redis_host, "::1");
  EXPECT_EQ(c.redis_port, 7000);
  EXPECT_EQ(c.redis_db, 0);
}

TEST(ClusterConfig, RedisWithoutUrlIsRefusedAtTheSection) {
  EXPECT_THAT(error_of("server: {}\ncluster:\n  backend: redis\n"),
              StartsWith("test.yaml:3:3: cluster: backend redis needs url (e.g. url: "
                         "redis://127.0.0.1:6379/0)"));
}

TEST(ClusterConfig, UnknownBackend) {
  EXPECT_THAT(error_of("cluster:\n  backend: etcd\n"),
              StartsWith("test.yaml:2:12: cluster.backend: unknown backend \"etcd\" (expected "
                         "local or redis)"));
}

TEST(ClusterConfig, BadUrlsNameWhatIsWrong) {
  struct url_case {
    const char *url;
    const char *reason;
  };
  for (const url_case &c : {
           url_case{"http://127.0.0.1:6379/0", "unsupported scheme \"http\""},
           url_case{"rediss://127.0.0.1:6379/0", "unsupported scheme \"rediss\""},
           url_case{"redis://127.0.0.1:0/0", "port \"0\" is not a number 1..65535"},
           url_case{"redis://127.0.0.1:65536/0", "port \"65536\" is not a number 1..65535"},
           url_case{"redis://127.0.0.1:63x9/0", "port \"63x9\" is not a number 1..65535"},
           url_case{"redis://127.0.0.1:/0", "port \"\" is not a number 1..65535"},
           url_case{"redis://127.0.0.1:6379/zero", "database \"zero\" is not a number"},
           url_case{"redis://127.0.0.1:6379/0/1", "database \"0/1\" is not a number"},
           url_case{"redis://:pw@127.0.0.1:6379/0", "no user or password in the URL"},
           url_case{"redis://127.0.0.1:6379/0?timeout=1", "a query or fragment"},
           url_case{"redis:///0", "no host"},
           url_case{"127.0.0.1:6379", "not a URL"},
       }) {
    SCOPED_TRACE(c.url);
    const std::string message =
        error_of(std::string("cluster:\n  backend: redis\n  url: \"") + c.url + "\"\n");
    EXPECT_THAT(message, StartsWith(std::string("test.yaml:3:8: cluster.url: invalid URL \"") +
                                    c.url + "\": " + c.reason));
    EXPECT_THAT(message,
                HasSubstr("(expected redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0)"));
  }
}

TEST(ClusterConfig, PasswordInAUrlIsNotRepeated) {
  EXPECT_THAT(error_of("cluster:\n  url: \"redis://:hunter2@127.0.0.1/0\"\n"),
              HasSubstr("cluster.password"));
}

TEST(ClusterConfig, NodeIdAndKeyPrefixAreChecked) {
  EXPECT_THAT(error_of("cluster:\n  node_id: \"a b\"\n"),
              StartsWith("test.yaml:2:12: cluster.node_id: invalid node id \"a b\""));
  EXPECT_THAT(error_of("cluster:\n  node_id: \"\"\n"),
              StartsWith("test.yaml:2:12: cluster.node_id: invalid node id \"\""));
  EXPECT_THAT(error_of("cluster:\n  key_prefix: \"a b:\"\n"),
              StartsWith("test.yaml:2:15: cluster.key_prefix: invalid key prefix \"a b:\""));
  EXPECT_EQ(load("cluster:\n  key_prefix: \"\"\n").cluster.key_prefix, "");
}

TEST(ClusterConfig, DurationsAndBooleansAreCheckedLikeEveryOther) {
  EXPECT_THAT(error_of("cluster:\n  connect_timeout: 3x\n"),
              StartsWith("test.yaml:2:20: cluster.connect_timeout: invalid duration \"3x\""));
  EXPECT_THAT(error_of("cluster:\n  command_timeout: 0s\n"),
              StartsWith("test.yaml:2:20: cluster.command_timeout: "));
  EXPECT_THAT(error_of("cluster:\n  command_timeout: 0s\n"), HasSubstr("out of range"));
  EXPECT_THAT(error_of("cluster:\n  connect_timeout: 6m\n"), HasSubstr("out of range"));
  EXPECT_THAT(error_of("cluster:\n  lease_ttl: 500ms\n"),
              StartsWith("test.yaml:2:14: cluster.lease_ttl: lease_ttl 500ms out of range"));
  EXPECT_THAT(error_of("cluster:\n  lease_ttl: 2h\n"),
              StartsWith("test.yaml:2:14: cluster.lease_ttl: "));
  EXPECT_THAT(error_of("cluster:\n  presence_ttl: 900ms\n"),
              StartsWith("test.yaml:2:17: cluster.presence_ttl: presence_ttl 900ms out of range"));
  EXPECT_THAT(error_of("cluster:\n  presence_ttl: 61m\n"),
              StartsWith("test.yaml:2:17: cluster.presence_ttl: "));
  EXPECT_THAT(error_of("cluster:\n  counter_sync_interval: 5ms\n"),
              StartsWith("test.yaml:2:26: cluster.counter_sync_interval: counter_sync_interval 5ms "
                         "out of range"));
  EXPECT_THAT(error_of("cluster:\n  counter_sync_interval: 2m\n"),
              StartsWith("test.yaml:2:26: cluster.counter_sync_interval: "));
  EXPECT_THAT(error_of("cluster:\n  start_without_engine: yes\n"),
              StartsWith("test.yaml:2:25: cluster.start_without_engine: "));
}

TEST(ClusterConfig, UnknownKeyGetsASuggestion) {
  EXPECT_THAT(error_of("cluster:\n  lease_tll: 3s\n"),
              AllOf(StartsWith("test.yaml:2:3: cluster"), HasSubstr("lease_ttl")));
}

TEST(ClusterConfig, ThePasswordIsNeverInAMessage) {
  const std::string message = error_of("cluster:\n  password: [\"hunter2\"]\n");
  EXPECT_THAT(message, StartsWith("test.yaml:2:13: cluster.password: "));
  EXPECT_THAT(message, Not(HasSubstr("hunter2")));
}

} // namespace
} // namespace apistudio
