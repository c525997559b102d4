// Tests of the YAML configuration loader (host/src/policy/config_loader.cpp and its helpers in
// host/src/policy/): defaults, every key, the
// value grammars, ${ENV}, and that each kind of mistake is reported at FILE:LINE:COLUMN with its
// key path.
#include "policy/config_loader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <string>

#include <unistd.h>

namespace apistudio {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

host_config load(const std::string &yaml) { return load_config_from_string(yaml, "test.yaml"); }

// The message of the config_error that loading `yaml` throws; "" (a test failure) if none.
std::string error_of(const std::string &yaml) {
  try {
    load(yaml);
  } catch (const config_error &e) {
    return e.what();
  }
  ADD_FAILURE() << "no config_error for:\n" << yaml;
  return {};
}

// Sets an environment variable for one test and restores the previous state afterwards.
class scoped_env {
public:
  scoped_env(const char *name, const char *value) : name_(name) {
    if (const char *old = std::getenv(name))
      old_ = old;
    if (value != nullptr)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~scoped_env() {
    if (old_)
      ::setenv(name_.c_str(), old_->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  scoped_env(const scoped_env &) = delete;
  scoped_env &operator=(const scoped_env &) = delete;

private:
  std::string name_;
  std::optional<std::string> old_;
};

// A fresh directory per test, removed afterwards.
class temp_dir {
public:
  temp_dir() {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("apistudio_config_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  temp_dir(const temp_dir &) = delete;
  temp_dir &operator=(const temp_dir &) = delete;

  const fs::path &path() const { return path_; }
  fs::path write(const std::string &name, const std::string &content) const {
    const fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << content;
    return file;
  }

private:
  fs::path path_;
};

// ---------------------------------------------------------------------------------------------
// Defaults and every key

TEST(ConfigLoader, EmptyOrNullDocumentMeansDefaults) {
  const host_config expected;
  for (const char *yaml : {"", "\n\n", "# only a comment\n", "~\n", "null\n", "---\n", "--- ~\n"}) {
    SCOPED_TRACE(yaml);
    const host_config c = load(yaml);
    EXPECT_EQ(c.source_file, "test.yaml");
    EXPECT_EQ(c.listen.host, expected.listen.host);
    EXPECT_EQ(c.listen.port, expected.listen.port);
    EXPECT_EQ(c.listen.allow_public_without_auth, expected.listen.allow_public_without_auth);
    EXPECT_EQ(c.worker_threads, expected.worker_threads);
    EXPECT_EQ(c.limits.connect_timeout, expected.limits.connect_timeout);
    EXPECT_EQ(c.limits.max_message_bytes, expected.limits.max_message_bytes);
    EXPECT_EQ(c.keepalive.idle_timeout, expected.keepalive.idle_timeout);
    EXPECT_EQ(c.tls.verify, expected.tls.verify);
    EXPECT_EQ(c.egress.preset, expected.egress.preset);
    EXPECT_TRUE(c.resolver.servers.empty());
    EXPECT_EQ(c.resolver.max_lookups_per_client, 4u);
    EXPECT_EQ(c.resolver.max_lookups_per_worker, 64u);
    EXPECT_EQ(c.security.allow_missing_origin, expected.security.allow_missing_origin);
    EXPECT_EQ(c.debug, expected.debug);
    EXPECT_EQ(c.plugin_dir, expected.plugin_dir);
    EXPECT_TRUE(c.plugins.empty());
  }
}

TEST(ConfigLoader, EmptySectionsKeepTheirDefaults) {
  const host_config c =
      load("server:\nlimits:\nkeepalive:\ntls:\negress:\nresolver:\nsecurity:\nplugins:\n");
  EXPECT_EQ(c.listen.port, 58123);
  EXPECT_EQ(c.limits.connect_timeout, 30s);
  EXPECT_TRUE(c.plugins.empty());
}

TEST(ConfigLoader, ReadsEveryKey) {
  temp_dir dir;
  dir.write("certs/ca.pem", "not checked here\n");
  const fs::path file = dir.write("conf/host.yaml", R"(
server:
  listen: "0.0.0.0:9000"
  worker_threads: 4
  allow_public_without_auth: true
limits:
  connect_timeout: 5s
  max_message_size: 2MiB
  max_connections_per_client: 20
  max_total_connections: 500
  max_outbound_queue: 8MiB
  max_http_header_size: 32KiB
  max_http_body_size: 128KiB
  max_handshake_headers: 32
  max_header_value_size: 4KiB
  http_header_timeout: 2s
  write_stall_timeout: 1m
keepalive:
  # a ping after half of idle_timeout in silence
  idle_timeout: 45s
tls:
  verify: false
  ca_file: ../certs/ca.pem
  allow_insecure_opt_out: true
egress:
  preset: public-only
  allow:
    - "*.example.com"
    - 10.1.0.0/16
  deny: [169.254.169.254]
security:
  allowed_origins: ["https://app.example.com", "http://LOCALHOST.test:8080"]
  allow_missing_origin: false
  access_tokens: [tok-123]
  allowed_hosts: [Studio.Example.com]
debug: true
plugin_dir: plugins
plugins:
  - name: rate_limiter
    settings: {limit: 5}
  - name: debug_logger
    path: /opt/x/libdbg.so
    enabled: false
resolver:
  servers: ["127.0.0.1:5353"]
  max_lookups_per_client: 2
  max_lookups_per_worker: 16
)");
  const host_config c = load_config(file.string());
  EXPECT_EQ(c.source_file, file.string());
  EXPECT_EQ(c.listen.host, "0.0.0.0");
  EXPECT_EQ(c.listen.port, 9000);
  EXPECT_TRUE(c.listen.allow_public_without_auth);
  EXPECT_EQ(c.worker_threads, 4);
  EXPECT_EQ(c.limits.connect_timeout, 5s);
  EXPECT_EQ(c.limits.max_message_bytes, 2u * 1024 * 1024);
  EXPECT_EQ(c.limits.max_connections_per_client, 20u);
  EXPECT_EQ(c.limits.max_total_connections, 500u);
  EXPECT_EQ(c.limits.max_outbound_queue_bytes, 8u * 1024 * 1024);
  EXPECT_EQ(c.limits.max_http_header_bytes, 32u * 1024);
  EXPECT_EQ(c.limits.max_http_body_bytes, 128u * 1024);
  EXPECT_EQ(c.limits.max_handshake_headers, 32u);
  EXPECT_EQ(c.limits.max_header_value_bytes, 4u * 1024);
  EXPECT_EQ(c.limits.http_header_timeout, 2s);
  EXPECT_EQ(c.limits.write_stall_timeout, 1min);
  EXPECT_EQ(c.keepalive.idle_timeout, 45s);
  EXPECT_FALSE(c.tls.verify);
  EXPECT_EQ(fs::path(c.tls.ca_file), (dir.path() / "certs/ca.pem").lexically_normal());
  EXPECT_TRUE(c.tls.allow_insecure_opt_out);
  EXPECT_EQ(c.egress.preset, "public-only");
  ASSERT_EQ(c.egress.allow.size(), 2u);
  EXPECT_EQ(c.egress.allow[0].pattern, "*.example.com");
  EXPECT_EQ(c.egress.allow[0].line, 28);
  EXPECT_EQ(c.egress.allow[1].pattern, "10.1.0.0/16");
  EXPECT_EQ(c.egress.allow[1].line, 29);
  ASSERT_EQ(c.egress.deny.size(), 1u);
  EXPECT_EQ(c.egress.deny[0].pattern, "169.254.169.254");
  EXPECT_EQ(c.egress.deny[0].line, 30);
  EXPECT_THAT(c.security.allowed_origins,
              ElementsAre("https://app.example.com", "http://localhost.test:8080"));
  EXPECT_FALSE(c.security.allow_missing_origin);
  EXPECT_THAT(c.security.access_tokens, ElementsAre("tok-123"));
  EXPECT_THAT(c.security.allowed_hosts, ElementsAre("studio.example.com"));
  EXPECT_TRUE(c.debug);
  EXPECT_EQ(fs::path(c.plugin_dir), dir.path() / "conf" / "plugins");
  ASSERT_EQ(c.plugins.size(), 2u);
  EXPECT_EQ(c.plugins[0].name, "rate_limiter");
  EXPECT_TRUE(c.plugins[0].enabled);
  EXPECT_EQ(c.plugins[0].path, "");
  EXPECT_EQ(c.plugins[0].settings, nlohmann::json({{"limit", 5}}));
  EXPECT_EQ(c.plugins[0].location, file.string() + ":39:5");
  EXPECT_EQ(c.plugins[1].name, "debug_logger");
  EXPECT_EQ(c.plugins[1].path, "/opt/x/libdbg.so");
  EXPECT_FALSE(c.plugins[1].enabled);
  EXPECT_EQ(c.plugins[1].settings, nlohmann::json::object());
  EXPECT_EQ(c.plugins[1].location, file.string() + ":41:5");
  ASSERT_EQ(c.resolver.servers.size(), 1u);
  EXPECT_EQ(c.resolver.servers[0].address, "127.0.0.1");
  EXPECT_EQ(c.resolver.servers[0].port, 5353);
  EXPECT_EQ(c.resolver.max_lookups_per_client, 2u);
  EXPECT_EQ(c.resolver.max_lookups_per_worker, 16u);
}

TEST(ConfigLoader, ShippedConfigLoads) {
  const std::string file = std::string(APISTUDIO_SOURCE_DIR) + "/config/apistudio.yaml";
  const host_config c = load_config(file);
  const host_config defaults;
  EXPECT_EQ(c.listen.host, "127.0.0.1");
  EXPECT_EQ(c.listen.port, 58123);
  EXPECT_EQ(fs::path(c.plugin_dir),
            (fs::path(APISTUDIO_SOURCE_DIR) / "build" / "plugins").lexically_normal());
  ASSERT_EQ(c.plugins.size(), 4u);
  EXPECT_EQ(c.plugins[0].name, "rate_limiter");
  EXPECT_EQ(c.plugins[1].name, "auth_header_injector");
  EXPECT_EQ(c.plugins[2].name, "collaboration");
  EXPECT_EQ(c.plugins[3].name, "debug_logger");
  for (const plugin_config &p : c.plugins) {
    EXPECT_TRUE(p.enabled) << p.name;
    EXPECT_TRUE(p.settings.is_object()) << p.name;
  }
  // The file documents the defaults: loading it must give exactly them.
  EXPECT_EQ(c.limits.connect_timeout, defaults.limits.connect_timeout);
  EXPECT_EQ(c.limits.max_message_bytes, defaults.limits.max_message_bytes);
  EXPECT_EQ(c.limits.max_outbound_queue_bytes, defaults.limits.max_outbound_queue_bytes);
  EXPECT_EQ(c.limits.write_stall_timeout, defaults.limits.write_stall_timeout);
  EXPECT_EQ(c.limits.max_connection_tests_per_address,
            defaults.limits.max_connection_tests_per_address);
  EXPECT_EQ(c.keepalive.idle_timeout, defaults.keepalive.idle_timeout);
  EXPECT_EQ(c.tls.verify, defaults.tls.verify);
  EXPECT_EQ(c.tls.ca_file, "");
  EXPECT_EQ(c.egress.preset, defaults.egress.preset);
  EXPECT_EQ(c.security.allow_missing_origin, defaults.security.allow_missing_origin);
  EXPECT_TRUE(c.security.access_tokens.empty());
  EXPECT_EQ(c.debug, defaults.debug);
  EXPECT_EQ(c.log.format, defaults.log.format);
  EXPECT_EQ(c.log.level, defaults.log.level);
  EXPECT_EQ(c.log.repeat_window, defaults.log.repeat_window);
}

// ---------------------------------------------------------------------------------------------
// Durations and sizes

TEST(ParseDuration, AcceptsUnitsAndBareSeconds) {
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("2m"), 2min);
  EXPECT_EQ(parse_duration("1h"), 1h);
  EXPECT_EQ(parse_duration("45"), 45s);
  EXPECT_EQ(parse_duration("0"), 0ms);
}

TEST(ParseDuration, RefusesBadText) {
  for (const char *bad :
       {"", "3x", "s", "-1s", "1.5s", "30 s", " 30s", "30S", "1d", "ms", "+5s", "0x10",
        "99999999999999999999999", "9223372036854775807h", "9223372036854776s"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(parse_duration(bad), std::invalid_argument);
  }
  EXPECT_EQ(parse_duration("9223372036854775807ms").count(), 9223372036854775807LL);
}

TEST(ParseSize, AcceptsBinaryAndDecimalUnits) {
  EXPECT_EQ(parse_size("1048576"), 1048576u);
  EXPECT_EQ(parse_size("100B"), 100u);
  EXPECT_EQ(parse_size("64KiB"), 64u * 1024);
  EXPECT_EQ(parse_size("1MiB"), 1024u * 1024);
  EXPECT_EQ(parse_size("1GiB"), 1024u * 1024 * 1024);
  EXPECT_EQ(parse_size("1KB"), 1000u);
  EXPECT_EQ(parse_size("1MB"), 1000u * 1000);
  EXPECT_EQ(parse_size("2GB"), 2000u * 1000 * 1000);
  EXPECT_EQ(parse_size("1mib"), 1024u * 1024);
}

TEST(ParseSize, RefusesBadTextAndOverflow) {
  for (const char *bad : {"", "MiB", "1.5MiB", "-1", "1 MiB", "1K", "1M", "1TiB", "12q",
                          "18446744073709551616", "18446744073709551615KiB", "17179869184GiB"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(parse_size(bad), std::invalid_argument);
  }
  EXPECT_EQ(parse_size("18446744073709551615"), 18446744073709551615u);
}

TEST(ConfigLoader, BadDurationNamesFileLineColumnKeyAndExample) {
  const std::string message =
      error_of("server:\n  worker_threads: 2\nlimits:\n  connect_timeout: 3x\n");
  EXPECT_THAT(message,
              StartsWith("test.yaml:4:20: limits.connect_timeout: invalid duration \"3x\""));
  EXPECT_THAT(message, HasSubstr("(use e.g. 30s, 500ms, 2m)"));
}

TEST(ConfigLoader, BareIntegerDurationIsSeconds) {
  EXPECT_EQ(load("limits:\n  connect_timeout: 12\n").limits.connect_timeout, 12s);
  EXPECT_EQ(load("limits:\n  connect_timeout: 250ms\n").limits.connect_timeout, 250ms);
}

TEST(ConfigLoader, DurationOverflowIsAnError) {
  EXPECT_THAT(error_of("limits:\n  connect_timeout: 99999999999999999999h\n"),
              HasSubstr("limits.connect_timeout: invalid duration"));
}

TEST(ConfigLoader, SizeErrors) {
  EXPECT_THAT(error_of("limits:\n  max_message_size: 1XB\n"),
              StartsWith("test.yaml:2:21: limits.max_message_size: invalid size \"1XB\""));
  EXPECT_THAT(error_of("limits:\n  max_message_size: 18446744073709551616\n"),
              HasSubstr("limits.max_message_size: invalid size"));
}

// ---------------------------------------------------------------------------------------------
// Ranges

TEST(ConfigLoader, OutOfRangeValuesAreRefused) {
  struct range_case {
    const char *yaml;
    const char *path;
  };
  for (const range_case &c : {
           range_case{"limits: {connect_timeout: 0s}", "limits.connect_timeout"},
           range_case{"limits: {connect_timeout: 11m}", "limits.connect_timeout"},
           range_case{"limits: {max_message_size: 0}", "limits.max_message_size"},
           range_case{"limits: {max_message_size: 65MiB}", "limits.max_message_size"},
           range_case{"limits: {max_connections_per_client: 0}",
                      "limits.max_connections_per_client"},
           range_case{"limits: {max_connections_per_client: 1001}",
                      "limits.max_connections_per_client"},
           range_case{"limits: {max_total_connections: 1000001}", "limits.max_total_connections"},
           range_case{"limits: {max_connection_tests_per_address: 0}",
                      "limits.max_connection_tests_per_address"},
           range_case{"limits: {max_connection_tests_per_address: 1001}",
                      "limits.max_connection_tests_per_address"},
           range_case{"limits: {max_outbound_queue: 63KiB}", "limits.max_outbound_queue"},
           range_case{"limits: {http_header_timeout: 0}", "limits.http_header_timeout"},
           range_case{"limits: {write_stall_timeout: 0ms}", "limits.write_stall_timeout"},
           range_case{"server: {worker_threads: 257}", "server.worker_threads"},
           range_case{"server: {worker_threads: -1}", "server.worker_threads"},
           range_case{"server: {worker_threads: 99999999999999999999}", "server.worker_threads"},
           range_case{"keepalive: {idle_timeout: 0s}", "keepalive.idle_timeout"},
           range_case{"resolver: {max_lookups_per_client: 0}", "resolver.max_lookups_per_client"},
           range_case{"resolver: {max_lookups_per_client: 65}", "resolver.max_lookups_per_client"},
           range_case{"resolver: {max_lookups_per_worker: 0}", "resolver.max_lookups_per_worker"},
           range_case{"resolver: {max_lookups_per_worker: 10001}",
                      "resolver.max_lookups_per_worker"},
       }) {
    SCOPED_TRACE(c.yaml);
    EXPECT_THAT(error_of(c.yaml),
                AllOf(HasSubstr(std::string(c.path) + ": "), HasSubstr("out of range")));
  }
}

TEST(ConfigLoader, RangeBoundariesAreAccepted) {
  const host_config c = load("server: {worker_threads: 256}\n"
                             "limits: {connect_timeout: 10m, max_message_size: 64MiB,"
                             " max_outbound_queue: 64KiB, max_total_connections: 1000000}\n");
  EXPECT_EQ(c.worker_threads, 256);
  EXPECT_EQ(c.limits.connect_timeout, 10min);
  EXPECT_EQ(c.limits.max_message_bytes, 64u * 1024 * 1024);
  EXPECT_EQ(c.limits.max_outbound_queue_bytes, 64u * 1024);
  EXPECT_EQ(c.limits.max_total_connections, 1000000u);
}

TEST(ConfigLoader, KeepaliveHasOneSettingTheIdleTimeout) {
  // Pings go out after idle_timeout / 2 of silence (Beast's keep-alive); there is no separate
  // ping interval that could contradict it.
  EXPECT_EQ(load("keepalive: {idle_timeout: 2m}").keepalive.idle_timeout, 2min);
  EXPECT_THAT(error_of("keepalive:\n  ping_interval: 20s\n"),
              StartsWith("test.yaml:2:3: keepalive.ping_interval: unknown key"));
}

TEST(ConfigLoader, MetricsEndpointIsOnUnlessSwitchedOff) {
  EXPECT_TRUE(load("").metrics.enabled);
  EXPECT_FALSE(load("metrics: {enabled: false}").metrics.enabled);
  EXPECT_THAT(error_of("metrics:\n  enabled: maybe\n"),
              StartsWith("test.yaml:2:12: metrics.enabled: invalid boolean \"maybe\""));
  EXPECT_THAT(error_of("metrics:\n  listen: 9090\n"),
              StartsWith("test.yaml:2:3: metrics.listen: unknown key 'listen'"));
}

TEST(ConfigLoader, LogSectionFormatLevelAndRepeatWindow) {
  const host_config defaults;
  EXPECT_EQ(defaults.log.format, log_format::text);
  EXPECT_EQ(defaults.log.level, log_level::info);
  EXPECT_EQ(defaults.log.repeat_window, 10s);
  const host_config c = load("log:\n  format: json\n  level: warn\n  repeat_window: 1m\n");
  EXPECT_EQ(c.log.format, log_format::json);
  EXPECT_EQ(c.log.level, log_level::warn);
  EXPECT_EQ(c.log.repeat_window, 1min);
  EXPECT_EQ(load("log: {level: debug, format: text}").log.level, log_level::debug);
  EXPECT_EQ(load("log: {repeat_window: off}").log.repeat_window, 0ms);
  EXPECT_THAT(error_of("log:\n  format: xml\n"),
              StartsWith("test.yaml:2:11: log.format: unknown format \"xml\" (expected text or "
                         "json)"));
  EXPECT_THAT(error_of("log:\n  level: verbose\n"),
              StartsWith("test.yaml:2:10: log.level: unknown level \"verbose\""));
  EXPECT_THAT(error_of("log: {repeat_window: 2h}"),
              StartsWith("test.yaml:1:22: log.repeat_window"));
  EXPECT_THAT(error_of("log:\n  colour: yes\n"),
              StartsWith("test.yaml:2:3: log.colour: unknown key"));
}

// ---------------------------------------------------------------------------------------------
// Types, keys, structure

TEST(ConfigLoader, BooleansAreTheCoreSchemaOnly) {
  EXPECT_TRUE(load("debug: True").debug);
  EXPECT_TRUE(load("debug: TRUE").debug);
  EXPECT_FALSE(load("debug: FALSE").debug);
  EXPECT_TRUE(load("debug: \"true\"").debug);
  for (const char *bad : {"yes", "no", "on", "off", "1", "0", "tRuE", "y"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(error_of(std::string("debug: ") + bad),
                StartsWith("test.yaml:1:8: debug: invalid boolean \"" + std::string(bad) +
                           "\" (expected true or false)"));
  }
}

TEST(ConfigLoader, UnknownKeyIsReportedWhereWrittenWithASuggestion) {
  EXPECT_EQ(error_of("server:\n  listen: \"127.0.0.1:1\"\nlimts:\n  connect_timeout: 1s\n"),
            "test.yaml:3:1: limts: unknown key 'limts' (did you mean 'limits'?)");
  EXPECT_EQ(error_of("limits:\n  conect_timeout: 1s\n"),
            "test.yaml:2:3: limits.conect_timeout: unknown key 'conect_timeout' (did you mean "
            "'connect_timeout'?)");
  EXPECT_THAT(error_of("tls:\n  zzzzzzzz: 1\n"),
              HasSubstr("unknown key 'zzzzzzzz' (expected one of: verify, ca_file, "
                        "allow_insecure_opt_out)"));
  EXPECT_THAT(error_of("plugins:\n  - name: a\n    setings: {}\n"),
              StartsWith("test.yaml:3:5: plugins[0].setings: unknown key 'setings' (did you mean "
                         "'settings'?)"));
}

TEST(ConfigLoader, WrongTypesAreNamed) {
  EXPECT_EQ(error_of("limits: [1, 2]\n"), "test.yaml:1:9: limits: expected a mapping, got a list");
  EXPECT_THAT(error_of("server:\n  listen: {a: 1}\n"),
              StartsWith("test.yaml:2:11: server.listen: expected HOST:PORT, got a mapping"));
  EXPECT_THAT(error_of("server:\n  listen:\n"),
              StartsWith("test.yaml:2:3: server.listen: expected HOST:PORT, got nothing"));
  EXPECT_THAT(error_of("security:\n  access_tokens: abc\n"),
              StartsWith("test.yaml:2:18: security.access_tokens: expected a list, got a scalar"));
  EXPECT_THAT(error_of("server:\n  worker_threads: four\n"),
              StartsWith("test.yaml:2:19: server.worker_threads: invalid whole number \"four\""));
  EXPECT_THAT(error_of("server:\n  worker_threads: 2.5\n"),
              HasSubstr("invalid whole number \"2.5\""));
  EXPECT_THAT(error_of("plugins: {name: a}\n"),
              HasSubstr("plugins: expected a list, got a mapping"));
  EXPECT_THAT(error_of("plugins:\n  - rate_limiter\n"),
              StartsWith("test.yaml:2:5: plugins[0]: expected a mapping"));
  EXPECT_THAT(error_of("? [a, b]\n: 1\n"), HasSubstr("expected a key name, got a list"));
}

TEST(ConfigLoader, TopLevelMustBeAMapping) {
  EXPECT_THAT(error_of("- a\n- b\n"), StartsWith("test.yaml:1:1: the top level must be a mapping"));
  EXPECT_THAT(error_of("just words\n"), HasSubstr("the top level must be a mapping"));
}

TEST(ConfigLoader, InvalidYamlCarriesTheParserPosition) {
  EXPECT_THAT(error_of("server:\n  listen: [1, 2\n"), StartsWith("test.yaml:3:1: invalid YAML: "));
  EXPECT_THAT(error_of("server:\n  listen: a: b\n"), StartsWith("test.yaml:2:12: invalid YAML: "));
  EXPECT_THAT(error_of("server:\n\tlisten: x\n"), HasSubstr("invalid YAML"));
}

// yaml-cpp's LoadAll() loops forever, allocating, on these (found by tests/fuzz/config_fuzz.cpp).
TEST(ConfigLoader, StrayFlowIndicatorIsAnErrorNotAHang) {
  EXPECT_EQ(error_of(","), "test.yaml:1:1: invalid YAML: unexpected character (a ',' or another "
                           "flow indicator outside [...] or {...}?)");
  EXPECT_THAT(error_of(", :\n \n"), HasSubstr("invalid YAML: unexpected character"));
}

TEST(ConfigLoader, DuplicateKeysAreRefused) {
  EXPECT_EQ(error_of("debug: true\ndebug: false\n"),
            "test.yaml:2:1: debug: duplicate key (first written at line 1)");
  EXPECT_THAT(error_of("plugins:\n  - name: a\n    settings: {x: 1, x: 2}\n"),
              HasSubstr("plugins[0].settings.x: duplicate key"));
}

TEST(ConfigLoader, OnlyOneDocument) {
  EXPECT_THAT(error_of("debug: true\n---\ndebug: false\n"),
              HasSubstr("only one YAML document is allowed"));
}

TEST(ConfigLoader, DeepNestingIsRefusedWithoutCrashing) {
  // Far past yaml-cpp's own guard: must become a config_error, not a stack overflow.
  EXPECT_THAT(error_of(std::string(10000, '[')), HasSubstr("nested deeper than 64 levels"));
  EXPECT_THAT(error_of("plugins:\n  - name: a\n    settings: {x: " + std::string(10000, '[') +
                       std::string(10000, ']') + "}\n"),
              HasSubstr("nested deeper than 64 levels"));
  // Just past our own limit, in plugin settings: refused before conversion to JSON.
  EXPECT_THAT(error_of("plugins:\n  - name: a\n    settings: {x: " + std::string(70, '[') +
                       std::string(70, ']') + "}\n"),
              AllOf(StartsWith("test.yaml:3:"), HasSubstr("plugins[0].settings.x[0]"),
                    HasSubstr("nested deeper than 64 levels")));
  // Within the limit: converted faithfully.
  const host_config c = load("plugins:\n  - name: a\n    settings: {x: " + std::string(50, '[') +
                             std::string(50, ']') + "}\n");
  nlohmann::json expected = nlohmann::json::array();
  for (int i = 1; i < 50; ++i)
    expected = nlohmann::json::array({expected});
  EXPECT_EQ(c.plugins[0].settings["x"], expected);
}

TEST(ConfigLoader, AliasBombsAndCyclesAreRefused) {
  std::string bomb = "plugins:\n  - name: p\n    settings:\n"
                     "      a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i)
    bomb += "      a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" +
            std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + ", *a" +
            std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + ", *a" +
            std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + ", *a" +
            std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + ", *a" +
            std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + "]\n";
  EXPECT_THAT(error_of(bomb), HasSubstr("too many values"));
  EXPECT_THAT(error_of("plugins:\n  - name: a\n    settings: &s {me: *s}\n"),
              HasSubstr("nested deeper than 64 levels"));
}

TEST(ConfigLoader, AliasesOfLongTextAreBudgeted) {
  // Few nodes, but 10,000 copies of an 8,000-byte string once expanded.
  const std::string ten_a = "[*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]";
  const std::string ten_b = "[*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]";
  const std::string ten_c = "[*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]";
  const std::string yaml = "plugins:\n  - name: p\n    settings:\n      a: &a " +
                           std::string(8000, 'x') + "\n      b: &b " + ten_a + "\n      c: &c " +
                           ten_b + "\n      d: &d " + ten_c +
                           "\n      e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
  EXPECT_THAT(error_of(yaml), AllOf(HasSubstr("plugins[0].settings."),
                                    HasSubstr("too much text (more than 8MiB once aliases are "
                                              "expanded)")));
}

TEST(ConfigLoader, KeyPathsInMessagesAreShortAndPrintable) {
  const std::string long_key(500, 'k');
  const std::string message =
      error_of("plugins:\n  - name: p\n    settings:\n      " + long_key +
               ":\n        \"a\\x01b\": " + std::string(70, '[') + std::string(70, ']') + "\n");
  EXPECT_THAT(message, HasSubstr("plugins[0].settings." + std::string(40, 'k') + "....a?b[0][0]"));
  EXPECT_THAT(message, Not(HasSubstr(std::string(41, 'k'))));
}

TEST(ConfigLoader, AliasesThatStayWithinLimitsWork) {
  const host_config c = load("security:\n  access_tokens: [&tok abc, *tok]\n"
                             "plugins:\n  - name: p\n    settings: {a: &v [1, 2], b: *v}\n");
  EXPECT_THAT(c.security.access_tokens, ElementsAre("abc", "abc"));
  EXPECT_EQ(c.plugins[0].settings, nlohmann::json::parse(R"({"a": [1, 2], "b": [1, 2]})"));
}

// ---------------------------------------------------------------------------------------------
// ${ENV}

TEST(ConfigLoader, EnvironmentSubstitution) {
  scoped_env port("APISTUDIO_TEST_PORT", "9100");
  scoped_env token("APISTUDIO_TEST_TOKEN", "s3cret");
  scoped_env empty("APISTUDIO_TEST_EMPTY", "");
  scoped_env unset("APISTUDIO_TEST_UNSET", nullptr);
  const host_config c = load("server:\n  listen: \"127.0.0.1:${APISTUDIO_TEST_PORT}\"\n"
                             "security:\n  access_tokens:\n    - ${APISTUDIO_TEST_TOKEN}\n"
                             "    - ${APISTUDIO_TEST_UNSET:-fallback}\n"
                             "    - ${APISTUDIO_TEST_EMPTY:-was-empty}\n"
                             "    - a$$b$c\n");
  EXPECT_EQ(c.listen.port, 9100);
  EXPECT_THAT(c.security.access_tokens, ElementsAre("s3cret", "fallback", "was-empty", "a$b$c"));
}

TEST(ConfigLoader, EnvironmentValuesAreNotSubstitutedAgain) {
  scoped_env inner("APISTUDIO_TEST_INNER", "${APISTUDIO_TEST_UNSET}");
  scoped_env unset("APISTUDIO_TEST_UNSET", nullptr);
  const host_config c = load("security:\n  access_tokens: [\"${APISTUDIO_TEST_INNER}\"]\n");
  EXPECT_THAT(c.security.access_tokens, ElementsAre("${APISTUDIO_TEST_UNSET}"));
}

TEST(ConfigLoader, UnsetVariableIsAnErrorNamingIt) {
  scoped_env unset("APISTUDIO_TEST_UNSET", nullptr);
  EXPECT_EQ(error_of("limits:\n  connect_timeout: ${APISTUDIO_TEST_UNSET}\n"),
            "test.yaml:2:20: limits.connect_timeout: environment variable APISTUDIO_TEST_UNSET is "
            "not set (set it, or write ${APISTUDIO_TEST_UNSET:-default})");
}

TEST(ConfigLoader, MalformedSubstitutions) {
  EXPECT_THAT(error_of("plugin_dir: \"${NOPE\"\n"), HasSubstr("plugin_dir: unterminated \"${\""));
  EXPECT_THAT(error_of("plugin_dir: \"${}\"\n"), HasSubstr("invalid variable name \"\""));
  EXPECT_THAT(error_of("plugin_dir: \"${1X}\"\n"), HasSubstr("invalid variable name \"1X\""));
  EXPECT_THAT(error_of("plugin_dir: \"${A-b}\"\n"), HasSubstr("invalid variable name \"A-b\""));
  EXPECT_THAT(error_of("plugin_dir: \"${A:-${B}}\"\n"), HasSubstr("nested ${...}"));
}

TEST(ConfigLoader, SubstitutedDurationsSizesAndBooleansAreParsed) {
  scoped_env timeout("APISTUDIO_TEST_TIMEOUT", "45s");
  scoped_env debug("APISTUDIO_TEST_DEBUG", "true");
  const host_config c = load("limits:\n  connect_timeout: ${APISTUDIO_TEST_TIMEOUT}\n"
                             "  max_message_size: ${APISTUDIO_TEST_SIZE:-2MiB}\n"
                             "debug: ${APISTUDIO_TEST_DEBUG}\n");
  EXPECT_EQ(c.limits.connect_timeout, 45s);
  EXPECT_EQ(c.limits.max_message_bytes, 2u * 1024 * 1024);
  EXPECT_TRUE(c.debug);
}

// ---------------------------------------------------------------------------------------------
// Value grammars: listen, origins, tokens, hosts, egress

TEST(ConfigLoader, ListenAddresses) {
  EXPECT_EQ(load("server: {listen: \"[::1]:58123\"}").listen.host, "::1");
  EXPECT_EQ(load("server: {listen: \"[::1]:58123\"}").listen.port, 58123);
  EXPECT_EQ(load("server: {listen: \"localhost:80\"}").listen.host, "localhost");
  EXPECT_EQ(load("server: {listen: \"127.0.0.1:0\"}").listen.port, 0);
  for (const char *bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "::1:58123",
                          "[::1]", "[::1]58123", "[nope]:1", ":58123", "a b:1", "[::1:1"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(
        error_of(std::string("server: {listen: \"") + bad + "\"}"),
        AllOf(HasSubstr("server.listen: invalid address"), HasSubstr("expected HOST:PORT")));
  }
}

TEST(ConfigLoader, OriginsAreValidatedAndCanonical) {
  const host_config c = load("security:\n  allowed_origins: [\"HTTPS://App.Example.com:443\", "
                             "\"http://[::1]:8080\", \"chrome-extension://abcdef\"]\n");
  EXPECT_THAT(
      c.security.allowed_origins,
      ElementsAre("https://app.example.com", "http://[::1]:8080", "chrome-extension://abcdef"));
  EXPECT_THAT(error_of("security:\n  allowed_origins: [\"*\"]\n"),
              StartsWith("test.yaml:2:21: security.allowed_origins[0]: \"*\" is refused"));
  EXPECT_THAT(error_of("security:\n  allowed_origins: [\"https://a.example\", \"null\"]\n"),
              StartsWith("test.yaml:2:42: security.allowed_origins[1]: \"null\" is refused"));
  for (const char *bad : {"https://a.example/", "https://a.example/x", "a.example", "https://",
                          "https://u@a.example", "https://a.example:0", "https://a.example?x"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(error_of(std::string("security: {allowed_origins: [\"") + bad + "\"]}"),
                HasSubstr("security.allowed_origins[0]: invalid origin"));
  }
}

TEST(ConfigLoader, TokenErrorsDoNotRepeatTheToken) {
  const std::string message = error_of("security:\n  access_tokens: [\"Bearer hunter2\"]\n");
  EXPECT_THAT(message, HasSubstr("security.access_tokens[0]: an access token cannot contain"));
  EXPECT_THAT(message, Not(HasSubstr("hunter2")));
  EXPECT_THAT(error_of("security:\n  access_tokens: [\"${APISTUDIO_TEST_UNSET:-}\"]\n"),
              HasSubstr("empty access token"));
}

TEST(ConfigLoader, AllowedHostsRejectUrls) {
  EXPECT_THAT(error_of("security: {allowed_hosts: [\"https://x.example\"]}"),
              HasSubstr("security.allowed_hosts[0]: invalid host name"));
}

TEST(ConfigLoader, EgressPresetAndRules) {
  EXPECT_EQ(load("egress: {preset: local-dev}").egress.preset, "local-dev");
  EXPECT_THAT(error_of("egress:\n  preset: open\n"),
              StartsWith("test.yaml:2:11: egress.preset: unknown preset \"open\" (expected "
                         "local-dev or public-only)"));
  EXPECT_THAT(error_of("egress:\n  deny:\n    - \"a b\"\n"),
              StartsWith("test.yaml:3:7: egress.deny[0]: invalid pattern \"a b\""));
}

TEST(ConfigLoader, ResolverServersAndBounds) {
  const host_config c =
      load("resolver:\n"
           "  servers: [\"10.0.0.2\", \"127.0.0.1:5353\", \"::1\", \"[fd00::53]\",\n"
           "            \"[::1]:5354\"]\n"
           "  max_lookups_per_client: 64\n"
           "  max_lookups_per_worker: 10000\n");
  ASSERT_EQ(c.resolver.servers.size(), 5u);
  const auto server = [&](std::size_t i) {
    return c.resolver.servers[i].address + " " + std::to_string(c.resolver.servers[i].port);
  };
  EXPECT_EQ(server(0), "10.0.0.2 53");
  EXPECT_EQ(server(1), "127.0.0.1 5353");
  EXPECT_EQ(server(2), "::1 53");
  EXPECT_EQ(server(3), "fd00::53 53");
  EXPECT_EQ(server(4), "::1 5354");
  EXPECT_EQ(c.resolver.max_lookups_per_client, 64u);
  EXPECT_EQ(c.resolver.max_lookups_per_worker, 10000u);
  EXPECT_TRUE(load("resolver: {servers: []}").resolver.servers.empty());

  // A name is refused: finding the name server would need a name server.
  EXPECT_THAT(error_of("resolver:\n  servers:\n    - dns.example\n"),
              StartsWith("test.yaml:3:7: resolver.servers[0]: invalid name server "
                         "\"dns.example\": \"dns.example\" is not an IP address (expected IP or "
                         "IP:PORT, e.g. 127.0.0.1:5353 or [::1]:53)"));
  for (const char *bad : {"127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", "127.0.0.1:x", "[::1",
                          "[::1]53", "[::1]:", "[nope]:53", "::g", "1.2.3", ""}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(error_of(std::string("resolver: {servers: [\"") + bad + "\"]}"),
                HasSubstr("resolver.servers[0]: invalid name server"));
  }
  EXPECT_THAT(error_of("resolver: {servers: \"127.0.0.1\"}"), HasSubstr("resolver.servers"));
  EXPECT_THAT(error_of("resolver: {timeout: 5s}"),
              HasSubstr("resolver.timeout: unknown key 'timeout'"));
}

// ---------------------------------------------------------------------------------------------
// Plugins

TEST(ConfigLoader, PluginListKeepsOrderAndLocation) {
  const host_config c = load("plugins:\n"
                             "  - name: b.two\n"
                             "  - {name: a-one, enabled: false, path: libx.so}\n"
                             "  -\n"
                             "    name: c_3\n");
  ASSERT_EQ(c.plugins.size(), 3u);
  EXPECT_EQ(c.plugins[0].name, "b.two");
  EXPECT_EQ(c.plugins[0].location, "test.yaml:2:5");
  EXPECT_EQ(c.plugins[1].name, "a-one");
  EXPECT_FALSE(c.plugins[1].enabled);
  EXPECT_EQ(c.plugins[1].path, "libx.so");
  EXPECT_EQ(c.plugins[1].location, "test.yaml:3:5");
  EXPECT_EQ(c.plugins[2].name, "c_3");
  EXPECT_EQ(c.plugins[2].location, "test.yaml:5:5");
}

TEST(ConfigLoader, PluginEntryErrors) {
  EXPECT_EQ(error_of("plugins:\n  - enabled: true\n"),
            "test.yaml:2:5: plugins[0]: missing required key 'name' (e.g. - name: rate_limiter)");
  EXPECT_THAT(error_of("plugins:\n  - name: \"../evil\"\n"),
              StartsWith("test.yaml:2:11: plugins[0].name: invalid plugin name \"../evil\""));
  EXPECT_THAT(error_of("plugins:\n  - name: \"\"\n"), HasSubstr("invalid plugin name"));
  EXPECT_THAT(
      error_of("plugins:\n  - name: a\n  - name: a\n"),
      StartsWith("test.yaml:3:5: plugins[1]: plugin \"a\" is listed twice (first at line 2)"));
  EXPECT_THAT(error_of("plugins:\n  - name: a\n    enabled: yes\n"),
              HasSubstr("plugins[0].enabled: invalid boolean"));
  EXPECT_THAT(error_of("plugins:\n  - name: a\n    settings: [1]\n"),
              HasSubstr("plugins[0].settings: expected a mapping, got a list"));
  EXPECT_THAT(error_of("plugins:\n  - name: a\n    path: \"\"\n"), HasSubstr("empty path"));
}

// A plugin's refusal carries the JSON pointer of the bad setting; the loader keeps where each
// key and list item of the block was written, so the host can print that key's own line.
TEST(ConfigLoader, SettingLocationsPointAtEachKeyAndListItem) {
  temp_dir dir;
  const fs::path file = dir.write("host.yaml", R"(plugins:
  - name: auth_header_injector
    settings:
      rules:
        - name: github
          match: {host: "*.github.com", port: 443}
          set:
            Authorization:
              env: GITHUB_TOKEN
              prefix: "Bearer "
        -
          remove: [X-Debug, X-Trace]
      "a/b~c": 1
  - name: debug_logger
    settings:
  - name: rate_limiter
)");
  const host_config c = load_config(file.string());
  ASSERT_EQ(c.plugins.size(), 3u);
  const std::string f = file.string();
  const plugin_config &p = c.plugins[0];
  const std::map<std::string, std::string> expected{
      {"", f + ":3:5"}, // the block itself: its `settings:` key
      {"/rules", f + ":4:7"},
      {"/rules/0", f + ":5:11"},
      {"/rules/0/name", f + ":5:11"},
      {"/rules/0/match", f + ":6:11"},
      {"/rules/0/match/host", f + ":6:19"},
      {"/rules/0/match/port", f + ":6:41"},
      {"/rules/0/set", f + ":7:11"},
      {"/rules/0/set/Authorization", f + ":8:13"},
      {"/rules/0/set/Authorization/env", f + ":9:15"},
      {"/rules/0/set/Authorization/prefix", f + ":10:15"},
      {"/rules/1", f + ":12:11"}, // a bare "-": the item starts on the next line
      {"/rules/1/remove", f + ":12:11"},
      {"/rules/1/remove/0", f + ":12:20"},
      {"/rules/1/remove/1", f + ":12:29"},
      {"/a~1b~0c", f + ":13:7"}, // RFC 6901: '/' is "~1", '~' is "~0"
  };
  EXPECT_EQ(p.setting_locations, expected);

  // location_of: the pointer's own place, else its nearest written parent, else the entry.
  EXPECT_EQ(p.location_of("/rules/0/set/Authorization/env"), f + ":9:15");
  EXPECT_EQ(p.location_of("/rules/1/remove/1"), f + ":12:29");
  EXPECT_EQ(p.location_of("/a~1b~0c"), f + ":13:7");
  EXPECT_EQ(p.location_of("/rules/0/set/Authorization/value"), f + ":8:13"); // not written
  EXPECT_EQ(p.location_of("/rules/7/name"), f + ":4:7");
  EXPECT_EQ(p.location_of("/nope"), f + ":3:5");
  EXPECT_EQ(p.location_of(""), f + ":3:5");
  EXPECT_EQ(p.location_of("no-leading-slash"), f + ":3:5");

  // `settings:` with nothing under it: still its own line.
  EXPECT_EQ(c.plugins[1].setting_locations,
            (std::map<std::string, std::string>{{"", f + ":15:5"}}));
  EXPECT_EQ(c.plugins[1].location_of("/enabled"), f + ":15:5");
  // No settings block at all: the entry.
  EXPECT_TRUE(c.plugins[2].setting_locations.empty());
  EXPECT_EQ(c.plugins[2].location, f + ":16:5");
  EXPECT_EQ(c.plugins[2].location_of("/limits/0"), f + ":16:5");
  EXPECT_EQ(plugin_config{}.location_of("/x"), "");
}

TEST(ConfigLoader, SettingsBecomeJsonWithScalarTypes) {
  scoped_env port("APISTUDIO_TEST_PORT", "8080");
  const host_config c = load(R"(plugins:
  - name: p
    settings:
      int: 42
      negative: -7
      hex: 0x1F
      octal: 0o17
      big: 18446744073709551615
      float: 2.5
      exp: 1e3
      lead_dot: .5
      yes_word: yes
      bool: true
      upper: FALSE
      null_word: null
      tilde: ~
      empty:
      quoted_int: "42"
      quoted_null: 'null'
      str: hello world
      tagged: !!str 12
      tagged_int: !!int "12"
      env_plain: ${APISTUDIO_TEST_PORT}
      env_quoted: "${APISTUDIO_TEST_PORT}"
      env_empty: ${APISTUDIO_TEST_UNSET:-}
      list: [1, "two", {three: 3}]
      nested: {a: {b: [true, null]}}
      "7": numeric key
)");
  const nlohmann::json &s = c.plugins.at(0).settings;
  EXPECT_EQ(s["int"], 42);
  EXPECT_TRUE(s["int"].is_number_integer());
  EXPECT_EQ(s["negative"], -7);
  EXPECT_EQ(s["hex"], 31);
  EXPECT_EQ(s["octal"], 15);
  EXPECT_TRUE(s["big"].is_number_unsigned());
  EXPECT_EQ(s["big"].get<std::uint64_t>(), 18446744073709551615u);
  EXPECT_TRUE(s["float"].is_number_float());
  EXPECT_DOUBLE_EQ(s["float"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(s["exp"].get<double>(), 1000.0);
  EXPECT_DOUBLE_EQ(s["lead_dot"].get<double>(), 0.5);
  EXPECT_EQ(s["yes_word"], "yes");
  EXPECT_EQ(s["bool"], true);
  EXPECT_EQ(s["upper"], false);
  EXPECT_TRUE(s["null_word"].is_null());
  EXPECT_TRUE(s["tilde"].is_null());
  EXPECT_TRUE(s["empty"].is_null());
  EXPECT_EQ(s["quoted_int"], "42");
  EXPECT_EQ(s["quoted_null"], "null");
  EXPECT_EQ(s["str"], "hello world");
  EXPECT_EQ(s["tagged"], "12");
  EXPECT_EQ(s["tagged_int"], 12);
  EXPECT_EQ(s["env_plain"], 8080);
  EXPECT_EQ(s["env_quoted"], "8080");
  EXPECT_EQ(s["env_empty"], "");
  EXPECT_EQ(s["list"], nlohmann::json::parse(R"([1, "two", {"three": 3}])"));
  EXPECT_EQ(s["nested"], nlohmann::json::parse(R"({"a": {"b": [true, null]}})"));
  EXPECT_EQ(s["7"], "numeric key");
  EXPECT_EQ(s.size(), 25u);
}

TEST(ConfigLoader, SettingsThatJsonCannotHoldAreErrors) {
  const auto settings = [](const std::string &body) {
    return "plugins:\n  - name: p\n    settings:\n      " + body + "\n";
  };
  EXPECT_THAT(error_of(settings("x: .inf")),
              StartsWith("test.yaml:4:10: plugins[0].settings.x: \".inf\" cannot be represented"));
  EXPECT_THAT(error_of(settings("x: -.inf")), HasSubstr("cannot be represented"));
  EXPECT_THAT(error_of(settings("x: .nan")), HasSubstr("cannot be represented"));
  EXPECT_THAT(error_of(settings("x: 1e999")), HasSubstr("cannot be represented"));
  EXPECT_THAT(error_of(settings("x: 18446744073709551616")), HasSubstr("does not fit in 64 bits"));
  EXPECT_THAT(error_of(settings("x: -9223372036854775809")), HasSubstr("does not fit in 64 bits"));
  EXPECT_EQ(load(settings("x: -9223372036854775808")).plugins[0].settings["x"],
            std::numeric_limits<std::int64_t>::min());
  EXPECT_THAT(error_of(settings("x: !!binary aGVsbG8=")),
              HasSubstr("unsupported tag \"!!binary\""));
  EXPECT_THAT(error_of(settings("x: !custom 1")), HasSubstr("unsupported tag \"!custom\""));
  EXPECT_THAT(error_of(settings("x: !!int abc")), HasSubstr("\"abc\" is not a valid !!int"));
  EXPECT_THAT(error_of(settings("x: ${APISTUDIO_TEST_UNSET}")),
              HasSubstr("plugins[0].settings.x: environment variable APISTUDIO_TEST_UNSET"));
  EXPECT_THAT(error_of(settings("[a]: 1")), HasSubstr("expected a key name, got a list"));
}

TEST(ConfigLoader, SettingsStringsMustBeUtf8) {
  scoped_env bad("APISTUDIO_TEST_BAD_UTF8", "\xff\xfe");
  EXPECT_THAT(
      error_of("plugins:\n  - name: p\n    settings: {x: \"${APISTUDIO_TEST_BAD_UTF8}\"}\n"),
      HasSubstr("plugins[0].settings.x: value is not valid UTF-8"));
}

// ---------------------------------------------------------------------------------------------
// Files and paths

TEST(ConfigLoader, RelativePathsStartAtTheConfigFile) {
  temp_dir dir;
  dir.write("etc/ca.pem", "x");
  const fs::path file =
      dir.write("etc/app/host.yaml", "plugin_dir: ../plugins\ntls:\n  ca_file: ../ca.pem\n");
  const host_config c = load_config(file.string());
  EXPECT_EQ(fs::path(c.plugin_dir), dir.path() / "etc" / "plugins");
  EXPECT_TRUE(fs::path(c.plugin_dir).is_absolute());
  EXPECT_EQ(fs::path(c.tls.ca_file), dir.path() / "etc" / "ca.pem");

  const host_config absolute = load("plugin_dir: /opt/apistudio/plugins\n");
  EXPECT_EQ(absolute.plugin_dir, "/opt/apistudio/plugins");
  // From memory: relative to the directory of the name given, made absolute.
  const host_config from_string =
      load_config_from_string("plugin_dir: p\n", (dir.path() / "x.yaml").string());
  EXPECT_EQ(fs::path(from_string.plugin_dir), dir.path() / "p");
}

TEST(ConfigLoader, PathsWithNulBytesAreRefused) {
  EXPECT_THAT(error_of("plugin_dir: \"a\\0b\"\n"),
              StartsWith("test.yaml:1:13: plugin_dir: a path cannot contain a NUL byte"));
  EXPECT_THAT(error_of("plugins:\n  - name: p\n    path: \"x\\0.so\"\n"),
              HasSubstr("plugins[0].path: a path cannot contain a NUL byte"));
}

TEST(ConfigLoader, MissingCaFileIsAnError) {
  temp_dir dir;
  const fs::path file = dir.write("host.yaml", "tls:\n  ca_file: missing.pem\n");
  EXPECT_THAT(
      [&] {
        try {
          load_config(file.string());
        } catch (const config_error &e) {
          return std::string(e.what());
        }
        return std::string();
      }(),
      AllOf(StartsWith(file.string() + ":2:12: tls.ca_file: CA file \"missing.pem\""),
            HasSubstr((dir.path() / "missing.pem").string()), HasSubstr("does not exist")));
  EXPECT_EQ(load("tls: {ca_file: \"\"}").tls.ca_file, "");
}

TEST(ConfigLoader, UnreadableFiles) {
  temp_dir dir;
  const std::string missing = (dir.path() / "nope.yaml").string();
  try {
    load_config(missing);
    FAIL() << "no error";
  } catch (const config_error &e) {
    EXPECT_EQ(std::string(e.what()), "cannot read " + missing + ": No such file or directory");
  }
  try {
    load_config(dir.path().string());
    FAIL() << "no error";
  } catch (const config_error &e) {
    EXPECT_EQ(std::string(e.what()), "cannot read " + dir.path().string() + ": Is a directory");
  }
}

TEST(ConfigLoader, ErrorsInFilesNameTheFileAsGiven) {
  temp_dir dir;
  const fs::path file = dir.write("bad.yaml", "\n\nlimits:\n  connect_timeout: 3x\n");
  try {
    load_config(file.string());
    FAIL() << "no error";
  } catch (const config_error &e) {
    EXPECT_THAT(e.what(), StartsWith(file.string() + ":4:20: limits.connect_timeout: invalid "
                                                     "duration \"3x\""));
  }
}

// ---------------------------------------------------------------------------------------------
// The fuzz corpus is replayed here, so every input that once broke the loader stays covered.

TEST(ConfigLoader, FuzzCorpusOnlyEverThrowsConfigError) {
  const fs::path corpus = fs::path(APISTUDIO_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / "config";
  ASSERT_TRUE(fs::is_directory(corpus)) << corpus;
  int files = 0;
  for (const auto &entry : fs::directory_iterator(corpus)) {
    if (!entry.is_regular_file())
      continue;
    ++files;
    SCOPED_TRACE(entry.path().string());
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string content((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    try {
      const host_config c = load_config_from_string(content, entry.path().filename().string());
      for (const plugin_config &p : c.plugins)
        EXPECT_NO_THROW((void)p.settings.dump());
    } catch (const config_error &) {
      // A refusal is a correct outcome; anything else escapes and fails the test.
    }
  }
  EXPECT_GE(files, 5);
}

} // namespace
} // namespace apistudio
