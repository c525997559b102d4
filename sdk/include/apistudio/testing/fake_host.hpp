// fake_host.hpp — a fake API Studio host, to unit-test a plugin's hooks without the host process.
//
// It drives a plugin through its C descriptor exactly as the real host does, so a test exercises
// the code the plugin exports (the C++ layer's exception guards, settings refusals and state
// handling included):
//
//     extern "C" const apistudio_plugin_descriptor *apistudio_plugin_descriptor_v1(void);
//
//     apistudio::testing::fake_host host(apistudio_plugin_descriptor_v1(), R"({"tag": "> "})");
//     auto session = host.open_session("/api/websocket/connect/c1", "", "c1");
//     auto result = session.message_from_upstream("hello");
//     EXPECT_EQ(result.verdict, APISTUDIO_REPLACE);
//     EXPECT_EQ(result.replacement, "> hello");
//
// (a C++ plugin class can also be driven without its exported symbol, through
// `apistudio::sdk::detail::exports<Class>::descriptor("name", "version")`).
//
// What it records: log lines, session_send frames, session_close requests and bus publications
// (read them with logs(), sent(), close_requests(), publications()); each hook call returns what
// the plugin decided (verdict, refusal reason, replacement, reply, close). Time is a manual clock:
// now_ms() starts at 0 and only advance(ms) moves it, firing the timers that fall due in order.
// Presence (SDK 1.2) behaves as one host with cluster.backend local: a join completes when the
// hook that joined returns; presence(scope) shows the members, presence_gone() the
// on_presence_gone calls made. Shared counters (counter_add) count in memory on that clock,
// windows aligned on it, as one host does with cluster.backend local; cluster_shared() answers
// what the constructor was told.
//
// Rules of use, and where it follows the host on purpose:
//  - One thread drives it (the test's). A plugin's own threads may call the "any thread" services
//    (log, send, close, timers, bus, now_ms): they are locked. Nothing runs concurrently with a
//    hook, as in the host.
//  - What the host does later, the fake does when the call that caused it returns: a bus
//    publication is delivered (on_bus_message of every subscribed open session, the publisher's
//    own included) and a session_close request, a CLOSE verdict (code of message_set_close,
//    default 1000) or a FAIL verdict (1011) ends the session (on_session_close). So a hook is never
//    re-entered from inside itself, just as on the host's session thread.
//  - on_session_close runs exactly once per session whose on_session_open ran: after a refused
//    upgrade at once, else on close(), when the plugin or a verdict closes it, when the
//    fake_session is destroyed, or when the fake_host is destroyed. Then the session's timers end
//    (their release runs) and its subscriptions go. At fake_host destruction the global timers
//    end too, then on_destroy runs.
//  - Everything a plugin hands in is copied. Values are recorded as the plugin gave them (the real
//    host additionally maps unsendable close codes to 1000 and shortens close reasons).
//  - The fake hosts one plugin, so every bus topic is that plugin's own, as on the host.
//  - A call on a session that is not open, or a fake_session outliving its fake_host, is a bug in
//    the test and throws std::logic_error.
#ifndef APISTUDIO_TESTING_FAKE_HOST_HPP
#define APISTUDIO_TESTING_FAKE_HOST_HPP

#include <apistudio/plugin_abi.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apistudio::testing {

using header_list = std::vector<std::pair<std::string, std::string>>;

// ---- what the fake records and returns ---------------------------------------------------------

struct log_line {
  apistudio_log_level level;
  std::string text;
};

// The reason a plugin gave to refuse() (the last one, if it called it twice).
struct reason {
  std::uint32_t http_status = 0; // on_session_open only; 0 = not given
  std::string code;              // empty = the hook's default (the host answers PLUGIN_REFUSED)
  std::string message;           // at most 1024 bytes kept, as the host does
  std::string setting;           // on_create, on_settings: the JSON Pointer of the wrong setting
};

struct frame {
  std::string payload;
  bool binary = false;
};

struct close_info {
  int code = 0;
  std::string reason;
};

struct sent_frame {
  apistudio_session_id session = 0;
  std::string payload;
  bool binary = false;
};

struct close_request {
  apistudio_session_id session = 0;
  int code = 0;
  std::string reason;
};

struct publication {
  std::string topic;
  std::string payload;
};

// An upstream URL split the way the host hands it to plugins (apistudio_url).
struct url_parts {
  std::string scheme; // "ws" / "wss"
  std::string host;   // lower-cased, IPv6 without brackets
  std::uint32_t port = 0;
  std::string path;  // "/" at least
  std::string query; // without '?'
};

// What a message hook decided.
struct message_result {
  apistudio_verdict verdict = APISTUDIO_CONTINUE;
  std::optional<reason> refusal;          // refuse() was called
  std::optional<std::string> replacement; // message_set_payload (the host uses it with REPLACE)
  std::optional<frame> reply;             // message_set_reply (the host sends it with REPLY)
  std::optional<close_info> close;        // message_set_close (the host uses it with CLOSE)
};

// What on_upstream_connect decided, and the handshake as it would be sent.
struct connect_result {
  apistudio_verdict verdict = APISTUDIO_CONTINUE;
  std::optional<reason> refusal;
  header_list headers; // after set_header / remove_header, in order
  url_parts url;       // what upstream_request_url_parts gave the plugin
  // The value of header `name` (case-insensitive), if present.
  std::optional<std::string> header(std::string_view name) const;
};

namespace detail {

inline std::string_view view(apistudio_str s) noexcept {
  return s.data == nullptr ? std::string_view{} : std::string_view(s.data, s.size);
}
inline apistudio_str str(std::string_view s) noexcept { return {s.data(), s.size()}; }

inline char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i]))
      return false;
  }
  return true;
}

// Cut at a UTF-8 character boundary, as the host bounds the texts it keeps.
inline std::string_view truncate_utf8(std::string_view s, std::size_t max) noexcept {
  if (s.size() <= max)
    return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
    --n;
  return s.substr(0, n);
}

// The host's header rules (RFC 7230 token names; values without control bytes but TAB; the
// handshake's own headers are the host's).
inline bool is_token(std::string_view s) noexcept {
  constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  if (s.empty())
    return false;
  for (char c : s) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && extra.find(c) == std::string_view::npos)
      return false;
  }
  return true;
}
inline bool is_header_value(std::string_view s) noexcept {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f)
      return false;
  }
  return true;
}
inline bool is_reserved_header(std::string_view name) noexcept {
  constexpr std::string_view ws_prefix = "sec-websocket-";
  return iequals(name, "host") || iequals(name, "upgrade") || iequals(name, "connection") ||
         (name.size() >= ws_prefix.size() && iequals(name.substr(0, ws_prefix.size()), ws_prefix));
}

// A simple ws:// / wss:// parser, enough to hand a plugin the parts the host would. (The host
// validates with Boost.URL; a test gives well-formed URLs, so this stays dependency-free.)
inline url_parts parse_ws_url(std::string_view url) {
  const auto fail = [&](const char *why) {
    throw std::invalid_argument("fake_host: upstream URL '" + std::string(url) + "' " + why);
  };
  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos)
    fail("has no scheme (write ws://host/... or wss://host/...)");
  url_parts out;
  for (char c : url.substr(0, sep))
    out.scheme += lower(c);
  if (out.scheme != "ws" && out.scheme != "wss")
    fail("must use ws or wss");
  std::string_view rest = url.substr(sep + 3);
  rest = rest.substr(0, rest.find('#')); // the fragment is never sent
  const std::size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  const std::string_view target =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos)
      fail("has an unclosed '['");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':')
      fail("has text after the IPv6 address");
    port = after.empty() ? after : after.substr(1);
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty())
    fail("has no host");
  for (char c : host)
    out.host += lower(c);
  out.port = out.scheme == "wss" ? 443 : 80;
  if (!port.empty()) {
    std::uint32_t n = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || n > 6553)
        fail("has an invalid port");
      n = n * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (n == 0 || n > 65535)
      fail("has an invalid port");
    out.port = n;
  }
  const std::size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));
  if (out.path.empty())
    out.path = "/";
  if (q != std::string_view::npos)
    out.query = std::string(target.substr(q + 1));
  return out;
}

// ---- the host-owned objects behind the opaque handles ----------------------------------------

// Where one hook call's refusal reason goes.
struct refusal_slot {
  std::optional<reason> given;
  apistudio_refusal_host_ptr handle() noexcept {
    return reinterpret_cast<apistudio_refusal_host_ptr>(this);
  }
};

struct session_record {
  apistudio_session_id id = 0;
  std::string path, query, client_id, remote_address, identity;
  header_list headers;
  void *state = nullptr; // what on_session_open stored
  apistudio_verdict open_verdict = APISTUDIO_CONTINUE;
  std::optional<reason> open_refusal;
  std::optional<int> close_code; // set when the plugin or a verdict closed it
  apistudio_session_host_ptr handle() noexcept {
    return reinterpret_cast<apistudio_session_host_ptr>(this);
  }
};

struct message_record {
  std::string original;
  std::string_view payload; // what message_payload returns: the original, then the replacement
  bool binary = false;
  std::string connection_id, request_id;
  std::optional<std::string> replacement;
  std::optional<frame> reply;
  std::optional<close_info> close;
  apistudio_message_host_ptr handle() noexcept {
    return reinterpret_cast<apistudio_message_host_ptr>(this);
  }
};

struct request_record {
  std::string url;
  url_parts parts;
  std::string connection_id;
  header_list headers;
  std::vector<std::string> protocols;
  apistudio_upstream_request_host_ptr handle() noexcept {
    return reinterpret_cast<apistudio_upstream_request_host_ptr>(this);
  }
};

struct timer_record {
  apistudio_session_id session = 0;
  std::uint64_t due = 0;
  std::uint64_t interval = 0;
  apistudio_timer_fn fn = nullptr;
  apistudio_timer_release_fn release = nullptr;
  void *user_data = nullptr;
  bool firing = false;    // its callback is running
  bool cancelled = false; // cancelled (or its session ended) while firing: released afterwards
};

inline void release(const timer_record &t) noexcept {
  if (t.release == nullptr)
    return;
  try {
    t.release(t.user_data);
  } catch (...) {
  }
}

// Work the host would do later, done when the test's current call returns.
// One member of a presence scope, as the fake holds it (presence(scope)).
struct presence_record {
  std::string status;
  std::set<apistudio_session_id> sessions;
};

// An on_presence_gone call the fake made (presence_gone()).
struct presence_gone_call {
  std::string scope, member, status;
};

struct deferred {
  enum kind_t { deliver, end_session, presence_done, presence_gone } kind = deliver;
  apistudio_session_id session = 0;
  std::string topic, payload; // deliver; presence_gone: scope (topic), member (payload), status
  std::optional<int> code;    // end_session
  // presence_done: the join's completion and what it completes with
  apistudio_presence_fn done = nullptr;
  void *user_data = nullptr;
  bool first_session = false;
  std::vector<std::pair<std::string, std::string>> members{};
  std::string status{};
};

inline bool is_known(apistudio_verdict v) noexcept {
  return v >= APISTUDIO_CONTINUE && v <= APISTUDIO_REFUSE;
}

// A hook is called as the host calls it: an exception escaping (a plugin not using the C++ layer)
// counts as FAIL, and never escapes into the test as something else.
template <class Call> apistudio_verdict guarded(Call &&call) noexcept {
  try {
    return call();
  } catch (...) {
    return APISTUDIO_FAIL;
  }
}
template <class Call> void guarded_void(Call &&call) noexcept {
  try {
    call();
  } catch (...) {
  }
}

inline reason read_reason(const apistudio_reason *r) {
  reason out;
  if (r == nullptr)
    return out;
  // struct_size says which members the plugin knew (structs only grow at the end).
  const auto has = [r](std::size_t offset, std::size_t size) {
    return r->struct_size >= offset + size;
  };
  if (has(offsetof(apistudio_reason, http_status), sizeof r->http_status))
    out.http_status = r->http_status;
  if (has(offsetof(apistudio_reason, code), sizeof r->code))
    out.code = std::string(view(r->code));
  if (has(offsetof(apistudio_reason, message), sizeof r->message))
    out.message = std::string(truncate_utf8(view(r->message), 1024));
  if (has(offsetof(apistudio_reason, setting), sizeof r->setting))
    out.setting = std::string(view(r->setting));
  return out;
}

inline const apistudio_host_api *host_api() noexcept;

// The fake host's state. The plugin handle it hands out points here.
// A metric the plugin registered; its series by label value ("" without a label name).
struct fake_metric {
  apistudio_metric_kind kind;
  std::string name, help, label_name;
  std::map<std::string, std::int64_t> series;
};

// The host's rules for a metric's name and label name (docs/plugin-sdk.md, "Metrics").
inline bool is_metric_identifier(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64 || (s[0] >= '0' && s[0] <= '9'))
    return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

inline bool is_metric_help(std::string_view s) noexcept {
  for (char c : s)
    if (c == '\\' || static_cast<unsigned char>(c) < 0x20)
      return false;
  return true;
}

struct core {
  const apistudio_plugin_descriptor *plugin = nullptr;
  void *instance = nullptr;
  bool created = false;
  std::optional<reason> create_refusal;

  // Guards everything below: the services a plugin may call from any thread touch it. Never held
  // while plugin code runs.
  mutable std::mutex mutex;
  apistudio_log_level min_level = APISTUDIO_LOG_DEBUG;
  std::vector<log_line> logs;
  std::vector<sent_frame> sent;
  std::vector<close_request> close_requests;
  std::vector<publication> publications;
  std::uint64_t now = 0;
  std::uint64_t next_timer_id = 1;
  std::map<std::uint64_t, timer_record> timers;
  apistudio_session_id next_session_id = 1;
  std::map<apistudio_session_id, std::shared_ptr<session_record>> open_sessions;
  std::set<std::pair<std::string, apistudio_session_id>> subscriptions;
  std::deque<deferred> pending;
  std::vector<fake_metric> metrics; // handle = index + 1
  // Presence, with the host's rules (plugin_abi.h, presence_join): scope -> member -> record.
  std::map<std::string, std::map<std::string, presence_record>> presence;
  std::vector<presence_gone_call> presence_gone_calls;

  // Takes `session` out of `scope` (mutex held); a member left without a session is gone: its
  // on_presence_gone is deferred.
  void presence_remove_locked(const std::string &scope, apistudio_session_id session) {
    auto sc = presence.find(scope);
    if (sc == presence.end())
      return;
    for (auto m = sc->second.begin(); m != sc->second.end(); ++m) {
      if (m->second.sessions.erase(session) == 0)
        continue;
      if (m->second.sessions.empty()) {
        deferred gone;
        gone.kind = deferred::presence_gone;
        gone.topic = scope;
        gone.payload = m->first;
        gone.status = m->second.status;
        pending.push_back(std::move(gone));
        sc->second.erase(m);
      }
      break;
    }
    if (sc->second.empty())
      presence.erase(sc);
  }

  // SDK 1.2: what cluster_shared answers, and counter_add's counts by (key, window), on `now`.
  bool cluster_shared = false;
  struct fake_counter {
    std::uint64_t index = 0; // the fixed window `current` counts: now / window
    std::uint64_t current = 0;
    std::uint64_t previous = 0;
  };
  std::map<std::pair<std::string, std::uint64_t>, fake_counter> counters;

  // The host's sliding-window estimate (plugin_abi.h, counter_add), on the manual clock.
  std::uint64_t count(const std::string &key, std::uint64_t window_ms, std::uint64_t delta) {
    fake_counter &k = counters[{key, window_ms}];
    const std::uint64_t index = now / window_ms, elapsed = now % window_ms;
    if (index == k.index + 1) {
      k.previous = k.current;
      k.current = 0;
    } else if (index > k.index + 1) {
      k.previous = k.current = 0;
    }
    k.index = index;
    k.current = k.current > UINT64_MAX - delta ? UINT64_MAX : k.current + delta;
    const std::uint64_t weighted = k.previous / window_ms * (window_ms - elapsed) +
                                   k.previous % window_ms * (window_ms - elapsed) / window_ms;
    return k.current > UINT64_MAX - weighted ? UINT64_MAX : k.current + weighted;
  }

  apistudio_plugin_host_ptr handle() noexcept {
    return reinterpret_cast<apistudio_plugin_host_ptr>(this);
  }
  static core *of(apistudio_plugin_host_ptr p) noexcept { return reinterpret_cast<core *>(p); }

  bool is_open(apistudio_session_id id) const {
    std::lock_guard<std::mutex> lock(mutex);
    return open_sessions.count(id) != 0;
  }

  void defer_end(apistudio_session_id id, std::optional<int> code) {
    std::lock_guard<std::mutex> lock(mutex);
    pending.push_back({deferred::end_session, id, {}, {}, code});
  }

  // Ends a session as the host does: on_session_close once, then its timers and subscriptions.
  void end_session(const std::shared_ptr<session_record> &s, std::optional<int> code) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (open_sessions.erase(s->id) == 0)
        return; // already ended
      s->close_code = code;
    }
    if (plugin->on_session_close != nullptr)
      guarded_void([&] { plugin->on_session_close(instance, s->handle(), s->state); });
    s->state = nullptr; // the plugin freed it
    std::vector<timer_record> ended;
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (auto it = timers.begin(); it != timers.end();) {
        if (it->second.session != s->id) {
          ++it;
        } else if (it->second.firing) {
          it->second.cancelled = true;
          ++it;
        } else {
          ended.push_back(it->second);
          it = timers.erase(it);
        }
      }
      for (auto it = subscriptions.begin(); it != subscriptions.end();)
        it = it->second == s->id ? subscriptions.erase(it) : std::next(it);
      std::vector<std::string> scopes;
      for (const auto &sc : presence)
        scopes.push_back(sc.first);
      for (const auto &scope : scopes)
        presence_remove_locked(scope, s->id);
    }
    for (const timer_record &t : ended)
      release(t);
  }

  // Runs the deferred work (bus deliveries, session ends) until none is left.
  void settle() {
    constexpr std::size_t limit = 100000;
    for (std::size_t n = 0;; ++n) {
      if (n == limit) {
        throw std::runtime_error(
            "fake_host: more than 100000 bus deliveries and session closes "
            "in a row; does the plugin publish from on_bus_message in a loop?");
      }
      deferred work;
      std::shared_ptr<session_record> s;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (pending.empty())
          return;
        work = std::move(pending.front());
        pending.pop_front();
        const auto it = open_sessions.find(work.session);
        if (it != open_sessions.end())
          s = it->second;
      }
      if (work.kind == deferred::presence_done) {
        complete_join(work, s);
        continue;
      }
      if (work.kind == deferred::presence_gone) {
        {
          std::lock_guard<std::mutex> lock(mutex);
          presence_gone_calls.push_back({work.topic, work.payload, work.status});
        }
        if (has_presence_gone())
          guarded_void([&] {
            plugin->on_presence_gone(instance, str(work.topic), str(work.payload),
                                     str(work.status));
          });
        continue;
      }
      if (!s)
        continue; // ended meanwhile: nothing is delivered to a session that is gone
      if (work.kind == deferred::end_session) {
        end_session(s, work.code);
      } else if (plugin->on_bus_message != nullptr) {
        guarded_void([&] {
          plugin->on_bus_message(instance, s->handle(), s->state, str(work.topic),
                                 str(work.payload));
        });
      }
    }
  }

  bool has_presence_gone() const noexcept {
    return plugin->struct_size >= offsetof(apistudio_plugin_descriptor, on_presence_gone) +
                                      sizeof(apistudio_plugin_descriptor::on_presence_gone) &&
           plugin->on_presence_gone != nullptr;
  }

  // A join's completion: the snapshot while the session is open, else NULL (as the host does).
  void complete_join(const deferred &work, const std::shared_ptr<session_record> &s) {
    if (!s) {
      guarded_void([&] { work.done(work.user_data, work.session, nullptr); });
      return;
    }
    std::vector<apistudio_presence_member> members;
    for (const auto &m : work.members)
      members.push_back({str(m.first), str(m.second)});
    apistudio_presence_snapshot snapshot{};
    snapshot.struct_size = sizeof snapshot;
    snapshot.first_session = work.first_session ? 1 : 0;
    snapshot.members = members.data();
    snapshot.member_count = members.size();
    snapshot.complete = 1;
    guarded_void([&] { work.done(work.user_data, work.session, &snapshot); });
  }

  // A stop verdict that ends the session: FAIL (or one the host does not know) closes it with
  // 1011; CLOSE, where the hook's contract says it closes the client, with message_set_close's
  // code.
  void after_verdict(apistudio_session_id id, apistudio_verdict v, bool close_ends_session,
                     int close_code) {
    if (v == APISTUDIO_FAIL || !is_known(v))
      defer_end(id, 1011);
    else if (v == APISTUDIO_CLOSE && close_ends_session)
      defer_end(id, close_code);
  }

  using message_hook = apistudio_verdict (*)(apistudio_instance_plugin_ptr,
                                             apistudio_session_host_ptr,
                                             apistudio_session_state_plugin_ptr,
                                             apistudio_message_host_ptr,
                                             apistudio_refusal_host_ptr);

  message_result run_message_hook(message_hook hook, session_record &s, message_record &m) {
    m.payload = m.original;
    refusal_slot slot;
    message_result r;
    if (hook != nullptr) {
      r.verdict =
          guarded([&] { return hook(instance, s.handle(), s.state, m.handle(), slot.handle()); });
    }
    r.refusal = slot.given;
    r.replacement = m.replacement;
    r.reply = m.reply;
    r.close = m.close;
    after_verdict(s.id, r.verdict, true, m.close ? m.close->code : 1000);
    settle();
    return r;
  }

  // Fires the earliest timer due at or before `until` (ties: the one started first).
  bool fire_next(std::uint64_t until) {
    std::uint64_t id = 0;
    timer_record t;
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto next = timers.end();
      for (auto it = timers.begin(); it != timers.end(); ++it) {
        if (it->second.due <= until && (next == timers.end() || it->second.due < next->second.due))
          next = it;
      }
      if (next == timers.end())
        return false;
      now = next->second.due;
      next->second.firing = true;
      id = next->first;
      t = next->second;
    }
    if (t.fn != nullptr)
      guarded_void([&] { t.fn(t.user_data); });
    std::optional<timer_record> ended;
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = timers.find(id);
      it->second.firing = false;
      if (it->second.cancelled || it->second.interval == 0) {
        ended = it->second;
        timers.erase(it);
      } else {
        const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
        it->second.due =
            it->second.interval > max - it->second.due ? max : it->second.due + it->second.interval;
        // (fixed rate, as the host: the next tick is one interval after this one was due)
      }
    }
    if (ended)
      release(*ended);
    settle();
    return true;
  }

  // fake_host's destructor: what is still open ends as at the host's shutdown.
  void shut_down() noexcept {
    std::vector<std::shared_ptr<session_record>> still_open;
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (const auto &entry : open_sessions)
        still_open.push_back(entry.second);
    }
    for (const auto &s : still_open)
      end_session(s, std::nullopt);
    std::map<std::uint64_t, timer_record> left;
    std::deque<deferred> dropped;
    {
      std::lock_guard<std::mutex> lock(mutex);
      dropped.swap(pending);
      left.swap(timers);
    }
    for (const auto &work : dropped) // a join's completion is called once, if only to free
      if (work.kind == deferred::presence_done)
        guarded_void([&] { work.done(work.user_data, work.session, nullptr); });
    for (const auto &entry : left)
      release(entry.second);
    if (created && plugin->on_destroy != nullptr)
      guarded_void([&] { plugin->on_destroy(instance); });
    created = false;
    instance = nullptr;
  }
};

// ---- apistudio_host_api: one function per member ---------------------------------------------

// A NULL plugin handle is ignored, as the host ignores it. The session, message, request and
// refusal handles are the ones the fake passed into the running hook, valid during that call only.
struct api {
  static session_record &session(apistudio_session_host_ptr s) noexcept {
    return *reinterpret_cast<session_record *>(s);
  }
  static message_record &message(apistudio_message_host_ptr m) noexcept {
    return *reinterpret_cast<message_record *>(m);
  }
  static request_record &request(apistudio_upstream_request_host_ptr r) noexcept {
    return *reinterpret_cast<request_record *>(r);
  }

  static void log(apistudio_plugin_host_ptr p, apistudio_log_level level, apistudio_str text) {
    if (p == nullptr)
      return;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    if (level >= c.min_level)
      c.logs.push_back({level, std::string(view(text))});
  }
  static int log_enabled(apistudio_plugin_host_ptr p, apistudio_log_level level) {
    if (p == nullptr)
      return 0;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    return level >= c.min_level ? 1 : 0;
  }
  static void refuse(apistudio_refusal_host_ptr r, const apistudio_reason *given) {
    if (r != nullptr)
      reinterpret_cast<refusal_slot *>(r)->given = read_reason(given);
  }

  static apistudio_session_id session_id(apistudio_session_host_ptr s) { return session(s).id; }
  static apistudio_str session_attribute(apistudio_session_host_ptr s, apistudio_session_attr a) {
    const session_record &r = session(s);
    switch (a) {
    case APISTUDIO_ATTR_CLIENT_ID:
      return str(r.client_id);
    case APISTUDIO_ATTR_PATH:
      return str(r.path);
    case APISTUDIO_ATTR_REMOTE_ADDRESS:
      return str(r.remote_address);
    case APISTUDIO_ATTR_IDENTITY:
      return str(r.identity);
    case APISTUDIO_ATTR_QUERY:
      return str(r.query);
    }
    return {};
  }
  static void session_set_identity(apistudio_session_host_ptr s, apistudio_str identity) {
    session(s).identity = std::string(truncate_utf8(view(identity), 1024));
  }

  static apistudio_str message_payload(apistudio_message_host_ptr m) {
    return str(message(m).payload);
  }
  static int message_is_binary(apistudio_message_host_ptr m) { return message(m).binary ? 1 : 0; }
  static apistudio_str message_connection_id(apistudio_message_host_ptr m) {
    return str(message(m).connection_id);
  }
  static apistudio_str message_request_id(apistudio_message_host_ptr m) {
    return str(message(m).request_id);
  }
  static void message_set_payload(apistudio_message_host_ptr m, apistudio_str payload) {
    message_record &r = message(m);
    std::string copy(view(payload)); // first: `payload` may point into the current replacement
    r.replacement = std::move(copy);
    r.payload = *r.replacement; // later reads see the new payload, as on the host
  }
  static void message_set_reply(apistudio_message_host_ptr m, apistudio_str payload,
                                apistudio_frame_kind kind) {
    message(m).reply = frame{std::string(view(payload)), kind == APISTUDIO_FRAME_BINARY};
  }
  static void message_set_close(apistudio_message_host_ptr m, int code, apistudio_str reason) {
    message(m).close = close_info{code, std::string(view(reason))};
  }

  static apistudio_str upstream_request_url(apistudio_upstream_request_host_ptr r) {
    return str(request(r).url);
  }
  static apistudio_url upstream_request_url_parts(apistudio_upstream_request_host_ptr r) {
    const url_parts &u = request(r).parts;
    return {str(u.scheme), str(u.host), u.port, str(u.path), str(u.query)};
  }
  static apistudio_str upstream_request_connection_id(apistudio_upstream_request_host_ptr r) {
    return str(request(r).connection_id);
  }
  static std::size_t upstream_request_header_count(apistudio_upstream_request_host_ptr r) {
    return request(r).headers.size();
  }
  static apistudio_header upstream_request_header_at(apistudio_upstream_request_host_ptr r,
                                                     std::size_t i) {
    const header_list &h = request(r).headers;
    return i < h.size() ? apistudio_header{str(h[i].first), str(h[i].second)} : apistudio_header{};
  }
  static std::size_t upstream_request_protocol_count(apistudio_upstream_request_host_ptr r) {
    return request(r).protocols.size();
  }
  static apistudio_str upstream_request_protocol_at(apistudio_upstream_request_host_ptr r,
                                                    std::size_t i) {
    const auto &p = request(r).protocols;
    return i < p.size() ? str(p[i]) : apistudio_str{};
  }
  static int upstream_request_set_header(apistudio_upstream_request_host_ptr r, apistudio_str name,
                                         apistudio_str value, apistudio_header_mode mode) {
    const std::string_view n = view(name), v = view(value);
    if (!is_token(n) || !is_header_value(v) || is_reserved_header(n))
      return 0;
    if (mode != APISTUDIO_HEADER_OVERWRITE && mode != APISTUDIO_HEADER_APPEND &&
        mode != APISTUDIO_HEADER_IF_ABSENT)
      return 0;
    header_list &headers = request(r).headers;
    auto first = headers.begin();
    while (first != headers.end() && !iequals(first->first, n))
      ++first;
    if (first == headers.end()) {
      headers.emplace_back(std::string(n), std::string(v));
      return 1;
    }
    if (mode == APISTUDIO_HEADER_APPEND) {
      // One field with a list value (RFC 7230 3.2.2); Cookie is the one joined with "; ".
      first->second += iequals(n, "cookie") ? "; " : ", ";
      first->second += v;
    } else if (mode == APISTUDIO_HEADER_OVERWRITE) {
      first->second.assign(v.data(), v.size());
      for (auto it = std::next(first); it != headers.end();)
        it = iequals(it->first, n) ? headers.erase(it) : std::next(it);
    }
    return 1;
  }
  static void upstream_request_remove_header(apistudio_upstream_request_host_ptr r,
                                             apistudio_str name) {
    header_list &headers = request(r).headers;
    for (auto it = headers.begin(); it != headers.end();)
      it = iequals(it->first, view(name)) ? headers.erase(it) : std::next(it);
  }

  static int session_send(apistudio_plugin_host_ptr p, apistudio_session_id s,
                          apistudio_str payload, apistudio_frame_kind kind) {
    if (p == nullptr)
      return 0;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.open_sessions.count(s) == 0)
      return 0;
    c.sent.push_back({s, std::string(view(payload)), kind == APISTUDIO_FRAME_BINARY});
    return 1;
  }
  static int session_close(apistudio_plugin_host_ptr p, apistudio_session_id s, int code,
                           apistudio_str reason) {
    if (p == nullptr)
      return 0;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.open_sessions.count(s) == 0)
      return 0;
    c.close_requests.push_back({s, code, std::string(view(reason))});
    c.pending.push_back({deferred::end_session, s, {}, {}, code});
    return 1;
  }

  static std::uint64_t timer_start(apistudio_plugin_host_ptr p, apistudio_session_id s,
                                   std::uint64_t delay_ms, std::uint64_t interval_ms,
                                   apistudio_timer_fn fn, apistudio_timer_release_fn release_fn,
                                   apistudio_timer_data_plugin_ptr user_data) {
    if (p == nullptr)
      return 0;
    core &c = *core::of(p);
    {
      std::lock_guard<std::mutex> lock(c.mutex);
      if (s == 0 || c.open_sessions.count(s) != 0) {
        const std::uint64_t id = c.next_timer_id++;
        const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
        const std::uint64_t due = delay_ms > max - c.now ? max : c.now + delay_ms;
        c.timers.emplace(id, timer_record{s, due, interval_ms, fn, release_fn, user_data});
        return id;
      }
    }
    // Nothing started: released before returning 0, as the ABI promises.
    release(timer_record{s, 0, 0, fn, release_fn, user_data});
    return 0;
  }
  static void timer_cancel(apistudio_plugin_host_ptr p, std::uint64_t id) {
    if (p == nullptr)
      return;
    core &c = *core::of(p);
    std::optional<timer_record> ended;
    {
      std::lock_guard<std::mutex> lock(c.mutex);
      const auto it = c.timers.find(id);
      if (it == c.timers.end())
        return;
      if (it->second.firing) {
        it->second.cancelled = true; // released when its callback returns
        return;
      }
      ended = it->second;
      c.timers.erase(it);
    }
    release(*ended);
  }

  static int bus_subscribe(apistudio_plugin_host_ptr p, apistudio_session_id s,
                           apistudio_str topic) {
    if (p == nullptr)
      return 0;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.open_sessions.count(s) == 0)
      return 0;
    c.subscriptions.emplace(std::string(view(topic)), s);
    return 1;
  }
  static void bus_unsubscribe(apistudio_plugin_host_ptr p, apistudio_session_id s,
                              apistudio_str topic) {
    if (p == nullptr)
      return;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    c.subscriptions.erase({std::string(view(topic)), s});
  }
  static void bus_publish(apistudio_plugin_host_ptr p, apistudio_str topic, apistudio_str payload) {
    if (p == nullptr)
      return;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    std::string t(view(topic));
    c.publications.push_back({t, std::string(view(payload))});
    // Subscribers are those of the moment of publishing; each gets it after the current call.
    for (auto it = c.subscriptions.lower_bound({t, 0});
         it != c.subscriptions.end() && it->first == t; ++it) {
      c.pending.push_back({deferred::deliver, it->second, t, c.publications.back().payload, {}});
    }
  }

  static std::uint64_t now_ms(apistudio_plugin_host_ptr p) {
    if (p == nullptr)
      return 0;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    return c.now;
  }

  // SDK 1.2. The fake is one host: counts are its own, whatever cluster_shared says.
  static int cluster_shared(apistudio_plugin_host_ptr p) {
    if (p == nullptr)
      return 0;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    return c.cluster_shared ? 1 : 0;
  }
  static std::uint64_t counter_add(apistudio_plugin_host_ptr p, apistudio_str key,
                                   std::uint64_t window_ms, std::uint64_t delta) {
    if (p == nullptr || key.size == 0 || key.size > 256 || window_ms == 0 || window_ms > 3600000)
      return UINT64_MAX;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    return c.count(std::string(view(key)), window_ms, delta);
  }

  // The host's limits: 16 metrics, 15 label values each (then "other"), its naming rules.
  static std::uint32_t metric_register(apistudio_plugin_host_ptr p, apistudio_metric_kind kind,
                                       apistudio_str name, apistudio_str help,
                                       apistudio_str label_name) {
    if (p == nullptr)
      return 0;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    const std::string n(view(name)), h(view(help)), l(view(label_name));
    const char *why = nullptr;
    if (!is_metric_identifier(n))
      why = "bad metric name";
    else if (h.empty() || h.size() > 512 || !is_metric_help(h))
      why = "bad help text";
    else if (!l.empty() &&
             (!is_metric_identifier(l) || l.rfind("__", 0) == 0 || l == "le" || l == "quantile"))
      why = "bad label name";
    else if (kind != APISTUDIO_METRIC_COUNTER && kind != APISTUDIO_METRIC_GAUGE)
      why = "bad kind";
    else if (c.metrics.size() >= 16)
      why = "more than 16 metrics";
    for (const auto &m : c.metrics)
      if (m.name == n)
        why = "name already registered";
    if (why != nullptr) {
      c.logs.push_back({APISTUDIO_LOG_ERROR, "metric refused: " + n + ": " + why});
      return 0;
    }
    c.metrics.push_back({kind, n, h, l, {}});
    if (l.empty())
      c.metrics.back().series[""] = 0;
    return static_cast<std::uint32_t>(c.metrics.size());
  }
  static std::int64_t *metric_series(core &c, std::uint32_t id, apistudio_str label_value) {
    if (id == 0 || id > c.metrics.size())
      return nullptr;
    fake_metric &m = c.metrics[id - 1];
    if (m.label_name.empty())
      return &m.series[""];
    std::string value(view(label_value).substr(0, 128));
    if (m.series.count(value) == 0 && m.series.size() >= 15)
      value = "other";
    return &m.series[value];
  }
  static int metric_add(apistudio_plugin_host_ptr p, std::uint32_t id, apistudio_str label_value,
                        std::int64_t delta) {
    if (p == nullptr)
      return 0;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    std::int64_t *v = metric_series(c, id, label_value);
    if (v == nullptr || (c.metrics[id - 1].kind == APISTUDIO_METRIC_COUNTER && delta < 0))
      return 0;
    *v += delta;
    return 1;
  }
  static int metric_set(apistudio_plugin_host_ptr p, std::uint32_t id, apistudio_str label_value,
                        std::int64_t value) {
    if (p == nullptr)
      return 0;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    if (id == 0 || id > c.metrics.size() || c.metrics[id - 1].kind != APISTUDIO_METRIC_GAUGE)
      return 0;
    *metric_series(c, id, label_value) = value;
    return 1;
  }

  // ---- 1.2: presence, as one host of backend local ----
  static bool presence_part(apistudio_str s, std::size_t max) noexcept {
    return s.data != nullptr && s.size >= 1 && s.size <= max;
  }
  // Completes (the deferred work, when the calling hook returns) like the host with backend
  // local: first_session, and every other member of the scope with its status, by member.
  static int presence_join(apistudio_plugin_host_ptr p, apistudio_session_id s, apistudio_str scope,
                           apistudio_str member, apistudio_str status, apistudio_presence_fn done,
                           void *user_data) {
    if (done == nullptr)
      return 0;
    if (p == nullptr || !presence_part(scope, 1024) || !presence_part(member, 1024) ||
        !presence_part(status, 64)) {
      done(user_data, s, nullptr);
      return 0;
    }
    core &c = *core::of(p);
    std::unique_lock<std::mutex> lock(c.mutex);
    if (c.open_sessions.count(s) == 0) {
      lock.unlock();
      done(user_data, s, nullptr);
      return 0;
    }
    const std::string sc(view(scope)), m(view(member));
    // A session is in a scope once: joining again replaces its member.
    auto existing = c.presence.find(sc);
    if (existing != c.presence.end()) {
      auto mine = existing->second.find(m);
      if (mine == existing->second.end() || mine->second.sessions.count(s) == 0)
        c.presence_remove_locked(sc, s);
    }
    auto &members = c.presence[sc];
    deferred work;
    work.kind = deferred::presence_done;
    work.session = s;
    work.done = done;
    work.user_data = user_data;
    for (const auto &other : members)
      if (other.first != m)
        work.members.emplace_back(other.first, other.second.status);
    auto &record = members[m];
    work.first_session = record.sessions.empty();
    if (record.sessions.empty())
      record.status = std::string(view(status));
    record.sessions.insert(s);
    c.pending.push_back(std::move(work));
    return 1;
  }
  static int presence_set_status(apistudio_plugin_host_ptr p, apistudio_session_id s,
                                 apistudio_str scope, apistudio_str status) {
    if (p == nullptr || !presence_part(scope, 1024) || !presence_part(status, 64))
      return 0;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    auto sc = c.presence.find(std::string(view(scope)));
    if (sc == c.presence.end())
      return 0;
    for (auto &m : sc->second) {
      if (m.second.sessions.count(s) != 0) {
        m.second.status = std::string(view(status));
        return 1;
      }
    }
    return 0;
  }
  static void presence_leave(apistudio_plugin_host_ptr p, apistudio_session_id s,
                             apistudio_str scope) {
    if (p == nullptr)
      return;
    core &c = *core::of(p);
    std::lock_guard<std::mutex> lock(c.mutex);
    c.presence_remove_locked(std::string(view(scope)), s);
  }
};

// Filled by name, not position: C++17 has no designated initialisers, and several members share a
// type, so a positional table could silently swap two of them.
inline const apistudio_host_api *host_api() noexcept {
  static const apistudio_host_api table = [] {
    apistudio_host_api t{};
    t.struct_size = sizeof(apistudio_host_api);
    t.abi_version = APISTUDIO_SDK_ABI_VERSION;
    t.log = &api::log;
    t.log_enabled = &api::log_enabled;
    t.refuse = &api::refuse;
    t.session_id = &api::session_id;
    t.session_attribute = &api::session_attribute;
    t.session_set_identity = &api::session_set_identity;
    t.message_payload = &api::message_payload;
    t.message_is_binary = &api::message_is_binary;
    t.message_connection_id = &api::message_connection_id;
    t.message_request_id = &api::message_request_id;
    t.message_set_payload = &api::message_set_payload;
    t.message_set_reply = &api::message_set_reply;
    t.message_set_close = &api::message_set_close;
    t.upstream_request_url = &api::upstream_request_url;
    t.upstream_request_url_parts = &api::upstream_request_url_parts;
    t.upstream_request_connection_id = &api::upstream_request_connection_id;
    t.upstream_request_header_count = &api::upstream_request_header_count;
    t.upstream_request_header_at = &api::upstream_request_header_at;
    t.upstream_request_protocol_count = &api::upstream_request_protocol_count;
    t.upstream_request_protocol_at = &api::upstream_request_protocol_at;
    t.upstream_request_set_header = &api::upstream_request_set_header;
    t.upstream_request_remove_header = &api::upstream_request_remove_header;
    t.session_send = &api::session_send;
    t.session_close = &api::session_close;
    t.timer_start = &api::timer_start;
    t.timer_cancel = &api::timer_cancel;
    t.bus_subscribe = &api::bus_subscribe;
    t.bus_unsubscribe = &api::bus_unsubscribe;
    t.bus_publish = &api::bus_publish;
    t.now_ms = &api::now_ms;
    t.metric_register = &api::metric_register;
    t.metric_add = &api::metric_add;
    t.metric_set = &api::metric_set;
    t.cluster_shared = &api::cluster_shared;
    t.counter_add = &api::counter_add;
    t.presence_join = &api::presence_join;
    t.presence_set_status = &api::presence_set_status;
    t.presence_leave = &api::presence_leave;
    return t;
  }();
  return &table;
}
// A member added to apistudio_host_api (at its end, as a minor version does) must be implemented
// above before this header compiles again.
static_assert(offsetof(apistudio_host_api, presence_leave) +
                      sizeof(apistudio_host_api::presence_leave) ==
                  sizeof(apistudio_host_api),
              "apistudio_host_api grew: give the fake host the new member too");

// The 1.0 descriptor ends with on_bus_message; a newer one only adds members after it.
constexpr std::size_t descriptor_v1_0_size = offsetof(apistudio_plugin_descriptor, on_bus_message) +
                                             sizeof(apistudio_plugin_descriptor::on_bus_message);

} // namespace detail

// ---- the public classes
// --------------------------------------------------------------------------

// One client socket of the fake host. Move-only; destroying it closes the session if still open.
class fake_session {
public:
  fake_session(fake_session &&) noexcept = default;
  fake_session &operator=(fake_session &&other) noexcept {
    if (this != &other) {
      end_quietly();
      core_ = std::move(other.core_);
      record_ = std::move(other.record_);
    }
    return *this;
  }
  fake_session(const fake_session &) = delete;
  fake_session &operator=(const fake_session &) = delete;
  ~fake_session() { end_quietly(); }

  apistudio_session_id id() const noexcept { return record_->id; }
  // What on_session_open returned, and the reason it gave if it refused.
  apistudio_verdict open_verdict() const noexcept { return record_->open_verdict; }
  const std::optional<reason> &open_refusal() const noexcept { return record_->open_refusal; }
  // The upgrade was accepted (CONTINUE or REPLACE; anything else refuses it).
  bool accepted() const noexcept {
    return open_verdict() == APISTUDIO_CONTINUE || open_verdict() == APISTUDIO_REPLACE;
  }
  bool is_open() const {
    const auto c = core_.lock();
    return c && record_ && c->is_open(record_->id);
  }
  // The close code when the plugin (session_close) or a CLOSE / FAIL verdict ended the session.
  std::optional<int> close_code() const noexcept { return record_->close_code; }
  // ATTR_IDENTITY, as plugins set it with session_set_identity.
  const std::string &identity() const noexcept { return record_->identity; }

  // A frame from the client (on_client_message).
  message_result client_message(std::string_view payload, bool binary = false) {
    auto c = live();
    detail::message_record m;
    m.original = std::string(payload);
    m.binary = binary;
    return c->run_message_hook(c->plugin->on_client_message, *record_, m);
  }
  // A send_message's decoded content about to be written upstream (on_message_to_upstream).
  message_result message_to_upstream(std::string_view payload, bool binary = false,
                                     std::string_view connection_id = {},
                                     std::string_view request_id = {}) {
    auto c = live();
    detail::message_record m;
    m.original = std::string(payload);
    m.binary = binary;
    m.connection_id = std::string(connection_id);
    m.request_id = std::string(request_id);
    return c->run_message_hook(c->plugin->on_message_to_upstream, *record_, m);
  }
  // What an upstream sent, decoded (on_message_from_upstream).
  message_result message_from_upstream(std::string_view payload, bool binary = false,
                                       std::string_view connection_id = {}) {
    auto c = live();
    detail::message_record m;
    m.original = std::string(payload);
    m.binary = binary;
    m.connection_id = std::string(connection_id);
    return c->run_message_hook(c->plugin->on_message_from_upstream, *record_, m);
  }
  // An upstream handshake about to be sent (on_upstream_connect). `url` must be ws:// or wss://;
  // `headers` are those the client asked for. FAIL ends the session with 1011; any other stop
  // verdict only refuses this connection.
  connect_result upstream_connect(std::string_view url, std::string_view connection_id = {},
                                  header_list headers = {},
                                  std::vector<std::string> protocols = {}) {
    auto c = live();
    detail::request_record r;
    r.url = std::string(url);
    r.parts = detail::parse_ws_url(url);
    r.connection_id = std::string(connection_id);
    r.headers = std::move(headers);
    r.protocols = std::move(protocols);
    detail::refusal_slot slot;
    connect_result out;
    if (const auto hook = c->plugin->on_upstream_connect) {
      out.verdict = detail::guarded([&] {
        return hook(c->instance, record_->handle(), record_->state, r.handle(), slot.handle());
      });
    }
    out.refusal = slot.given;
    out.headers = std::move(r.headers);
    out.url = std::move(r.parts);
    c->after_verdict(record_->id, out.verdict, false, 0);
    c->settle();
    return out;
  }
  // The upstream handshake succeeded (on_upstream_opened).
  void upstream_opened(std::string_view url, std::string_view connection_id = {},
                       std::string_view subprotocol = {}) {
    notify_upstream(&apistudio_plugin_descriptor::on_upstream_opened, url, connection_id,
                    subprotocol, 0, {});
  }
  // An upstream connection ended (on_upstream_closed); 1006 when the peer vanished.
  void upstream_closed(std::string_view url, std::string_view connection_id = {}, int code = 1000,
                       std::string_view reason_text = {}) {
    notify_upstream(&apistudio_plugin_descriptor::on_upstream_closed, url, connection_id, {}, code,
                    reason_text);
  }
  // The client went away: on_session_close (once; a second close() does nothing).
  void close() {
    const auto c = core_.lock();
    if (!c || !record_)
      return;
    c->end_session(record_, std::nullopt);
    c->settle();
  }

private:
  friend class fake_host;
  fake_session(std::weak_ptr<detail::core> c, std::shared_ptr<detail::session_record> r)
      : core_(std::move(c)), record_(std::move(r)) {}

  std::shared_ptr<detail::core> live() const {
    auto c = core_.lock();
    if (!c)
      throw std::logic_error("fake_session: used after its fake_host was destroyed");
    if (!record_ || !c->is_open(record_->id)) {
      throw std::logic_error("fake_session: session " + std::to_string(record_ ? record_->id : 0) +
                             " is not open");
    }
    return c;
  }
  void end_quietly() noexcept {
    try {
      close();
    } catch (...) {
    }
  }
  using notify_hook = void (*)(apistudio_instance_plugin_ptr, apistudio_session_host_ptr,
                               apistudio_session_state_plugin_ptr, const apistudio_upstream_info *);
  void notify_upstream(notify_hook apistudio_plugin_descriptor::*member, std::string_view url,
                       std::string_view connection_id, std::string_view subprotocol, int code,
                       std::string_view reason_text) {
    auto c = live();
    const url_parts parts = detail::parse_ws_url(url);
    apistudio_upstream_info info{};
    info.struct_size = sizeof info;
    info.connection_id = detail::str(connection_id);
    info.url = detail::str(url);
    info.url_parts = {detail::str(parts.scheme), detail::str(parts.host), parts.port,
                      detail::str(parts.path), detail::str(parts.query)};
    info.subprotocol = detail::str(subprotocol);
    info.close_code = code;
    info.close_reason = detail::str(reason_text);
    if (const notify_hook hook = c->plugin->*member)
      detail::guarded_void([&] { hook(c->instance, record_->handle(), record_->state, &info); });
    c->settle();
  }

  std::weak_ptr<detail::core> core_;
  std::shared_ptr<detail::session_record> record_;
};

// One plugin instance on a fake host: on_create in the constructor, on_destroy in the destructor.
class fake_host {
public:
  // Checks the descriptor as the host's loader does (std::invalid_argument if it would not load),
  // then calls on_create with `settings_json`. A refusal does not throw: see created().
  // `cluster_shared`: what host().cluster_shared() answers from on_create on (SDK 1.2), as a
  // host with cluster.backend redis; counter_add still counts in memory, as one host.
  explicit fake_host(const apistudio_plugin_descriptor *plugin,
                     std::string_view settings_json = "{}", bool cluster_shared = false)
      : core_(std::make_shared<detail::core>()) {
    core_->cluster_shared = cluster_shared;
    check(plugin);
    core_->plugin = plugin;
    detail::refusal_slot slot;
    void *instance = nullptr;
    try {
      instance = plugin->on_create(detail::host_api(), core_->handle(), detail::str(settings_json),
                                   slot.handle());
    } catch (...) {
      slot.given = reason{0, {}, "on_create threw an exception", {}};
    }
    core_->instance = instance;
    core_->created = instance != nullptr;
    if (!core_->created)
      core_->create_refusal = slot.given ? slot.given : reason{};
  }
  fake_host(fake_host &&) noexcept = default;
  fake_host &operator=(fake_host &&) = delete;
  fake_host(const fake_host &) = delete;
  fake_host &operator=(const fake_host &) = delete;
  ~fake_host() {
    if (core_)
      core_->shut_down();
  }

  // False when on_create refused the settings; create_refusal() then says why (message, and the
  // JSON Pointer of the wrong setting in `setting`). Sessions need a created plugin.
  bool created() const noexcept { return core_->created; }
  const std::optional<reason> &create_refusal() const noexcept { return core_->create_refusal; }

  // Whether the plugin takes new settings on its running instance (exports on_settings; a plugin
  // built against an SDK without the member has a descriptor too short to hold it).
  bool has_on_settings() const noexcept {
    const auto *d = core_->plugin;
    return d->struct_size >= offsetof(apistudio_plugin_descriptor, on_settings) +
                                 sizeof(apistudio_plugin_descriptor::on_settings) &&
           d->on_settings != nullptr;
  }
  // A configuration reload hands `settings_json` to the running instance (on_settings). Returns
  // no value when the plugin took them, else the reason it gave; a plugin without the hook throws
  // std::logic_error (the real host would make a fresh instance: construct another fake_host).
  std::optional<reason> reload_settings(std::string_view settings_json) {
    if (!core_->created)
      throw std::logic_error("fake_host: the plugin refused its settings; it has no instance");
    if (!has_on_settings())
      throw std::logic_error("fake_host: the plugin does not export on_settings");
    detail::refusal_slot slot;
    const apistudio_verdict v = detail::guarded([&] {
      return core_->plugin->on_settings(core_->instance, detail::str(settings_json), slot.handle());
    });
    core_->settle();
    if (v == APISTUDIO_CONTINUE)
      return std::nullopt;
    return slot.given ? slot.given : reason{};
  }

  // A client asks for the WebSocket upgrade: on_session_open. A refused upgrade (any verdict but
  // CONTINUE / REPLACE) gets on_session_close at once, so the returned session is not open.
  fake_session open_session(std::string_view path = "/ws", std::string_view query = {},
                            std::string_view client_id = {},
                            std::string_view remote_address = "127.0.0.1",
                            header_list headers = {}) {
    if (!core_->created)
      throw std::logic_error("fake_host: the plugin refused its settings; no session can open");
    auto s = std::make_shared<detail::session_record>();
    s->path = std::string(path);
    s->query = std::string(query);
    s->client_id = std::string(client_id);
    s->remote_address = std::string(remote_address);
    s->headers = std::move(headers);
    {
      std::lock_guard<std::mutex> lock(core_->mutex);
      s->id = core_->next_session_id++;
      core_->open_sessions.emplace(s->id, s); // open during on_session_open: it may subscribe
    }
    std::vector<apistudio_header> borrowed;
    for (const auto &h : s->headers)
      borrowed.push_back({detail::str(h.first), detail::str(h.second)});
    apistudio_session_info info{};
    info.struct_size = sizeof info;
    info.session_id = s->id;
    info.path = detail::str(s->path);
    info.query = detail::str(s->query);
    info.client_id = detail::str(s->client_id);
    info.remote_address = detail::str(s->remote_address);
    info.headers = borrowed.data();
    info.header_count = borrowed.size();
    detail::refusal_slot slot;
    if (const auto hook = core_->plugin->on_session_open) {
      s->open_verdict = detail::guarded(
          [&] { return hook(core_->instance, s->handle(), &info, &s->state, slot.handle()); });
    }
    s->open_refusal = slot.given;
    fake_session session(core_, s);
    if (!session.accepted())
      core_->end_session(s, std::nullopt);
    core_->settle();
    return session;
  }

  // Moves the manual clock by `ms`, firing every timer that falls due, in order of due time
  // (interval timers re-armed at a fixed rate, each firing seeing now_ms() at its due time).
  void advance(std::uint64_t ms) {
    std::uint64_t until = 0;
    {
      std::lock_guard<std::mutex> lock(core_->mutex);
      until = core_->now + ms;
    }
    for (std::size_t n = 0; core_->fire_next(until); ++n) {
      if (n == 1000000)
        throw std::runtime_error("fake_host: more than a million timer firings in one advance()");
    }
    std::lock_guard<std::mutex> lock(core_->mutex);
    core_->now = until;
  }
  std::uint64_t now_ms() const {
    std::lock_guard<std::mutex> lock(core_->mutex);
    return core_->now;
  }
  // counter_add's estimate for `key` and `window_ms` now, without counting (as a delta of 0).
  std::uint64_t counter(std::string_view key, std::uint64_t window_ms) const {
    if (key.empty() || window_ms == 0 || window_ms > 3600000)
      return UINT64_MAX;
    std::lock_guard<std::mutex> lock(core_->mutex);
    return core_->count(std::string(key), window_ms, 0);
  }
  // Timers started and not yet ended (released).
  std::size_t active_timers() const {
    std::lock_guard<std::mutex> lock(core_->mutex);
    return core_->timers.size();
  }

  // Lines below `level` are not recorded, and log_enabled says so (default: everything).
  void set_log_level(apistudio_log_level level) {
    std::lock_guard<std::mutex> lock(core_->mutex);
    core_->min_level = level;
  }
  std::vector<log_line> logs() const { return copy(core_->logs); }
  // Some line at `level` contains `text`.
  bool logged(apistudio_log_level level, std::string_view text) const {
    for (const log_line &line : logs()) {
      if (line.level == level && line.text.find(text) != std::string::npos)
        return true;
    }
    return false;
  }
  std::vector<sent_frame> sent() const { return copy(core_->sent); }
  std::vector<close_request> close_requests() const { return copy(core_->close_requests); }
  std::vector<publication> publications() const { return copy(core_->publications); }
  // A metric's value as the plugin last left it: `name` as the plugin registered it (without the
  // host's prefix), `label_value` empty for a metric without a label. Unknown: nullopt.
  std::optional<std::int64_t> metric_value(std::string_view name,
                                           std::string_view label_value = {}) const {
    std::lock_guard<std::mutex> lock(core_->mutex);
    for (const auto &m : core_->metrics) {
      if (m.name != name)
        continue;
      auto it = m.series.find(std::string(label_value));
      if (it == m.series.end())
        return std::nullopt;
      return it->second;
    }
    return std::nullopt;
  }
  // Presence (SDK 1.2) as the plugin left it: the members of `scope`, by member. Completions of
  // presence_join run when the hook that joined returns; a member whose last session left or
  // ended is removed and on_presence_gone is called then too (recorded in presence_gone()).
  std::map<std::string, detail::presence_record> presence(std::string_view scope) const {
    std::lock_guard<std::mutex> lock(core_->mutex);
    auto it = core_->presence.find(std::string(scope));
    return it == core_->presence.end() ? std::map<std::string, detail::presence_record>{}
                                       : it->second;
  }
  std::vector<detail::presence_gone_call> presence_gone() const {
    return copy(core_->presence_gone_calls);
  }
  bool subscribed(apistudio_session_id session, std::string_view topic) const {
    std::lock_guard<std::mutex> lock(core_->mutex);
    return core_->subscriptions.count({std::string(topic), session}) != 0;
  }

private:
  static void check(const apistudio_plugin_descriptor *d) {
    const auto refuse = [](const std::string &why) {
      throw std::invalid_argument("fake_host: the host would not load this plugin: " + why);
    };
    if (d == nullptr)
      refuse("the descriptor is NULL");
    const std::uint32_t major = d->abi_version >> 16, minor = d->abi_version & 0xFFFFu;
    if (major != APISTUDIO_SDK_VERSION_MAJOR || minor > APISTUDIO_SDK_VERSION_MINOR) {
      refuse("it was built for SDK " + std::to_string(major) + "." + std::to_string(minor) +
             ", this fake implements " + std::to_string(APISTUDIO_SDK_VERSION_MAJOR) + "." +
             std::to_string(APISTUDIO_SDK_VERSION_MINOR));
    }
    if (d->struct_size < detail::descriptor_v1_0_size)
      refuse("its descriptor is shorter than the 1.0 descriptor");
    if (detail::view(d->name).empty() || d->on_create == nullptr)
      refuse("its descriptor has no name or no on_create");
  }
  template <class T> std::vector<T> copy(const std::vector<T> &v) const {
    std::lock_guard<std::mutex> lock(core_->mutex);
    return v;
  }

  std::shared_ptr<detail::core> core_;
};

inline std::optional<std::string> connect_result::header(std::string_view name) const {
  for (const auto &h : headers) {
    if (detail::iequals(h.first, name))
      return h.second;
  }
  return std::nullopt;
}

} // namespace apistudio::testing

#endif // APISTUDIO_TESTING_FAKE_HOST_HPP
