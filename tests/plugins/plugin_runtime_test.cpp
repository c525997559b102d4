// plugin_runtime_test.cpp — the plugin loader and pipeline against real .so fixtures
// (tests/fixtures/plugins, built into APISTUDIO_PLUGIN_DIR), with fake session ports on strands
// of an io_context the test runs itself. The recorder fixture logs "<tag> <hook>" for every call,
// which is how these tests see the order in which plugins ran.
#include "plugin_host/message_bus.hpp"
#include "plugin_host/plugin_runtime.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <nlohmann/json.hpp>

#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#ifndef APISTUDIO_PLUGIN_DIR
#error "APISTUDIO_PLUGIN_DIR must name the directory of the fixture plugins"
#endif

namespace apistudio {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;
namespace asio = boost::asio;

const std::string plugin_dir = APISTUDIO_PLUGIN_DIR;

std::string fixture_file(const std::string &name) {
  return (std::filesystem::path(plugin_dir) / ("lib" + name + ".so")).lexically_normal().string();
}

class fake_clock final : public clock_source {
public:
  std::int64_t unix_ms() const override { return 1'735'732'800'000; }
  std::uint64_t steady_ms() const override { return 4242; }
};

struct sent_frame {
  std::string payload;
  bool binary = false;
  bool on_strand = false;      // the caller ran on this session's strand
  const void *owner = nullptr; // what keeps the bytes alive in the session's queue
  const char *data = nullptr;  // where the queued bytes are (not a copy of them)
};

// A session as the runtime sees it: a strand, a context, and a record of what reached it.
class fake_port final : public session_port, public std::enable_shared_from_this<fake_port> {
public:
  fake_port(asio::io_context &ioc, apistudio_session_id id) : strand_(asio::make_strand(ioc)) {
    ctx_.id = id;
    ctx_.path = "/ws";
    ctx_.query = "a=1";
    ctx_.client_id = "client-" + std::to_string(id);
    ctx_.remote_address = "127.0.0.1";
  }

  void post_send(std::shared_ptr<const void> owner, std::string_view bytes, bool binary) override {
    std::lock_guard lock(mutex_);
    sent_.push_back(
        {std::string(bytes), binary, strand_.running_in_this_thread(), owner.get(), bytes.data()});
  }
  void post_close(int code, std::string reason) override {
    std::lock_guard lock(mutex_);
    closes_.emplace_back(code, std::move(reason));
  }
  void post_bus(std::shared_ptr<const bus_delivery> delivery) override {
    {
      std::lock_guard lock(mutex_);
      deliveries_.push_back(delivery);
    }
    asio::post(strand_, [self = shared_from_this(), delivery] {
      if (self->runtime_ != nullptr)
        self->runtime_->deliver_bus(self->ctx_, delivery);
    });
  }
  asio::any_io_executor executor() override { return strand_; }
  session_context &context() override { return ctx_; }

  void attach(plugin_runtime *runtime) { runtime_ = runtime; }
  std::vector<sent_frame> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::vector<std::pair<int, std::string>> closes() const {
    std::lock_guard lock(mutex_);
    return closes_;
  }
  std::vector<std::shared_ptr<const bus_delivery>> deliveries() const {
    std::lock_guard lock(mutex_);
    return deliveries_;
  }
  asio::strand<asio::io_context::executor_type> &raw_strand() { return strand_; }

private:
  asio::strand<asio::io_context::executor_type> strand_;
  session_context ctx_;
  plugin_runtime *runtime_ = nullptr;
  mutable std::mutex mutex_;
  std::vector<sent_frame> sent_;
  std::vector<std::pair<int, std::string>> closes_;
  std::vector<std::shared_ptr<const bus_delivery>> deliveries_;
};

plugin_config entry(const std::string &name, json settings = json::object(),
                    const std::string &path = "") {
  static int line = 10;
  plugin_config c;
  c.name = name;
  c.path = path;
  c.settings = std::move(settings);
  c.location = "config.yaml:" + std::to_string(++line) + ":5";
  return c;
}

// A recorder entry named `name` with tag `name` (they share libtest_recorder.so).
plugin_config recorder(const std::string &name, json settings = json::object()) {
  settings["tag"] = name;
  return entry(name, std::move(settings), "libtest_recorder.so");
}

class plugin_runtime_test : public ::testing::Test {
protected:
  void SetUp() override {
    log_.set_sink([this](std::string_view line) {
      std::lock_guard lock(lines_mutex_);
      lines_.emplace_back(line);
    });
  }

  host_config config(std::vector<plugin_config> plugins) const {
    host_config c;
    c.plugin_dir = plugin_dir;
    c.plugins = std::move(plugins);
    return c;
  }
  std::unique_ptr<plugin_runtime> make(const host_config &c) {
    return std::make_unique<plugin_runtime>(c, ioc_, directory_, *bus_, log_, clock_);
  }
  std::unique_ptr<plugin_runtime> make(std::vector<plugin_config> plugins) {
    return make(config(std::move(plugins)));
  }
  std::string load_error(std::vector<plugin_config> plugins) {
    try {
      make(std::move(plugins));
    } catch (const plugin_load_error &e) {
      return e.what();
    }
    return "<no error: the plugins loaded>";
  }

  std::shared_ptr<fake_port> add_session(apistudio_session_id id, plugin_runtime &runtime) {
    auto port = std::make_shared<fake_port>(ioc_, id);
    port->attach(&runtime);
    directory_.add(id, port);
    return port;
  }

  // Runs the io_context until `done` holds; gives up after 5 s (a failing test, not a hang).
  template <class Pred> bool run_until(Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline)
        return false;
      if (ioc_.stopped())
        ioc_.restart();
      ioc_.run_one_for(std::chrono::milliseconds(20));
    }
    return true;
  }
  // Runs until nothing is left to do. True when that happened before `limit`: a timer that was
  // not cancelled keeps the io_context busy and makes this false.
  bool drain(std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    ioc_.restart();
    ioc_.run_for(limit);
    return ioc_.stopped();
  }
  template <class Fn> void on_strand(fake_port &port, Fn fn) {
    bool done = false;
    asio::post(port.raw_strand(), [&] {
      fn();
      done = true;
    });
    ASSERT_TRUE(run_until([&] { return done; }));
  }

  std::vector<std::string> lines() const {
    std::lock_guard lock(lines_mutex_);
    return lines_;
  }
  bool logged(const std::string &needle) const {
    for (const auto &l : lines())
      if (l.find(needle) != std::string::npos)
        return true;
    return false;
  }
  // Waits (without running the io_context: other threads do) for `count` lines containing needle.
  bool run_until_logged(const std::string &needle, std::size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      std::size_t seen = 0;
      for (const auto &l : lines())
        seen += l.find(needle) != std::string::npos ? 1 : 0;
      if (seen >= count)
        return true;
      if (std::chrono::steady_clock::now() > deadline)
        return false;
      std::this_thread::yield();
    }
  }
  // Tags of the recorders that logged exactly "<tag> <what>", in order.
  std::vector<std::string> calls(const std::string &what) const {
    std::vector<std::string> tags;
    for (const auto &l : lines()) {
      const auto start = l.find("] ");
      if (start == std::string::npos)
        continue;
      std::string rest = l.substr(start + 2);
      if (!rest.empty() && rest.back() == '\n')
        rest.pop_back();
      const auto space = rest.find(' ');
      if (space != std::string::npos && rest.substr(space + 1) == what)
        tags.push_back(rest.substr(0, space));
    }
    return tags;
  }

  asio::io_context ioc_;
  session_directory directory_;
  std::unique_ptr<message_bus> bus_ = make_local_message_bus(directory_);
  logger log_{log_level::debug};
  fake_clock clock_;
  mutable std::mutex lines_mutex_;
  std::vector<std::string> lines_;
};

// ---- loading ------------------------------------------------------------------------------------

TEST_F(plugin_runtime_test, missing_file_names_plugin_file_location_and_remedy) {
  auto e = entry("nosuch");
  const std::string error = load_error({e});
  EXPECT_THAT(error, HasSubstr("plugin 'nosuch'"));
  EXPECT_THAT(error, HasSubstr(fixture_file("nosuch")));
  EXPECT_THAT(error, HasSubstr(e.location));
  EXPECT_THAT(error, HasSubstr("does not exist"));
  EXPECT_THAT(error, HasSubstr("'path'"));
}

TEST_F(plugin_runtime_test, dlopen_failure_carries_dlerror_text) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("apistudio_plugin_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "libgarbage.so") << std::string(512, 'x'); // long enough to be parsed
  host_config c = config({entry("garbage")});
  c.plugin_dir = dir.string();
  std::string error;
  try {
    make(c);
  } catch (const plugin_load_error &e) {
    error = e.what();
  }
  std::filesystem::remove_all(dir);
  EXPECT_THAT(error, HasSubstr("plugin 'garbage'"));
  EXPECT_THAT(error, HasSubstr((dir / "libgarbage.so").string()));
  EXPECT_THAT(error, HasSubstr("could not be loaded"));
  EXPECT_THAT(error, HasSubstr("invalid ELF header")); // dlerror()'s own words
}

TEST_F(plugin_runtime_test, missing_version_symbol_is_refused) {
  auto e = entry("test_no_version");
  const std::string error = load_error({e});
  EXPECT_THAT(error, HasSubstr("plugin 'test_no_version' (" + fixture_file("test_no_version")));
  EXPECT_THAT(error, HasSubstr(e.location));
  EXPECT_THAT(error, HasSubstr("does not export apistudio_plugin_abi_version"));
}

TEST_F(plugin_runtime_test, wrong_major_is_refused_before_the_descriptor_is_touched) {
  ::unsetenv("APISTUDIO_TEST_DESCRIPTOR_CALLED");
  auto e = entry("test_wrong_major");
  const std::string error = load_error({e});
  EXPECT_THAT(error, HasSubstr("plugin 'test_wrong_major' (" + fixture_file("test_wrong_major")));
  EXPECT_THAT(error, HasSubstr(e.location));
  EXPECT_THAT(error, HasSubstr("SDK 2.0"));
  EXPECT_THAT(error, HasSubstr("SDK 1.2"));
  EXPECT_EQ(std::getenv("APISTUDIO_TEST_DESCRIPTOR_CALLED"), nullptr);
}

TEST_F(plugin_runtime_test, newer_minor_is_refused_before_the_descriptor_is_touched) {
  ::unsetenv("APISTUDIO_TEST_DESCRIPTOR_CALLED");
  auto e = entry("test_newer_minor");
  const std::string error = load_error({e});
  EXPECT_THAT(error, HasSubstr("plugin 'test_newer_minor' (" + fixture_file("test_newer_minor")));
  EXPECT_THAT(error, HasSubstr(e.location));
  EXPECT_THAT(error, HasSubstr("SDK 1.99"));
  EXPECT_THAT(error, HasSubstr("SDK 1.2"));
  EXPECT_THAT(error, HasSubstr("upgrade the host"));
  EXPECT_EQ(std::getenv("APISTUDIO_TEST_DESCRIPTOR_CALLED"), nullptr);
}

TEST_F(plugin_runtime_test, a_valid_version_lets_the_loader_read_the_descriptor) {
  // The counterpart of the two tests above: proves the environment flag does get set.
  ::unsetenv("APISTUDIO_TEST_DESCRIPTOR_CALLED");
  const std::string error = load_error({entry("test_descriptor_null")});
  EXPECT_NE(std::getenv("APISTUDIO_TEST_DESCRIPTOR_CALLED"), nullptr);
  EXPECT_THAT(error, HasSubstr("returned no descriptor"));
}

TEST_F(plugin_runtime_test, every_malformed_descriptor_is_refused_with_its_reason) {
  const std::pair<const char *, const char *> cases[] = {
      {"test_no_descriptor", "does not export apistudio_plugin_descriptor_v1"},
      {"test_descriptor_null", "returned no descriptor"},
      {"test_descriptor_small", "smaller than the"},
      {"test_descriptor_mismatch", "declares plugin SDK 1.3 in its descriptor but 1.2"},
      {"test_descriptor_no_name", "without a name"},
      {"test_descriptor_no_create", "without on_create"},
  };
  for (const auto &[name, reason] : cases) {
    SCOPED_TRACE(name);
    auto e = entry(name);
    const std::string error = load_error({e});
    EXPECT_THAT(error, HasSubstr(std::string("plugin '") + name + "' (" + fixture_file(name)));
    EXPECT_THAT(error, HasSubstr(e.location));
    EXPECT_THAT(error, HasSubstr(reason));
  }
}

// SDK 1.1 appended members to the descriptor and the host table: a plugin built with 1.0 (its
// version, its shorter descriptor) still loads in this 1.1 host and reports 1.0.
TEST_F(plugin_runtime_test, a_plugin_built_with_sdk_1_0_loads_in_this_host) {
  auto runtime = make({entry("test_sdk_1_0")});
  const auto info = runtime->plugins();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].sdk_version, "1.0");
  EXPECT_EQ(info[0].version, "0.0.1");
}

TEST_F(plugin_runtime_test, refused_settings_show_the_plugins_message_and_location) {
  auto e = entry("test_refuses_settings", json{{"y", 1}});
  const std::string error = load_error({e});
  EXPECT_EQ(error, "plugin 'test_refuses_settings' (" + fixture_file("test_refuses_settings") +
                       ") refused its settings at " + e.location + ": setting 'x' is required");
  EXPECT_NO_THROW(make({entry("test_refuses_settings", json{{"x", 1}})}));
}

TEST_F(plugin_runtime_test, duplicate_names_are_refused) {
  const std::string error = load_error({recorder("A"), recorder("A")});
  EXPECT_THAT(error, HasSubstr("plugin 'A'"));
  EXPECT_THAT(error, HasSubstr("configured twice"));
}

TEST_F(plugin_runtime_test, disabled_entries_are_not_loaded) {
  auto off = entry("nosuch");
  off.enabled = false;
  auto runtime = make({off});
  EXPECT_TRUE(runtime->empty());
}

TEST_F(plugin_runtime_test, reports_what_it_loaded_and_resolves_paths) {
  auto absolute = entry("abs", json::object(), fixture_file("test_c_plugin"));
  auto runtime = make({recorder("A"), absolute, entry("test_throws")});
  const auto info = runtime->plugins();
  ASSERT_EQ(info.size(), 3u);
  EXPECT_EQ(info[0].name, "A");
  EXPECT_EQ(info[0].version, "1.2.3");
  EXPECT_EQ(info[0].sdk_version, "1.2");
  EXPECT_EQ(info[0].file, fixture_file("test_recorder"));
  EXPECT_EQ(info[1].file, fixture_file("test_c_plugin"));
  EXPECT_EQ(info[2].file, fixture_file("test_throws"));
  EXPECT_TRUE(logged("[plugin:abs] c plugin created"));
}

TEST_F(plugin_runtime_test, a_failed_load_destroys_the_plugins_already_created) {
  const std::string error = load_error({recorder("A"), entry("nosuch")});
  EXPECT_THAT(error, HasSubstr("plugin 'nosuch'"));
  EXPECT_THAT(calls("destroyed"), ElementsAre("A"));
}

TEST_F(plugin_runtime_test, destroys_instances_in_reverse_order) {
  make({recorder("A"), recorder("B"), recorder("C")}).reset();
  EXPECT_THAT(calls("destroyed"), ElementsAre("C", "B", "A"));
}

// ---- sessions -----------------------------------------------------------------------------------

TEST_F(plugin_runtime_test, session_open_passes_the_request_and_close_runs_in_reverse) {
  auto runtime = make({recorder("A", {{"identity", "alice"}}), recorder("B"), recorder("C")});
  auto port = add_session(7, *runtime);
  session_context &ctx = port->context();
  const open_outcome out = runtime->session_open(ctx, {{"X-Probe", "probe-value"}});
  EXPECT_EQ(out.http_status, 0);
  EXPECT_FALSE(out.failed);
  EXPECT_THAT(calls("on_session_open"), ElementsAre("A", "B", "C"));
  EXPECT_TRUE(logged("A info path=/ws query=a=1 client_id=client-7 remote=127.0.0.1 "
                     "x-probe=probe-value id_matches=yes"));
  EXPECT_EQ(ctx.identity, "alice");
  EXPECT_EQ(ctx.plugin_states.size(), 3u);
  EXPECT_THAT(ctx.plugin_opened, ElementsAre(true, true, true));

  hook_message msg;
  msg.payload = "x";
  runtime->client_message(ctx, msg);
  EXPECT_TRUE(logged("B identity=alice")); // set by A, visible to later plugins

  runtime->session_close(ctx);
  EXPECT_THAT(calls("on_session_close"), ElementsAre("C", "B", "A"));
}

TEST_F(plugin_runtime_test, a_rejection_stops_the_chain_and_only_opened_plugins_are_closed) {
  auto runtime = make({recorder("A"), recorder("B", {{"reject_status", 401}}), recorder("C")});
  auto port = add_session(1, *runtime);
  const open_outcome out = runtime->session_open(port->context(), {});
  EXPECT_EQ(out.http_status, 401);
  EXPECT_EQ(out.message, "rejected by B");
  EXPECT_EQ(out.plugin, "B");
  EXPECT_FALSE(out.failed);
  EXPECT_THAT(calls("on_session_open"), ElementsAre("A", "B"));
  runtime->session_close(port->context());
  EXPECT_THAT(calls("on_session_close"), ElementsAre("B", "A"));
}

TEST_F(plugin_runtime_test, a_non_error_rejection_status_becomes_403) {
  auto runtime = make({recorder("A", {{"reject_status", 200}})});
  auto port = add_session(1, *runtime);
  EXPECT_EQ(runtime->session_open(port->context(), {}).http_status, 403);
  runtime->session_close(port->context());
}

TEST_F(plugin_runtime_test, a_throwing_session_open_fails_the_session) {
  auto runtime = make({recorder("A"), recorder("B", {{"throw_on_open", true}}), recorder("C")});
  auto port = add_session(3, *runtime);
  const open_outcome out = runtime->session_open(port->context(), {});
  EXPECT_TRUE(out.failed);
  EXPECT_EQ(out.plugin, "B");
  EXPECT_TRUE(logged("plugin 'B' failed in on_session_open; refusing session 3 with 500"));
  EXPECT_THAT(calls("on_session_open"), ElementsAre("A", "B"));
  runtime->session_close(port->context());
  EXPECT_THAT(calls("on_session_close"), ElementsAre("B", "A"));
}

// ---- message chains -----------------------------------------------------------------------------

class chain_test : public plugin_runtime_test {
protected:
  // May be called again in a test: the previous session is closed first.
  void start(std::vector<plugin_config> plugins) {
    if (runtime_)
      runtime_->session_close(ctx());
    runtime_ = make(std::move(plugins));
    port_ = add_session(7, *runtime_);
    ASSERT_EQ(runtime_->session_open(ctx(), {}).http_status, 0);
  }
  void TearDown() override {
    if (runtime_)
      runtime_->session_close(ctx());
  }
  session_context &ctx() { return port_->context(); }

  std::unique_ptr<plugin_runtime> runtime_;
  std::shared_ptr<fake_port> port_;
};

TEST_F(chain_test, client_messages_run_in_config_order_upstream_in_reverse) {
  start({recorder("A", {{"client_verdict", "append_tag"}, {"upstream_verdict", "append_tag"}}),
         recorder("B", {{"client_verdict", "append_tag"}, {"upstream_verdict", "append_tag"}}),
         recorder("C", {{"client_verdict", "append_tag"}, {"upstream_verdict", "append_tag"}})});
  hook_message up;
  up.payload = "m";
  const chain_outcome out = runtime_->client_message(ctx(), up);
  EXPECT_EQ(out.verdict, APISTUDIO_CONTINUE);
  EXPECT_EQ(out.plugin, "");
  EXPECT_TRUE(up.replaced);
  EXPECT_EQ(up.payload, "m|A|B|C");
  EXPECT_THAT(calls("on_client_message"), ElementsAre("A", "B", "C"));

  hook_message down;
  down.payload = "m";
  EXPECT_EQ(runtime_->message_from_upstream(ctx(), down).verdict, APISTUDIO_CONTINUE);
  EXPECT_EQ(down.payload, "m|C|B|A");
  EXPECT_THAT(calls("on_upstream_message"), ElementsAre("C", "B", "A"));
}

TEST_F(chain_test, a_chain_that_only_continues_does_not_copy_the_payload) {
  start({recorder("A"), entry("test_c_plugin")}); // the C plugin has no client hook
  const std::string original = "unchanged";
  hook_message msg;
  msg.payload = original;
  EXPECT_EQ(runtime_->client_message(ctx(), msg).verdict, APISTUDIO_CONTINUE);
  EXPECT_EQ(msg.payload.data(), original.data());
  EXPECT_FALSE(msg.replaced);
}

TEST_F(chain_test, an_empty_runtime_passes_everything) {
  runtime_ = make(std::vector<plugin_config>{});
  port_ = add_session(7, *runtime_);
  EXPECT_EQ(runtime_->session_open(ctx(), {}).http_status, 0);
  const std::string original = "x";
  hook_message msg;
  msg.payload = original;
  EXPECT_EQ(runtime_->client_message(ctx(), msg).verdict, APISTUDIO_CONTINUE);
  EXPECT_EQ(runtime_->message_from_upstream(ctx(), msg).verdict, APISTUDIO_CONTINUE);
  EXPECT_EQ(msg.payload.data(), original.data());
}

TEST_F(chain_test, handled_stops_the_chain) {
  start({recorder("A"), recorder("B", {{"client_verdict", "drop"}}), recorder("C")});
  hook_message msg;
  msg.payload = "m";
  const chain_outcome out = runtime_->client_message(ctx(), msg);
  EXPECT_EQ(out.verdict, APISTUDIO_HANDLED);
  EXPECT_EQ(out.plugin, "B");
  EXPECT_THAT(calls("on_client_message"), ElementsAre("A", "B"));
}

TEST_F(chain_test, replace_continues_with_the_new_payload) {
  start({recorder("A", {{"client_verdict", "replace"}, {"replace_with", "new"}}),
         recorder("B", {{"client_verdict", "append_tag"}})});
  hook_message msg;
  msg.payload = "old";
  EXPECT_EQ(runtime_->client_message(ctx(), msg).verdict, APISTUDIO_CONTINUE);
  EXPECT_EQ(msg.payload, "new|B");
}

TEST_F(chain_test, reply_stops_the_chain_with_the_reply) {
  start({recorder("A", {{"client_verdict", "append_tag"}}),
         recorder("B", {{"client_verdict", "reply"}}), recorder("C")});
  hook_message msg;
  msg.payload = "m";
  const chain_outcome out = runtime_->client_message(ctx(), msg);
  EXPECT_EQ(out.verdict, APISTUDIO_REPLY);
  EXPECT_EQ(out.plugin, "B");
  EXPECT_EQ(msg.reply, "m|A|B");
  EXPECT_FALSE(msg.reply_binary);
  EXPECT_THAT(calls("on_client_message"), ElementsAre("A", "B"));
}

TEST_F(chain_test, close_stops_the_chain_with_code_and_reason) {
  start({recorder("A", {{"upstream_verdict", "close"}, {"close_code", 4321}}),
         recorder("B", {{"upstream_verdict", "close"}, {"close_code", 999}})});
  hook_message msg;
  msg.payload = "m";
  const chain_outcome out = runtime_->message_from_upstream(ctx(), msg); // B runs first
  EXPECT_EQ(out.verdict, APISTUDIO_CLOSE);
  EXPECT_EQ(out.plugin, "B");
  EXPECT_EQ(msg.close_code, 1000); // 999 cannot be sent
  EXPECT_EQ(msg.close_reason, "closed by B");

  start({recorder("A", {{"client_verdict", "close"}, {"close_code", 4321}})});
  hook_message other;
  other.payload = "m";
  EXPECT_EQ(runtime_->client_message(ctx(), other).verdict, APISTUDIO_CLOSE);
  EXPECT_EQ(other.close_code, 4321);
}

TEST_F(chain_test, fail_is_logged_with_the_plugin_and_the_session) {
  start({recorder("A"), recorder("B", {{"client_verdict", "fail"}}), recorder("C")});
  hook_message msg;
  msg.payload = "m";
  const chain_outcome out = runtime_->client_message(ctx(), msg);
  EXPECT_EQ(out.verdict, APISTUDIO_FAIL);
  EXPECT_EQ(out.plugin, "B");
  EXPECT_TRUE(logged("ERROR [plugin:B] plugin 'B' failed in on_client_message; closing session 7 "
                     "with 1011"));
  EXPECT_THAT(calls("on_client_message"), ElementsAre("A", "B"));
}

TEST_F(chain_test, an_unknown_verdict_is_a_failure) {
  start({recorder("A", {{"upstream_verdict", "bogus"}})});
  hook_message msg;
  msg.payload = "m";
  EXPECT_EQ(runtime_->message_from_upstream(ctx(), msg).verdict, APISTUDIO_FAIL);
  EXPECT_TRUE(
      logged("plugin 'A' failed in on_message_from_upstream (it returned unknown verdict 42)"));
}

TEST_F(chain_test, a_throwing_plugin_fails_the_message_and_is_named) {
  start({recorder("A"), entry("thrower", json::object(), "libtest_throws.so"), recorder("C")});
  hook_message msg;
  msg.payload = "m";
  const chain_outcome out = runtime_->client_message(ctx(), msg);
  EXPECT_EQ(out.verdict, APISTUDIO_FAIL);
  EXPECT_EQ(out.plugin, "thrower");
  EXPECT_TRUE(logged("plugin 'thrower' failed in on_client_message; closing session 7 with 1011"));
  EXPECT_THAT(calls("on_client_message"), ElementsAre("A"));

  start({recorder("A", {{"upstream_verdict", "throw"}})});
  hook_message down;
  down.payload = "m";
  EXPECT_EQ(runtime_->message_from_upstream(ctx(), down).verdict, APISTUDIO_FAIL);
}

TEST_F(chain_test, upstream_open_and_close_are_reported) {
  start({recorder("A"), recorder("B")});
  upstream_target target;
  std::string why;
  ASSERT_TRUE(parse_upstream_url("ws://127.0.0.1:9/x", target, why));
  runtime_->upstream_opened(ctx(), "c1", "ws://127.0.0.1:9/x", target, "chat");
  runtime_->upstream_closed(ctx(), "c1", "ws://127.0.0.1:9/x", target, 1006, "gone");
  EXPECT_THAT(calls("on_upstream_opened c1 ws://127.0.0.1:9/x chat"), ElementsAre("A", "B"));
  EXPECT_THAT(calls("on_upstream_closed c1 1006 gone"), ElementsAre("A", "B"));
}

// ---- upstream_connect ---------------------------------------------------------------------------

upstream_request_data request_with(std::vector<std::pair<std::string, std::string>> headers) {
  upstream_request_data r;
  r.url = "ws://127.0.0.1:9/echo?k=v";
  std::string why;
  EXPECT_TRUE(parse_upstream_url(r.url, r.target, why)) << why;
  r.connection_id = "c1";
  r.headers = std::move(headers);
  r.protocols = {"chat"};
  return r;
}

TEST_F(chain_test, upstream_connect_sets_and_removes_headers) {
  start({recorder("A", {{"set_header", {{"X-Test", "v"}}}, {"remove_header", "x-remove"}}),
         recorder("B", {{"set_header", {{"x-test", "overwritten"}, {"X-Other", "o"}}}})});
  auto r = request_with({{"X-Remove", "1"}, {"X-Keep", "k"}, {"X-REMOVE", "2"}});
  const chain_outcome out = runtime_->upstream_connect(ctx(), r);
  EXPECT_EQ(out.verdict, APISTUDIO_CONTINUE);
  using header = std::pair<std::string, std::string>;
  EXPECT_THAT(r.headers, ElementsAre(header{"X-Keep", "k"}, header{"X-Test", "overwritten"},
                                     header{"X-Other", "o"}));
  EXPECT_THAT(calls("on_upstream_connect"), ElementsAre("A", "B"));
  EXPECT_TRUE(logged("A url=ws://127.0.0.1:9/echo?k=v connection_id=c1 protocols=1"));
  // The URL as the host parsed it: no plugin parses it again.
  EXPECT_TRUE(logged("A url_parts scheme=ws host=127.0.0.1 port=9 path=/echo query=k=v"));
}

TEST_F(chain_test, header_modes_append_and_if_absent) {
  start({recorder("A", {{"set_header", {{"Accept", "b"}, {"Cookie", "c=2"}}},
                        {"set_header_mode", "append"}}),
         recorder("B", {{"set_header", {{"accept", "ignored"}, {"X-New", "n"}}},
                        {"set_header_mode", "if_absent"}})});
  auto r = request_with({{"accept", "a"}, {"Cookie", "c=1"}});
  runtime_->upstream_connect(ctx(), r);
  using header = std::pair<std::string, std::string>;
  EXPECT_THAT(r.headers, ElementsAre(header{"accept", "a, b"}, header{"Cookie", "c=1; c=2"},
                                     header{"X-New", "n"}));
}

TEST_F(chain_test, reserved_and_invalid_headers_are_refused) {
  start({recorder("A", {{"set_header",
                         {{"Host", "evil"},
                          {"connection", "close"},
                          {"Upgrade", "h2c"},
                          {"Sec-WebSocket-Key", "x"},
                          {"Bad Name", "v"},
                          {"X-Split", "a\r\nX-Injected: 1"},
                          {"X-Fine", "ok"}}}})});
  auto r = request_with({});
  runtime_->upstream_connect(ctx(), r);
  for (const char *name :
       {"Host", "connection", "Upgrade", "Sec-WebSocket-Key", "Bad Name", "X-Split"}) {
    EXPECT_TRUE(logged(std::string("A set_header ") + name + " refused")) << name;
  }
  EXPECT_TRUE(logged("A set_header X-Fine ok"));
  using header = std::pair<std::string, std::string>;
  EXPECT_THAT(r.headers, ElementsAre(header{"X-Fine", "ok"}));
}

TEST_F(chain_test, a_refusal_stops_the_chain_with_the_plugins_code_and_message) {
  start({recorder("A"), recorder("B", {{"deny", "NOT_ALLOWED"}}), recorder("C")});
  auto r = request_with({});
  const chain_outcome out = runtime_->upstream_connect(ctx(), r);
  EXPECT_EQ(out.verdict, APISTUDIO_REFUSE);
  EXPECT_EQ(out.plugin, "B");
  EXPECT_EQ(r.refusal.code, "NOT_ALLOWED");
  EXPECT_EQ(r.refusal.message, "denied by B");
  EXPECT_THAT(calls("on_upstream_connect"), ElementsAre("A", "B"));
}

TEST_F(chain_test, a_stop_verdict_on_connect_denies_with_a_default_message) {
  start({recorder("A", {{"connect_verdict", "drop"}}), recorder("B")});
  auto r = request_with({});
  const chain_outcome out = runtime_->upstream_connect(ctx(), r);
  EXPECT_EQ(out.verdict, APISTUDIO_REFUSE);
  EXPECT_EQ(r.refusal.code, "PLUGIN_REFUSED");
  EXPECT_EQ(r.refusal.message, "Refused by plugin 'A'");
  EXPECT_THAT(calls("on_upstream_connect"), ElementsAre("A"));
}

TEST_F(chain_test, a_failing_connect_hook_is_a_failure_not_a_denial) {
  start({recorder("A", {{"connect_verdict", "throw"}})});
  auto r = request_with({});
  EXPECT_EQ(runtime_->upstream_connect(ctx(), r).verdict, APISTUDIO_FAIL);
  EXPECT_TRUE(r.refusal.code.empty());
  EXPECT_TRUE(logged("plugin 'A' failed in on_upstream_connect; closing session 7 with 1011"));
}

// ---- the C plugin -------------------------------------------------------------------------------

TEST_F(chain_test, the_c_plugin_uppercases_text_and_adds_its_header) {
  start({entry("test_c_plugin")});
  hook_message text;
  text.payload = "hello World 1";
  EXPECT_EQ(runtime_->message_from_upstream(ctx(), text).verdict, APISTUDIO_CONTINUE);
  EXPECT_TRUE(text.replaced);
  EXPECT_EQ(text.payload, "HELLO WORLD 1");

  const std::string bytes = "abc";
  hook_message binary;
  binary.payload = bytes;
  binary.binary = true;
  runtime_->message_from_upstream(ctx(), binary);
  EXPECT_EQ(binary.payload.data(), bytes.data());

  auto r = request_with({});
  EXPECT_EQ(runtime_->upstream_connect(ctx(), r).verdict, APISTUDIO_CONTINUE);
  using header = std::pair<std::string, std::string>;
  EXPECT_THAT(r.headers, ElementsAre(header{"X-C-Plugin", "yes"}));
}

// ---- timers -------------------------------------------------------------------------------------

TEST_F(plugin_runtime_test, a_session_timer_fires_on_the_session_strand) {
  auto runtime = make({recorder("A", {{"timer_ms", 1}})});
  auto port = add_session(5, *runtime);
  on_strand(*port, [&] { runtime->session_open(port->context(), {}); });
  ASSERT_TRUE(run_until([&] { return !port->sent().empty(); }));
  const auto frames = port->sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(json::parse(frames[0].payload), (json{{"type", "timer"}, {"tag", "A"}}));
  EXPECT_FALSE(frames[0].binary);
  EXPECT_TRUE(frames[0].on_strand);
  EXPECT_TRUE(drain()); // a one-shot timer leaves nothing behind
  EXPECT_EQ(port->sent().size(), 1u);
  on_strand(*port, [&] { runtime->session_close(port->context()); });
}

TEST_F(plugin_runtime_test, repeating_timers_stop_at_session_close) {
  auto runtime = make({recorder("A", {{"timer_ms", 1}, {"timer_interval_ms", 1}})});
  auto port = add_session(5, *runtime);
  on_strand(*port, [&] { runtime->session_open(port->context(), {}); });
  ASSERT_TRUE(run_until([&] { return port->sent().size() >= 3; }));
  on_strand(*port, [&] { runtime->session_close(port->context()); });
  const std::size_t after_close = port->sent().size();
  EXPECT_TRUE(drain(std::chrono::milliseconds(500))); // would keep running if still armed
  EXPECT_EQ(port->sent().size(), after_close);
}

TEST_F(plugin_runtime_test, a_pending_timer_is_cancelled_by_session_close) {
  auto runtime = make({recorder("A", {{"timer_ms", 3'600'000}})});
  auto port = add_session(5, *runtime);
  on_strand(*port, [&] { runtime->session_open(port->context(), {}); });
  on_strand(*port, [&] { runtime->session_close(port->context()); });
  EXPECT_TRUE(drain()); // the hour-long wait was cancelled, not waited for
  EXPECT_TRUE(port->sent().empty());
}

TEST_F(plugin_runtime_test, a_timer_for_an_unknown_session_is_not_started) {
  auto runtime = make({recorder("A", {{"timer_ms", 1}})});
  fake_port orphan(ioc_, 99); // not in the directory
  runtime->session_open(orphan.context(), {});
  EXPECT_TRUE(logged("A timer_started 0"));
  runtime->session_close(orphan.context());
}

TEST_F(plugin_runtime_test, a_session_less_timer_runs_on_the_io_context) {
  auto runtime = make({recorder("A", {{"global_timer_ms", 0}})});
  EXPECT_TRUE(run_until([&] { return logged("A global_timer"); }));
}

TEST_F(plugin_runtime_test, a_pending_timer_keeps_the_library_loaded_until_its_handler_is_gone) {
  auto runtime = make({recorder("A", {{"global_timer_ms", 3'600'000}})});
  const std::string file = runtime->plugins().at(0).file;
  auto is_loaded = [&] {
    void *h = ::dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (h != nullptr)
      ::dlclose(h);
    return h != nullptr;
  };
  ASSERT_TRUE(is_loaded());
  runtime.reset(); // on_destroy ran, the runtime released the library...
  EXPECT_THAT(calls("destroyed"), ElementsAre("A"));
  EXPECT_TRUE(is_loaded()); // ...but the timer's handler still holds it
  EXPECT_TRUE(drain());     // the cancelled handler runs (without calling the plugin) and goes
  EXPECT_FALSE(is_loaded());
  EXPECT_FALSE(logged("A global_timer"));
}

TEST_F(plugin_runtime_test, no_timer_callback_runs_during_or_after_on_destroy) {
  // Repeating timers of two plugins firing on two io threads while the runtime is destroyed from
  // this one: the destructor must wait for callbacks in flight, and none may start afterwards
  // (the callback's user_data is the plugin object: ASan would also see a late call).
  auto runtime = make({recorder("A", {{"global_timer_ms", 0}, {"global_timer_interval_ms", 1}}),
                       recorder("B", {{"global_timer_ms", 0}, {"global_timer_interval_ms", 1}})});
  auto work = asio::make_work_guard(ioc_);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([this] { ioc_.run(); });
  ASSERT_TRUE(run_until_logged("global_timer", 20));
  runtime.reset();
  work.reset();
  for (auto &t : threads)
    t.join(); // returns only once every timer is cancelled
  const auto all = lines();
  std::size_t first_destroyed = all.size();
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].find("destroyed") != std::string::npos && first_destroyed == all.size())
      first_destroyed = i;
    if (all[i].find("global_timer") != std::string::npos) {
      EXPECT_LT(i, first_destroyed) << "a timer callback ran after on_destroy: " << all[i];
    }
  }
  EXPECT_THAT(calls("destroyed"), ElementsAre("B", "A"));
}

// ---- bus ----------------------------------------------------------------------------------------

TEST_F(plugin_runtime_test, bus_publications_reach_subscribed_sessions_of_the_same_plugin_only) {
  auto runtime =
      make({recorder("A", {{"bus_topic", "room"}}), recorder("B", {{"bus_topic", "room"}})});
  auto s1 = add_session(1, *runtime);
  auto s2 = add_session(2, *runtime);
  auto s3 = add_session(3, *runtime); // in the directory, never subscribed
  on_strand(*s1, [&] { runtime->session_open(s1->context(), {}); });
  on_strand(*s2, [&] { runtime->session_open(s2->context(), {}); });
  EXPECT_THAT(calls("subscribed yes"), ElementsAre("A", "B", "A", "B"));

  on_strand(*s1, [&] {
    hook_message msg;
    msg.payload = "pub:hello";
    EXPECT_EQ(runtime->client_message(s1->context(), msg).verdict,
              APISTUDIO_HANDLED); // A consumed it
  });
  ASSERT_TRUE(run_until([&] { return s1->sent().size() == 1 && s2->sent().size() == 1; }));
  const json expected{{"type", "bus"}, {"tag", "A"}, {"topic", "room"}, {"payload", "hello"}};
  EXPECT_EQ(json::parse(s1->sent()[0].payload), expected);
  EXPECT_EQ(json::parse(s2->sent()[0].payload), expected);
  EXPECT_TRUE(s1->sent()[0].on_strand);
  EXPECT_THAT(calls("on_bus_message"), ElementsAre("A", "A")); // B's "room" is another topic
  EXPECT_TRUE(s3->sent().empty());

  // A session's subscriptions end with it.
  on_strand(*s2, [&] { runtime->session_close(s2->context()); });
  on_strand(*s1, [&] {
    hook_message msg;
    msg.payload = "pub:again";
    runtime->client_message(s1->context(), msg);
  });
  ASSERT_TRUE(run_until([&] { return s1->sent().size() == 2; }));
  EXPECT_TRUE(drain());
  EXPECT_EQ(s2->sent().size(), 1u);
  on_strand(*s1, [&] { runtime->session_close(s1->context()); });
}

TEST_F(plugin_runtime_test, deliver_bus_routes_by_the_plugin_prefix) {
  auto runtime = make({recorder("A"), recorder("B")});
  auto port = add_session(1, *runtime);
  runtime->session_open(port->context(), {});
  for (const char *topic : {"B/t", "nobody/t", "no-slash"})
    runtime->deliver_bus(port->context(),
                         std::make_shared<const bus_delivery>(bus_delivery{topic, "p"}));
  EXPECT_THAT(calls("on_bus_message"), ElementsAre("B"));
  ASSERT_EQ(port->sent().size(), 1u);
  EXPECT_EQ(json::parse(port->sent()[0].payload).at("topic"), "t");
  runtime->session_close(port->context());
}

// A publication reaches every member of a workspace as one payload: what the collaboration plugin
// forwards from on_bus_message is a part of the bus delivery, and the host queues a reference to
// that delivery (no copy per recipient, message_bus.hpp). A send of bytes that are not part of the
// delivery (the joiner's presence snapshot) is still copied.
TEST_F(plugin_runtime_test, a_bus_delivery_forwarded_by_a_plugin_is_shared_not_copied) {
  auto runtime = make({entry("collaboration")});
  auto publisher = add_session(1, *runtime);
  auto alice = add_session(2, *runtime);
  auto bob = add_session(3, *runtime);
  publisher->context().query = "user_id=pub&workspace_id=w1";
  alice->context().query = "user_id=alice&workspace_id=w1";
  bob->context().query = "user_id=bob&workspace_id=w1";
  for (auto *p : {alice.get(), bob.get(), publisher.get()})
    on_strand(*p, [&] { EXPECT_EQ(runtime->session_open(p->context(), {}).http_status, 0); });
  ASSERT_TRUE(drain());
  const std::size_t alice_before = alice->sent().size();
  const std::size_t bob_before = bob->sent().size();
  ASSERT_GE(alice_before, 1u); // at least a presence event

  const std::string changes(64 * 1024, 'x');
  const std::string update =
      json{{"type", "collection_updated"}, {"collection_id", "c1"}, {"changes", {{"n", changes}}}}
          .dump();
  on_strand(*publisher, [&] {
    hook_message msg;
    msg.payload = update;
    EXPECT_EQ(runtime->client_message(publisher->context(), msg).verdict, APISTUDIO_HANDLED);
  });
  ASSERT_TRUE(run_until([&] {
    return alice->sent().size() == alice_before + 1 && bob->sent().size() == bob_before + 1;
  }));
  const auto delivery = alice->deliveries().back();
  ASSERT_EQ(bob->deliveries().back(), delivery); // the bus shares one delivery already
  for (auto *p : {alice.get(), bob.get()}) {
    const sent_frame f = p->sent().back();
    EXPECT_EQ(json::parse(f.payload).at("changes").at("n"), changes);
    EXPECT_EQ(f.owner, delivery.get()) << "the frame holds the delivery, not a copy";
    const std::string_view whole = delivery->payload;
    EXPECT_TRUE(f.data >= whole.data() && f.data + f.payload.size() <= whole.data() + whole.size())
        << "the frame's bytes are the delivery's own";
  }
  // Sent from inside on_session_open (no delivery in hand): a copy of its own.
  const sent_frame snapshot = bob->sent().front();
  EXPECT_NE(snapshot.owner, nullptr);
  for (const auto &d : bob->deliveries())
    EXPECT_NE(snapshot.owner, d.get());
  for (auto *p : {alice.get(), bob.get(), publisher.get()})
    on_strand(*p, [&] { runtime->session_close(p->context()); });
}

} // namespace
} // namespace apistudio
