// load_generator — drives the echo server directly or through the host, and checks every answer.
//
// Modes:
//   direct  raw WebSocket to the echo server: each message is one round trip.
//   proxy   the spec's protocol through the host: connect to /api/websocket/connect/{id}, send
//           connect_external (--upstream), wait for connection_status "connected", then
//           send_message; the matching message_received closes one round trip. message_sent
//           events are counted and checked too.
//   setup   opens and closes sessions back to back and reports connect -> "connected"
//           percentiles (with --via direct: TCP connect + WebSocket upgrade to the echo server).
//   idle    opens --connections sessions (through the host unless --via direct), prints one JSON
//           line {"ready":N,...} and holds them until stdin closes or --hold seconds pass, so
//           that a runner can read the server's RSS.
//
// Closed loop: each connection keeps --inflight messages outstanding and sends a new one for each
// answer. Every payload starts with its sequence number (16 hex digits) followed by filler that
// depends on the connection; answers must come back whole and in order, anything else counts as
// an error (mismatch, protocol, io, connect, lost) and the first few are shown. Latency is from
// the start of a message's write to its answer, kept in a log-linear histogram.
//
// Threads: one io_context per thread; connections are spread round-robin and never share state,
// so nothing on the hot path takes a lock. Measurement: all connections open first, then
// --warmup seconds unrecorded, then --duration seconds recorded (or --count round trips per
// connection, all recorded), then in-flight messages drain and connections close normally.
#include "latency_histogram.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/program_options.hpp>

#include <nlohmann/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace po = boost::program_options;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;
using apistudio::bench::latency_histogram;
using nlohmann::json;

namespace {

struct options {
  std::string mode = "direct";
  std::string via = "proxy"; // setup / idle: through the host (proxy) or to the echo server
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  std::string upstream; // ws:// URL the host connects to (proxy, setup, idle)
  int connections = 1;
  int inflight = 1;
  int threads = 1;
  std::size_t size = 64;
  double duration = 5;
  double warmup = 1;
  std::uint64_t count = 0;    // round trips (setup: sessions) per connection; 0: use --duration
  int open_concurrency = 256; // idle: sessions being opened at once
  double hold = 0;            // idle: seconds to hold; 0: until stdin closes
  double timeout = 20;        // opening all connections, and draining at the end
  bool json_output = false;

  bool proxied() const {
    return mode == "proxy" || ((mode == "setup" || mode == "idle") && via == "proxy");
  }
};

enum phase : int { warming = 0, measuring = 1, stopping = 2 };

constexpr std::size_t seq_digits = 16;

// Everything one thread records; merged after the threads have stopped.
struct thread_stats {
  latency_histogram rtt;         // round trip, or (setup) connect -> connected
  latency_histogram upgrade;     // setup: TCP connect + WebSocket upgrade
  latency_histogram dial;        // setup: connect_external -> connected
  std::uint64_t round_trips = 0; // recorded (measuring phase)
  std::uint64_t all_round_trips = 0;
  std::uint64_t acks = 0; // message_sent events (proxy)
  std::uint64_t mismatch = 0, protocol = 0, io = 0, connect = 0, lost = 0;
  std::vector<std::string> samples; // the first errors, for the report
  steady::time_point last_done{};

  void error(std::uint64_t &counter, std::string what) {
    ++counter;
    if (samples.size() < 5)
      samples.push_back(std::move(what));
  }
};

// State shared by all threads: only atomics.
struct shared_state {
  std::atomic<int> phase{warming};
  std::atomic<int> opened{0}; // connections ready to pump (or idle sessions held)
  std::atomic<int> failed{0}; // connections that could not open
  std::atomic<int> live{0};   // connections not finished
};

class worker;

void write_hex(char *out, std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  for (std::size_t i = seq_digits; i-- > 0; v >>= 4)
    out[i] = digits[v & 15];
}

std::string shorten(std::string_view s) {
  return s.size() <= 160 ? std::string(s) : std::string(s.substr(0, 160)) + "...";
}

// The value of `"key":"` up to the next quote; nullopt when absent. Only for fields whose values
// carry no escapes (event types, status, and the payloads this program sends).
std::optional<std::string_view> string_field(std::string_view event, std::string_view key) {
  const auto at = event.find(key);
  if (at == std::string_view::npos)
    return std::nullopt;
  const auto begin = at + key.size();
  const auto end = event.find('"', begin);
  if (end == std::string_view::npos)
    return std::nullopt;
  return event.substr(begin, end - begin);
}

// ---- one client socket: connect, upgrade and (proxied) connect_external ----

class client_base : public std::enable_shared_from_this<client_base> {
public:
  client_base(worker &w, int index);
  virtual ~client_base() = default;
  void start() { open(); }

protected:
  using ws_stream = websocket::stream<beast::tcp_stream>;

  virtual void on_open() = 0;
  virtual void on_open_failed() = 0;

  void open();
  void fail_open(std::string what);
  // Reads one frame into rd_ and calls `next(ec)`.
  template <class F> void read(F next) {
    ws_->async_read(rd_, [self = shared_from_this(), next](beast::error_code ec, std::size_t) {
      next(self.get(), ec);
    });
  }
  std::string_view frame() const {
    const auto d = rd_.cdata();
    return {static_cast<const char *>(d.data()), d.size()};
  }

  worker &w_;
  const options &o_;
  shared_state &s_;
  thread_stats &st_;
  int index_;
  int cycle_ = 0;
  std::optional<ws_stream> ws_;
  beast::flat_buffer rd_;
  std::string connect_frame_;
  steady::time_point t_begin_, t_upgraded_, t_connected_;

private:
  void on_connect(beast::error_code ec);
  void on_handshake(beast::error_code ec);
  void on_connect_sent(beast::error_code ec);
  void on_status(beast::error_code ec);
};

class worker {
public:
  worker(const options &o, shared_state &s, tcp::endpoint target) : o_(o), s_(s), target_(target) {}

  void add(std::shared_ptr<client_base> c) { clients_.push_back(std::move(c)); }
  const std::vector<std::shared_ptr<client_base>> &clients() const { return clients_; }

  // Idle mode opens at most `limit` sessions at a time.
  void start_all(std::size_t limit) {
    limit_ = limit;
    net::post(ioc_, [this] { start_more(); });
  }
  void one_opened() {
    --opening_;
    start_more();
  }

  void run() {
    thread_ = std::thread([this] {
      auto guard = net::make_work_guard(ioc_);
      ioc_.run();
    });
  }
  void stop() { ioc_.stop(); }
  void join() {
    if (thread_.joinable())
      thread_.join();
  }

  net::io_context ioc_;
  thread_stats stats_;
  const options &o_;
  shared_state &s_;
  tcp::endpoint target_;

private:
  void start_more() {
    while (next_ < clients_.size() && opening_ < limit_) {
      ++opening_;
      clients_[next_++]->start();
    }
  }

  std::vector<std::shared_ptr<client_base>> clients_;
  std::size_t next_ = 0, opening_ = 0, limit_ = 0;
  std::thread thread_;
};

client_base::client_base(worker &w, int index)
    : w_(w), o_(w.o_), s_(w.s_), st_(w.stats_), index_(index) {
  if (o_.proxied())
    connect_frame_ = json{{"type", "connect_external"}, {"url", o_.upstream}}.dump();
}

void client_base::open() {
  ws_.emplace(w_.ioc_);
  rd_.clear();
  t_begin_ = steady::now();
  auto &tcp_layer = beast::get_lowest_layer(*ws_);
  tcp_layer.expires_after(
      std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o_.timeout)));
  tcp_layer.async_connect(
      w_.target_, [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
}

void client_base::on_connect(beast::error_code ec) {
  if (ec)
    return fail_open("connect: " + ec.message());
  beast::error_code ignored;
  beast::get_lowest_layer(*ws_).socket().set_option(tcp::no_delay(true), ignored);
  ws_->set_option(websocket::stream_base::timeout{std::chrono::seconds(10),
                                                  websocket::stream_base::none(), false});
  ws_->read_message_max(64 * 1024 * 1024);
  ws_->auto_fragment(false);
  const std::string host = o_.host + ":" + std::to_string(o_.port);
  const std::string path = o_.proxied()
                               ? "/api/websocket/connect/lg-" + std::to_string(::getpid()) + "-" +
                                     std::to_string(index_) + "-" + std::to_string(cycle_)
                               : "/";
  ws_->async_handshake(host, path,
                       [self = shared_from_this()](beast::error_code e) { self->on_handshake(e); });
}

void client_base::on_handshake(beast::error_code ec) {
  if (ec)
    return fail_open("upgrade: " + ec.message());
  beast::get_lowest_layer(*ws_).expires_never();
  t_upgraded_ = steady::now();
  if (!o_.proxied()) {
    t_connected_ = t_upgraded_;
    return on_open();
  }
  ws_->text(true);
  ws_->async_write(
      net::buffer(connect_frame_),
      [self = shared_from_this()](beast::error_code e, std::size_t) { self->on_connect_sent(e); });
}

void client_base::on_connect_sent(beast::error_code ec) {
  if (ec)
    return fail_open("connect_external: " + ec.message());
  read([](client_base *self, beast::error_code e) { self->on_status(e); });
}

void client_base::on_status(beast::error_code ec) {
  if (ec)
    return fail_open("waiting for connected: " + ec.message());
  const std::string_view ev = frame();
  const auto type = string_field(ev, R"("type":")");
  const auto status = string_field(ev, R"("status":")");
  if (type == "connection_status" && status == "connecting") {
    rd_.consume(rd_.size());
    return read([](client_base *self, beast::error_code e) { self->on_status(e); });
  }
  if (type == "connection_status" && status == "connected") {
    rd_.consume(rd_.size());
    t_connected_ = steady::now();
    return on_open();
  }
  fail_open("connect_external answered: " + shorten(ev));
}

void client_base::fail_open(std::string what) {
  st_.error(st_.connect, std::move(what));
  ws_.reset();
  on_open_failed();
}

// ---- direct / proxy: closed-loop round trips ----

class pump_client final : public client_base {
public:
  pump_client(worker &w, int index) : client_base(w, index), sent_at_(o_.inflight) {
    content_.resize(std::max(o_.size, seq_digits));
    for (std::size_t i = seq_digits; i < content_.size(); ++i)
      content_[i] = static_cast<char>('a' + (i * 7 + static_cast<std::size_t>(index)) % 26);
    if (o_.proxied()) {
      frame_ = R"({"type":"send_message","content":")";
      seq_at_ = frame_.size();
      frame_ += content_;
      frame_ += R"("})";
    } else {
      frame_ = content_;
      seq_at_ = 0;
    }
  }

  // On the worker's thread once every connection has opened.
  void go() {
    if (!ready_ || done_)
      return;
    read([](client_base *self, beast::error_code ec) {
      static_cast<pump_client *>(self)->on_read(ec);
    });
    for (int i = 0; i < o_.inflight; ++i)
      want_send();
  }

  std::uint64_t outstanding() const { return done_ && !ready_ ? 0 : next_send_ - next_echo_; }

private:
  void on_open() override {
    ready_ = true;
    s_.opened.fetch_add(1);
  }
  void on_open_failed() override {
    done_ = true;
    s_.failed.fetch_add(1);
    s_.live.fetch_sub(1);
  }

  bool may_send() const {
    if (o_.count != 0)
      return next_send_ + queued_ < o_.count;
    return s_.phase.load(std::memory_order_relaxed) != stopping;
  }

  void want_send() {
    if (done_ || closing_ || !may_send())
      return;
    ++queued_;
    if (!writing_)
      do_write();
  }

  void do_write() {
    --queued_;
    const std::uint64_t seq = next_send_++;
    write_hex(frame_.data() + seq_at_, seq);
    sent_at_[seq % sent_at_.size()] = steady::now();
    writing_ = true;
    ws_->text(true);
    ws_->async_write(net::buffer(frame_),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       static_cast<pump_client *>(self.get())->on_write(ec);
                     });
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (ec)
      return fail("write: " + ec.message());
    if (closing_)
      return do_close();
    if (queued_ > 0)
      do_write();
  }

  // True when `payload` is what message `seq` carried.
  bool matches(std::string_view payload, std::uint64_t seq) const {
    if (payload.size() != content_.size())
      return false;
    char digits[seq_digits];
    write_hex(digits, seq);
    return std::memcmp(payload.data(), digits, seq_digits) == 0 &&
           std::memcmp(payload.data() + seq_digits, content_.data() + seq_digits,
                       content_.size() - seq_digits) == 0;
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      if (closing_)
        return; // our own close completed the read
      return fail("read: " + ec.message());
    }
    if (!handle(frame()))
      return;
    rd_.consume(rd_.size());
    if (done_)
      return;
    read([](client_base *self, beast::error_code e) {
      static_cast<pump_client *>(self)->on_read(e);
    });
  }

  // False when the connection was given up.
  bool handle(std::string_view f) {
    if (!o_.proxied())
      return echoed(f);
    const auto type = string_field(f, R"("type":")");
    if (type == "message_received") {
      const auto content = string_field(f, R"("content":")");
      return echoed(content.value_or(std::string_view()), f);
    }
    if (type == "message_sent") {
      const auto content = string_field(f, R"("content":")");
      if (!content || !matches(*content, next_ack_)) {
        st_.error(st_.mismatch, "message_sent " + std::to_string(next_ack_) + ": " + shorten(f));
        return fail_silently();
      }
      ++next_ack_;
      ++st_.acks;
      return true;
    }
    st_.error(st_.protocol, "unexpected event: " + shorten(f));
    return fail_silently();
  }

  bool echoed(std::string_view payload, std::string_view whole = {}) {
    if (next_echo_ >= next_send_ || !matches(payload, next_echo_)) {
      st_.error(st_.mismatch, "answer to " + std::to_string(next_echo_) + ": " +
                                  shorten(whole.empty() ? payload : whole));
      return fail_silently();
    }
    const auto now = steady::now();
    const std::uint64_t seq = next_echo_++;
    ++st_.all_round_trips;
    if (o_.count != 0 || s_.phase.load(std::memory_order_relaxed) == measuring) {
      st_.rtt.record(
          static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         now - sent_at_[seq % sent_at_.size()])
                                         .count()));
      ++st_.round_trips;
    }
    if (may_send()) {
      want_send();
    } else if (next_echo_ == next_send_ && queued_ == 0) {
      st_.last_done = std::max(st_.last_done, now);
      finish();
    }
    return true;
  }

  // Normal end: close handshake, once no write is in flight.
  void finish() {
    if (closing_ || done_)
      return;
    closing_ = true;
    if (!writing_)
      do_close();
  }
  void do_close() {
    if (close_started_)
      return;
    close_started_ = true;
    ws_->async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {
      static_cast<pump_client *>(self.get())->mark_done();
    });
  }
  void mark_done() {
    if (done_)
      return;
    done_ = true;
    s_.live.fetch_sub(1);
  }

  // An error already counted: drop the connection.
  bool fail_silently() {
    if (!done_) {
      lost_on_error();
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).socket().close(ignored);
      mark_done();
    }
    return false;
  }
  void fail(std::string what) {
    if (done_)
      return;
    st_.error(st_.io, std::move(what));
    fail_silently();
  }
  void lost_on_error() {
    // What was in flight on a broken connection never came back.
    st_.lost += next_send_ - next_echo_;
    next_echo_ = next_send_;
  }

  std::string content_; // the payload of message 0 with its digits about to be overwritten
  std::string frame_;   // what goes on the wire; digits patched in at seq_at_
  std::size_t seq_at_ = 0;
  std::vector<steady::time_point> sent_at_;
  std::uint64_t next_send_ = 0, next_echo_ = 0, next_ack_ = 0, queued_ = 0;
  bool ready_ = false, writing_ = false, closing_ = false, close_started_ = false, done_ = false;
};

// ---- setup: sessions opened and closed back to back ----

class setup_client final : public client_base {
public:
  using client_base::client_base;

private:
  void on_open() override {
    const int ph = s_.phase.load(std::memory_order_relaxed);
    if (o_.count != 0 || ph == measuring) {
      auto ns = [](steady::duration d) {
        return static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
      };
      st_.rtt.record(ns(t_connected_ - t_begin_));
      st_.upgrade.record(ns(t_upgraded_ - t_begin_));
      if (o_.proxied())
        st_.dial.record(ns(t_connected_ - t_upgraded_));
      ++st_.round_trips;
    }
    ++st_.all_round_trips;
    ++cycle_;
    ws_->async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {
      static_cast<setup_client *>(self.get())->next();
    });
  }
  void on_open_failed() override {
    if (!counted_open_)
      s_.failed.fetch_add(1);
    counted_open_ = true;
    end();
  }
  void next() {
    if (!counted_open_) {
      counted_open_ = true;
      s_.opened.fetch_add(1);
    }
    const bool more = o_.count != 0 ? static_cast<std::uint64_t>(cycle_) < o_.count
                                    : s_.phase.load(std::memory_order_relaxed) != stopping;
    if (more)
      return open();
    st_.last_done = std::max(st_.last_done, steady::now());
    end();
  }
  void end() {
    ws_.reset();
    s_.live.fetch_sub(1);
  }
  bool counted_open_ = false;
};

// ---- idle: sessions held open ----

class idle_client final : public client_base {
public:
  using client_base::client_base;

private:
  void on_open() override {
    s_.opened.fetch_add(1);
    w_.one_opened();
    // A pending read answers the host's pings; it ends when the session does.
    read([](client_base *self, beast::error_code ec) {
      static_cast<idle_client *>(self)->on_read(ec);
    });
  }
  void on_open_failed() override {
    s_.failed.fetch_add(1);
    s_.live.fetch_sub(1);
    w_.one_opened();
  }
  void on_read(beast::error_code ec) {
    if (s_.phase.load() == stopping)
      return;
    if (ec)
      st_.error(st_.io, "idle session ended: " + ec.message());
    else
      st_.error(st_.protocol, "unexpected frame on an idle session: " + shorten(frame()));
    s_.live.fetch_sub(1);
  }
};

// ---- reporting ----

double seconds_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

json percentiles_us(const latency_histogram &h) {
  auto us = [](std::uint64_t ns) { return std::round(static_cast<double>(ns) / 100.0) / 10.0; };
  return {{"count", h.count()},
          {"p50", us(h.percentile(0.50))},
          {"p90", us(h.percentile(0.90))},
          {"p99", us(h.percentile(0.99))},
          {"max", us(h.max())},
          {"mean", us(static_cast<std::uint64_t>(h.mean()))}};
}

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

template <class Pred> bool wait_for(Pred pred, double seconds) {
  const auto deadline = steady::now() + std::chrono::duration_cast<steady::duration>(
                                            std::chrono::duration<double>(seconds));
  while (!pred()) {
    if (steady::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void sleep_seconds(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

} // namespace

int main(int argc, char **argv) {
  options o;
  po::options_description desc(
      "load_generator — WebSocket load, direct or through the host; every answer checked\n\n"
      "Options");
  desc.add_options()("help,h", "show this help")("mode", po::value(&o.mode)->default_value(o.mode),
                                                 "direct | proxy | setup | idle")(
      "via", po::value(&o.via)->default_value(o.via), "setup/idle: proxy (the host) | direct")(
      "host", po::value(&o.host)->default_value(o.host),
      "address of the server to load")("port", po::value(&o.port), "its port (required)")(
      "upstream", po::value(&o.upstream), "proxied modes: the ws:// URL of the echo server")(
      "connections,c", po::value(&o.connections)->default_value(o.connections), "connections")(
      "inflight,f", po::value(&o.inflight)->default_value(o.inflight),
      "messages in flight per connection")("size,s", po::value(&o.size)->default_value(o.size),
                                           "payload bytes (>= 16)")(
      "duration,d", po::value(&o.duration)->default_value(o.duration), "seconds measured")(
      "count,n", po::value(&o.count)->default_value(o.count),
      "round trips (setup: sessions) per connection instead of --duration; all recorded")(
      "warmup,w", po::value(&o.warmup)->default_value(o.warmup), "seconds run before measuring")(
      "threads,t", po::value(&o.threads)->default_value(o.threads), "I/O threads")(
      "open-concurrency", po::value(&o.open_concurrency)->default_value(o.open_concurrency),
      "idle: sessions opened at once")(
      "hold", po::value(&o.hold)->default_value(o.hold),
      "idle: seconds to hold the sessions (0: until stdin closes)")(
      "timeout", po::value(&o.timeout)->default_value(o.timeout),
      "seconds allowed for opening every connection and for draining at the end")(
      "json", po::bool_switch(&o.json_output), "print one JSON object instead of text");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error &e) {
    std::cerr << "load_generator: " << e.what() << '\n';
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << '\n';
    return 0;
  }
  const bool known_mode =
      o.mode == "direct" || o.mode == "proxy" || o.mode == "setup" || o.mode == "idle";
  if (!known_mode || (o.via != "proxy" && o.via != "direct") || o.port == 0 || o.connections < 1 ||
      o.inflight < 1 || o.threads < 1) {
    std::cerr << "load_generator: need --mode direct|proxy|setup|idle, --port, and positive "
                 "--connections/--inflight/--threads (see --help)\n";
    return 2;
  }
  if (o.proxied() && o.upstream.empty()) {
    std::cerr << "load_generator: --mode " << o.mode << " goes through the host: give --upstream "
              << "ws://HOST:PORT/ of the echo server\n";
    return 2;
  }
  if (o.size < seq_digits)
    o.size = seq_digits;
  if (o.mode == "idle" && o.count != 0)
    o.count = 0;
  raise_fd_limit();

  tcp::endpoint target;
  try {
    target = tcp::endpoint(net::ip::make_address(o.host), o.port);
  } catch (const std::exception &e) {
    std::cerr << "load_generator: --host must be an IP address: " << e.what() << '\n';
    return 2;
  }

  shared_state s;
  std::vector<std::unique_ptr<worker>> workers;
  for (int i = 0; i < o.threads; ++i)
    workers.push_back(std::make_unique<worker>(o, s, target));
  for (int i = 0; i < o.connections; ++i) {
    worker &w = *workers[static_cast<std::size_t>(i % o.threads)];
    if (o.mode == "direct" || o.mode == "proxy")
      w.add(std::make_shared<pump_client>(w, i));
    else if (o.mode == "setup")
      w.add(std::make_shared<setup_client>(w, i));
    else
      w.add(std::make_shared<idle_client>(w, i));
  }
  s.live = o.connections;

  const double cpu_before = cpu_seconds();
  for (auto &w : workers)
    w->run();
  steady::time_point t0, t1;
  bool drained = true;
  json extra = json::object();

  if (o.mode == "direct" || o.mode == "proxy") {
    for (auto &w : workers)
      w->start_all(SIZE_MAX);
    const bool all_open =
        wait_for([&] { return s.opened.load() + s.failed.load() == o.connections; }, o.timeout);
    if (!all_open || s.failed.load() != 0) {
      std::cerr << "load_generator: " << s.opened.load() << " of " << o.connections
                << " connections opened\n";
    }
    s.phase = o.count != 0 ? measuring : warming;
    for (auto &w : workers)
      net::post(w->ioc_, [&w] {
        for (const auto &c : w->clients())
          static_cast<pump_client &>(*c).go();
      });
    if (o.count != 0) {
      t0 = steady::now();
      drained = wait_for([&] { return s.live.load() == 0; }, 3600);
    } else {
      sleep_seconds(o.warmup);
      s.phase = measuring;
      t0 = steady::now();
      sleep_seconds(o.duration);
      s.phase = stopping;
      t1 = steady::now();
      drained = wait_for([&] { return s.live.load() == 0; }, o.timeout);
    }
  } else if (o.mode == "setup") {
    s.phase = o.count != 0 ? measuring : warming;
    t0 = steady::now();
    for (auto &w : workers)
      w->start_all(SIZE_MAX);
    if (o.count != 0) {
      drained = wait_for([&] { return s.live.load() == 0; }, 3600);
    } else {
      sleep_seconds(o.warmup);
      s.phase = measuring;
      t0 = steady::now();
      sleep_seconds(o.duration);
      s.phase = stopping;
      t1 = steady::now();
      drained = wait_for([&] { return s.live.load() == 0; }, o.timeout);
    }
  } else { // idle
    const std::size_t per_thread =
        std::max<std::size_t>(1, static_cast<std::size_t>(o.open_concurrency / o.threads));
    t0 = steady::now();
    for (auto &w : workers)
      w->start_all(per_thread);
    const bool all_open = wait_for(
        [&] { return s.opened.load() + s.failed.load() == o.connections; }, o.timeout * 10);
    t1 = steady::now();
    const json ready = {{"ready", s.opened.load()},
                        {"failed", s.failed.load()},
                        {"complete", all_open},
                        {"open_seconds", seconds_between(t0, t1)}};
    std::cout << ready.dump() << std::endl;
    if (o.hold > 0)
      sleep_seconds(o.hold);
    else {
      std::string ignored;
      while (std::getline(std::cin, ignored)) {
      }
    }
    s.phase = stopping;
    extra["ended_while_held"] = o.connections - s.failed.load() - s.live.load();
  }

  for (auto &w : workers)
    w->stop();
  for (auto &w : workers)
    w->join();
  const double cpu_used = cpu_seconds() - cpu_before;

  thread_stats total;
  for (auto &w : workers) {
    const thread_stats &st = w->stats_;
    total.rtt.merge(st.rtt);
    total.upgrade.merge(st.upgrade);
    total.dial.merge(st.dial);
    total.round_trips += st.round_trips;
    total.all_round_trips += st.all_round_trips;
    total.acks += st.acks;
    total.mismatch += st.mismatch;
    total.protocol += st.protocol;
    total.io += st.io;
    total.connect += st.connect;
    total.lost += st.lost;
    total.last_done = std::max(total.last_done, st.last_done);
    for (const auto &x : st.samples)
      if (total.samples.size() < 5)
        total.samples.push_back(x);
    if (o.mode == "direct" || o.mode == "proxy")
      for (const auto &c : w->clients())
        total.lost += static_cast<pump_client &>(*c).outstanding();
  }
  if (o.count != 0 && o.mode != "idle")
    t1 = total.last_done > t0 ? total.last_done : steady::now();
  const double seconds = o.mode == "idle" ? 0.0 : seconds_between(t0, t1);
  const std::uint64_t errors =
      total.mismatch + total.protocol + total.io + total.connect + total.lost;

  json out = {{"mode", o.mode},
              {"connections", o.connections},
              {"threads", o.threads},
              {"seconds", seconds},
              {"cpu_seconds", cpu_used},
              {"errors",
               {{"total", errors},
                {"mismatch", total.mismatch},
                {"protocol", total.protocol},
                {"io", total.io},
                {"connect", total.connect},
                {"lost", total.lost},
                {"samples", total.samples}}}};
  if (o.mode == "setup" || o.mode == "idle")
    out["via"] = o.via;
  if (o.mode == "direct" || o.mode == "proxy") {
    out["inflight"] = o.inflight;
    out["size"] = o.size;
    out["round_trips"] = total.round_trips;
    out["round_trips_all"] = total.all_round_trips;
    out["rate_per_s"] = seconds > 0 ? static_cast<double>(total.round_trips) / seconds : 0.0;
    out["latency_us"] = percentiles_us(total.rtt);
    if (o.mode == "proxy")
      out["message_sent_events"] = total.acks;
    if (!drained)
      out["drained"] = false;
  } else if (o.mode == "setup") {
    out["sessions"] = total.round_trips;
    out["rate_per_s"] = seconds > 0 ? static_cast<double>(total.round_trips) / seconds : 0.0;
    out["connect_to_connected_us"] = percentiles_us(total.rtt);
    out["upgrade_us"] = percentiles_us(total.upgrade);
    if (o.proxied())
      out["connect_external_to_connected_us"] = percentiles_us(total.dial);
  } else {
    out["held"] = s.opened.load();
    out.update(extra);
  }

  if (o.json_output) {
    std::cout << out.dump() << std::endl;
  } else if (o.mode == "direct" || o.mode == "proxy") {
    const auto &l = out["latency_us"];
    std::printf("%s: %d conn x %d in flight, %zu B: %.0f round trips/s over %.2f s\n"
                "latency us: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f   errors: %llu\n",
                o.mode.c_str(), o.connections, o.inflight, o.size, out["rate_per_s"].get<double>(),
                seconds, l["p50"].get<double>(), l["p90"].get<double>(), l["p99"].get<double>(),
                l["max"].get<double>(), static_cast<unsigned long long>(errors));
  } else {
    std::cout << out.dump(2) << std::endl;
  }
  for (const auto &x : total.samples)
    std::cerr << "load_generator: error: " << x << '\n';
  // Idle sessions are not closed one by one: the process ends and the kernel closes them.
  std::fflush(stdout);
  if (o.mode == "idle")
    _exit(errors == 0 ? 0 : 1);
  return errors == 0 ? 0 : 1;
}
