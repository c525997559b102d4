// fake_host_test.cpp — the fake host's own tests: that it behaves as plugin_abi.h says the host
// does, so a plugin test that passes on it means what it says.
//
// One "scripted" plugin, exported through the SDK's C++ layer, runs whatever each test puts in its
// script; the tests then look at what the fake recorded and returned.
#include <apistudio/plugin.hpp>
#include <apistudio/testing/fake_host.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace sdk = apistudio::sdk;
namespace fake = apistudio::testing; // (plain `testing` is GoogleTest's)

struct probe_state {
  static inline int alive = 0;
  probe_state() { ++alive; }
  ~probe_state() { --alive; }
  probe_state(const probe_state &) = delete;
  probe_state &operator=(const probe_state &) = delete;
  int value = 0;
};

// What the scripted plugin does in each hook; unset entries do the SDK's default.
struct script {
  std::optional<sdk::host> host; // set by the plugin's constructor
  std::function<sdk::outcome(sdk::session &, const sdk::session_info &,
                             std::unique_ptr<probe_state> &)>
      open;
  std::function<void(sdk::session &, probe_state *)> close;
  std::function<sdk::outcome(sdk::session &, probe_state *, sdk::message &)> client, to_upstream,
      from_upstream;
  std::function<sdk::outcome(sdk::session &, probe_state *, sdk::upstream_request &)> connect;
  std::function<void(sdk::session &, probe_state *, const sdk::upstream_info &)> opened,
      upstream_closed;
  std::function<void(sdk::session &, probe_state *, std::string_view, std::string_view)> bus;
  std::vector<std::string> events; // what happened, in order
  bool in_hook = false;            // a hook is running: nothing may re-enter the plugin
  int closes = 0;
};

script *current = nullptr;

// Runs a hook's body, failing the test if a hook was entered while another one was running: the
// host never does that, so neither may the fake.
template <class Fn> auto run_once(bool &in_hook, Fn &&fn) {
  if (in_hook)
    ADD_FAILURE() << "a hook was re-entered";
  in_hook = true;
  struct leave {
    bool &flag;
    ~leave() { flag = false; }
  } guard{in_hook};
  return fn();
}

class scripted final : public sdk::plugin<probe_state> {
public:
  scripted(sdk::host h, std::string_view settings) : plugin(h), s_(*current) {
    if (settings.find("refuse") != std::string_view::npos)
      throw sdk::settings_error("scripted: limit: must be positive", "/rules/0/limit");
    if (settings.find("throw") != std::string_view::npos)
      throw std::runtime_error("scripted: cannot start");
    s_.host.emplace(h);
  }
  ~scripted() override { s_.events.push_back("destroy"); }

  sdk::outcome on_session_open(sdk::session &s, const sdk::session_info &i,
                               std::unique_ptr<probe_state> &st) override {
    return run_once(s_.in_hook,
                    [&] { return s_.open ? s_.open(s, i, st) : sdk::verdict::continue_; });
  }
  void on_session_close(sdk::session &s, probe_state *st) override {
    ++s_.closes;
    run_once(s_.in_hook, [&] {
      if (s_.close)
        s_.close(s, st);
      return 0;
    });
  }
  sdk::outcome on_client_message(sdk::session &s, probe_state *st, sdk::message &m) override {
    return run_once(s_.in_hook,
                    [&] { return s_.client ? s_.client(s, st, m) : sdk::verdict::continue_; });
  }
  sdk::outcome on_message_to_upstream(sdk::session &s, probe_state *st, sdk::message &m) override {
    return run_once(s_.in_hook, [&] {
      return s_.to_upstream ? s_.to_upstream(s, st, m) : sdk::verdict::continue_;
    });
  }
  sdk::outcome on_message_from_upstream(sdk::session &s, probe_state *st,
                                        sdk::message &m) override {
    return run_once(s_.in_hook, [&] {
      return s_.from_upstream ? s_.from_upstream(s, st, m) : sdk::verdict::continue_;
    });
  }
  sdk::outcome on_upstream_connect(sdk::session &s, probe_state *st,
                                   sdk::upstream_request &r) override {
    return run_once(s_.in_hook,
                    [&] { return s_.connect ? s_.connect(s, st, r) : sdk::verdict::continue_; });
  }
  void on_upstream_opened(sdk::session &s, probe_state *st, const sdk::upstream_info &i) override {
    run_once(s_.in_hook, [&] {
      if (s_.opened)
        s_.opened(s, st, i);
      return 0;
    });
  }
  void on_upstream_closed(sdk::session &s, probe_state *st, const sdk::upstream_info &i) override {
    run_once(s_.in_hook, [&] {
      if (s_.upstream_closed)
        s_.upstream_closed(s, st, i);
      return 0;
    });
  }
  void on_bus_message(sdk::session &s, probe_state *st, std::string_view topic,
                      std::string_view payload) override {
    run_once(s_.in_hook, [&] {
      if (s_.bus)
        s_.bus(s, st, topic, payload);
      return 0;
    });
  }

private:
  script &s_;
};

class fake_host_test : public ::testing::Test {
protected:
  void SetUp() override {
    current = &s;
    probe_state::alive = 0;
  }
  void TearDown() override {
    EXPECT_EQ(probe_state::alive, 0) << "a session state was not freed";
    current = nullptr;
  }
  static const apistudio_plugin_descriptor *descriptor() {
    return sdk::detail::exports<scripted>::descriptor("scripted", "1.0.0");
  }
  const sdk::host &host_of_plugin() { return *s.host; }

  script s;
};

// ---- creation ---------------------------------------------------------------------------------

TEST_F(fake_host_test, refuses_what_the_host_would_not_load) {
  EXPECT_THROW(fake::fake_host(nullptr), std::invalid_argument);
  apistudio_plugin_descriptor d = *descriptor();
  d.abi_version = 2u << 16;
  EXPECT_THROW(fake::fake_host{&d}, std::invalid_argument);
  d = *descriptor();
  d.abi_version = APISTUDIO_SDK_ABI_VERSION + 1; // a newer minor
  EXPECT_THROW(fake::fake_host{&d}, std::invalid_argument);
  d = *descriptor();
  d.struct_size = 16;
  EXPECT_THROW(fake::fake_host{&d}, std::invalid_argument);
  d = *descriptor();
  d.on_create = nullptr;
  EXPECT_THROW(fake::fake_host{&d}, std::invalid_argument);
}

TEST_F(fake_host_test, a_refused_setting_comes_back_with_its_json_pointer) {
  fake::fake_host host(descriptor(), R"({"refuse": true})");

  EXPECT_FALSE(host.created());
  ASSERT_TRUE(host.create_refusal());
  EXPECT_EQ(host.create_refusal()->message, "scripted: limit: must be positive");
  EXPECT_EQ(host.create_refusal()->setting, "/rules/0/limit");
  EXPECT_THROW(host.open_session(), std::logic_error);
}

TEST_F(fake_host_test, any_exception_of_the_constructor_refuses_the_settings) {
  fake::fake_host host(descriptor(), "throw");

  EXPECT_FALSE(host.created());
  EXPECT_EQ(host.create_refusal()->message, "scripted: cannot start");
  EXPECT_EQ(host.create_refusal()->setting, "");
}

TEST_F(fake_host_test, on_destroy_runs_when_the_fake_host_goes) {
  {
    fake::fake_host host(descriptor());
    EXPECT_TRUE(host.created());
    EXPECT_TRUE(s.events.empty());
  }
  EXPECT_EQ(s.events, std::vector<std::string>{"destroy"});
}

// ---- new settings after a reload ----------------------------------------------------------

// Keeps the last settings it took; refuses any that contain "no".
class settable final : public sdk::plugin<> {
public:
  settable(sdk::host h, std::string_view settings) : plugin(h), settings_(settings) {}
  void on_settings(std::string_view settings) override {
    if (settings.find("no") != std::string_view::npos)
      throw sdk::settings_error("settable: not these", "/no");
    settings_ = std::string(settings);
  }
  sdk::outcome on_client_message(sdk::session &, sdk::no_state *, sdk::message &m) override {
    m.set_reply(settings_);
    return sdk::verdict::reply;
  }

private:
  std::string settings_;
};

TEST_F(fake_host_test, on_settings_is_exported_only_when_overridden) {
  EXPECT_EQ(descriptor()->on_settings, nullptr);
  fake::fake_host plain(descriptor());
  EXPECT_FALSE(plain.has_on_settings());
  EXPECT_THROW(plain.reload_settings("{}"), std::logic_error);

  const auto *d = sdk::detail::exports<settable>::descriptor("settable", "1.0.0");
  EXPECT_NE(d->on_settings, nullptr);
  EXPECT_EQ(d->struct_size, sizeof(apistudio_plugin_descriptor));
}

TEST_F(fake_host_test, new_settings_reach_the_running_instance_or_come_back_refused) {
  fake::fake_host host(sdk::detail::exports<settable>::descriptor("settable", "1.0.0"),
                       R"({"a":1})");
  ASSERT_TRUE(host.has_on_settings());
  auto session = host.open_session();
  EXPECT_EQ(session.client_message("x").reply->payload, R"({"a":1})");

  EXPECT_FALSE(host.reload_settings(R"({"a":2})"));
  EXPECT_EQ(session.client_message("x").reply->payload,
            R"({"a":2})"); // the same instance, new settings

  const auto refused = host.reload_settings(R"({"no":true})");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->message, "settable: not these");
  EXPECT_EQ(refused->setting, "/no");
  EXPECT_EQ(session.client_message("x").reply->payload, R"({"a":2})"); // kept the ones it had
}

// ---- presence (SDK 1.2) -------------------------------------------------------------------------

// Joins scope "w" at open as the query's member; "away" sets its status; gone members are noted.
class present final : public sdk::plugin<sdk::no_state> {
public:
  present(sdk::host h, std::string_view) : plugin(h) {}
  sdk::outcome on_session_open(sdk::session &session, const sdk::session_info &info,
                               std::unique_ptr<sdk::no_state> &) override {
    host().join_presence(session.id(), "w", info.query, "online",
                         [this, id = session.id()](const sdk::presence_snapshot *snapshot) {
                           if (snapshot == nullptr)
                             return;
                           std::string seen = snapshot->first_session ? "first:" : "again:";
                           for (const auto &m : snapshot->members)
                             seen += m.member + "=" + m.status + ",";
                           host().send(id, seen);
                         });
    return sdk::verdict::continue_;
  }
  sdk::outcome on_client_message(sdk::session &session, sdk::no_state *, sdk::message &m) override {
    if (m.payload() == "leave")
      host().leave_presence(session.id(), "w");
    else
      host().set_presence_status(session.id(), "w", m.payload());
    return sdk::verdict::handled;
  }
  void on_presence_gone(std::string_view scope, std::string_view member,
                        std::string_view status) override {
    gone.push_back(std::string(scope) + "/" + std::string(member) + "/" + std::string(status));
  }
  static inline std::vector<std::string> gone;
};

TEST_F(fake_host_test, presence_joins_lists_and_reports_members_gone) {
  present::gone.clear();
  fake::fake_host host(sdk::detail::exports<present>::descriptor("present", "1.0.0"));
  auto alice = host.open_session("/ws", "alice");
  auto bob = host.open_session("/ws", "bob");
  bob.client_message("away");
  auto alice2 = host.open_session("/ws", "alice");
  const auto sent = host.sent();
  ASSERT_EQ(sent.size(), 3u); // each completion ran when its open returned
  EXPECT_EQ(sent[0].payload, "first:");
  EXPECT_EQ(sent[1].payload, "first:alice=online,");
  EXPECT_EQ(sent[2].payload, "again:bob=away,");
  EXPECT_EQ(host.presence("w").at("alice").sessions.size(), 2u);

  alice.close();
  EXPECT_TRUE(host.presence_gone().empty()); // alice2 is still in
  alice2.client_message("leave");
  ASSERT_EQ(host.presence_gone().size(), 1u);
  EXPECT_EQ(present::gone, (std::vector<std::string>{"w/alice/online"}));
  bob.close(); // a session's end leaves too
  EXPECT_EQ(present::gone, (std::vector<std::string>{"w/alice/online", "w/bob/away"}));
  EXPECT_TRUE(host.presence("w").empty());
}

// ---- sessions ---------------------------------------------------------------------------------

TEST_F(fake_host_test, the_plugin_sees_the_upgrade_request_and_session_attributes) {
  s.open = [&](sdk::session &session, const sdk::session_info &info,
               std::unique_ptr<probe_state> &) {
    EXPECT_EQ(info.id, session.id());
    if (info.path == "/ws")
      return sdk::verdict::continue_; // the second, default session below
    EXPECT_EQ(info.path, "/api/websocket/connect/c1");
    EXPECT_EQ(session.path(), "/api/websocket/connect/c1");
    EXPECT_EQ(info.query, "a=1");
    EXPECT_EQ(session.query(), "a=1");
    EXPECT_EQ(info.client_id, "c1");
    EXPECT_EQ(session.client_id(), "c1");
    EXPECT_EQ(session.remote_address(), "10.0.0.7");
    EXPECT_EQ(info.header("authorization"), "Bearer t");
    EXPECT_EQ(session.identity(), "");
    session.set_identity("alice");
    EXPECT_EQ(session.identity(), "alice");
    return sdk::verdict::continue_;
  };
  fake::fake_host host(descriptor());

  auto session = host.open_session("/api/websocket/connect/c1", "a=1", "c1", "10.0.0.7",
                                   {{"Authorization", "Bearer t"}});

  EXPECT_TRUE(session.accepted());
  EXPECT_TRUE(session.is_open());
  EXPECT_EQ(session.identity(), "alice");
  EXPECT_NE(session.id(), host.open_session().id());
}

TEST_F(fake_host_test, a_refused_upgrade_gets_its_reason_and_on_session_close_at_once) {
  s.open = [](sdk::session &, const sdk::session_info &, std::unique_ptr<probe_state> &st) {
    st = std::make_unique<probe_state>(); // freed by on_session_close even though refused
    return sdk::refuse("NO_TOKEN", "a token is required", 401);
  };
  fake::fake_host host(descriptor());

  auto session = host.open_session();

  EXPECT_EQ(session.open_verdict(), APISTUDIO_REFUSE);
  EXPECT_FALSE(session.accepted());
  EXPECT_FALSE(session.is_open());
  ASSERT_TRUE(session.open_refusal());
  EXPECT_EQ(session.open_refusal()->http_status, 401u);
  EXPECT_EQ(session.open_refusal()->code, "NO_TOKEN");
  EXPECT_EQ(session.open_refusal()->message, "a token is required");
  EXPECT_EQ(s.closes, 1);
  EXPECT_THROW(session.client_message("x"), std::logic_error);
}

TEST_F(fake_host_test, on_session_close_runs_once_however_the_session_ends) {
  s.open = [](sdk::session &, const sdk::session_info &, std::unique_ptr<probe_state> &st) {
    st = std::make_unique<probe_state>();
    return sdk::verdict::continue_;
  };
  auto host = std::make_unique<fake::fake_host>(descriptor());
  {
    auto a = host->open_session();
    a.close();
    a.close();
    EXPECT_FALSE(a.is_open());
    EXPECT_EQ(s.closes, 1);
    auto b = host->open_session(); // closed by its destructor
    EXPECT_EQ(probe_state::alive, 1);
  }
  EXPECT_EQ(s.closes, 2);
  EXPECT_EQ(probe_state::alive, 0);
  auto c = host->open_session();

  host.reset(); // closes what is still open, then on_destroy

  EXPECT_EQ(s.closes, 3);
  EXPECT_EQ(s.events, std::vector<std::string>{"destroy"});
  EXPECT_FALSE(c.is_open());
  EXPECT_THROW(c.client_message("x"), std::logic_error); // c outlived its host: a test bug
}

TEST_F(fake_host_test, a_throwing_hook_fails_and_closes_the_session_with_1011) {
  s.client = [](sdk::session &, probe_state *, sdk::message &) -> sdk::outcome {
    throw std::runtime_error("boom");
  };
  fake::fake_host host(descriptor());
  auto session = host.open_session();

  EXPECT_EQ(session.client_message("x").verdict, APISTUDIO_FAIL);
  EXPECT_FALSE(session.is_open());
  EXPECT_EQ(session.close_code(), 1011);
  EXPECT_TRUE(host.logged(APISTUDIO_LOG_ERROR, "on_client_message threw: boom"));
}

// ---- messages ---------------------------------------------------------------------------------

TEST_F(fake_host_test, a_message_hook_sees_the_message_and_its_ids) {
  s.to_upstream = [](sdk::session &, probe_state *, sdk::message &m) {
    EXPECT_EQ(m.payload(), "hello");
    EXPECT_TRUE(m.is_binary());
    EXPECT_EQ(m.connection_id(), "feed");
    EXPECT_EQ(m.request_id(), "r7");
    m.set_payload(m.payload().substr(1)); // a view into the host's buffer, copied first
    EXPECT_EQ(m.payload(), "ello");
    m.set_payload(m.payload().substr(1)); // ... also when it is the replacement itself
    EXPECT_EQ(m.payload(), "llo");
    return sdk::verdict::replace;
  };
  s.from_upstream = [](sdk::session &, probe_state *, sdk::message &m) {
    EXPECT_EQ(m.connection_id(), "feed");
    EXPECT_EQ(m.request_id(), "");
    return sdk::verdict::continue_;
  };
  s.client = [](sdk::session &, probe_state *, sdk::message &m) {
    EXPECT_EQ(m.connection_id(), "");
    return sdk::verdict::continue_;
  };
  fake::fake_host host(descriptor());
  auto session = host.open_session();

  const auto result = session.message_to_upstream("hello", true, "feed", "r7");
  EXPECT_EQ(result.verdict, APISTUDIO_REPLACE);
  EXPECT_EQ(result.replacement, "llo");
  EXPECT_EQ(session.message_from_upstream("x", false, "feed").verdict, APISTUDIO_CONTINUE);
  EXPECT_EQ(session.client_message("x").verdict, APISTUDIO_CONTINUE);
}

TEST_F(fake_host_test, reply_and_refusal_are_returned) {
  s.client = [](sdk::session &, probe_state *, sdk::message &m) -> sdk::outcome {
    if (m.payload() == "ping") {
      m.set_reply("pong", true);
      return sdk::verdict::reply;
    }
    return sdk::refuse("BAD_COMMAND", "no");
  };
  fake::fake_host host(descriptor());
  auto session = host.open_session();

  const auto reply = session.client_message("ping");
  EXPECT_EQ(reply.verdict, APISTUDIO_REPLY);
  ASSERT_TRUE(reply.reply);
  EXPECT_EQ(reply.reply->payload, "pong");
  EXPECT_TRUE(reply.reply->binary);
  EXPECT_FALSE(reply.refusal);

  const auto refused = session.client_message("other");
  EXPECT_EQ(refused.verdict, APISTUDIO_REFUSE);
  ASSERT_TRUE(refused.refusal);
  EXPECT_EQ(refused.refusal->code, "BAD_COMMAND");
  EXPECT_EQ(refused.refusal->message, "no");
  EXPECT_TRUE(session.is_open()); // a refusal answers the message, the session goes on
}

TEST_F(fake_host_test, a_close_verdict_ends_the_session_with_its_code) {
  s.from_upstream = [](sdk::session &, probe_state *, sdk::message &m) {
    m.set_close(4001, "bye");
    return sdk::verdict::close;
  };
  fake::fake_host host(descriptor());
  auto session = host.open_session();

  const auto result = session.message_from_upstream("x");

  EXPECT_EQ(result.verdict, APISTUDIO_CLOSE);
  ASSERT_TRUE(result.close);
  EXPECT_EQ(result.close->code, 4001);
  EXPECT_EQ(result.close->reason, "bye");
  EXPECT_FALSE(session.is_open());
  EXPECT_EQ(session.close_code(), 4001);
  EXPECT_EQ(s.closes, 1);
}

// ---- upstream handshakes ----------------------------------------------------------------------

TEST_F(fake_host_test, header_changes_follow_the_hosts_rules) {
  s.connect = [](sdk::session &, probe_state *, sdk::upstream_request &r) {
    EXPECT_EQ(r.connection_id(), "c9");
    EXPECT_EQ(r.protocols(), (std::vector<std::string_view>{"graphql-ws", "v2"}));
    EXPECT_EQ(r.headers().size(), 5u);
    EXPECT_TRUE(r.set_header("x-multi", "one", sdk::header_mode::overwrite)); // both go
    EXPECT_TRUE(r.set_header("Accept", "b", sdk::header_mode::append));
    EXPECT_TRUE(r.set_header("cookie", "b=2", sdk::header_mode::append));
    EXPECT_TRUE(r.set_header("X-Kept", "plugin", sdk::header_mode::if_absent));
    EXPECT_TRUE(r.set_header("X-New", "v\tw", sdk::header_mode::if_absent));
    r.remove_header("X-GONE");
    for (const char *reserved : {"Host", "upgrade", "CONNECTION", "Sec-WebSocket-Protocol"})
      EXPECT_FALSE(r.set_header(reserved, "x")) << reserved;
    for (const char *name : {"", "Bad Name", "x:y", "ü"})
      EXPECT_FALSE(r.set_header(name, "x")) << name;
    EXPECT_FALSE(r.set_header("X-Bad", "a\r\nInjected: 1"));
    EXPECT_FALSE(r.set_header("X-Bad", std::string_view("a\0b", 3)));
    EXPECT_FALSE(r.set_header("X-Bad", "x", static_cast<sdk::header_mode>(7)));
    return sdk::verdict::continue_;
  };
  fake::fake_host host(descriptor());
  auto session = host.open_session();

  const auto result = session.upstream_connect("wss://api.example.com/feed", "c9",
                                               {{"X-Multi", "a"},
                                                {"Accept", "a"},
                                                {"Cookie", "a=1"},
                                                {"X-Kept", "client"},
                                                {"x-multi", "b"}},
                                               {"graphql-ws", "v2"});

  EXPECT_EQ(result.verdict, APISTUDIO_CONTINUE);
  EXPECT_EQ(result.headers, (fake::header_list{{"X-Multi", "one"},
                                               {"Accept", "a, b"},
                                               {"Cookie", "a=1; b=2"},
                                               {"X-Kept", "client"},
                                               {"X-New", "v\tw"}}));
  EXPECT_EQ(result.header("x-multi"), "one");
  EXPECT_FALSE(result.header("X-Gone"));
}

TEST_F(fake_host_test, remove_header_removes_every_value) {
  s.connect = [](sdk::session &, probe_state *, sdk::upstream_request &r) {
    r.remove_header("x-dup");
    return sdk::verdict::continue_;
  };
  fake::fake_host host(descriptor());
  auto session = host.open_session();

  EXPECT_EQ(
      session.upstream_connect("ws://h", "", {{"X-Dup", "1"}, {"a", "2"}, {"x-DUP", "3"}}).headers,
      (fake::header_list{{"a", "2"}}));
}

TEST_F(fake_host_test, the_url_is_handed_over_parsed) {
  std::vector<std::string> seen; // copies: the views die with the hook
  s.connect = [&](sdk::session &, probe_state *, sdk::upstream_request &r) {
    const sdk::url u = r.url_parts();
    seen.push_back(std::string(r.url()) + "|" + std::string(u.scheme) + "|" + std::string(u.host) +
                   "|" + std::to_string(u.port) + "|" + std::string(u.path) + "|" +
                   std::string(u.query));
    return sdk::verdict::continue_;
  };
  fake::fake_host host(descriptor());
  auto session = host.open_session();

  const auto a = session.upstream_connect("WSS://user@API.Example.COM/v1/feed?x=1&y=2#frag");
  EXPECT_EQ(a.url.scheme, "wss");
  EXPECT_EQ(a.url.host, "api.example.com");
  EXPECT_EQ(a.url.port, 443u);
  EXPECT_EQ(a.url.path, "/v1/feed");
  EXPECT_EQ(a.url.query, "x=1&y=2");
  ASSERT_EQ(seen.size(), 1u); // what the plugin read says the same
  EXPECT_EQ(seen[0], "WSS://user@API.Example.COM/v1/feed?x=1&y=2#frag|wss|api.example.com|443|"
                     "/v1/feed|x=1&y=2");

  const auto b = session.upstream_connect("ws://[::1]:9000");
  EXPECT_EQ(b.url.host, "::1");
  EXPECT_EQ(b.url.port, 9000u);
  EXPECT_EQ(b.url.path, "/");
  EXPECT_EQ(b.url.query, "");
  EXPECT_EQ(session.upstream_connect("ws://h?q").url.path, "/");
  EXPECT_EQ(session.upstream_connect("ws://h?q").url.query, "q");
  EXPECT_EQ(session.upstream_connect("ws://h:81/").url.port, 81u);

  for (const char *bad : {"http://h/", "h/x", "ws://", "ws://h:0", "ws://h:70000", "ws://h:x"})
    EXPECT_THROW(session.upstream_connect(bad), std::invalid_argument) << bad;
}

TEST_F(fake_host_test, a_refused_connection_leaves_the_session_open_but_fail_closes_it) {
  int calls = 0;
  s.connect = [&](sdk::session &, probe_state *, sdk::upstream_request &) -> sdk::outcome {
    if (++calls == 1)
      return sdk::refuse("EGRESS_DENIED", "not that host");
    return sdk::verdict::fail;
  };
  fake::fake_host host(descriptor());
  auto session = host.open_session();

  const auto refused = session.upstream_connect("ws://h");
  EXPECT_EQ(refused.verdict, APISTUDIO_REFUSE);
  EXPECT_EQ(refused.refusal->code, "EGRESS_DENIED");
  EXPECT_TRUE(session.is_open());

  EXPECT_EQ(session.upstream_connect("ws://h").verdict, APISTUDIO_FAIL);
  EXPECT_FALSE(session.is_open());
  EXPECT_EQ(session.close_code(), 1011);
}

TEST_F(fake_host_test, upstream_notifications_carry_their_info) {
  std::vector<sdk::upstream_info> seen;
  std::vector<std::string> texts; // the views die with the hook: keep copies
  const auto keep = [&](sdk::session &, probe_state *, const sdk::upstream_info &i) {
    seen.push_back(i);
    texts.emplace_back(std::string(i.connection_id) + "|" + std::string(i.url) + "|" +
                       std::string(i.url_parts.host) + "|" + std::string(i.subprotocol) + "|" +
                       std::string(i.close_reason));
  };
  s.opened = keep;
  s.upstream_closed = keep;
  fake::fake_host host(descriptor());
  auto session = host.open_session();

  session.upstream_opened("wss://Feed.example/x", "f1", "graphql-ws");
  session.upstream_closed("wss://Feed.example/x", "f1", 1006, "gone");

  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(texts[0], "f1|wss://Feed.example/x|feed.example|graphql-ws|");
  EXPECT_EQ(seen[0].url_parts.port, 443u);
  EXPECT_EQ(texts[1], "f1|wss://Feed.example/x|feed.example||gone");
  EXPECT_EQ(seen[1].close_code, 1006);
}

// ---- sessions by id: send and close -----------------------------------------------------------

TEST_F(fake_host_test, send_and_close_reach_open_sessions_only) {
  fake::fake_host host(descriptor());
  auto a = host.open_session();
  auto b = host.open_session();
  const auto a_id = a.id();
  b.close();

  EXPECT_TRUE(host_of_plugin().send(a_id, "hi"));
  EXPECT_TRUE(host_of_plugin().send(a_id, std::string("\x01\x02", 2), true));
  EXPECT_FALSE(host_of_plugin().send(b.id(), "late"));
  EXPECT_FALSE(host_of_plugin().send(999, "nobody"));
  ASSERT_EQ(host.sent().size(), 2u);
  EXPECT_EQ(host.sent()[0].session, a_id);
  EXPECT_EQ(host.sent()[0].payload, "hi");
  EXPECT_FALSE(host.sent()[0].binary);
  EXPECT_TRUE(host.sent()[1].binary);

  EXPECT_FALSE(host_of_plugin().close(b.id(), 1000, ""));
  EXPECT_TRUE(host_of_plugin().close(a_id, 4000, "kicked"));
  ASSERT_EQ(host.close_requests().size(), 1u);
  EXPECT_EQ(host.close_requests()[0].code, 4000);
  EXPECT_EQ(host.close_requests()[0].reason, "kicked");
}

TEST_F(fake_host_test, a_close_requested_in_a_hook_ends_the_session_after_it) {
  s.client = [&](sdk::session &session, probe_state *, sdk::message &) {
    EXPECT_TRUE(s.host->close(session.id(), 4003, "quota"));
    EXPECT_EQ(s.closes, 0); // not re-entered: on_session_close comes after this hook
    EXPECT_TRUE(s.host->send(session.id(), "still queued"));
    return sdk::verdict::continue_;
  };
  fake::fake_host host(descriptor());
  auto session = host.open_session();

  EXPECT_EQ(session.client_message("x").verdict, APISTUDIO_CONTINUE);

  EXPECT_FALSE(session.is_open());
  EXPECT_EQ(session.close_code(), 4003);
  EXPECT_EQ(s.closes, 1);
}

// ---- timers -----------------------------------------------------------------------------------

// Counts how often a timer's captures are destroyed (the SDK releases them when the timer ends).
std::shared_ptr<int> release_probe(int &released) {
  return std::shared_ptr<int>(new int(0), [&released](int *p) {
    ++released;
    delete p;
  });
}

TEST_F(fake_host_test, timers_fire_in_order_on_the_manual_clock) {
  fake::fake_host host(descriptor());
  std::vector<std::string> fired;
  const sdk::host &h = host_of_plugin();
  h.start_timer(0, 30, 0, [&] { fired.push_back("b@" + std::to_string(h.now_ms())); });
  h.start_timer(0, 10, 0, [&] { fired.push_back("a@" + std::to_string(h.now_ms())); });
  h.start_timer(0, 30, 0, [&] { fired.push_back("c@" + std::to_string(h.now_ms())); });

  host.advance(9);
  EXPECT_TRUE(fired.empty());
  EXPECT_EQ(host.now_ms(), 9u);
  host.advance(21);
  EXPECT_EQ(fired, (std::vector<std::string>{"a@10", "b@30", "c@30"}));
  EXPECT_EQ(host.now_ms(), 30u);
  EXPECT_EQ(host.active_timers(), 0u);
}

TEST_F(fake_host_test, an_interval_timer_rearms_until_cancelled_and_is_released_once) {
  fake::fake_host host(descriptor());
  int ticks = 0, released = 0;
  const std::uint64_t id =
      host_of_plugin().start_timer(0, 5, 10, [&, probe = release_probe(released)] { ++ticks; });
  ASSERT_NE(id, 0u);

  host.advance(4);
  EXPECT_EQ(ticks, 0);
  host.advance(1); // 5
  EXPECT_EQ(ticks, 1);
  host.advance(30); // 15, 25, 35
  EXPECT_EQ(ticks, 4);
  EXPECT_EQ(released, 0);

  host_of_plugin().cancel_timer(id);
  EXPECT_EQ(released, 1);
  host_of_plugin().cancel_timer(id); // unknown now: nothing
  host.advance(100);
  EXPECT_EQ(ticks, 4);
  EXPECT_EQ(released, 1);
}

TEST_F(fake_host_test, a_one_shot_is_released_after_it_fired) {
  fake::fake_host host(descriptor());
  int fired = 0, released = 0;
  host_of_plugin().start_timer(0, 0, 0, [&, probe = release_probe(released)] { ++fired; });

  host.advance(0); // due now: fires on the next advance, never inside start_timer
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(released, 1);
}

TEST_F(fake_host_test, a_timer_may_cancel_itself_from_its_callback) {
  fake::fake_host host(descriptor());
  int ticks = 0, released = 0;
  std::uint64_t id = 0;
  id = host_of_plugin().start_timer(0, 1, 1, [&, probe = release_probe(released)] {
    if (++ticks == 3)
      host_of_plugin().cancel_timer(id);
  });

  host.advance(10);
  EXPECT_EQ(ticks, 3);
  EXPECT_EQ(released, 1);
}

TEST_F(fake_host_test, session_timers_end_with_their_session) {
  fake::fake_host host(descriptor());
  int fired = 0, released = 0;
  auto session = host.open_session();
  host_of_plugin().start_timer(session.id(), 10, 0,
                               [&, probe = release_probe(released)] { ++fired; });
  EXPECT_EQ(host.active_timers(), 1u);

  session.close();
  EXPECT_EQ(released, 1);
  EXPECT_EQ(host.active_timers(), 0u);
  host.advance(20);
  EXPECT_EQ(fired, 0);

  // A session that is gone gets no timer: 0, and the release has already run.
  EXPECT_EQ(host_of_plugin().start_timer(session.id(), 1, 0, [probe = release_probe(released)] {}),
            0u);
  EXPECT_EQ(released, 2);
}

TEST_F(fake_host_test, global_timers_are_released_before_on_destroy) {
  int released = 0;
  {
    fake::fake_host host(descriptor());
    host_of_plugin().start_timer(
        0, 1000, 0, [&, probe = release_probe(released)] { s.events.push_back("fired"); });
    // A plain C release function, as a C plugin gives it.
    host_of_plugin().api().timer_start(
        host_of_plugin().handle(), 0, 5, 0, nullptr,
        [](void *events) {
          static_cast<std::vector<std::string> *>(events)->push_back("c release");
        },
        &s.events);
  }
  EXPECT_EQ(released, 1);
  EXPECT_EQ(s.events, (std::vector<std::string>{"c release", "destroy"}));
}

// ---- bus --------------------------------------------------------------------------------------

TEST_F(fake_host_test, a_publication_reaches_every_subscribed_session_after_the_hook) {
  std::vector<std::string> delivered;
  s.open = [&](sdk::session &session, const sdk::session_info &, std::unique_ptr<probe_state> &) {
    EXPECT_TRUE(s.host->subscribe(session.id(), "room"));
    return sdk::verdict::continue_;
  };
  s.client = [&](sdk::session &, probe_state *, sdk::message &m) {
    s.host->publish("room", m.payload());
    EXPECT_TRUE(delivered.empty()); // later, on each session's own turn
    return sdk::verdict::handled;
  };
  s.bus = [&](sdk::session &session, probe_state *, std::string_view topic,
              std::string_view payload) {
    delivered.push_back(std::to_string(session.id()) + ":" + std::string(topic) + ":" +
                        std::string(payload));
  };
  fake::fake_host host(descriptor());
  auto a = host.open_session();
  auto b = host.open_session();
  auto outsider = host.open_session();
  s.host->unsubscribe(outsider.id(), "room");
  EXPECT_FALSE(host.subscribed(outsider.id(), "room"));

  EXPECT_EQ(a.client_message("hi").verdict, APISTUDIO_HANDLED);

  const std::string ida = std::to_string(a.id()), idb = std::to_string(b.id());
  EXPECT_EQ(delivered, (std::vector<std::string>{ida + ":room:hi", idb + ":room:hi"}));
  ASSERT_EQ(host.publications().size(), 1u);
  EXPECT_EQ(host.publications()[0].topic, "room");
  EXPECT_EQ(host.publications()[0].payload, "hi");
}

TEST_F(fake_host_test, subscriptions_end_with_the_session) {
  fake::fake_host host(descriptor());
  auto session = host.open_session();
  const auto id = session.id();
  EXPECT_TRUE(host_of_plugin().subscribe(id, "t"));
  EXPECT_TRUE(host.subscribed(id, "t"));

  session.close();

  EXPECT_FALSE(host.subscribed(id, "t"));
  EXPECT_FALSE(host_of_plugin().subscribe(id, "t"));
  host_of_plugin().publish("t", "x"); // recorded, delivered to no one
  EXPECT_EQ(host.publications().size(), 1u);
}

TEST_F(fake_host_test, timers_and_bus_from_a_timer_callback_are_delivered) {
  std::vector<std::string> delivered;
  s.bus = [&](sdk::session &, probe_state *, std::string_view, std::string_view payload) {
    delivered.emplace_back(payload);
  };
  fake::fake_host host(descriptor());
  auto session = host.open_session();
  host_of_plugin().subscribe(session.id(), "tick");
  host_of_plugin().start_timer(session.id(), 10, 10, [&] {
    host_of_plugin().publish("tick", std::to_string(host_of_plugin().now_ms()));
  });

  host.advance(25);

  EXPECT_EQ(delivered, (std::vector<std::string>{"10", "20"}));
}

// ---- logs -------------------------------------------------------------------------------------

TEST_F(fake_host_test, logs_are_recorded_from_the_level_set) {
  fake::fake_host host(descriptor());
  const sdk::host &h = host_of_plugin();
  EXPECT_TRUE(h.log_enabled(sdk::log_level::debug));
  h.log(sdk::log_level::debug, "d");

  host.set_log_level(APISTUDIO_LOG_WARN);
  EXPECT_FALSE(h.log_enabled(sdk::log_level::info));
  EXPECT_TRUE(h.log_enabled(sdk::log_level::warn));
  h.log(sdk::log_level::info, "dropped");
  h.log(sdk::log_level::error, "e");

  ASSERT_EQ(host.logs().size(), 2u);
  EXPECT_EQ(host.logs()[0].level, APISTUDIO_LOG_DEBUG);
  EXPECT_EQ(host.logs()[0].text, "d");
  EXPECT_TRUE(host.logged(APISTUDIO_LOG_ERROR, "e"));
  EXPECT_FALSE(host.logged(APISTUDIO_LOG_INFO, "dropped"));
}

} // namespace

// ---- metrics of the plugin's own ----------------------------------------------------------------

TEST_F(fake_host_test, counters_and_gauges_are_counted_for_the_test_to_read) {
  fake::fake_host host(descriptor());
  ASSERT_TRUE(host.created());
  const sdk::counter refusals(*s.host, "refusals_total", "Refusals, by scope.", "scope");
  const sdk::gauge members(*s.host, "members", "Members present.");
  ASSERT_TRUE(refusals);
  ASSERT_TRUE(members);
  EXPECT_TRUE(refusals.add("room"));
  EXPECT_TRUE(refusals.add("room", 2));
  EXPECT_TRUE(refusals.add("user"));
  EXPECT_FALSE(refusals.add("room", -1)); // a counter only grows
  EXPECT_TRUE(members.add(5));
  EXPECT_TRUE(members.add(-2));
  EXPECT_EQ(host.metric_value("refusals_total", "room"), 3);
  EXPECT_EQ(host.metric_value("refusals_total", "user"), 1);
  EXPECT_EQ(host.metric_value("members"), 3);
  EXPECT_TRUE(members.set(11));
  EXPECT_EQ(host.metric_value("members"), 11);
  EXPECT_EQ(host.metric_value("refusals_total", "never"), std::nullopt);
  EXPECT_EQ(host.metric_value("unknown"), std::nullopt);
}

TEST_F(fake_host_test, a_bad_metric_is_refused_with_a_log_line_and_ignores_updates) {
  fake::fake_host host(descriptor());
  ASSERT_TRUE(host.created());
  const sdk::counter bad(*s.host, "bad-name", "help");
  EXPECT_FALSE(bad);
  EXPECT_FALSE(bad.add());
  EXPECT_FALSE(sdk::counter(*s.host, "no_help", ""));
  EXPECT_FALSE(sdk::counter(*s.host, "two_lines", "a\nb"));
  EXPECT_FALSE(sdk::counter(*s.host, "bad_label", "help", "le"));
  const sdk::counter once(*s.host, "once_total", "help");
  EXPECT_TRUE(once);
  EXPECT_FALSE(sdk::gauge(*s.host, "once_total", "help")); // the name is taken
  const auto logs = host.logs();
  ASSERT_FALSE(logs.empty());
  EXPECT_NE(logs.front().text.find("bad-name"), std::string::npos) << logs.front().text;
}

TEST_F(fake_host_test, label_values_past_the_limit_are_counted_as_other) {
  fake::fake_host host(descriptor());
  const sdk::counter by_user(*s.host, "by_user_total", "help", "user");
  for (int i = 0; i < 20; ++i)
    EXPECT_TRUE(by_user.add("u" + std::to_string(i)));
  // 15 values of their own, as the host keeps; the rest under "other".
  EXPECT_EQ(host.metric_value("by_user_total", "u14"), 1);
  EXPECT_EQ(host.metric_value("by_user_total", "u15"), std::nullopt);
  EXPECT_EQ(host.metric_value("by_user_total", "other"), 5);
}

// ---- shared counters (SDK 1.2) ----------------------------------------------------------------

TEST_F(fake_host_test, counters_slide_over_two_fixed_windows_on_the_manual_clock) {
  fake::fake_host host(descriptor());
  const sdk::host &h = host_of_plugin();
  EXPECT_FALSE(h.cluster_shared());
  EXPECT_EQ(h.count("k", 1000), 1u);
  EXPECT_EQ(h.count("k", 1000, 2), 3u);
  EXPECT_EQ(h.count("k", 1000, 0), 3u); // a delta of 0 only reads
  EXPECT_EQ(h.count("other", 1000), 1u);
  EXPECT_EQ(h.count("k", 500), 1u); // another window, another count
  host.advance(1250); // window 1, a quarter in: 3 x 3/4 of the previous one still counts
  EXPECT_EQ(host.counter("k", 1000), 2u);
  EXPECT_EQ(h.count("k", 1000), 3u);
  host.advance(2000); // two windows idle: gone
  EXPECT_EQ(host.counter("k", 1000), 0u);
  EXPECT_EQ(h.count("k", 0), UINT64_MAX);
  EXPECT_EQ(h.count("k", 3600001), UINT64_MAX);
  EXPECT_EQ(h.count("", 1000), UINT64_MAX);
  EXPECT_EQ(h.count(std::string(257, 'k'), 1000), UINT64_MAX);
}

TEST_F(fake_host_test, cluster_shared_answers_what_the_test_chose) {
  fake::fake_host host(descriptor(), "{}", /*cluster_shared=*/true);
  EXPECT_TRUE(host_of_plugin().cluster_shared());
}
