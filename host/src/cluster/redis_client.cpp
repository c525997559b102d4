// redis_client.cpp — see redis_client.hpp. Everything below `impl` runs on the client's executor.
#include "cluster/redis_client.hpp"

#include "base/logger.hpp"
#include "cluster/redis_asio_adapter.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>

namespace apistudio::cluster {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Boost's error_category has a protected non-virtual destructor on purpose (categories are
// never deleted through a base pointer); the warning does not know that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final : public boost::system::error_category {
public:
  const char *name() const noexcept override { return "apistudio.cluster"; }
  std::string message(int value) const override {
    switch (static_cast<cluster_errc>(value)) {
    case cluster_errc::not_connected:
      return "not connected to the cluster engine";
    case cluster_errc::too_many_in_flight:
      return "too many cluster engine requests in flight";
    case cluster_errc::timed_out:
      return "the cluster engine did not answer within cluster.command_timeout";
    case cluster_errc::connection_lost:
      return "the connection to the cluster engine was lost";
    case cluster_errc::stopped:
      return "the cluster engine client was stopped";
    }
    return "cluster engine error";
  }
};
#pragma GCC diagnostic pop

redis_reply convert(const redisReply *r) {
  redis_reply out;
  switch (r->type) {
  case REDIS_REPLY_STRING:
    out.kind = redis_reply::type::string;
    out.text.assign(r->str, r->len);
    break;
  case REDIS_REPLY_STATUS:
    out.kind = redis_reply::type::status;
    out.text.assign(r->str, r->len);
    break;
  case REDIS_REPLY_ERROR:
    out.kind = redis_reply::type::error;
    out.text.assign(r->str, r->len);
    break;
  case REDIS_REPLY_INTEGER:
    out.kind = redis_reply::type::integer;
    out.integer = r->integer;
    break;
  case REDIS_REPLY_ARRAY:
    out.kind = redis_reply::type::array;
    out.elements.reserve(r->elements);
    for (std::size_t i = 0; i < r->elements; ++i)
      out.elements.push_back(convert(r->element[i]));
    break;
  default:
    out.kind = redis_reply::type::nil;
  }
  return out;
}

std::string format_ms(milliseconds d) { return std::to_string(d.count()) + " ms"; }

} // namespace

const boost::system::error_category &cluster_category() noexcept {
  static const category instance;
  return instance;
}

struct redis_client::impl : std::enable_shared_from_this<redis_client::impl> {
  using done_fn = std::function<void(boost::system::error_code, redis_reply)>;
  struct pending {
    clock_type::time_point deadline;
    done_fn done; // runs on the client's executor
  };

  impl(net::any_io_executor executor, redis_options options, logger &log)
      : executor_(std::move(executor)), options_(std::move(options)), log_(log),
        resolver_(executor_), connect_timer_(executor_), retry_timer_(executor_),
        sweep_timer_(executor_), backoff_(options_.min_backoff) {}

  ~impl() {
    // stop() ran (redis_client's destructor) and its handler freed the context; a context left
    // here would call back into freed memory.
    if (context_ != nullptr)
      redisAsyncFree(std::exchange(context_, nullptr));
  }

  // ---- connecting ---------------------------------------------------------------------------

  void connect_attempt() {
    if (stopped_)
      return;
    const std::uint64_t attempt = ++attempt_;
    connect_timer_.expires_after(options_.connect_timeout);
    connect_timer_.async_wait([self = shared_from_this(), attempt](boost::system::error_code ec) {
      if (ec || attempt != self->attempt_ || self->connected_ || self->stopped_)
        return;
      self->resolver_.cancel();
      self->attempt_failed("no answer within cluster.connect_timeout (" +
                           format_ms(self->options_.connect_timeout) + ")");
    });
    // Resolved here, asynchronously: hiredis would call getaddrinfo() and block the thread.
    resolver_.async_resolve(
        options_.host, std::to_string(options_.port),
        [self = shared_from_this(), attempt](boost::system::error_code ec,
                                             const tcp::resolver::results_type &results) {
          if (attempt != self->attempt_ || self->stopped_)
            return;
          if (ec || results.empty()) {
            self->attempt_failed("cannot resolve " + self->options_.host + ": " +
                                 (ec ? ec.message() : std::string("no address")));
            return;
          }
          self->open(results.begin()->endpoint());
        });
  }

  void open(const tcp::endpoint &at) {
    const std::string address = at.address().to_string();
    redisAsyncContext *ctx = redisAsyncConnect(address.c_str(), at.port());
    if (ctx == nullptr) {
      attempt_failed("out of memory");
      return;
    }
    if (ctx->err != 0) {
      const std::string reason = ctx->errstr;
      redisAsyncFree(ctx);
      attempt_failed(reason);
      return;
    }
    ctx->data = this;
    if (!attach_asio_adapter(ctx, executor_)) {
      redisAsyncFree(ctx);
      attempt_failed("cannot watch the socket");
      return;
    }
    context_ = ctx;
    redisAsyncSetDisconnectCallback(ctx, &impl::on_disconnect);
    redisAsyncSetConnectCallback(ctx, &impl::on_connect); // waits for the first write readiness
  }

  static void on_connect(const redisAsyncContext *ac, int status) {
    auto *self = static_cast<impl *>(ac->data);
    if (ac != self->context_)
      return;
    if (status != REDIS_OK) {
      // hiredis frees the context after this returns, without a disconnect callback.
      const std::string reason = ac->errstr;
      self->context_ = nullptr;
      self->attempt_failed(reason);
      return;
    }
    self->handshake();
  }

  // AUTH, then SELECT: a refusal fails the attempt with Redis' own words (never the password).
  void handshake() {
    const std::uint64_t attempt = attempt_;
    auto select = [this, attempt] {
      if (options_.db == 0) {
        became_connected(attempt);
        return;
      }
      send({"SELECT", std::to_string(options_.db)}, options_.connect_timeout,
           [this, attempt](boost::system::error_code ec, redis_reply reply) {
             if (attempt != attempt_ || stopped_)
               return;
             if (ec || reply.is_error())
               return attempt_failed("SELECT " + std::to_string(options_.db) +
                                     " refused: " + (ec ? ec.message() : reply.text));
             became_connected(attempt);
           });
    };
    if (options_.password.empty()) {
      select();
      return;
    }
    send({"AUTH", options_.password}, options_.connect_timeout,
         [this, attempt, select](boost::system::error_code ec, redis_reply reply) {
           if (attempt != attempt_ || stopped_)
             return;
           if (ec || reply.is_error())
             return attempt_failed("AUTH refused: " + (ec ? ec.message() : reply.text));
           select();
         });
  }

  // Subscriber mode: the last step of a connection. The same callback then gets the
  // confirmation and every message (hiredis keeps it per channel until the context goes).
  void subscribe_then_connected(std::uint64_t attempt) {
    if (attempt != attempt_ || stopped_ || context_ == nullptr)
      return;
    const char *argv[] = {"SUBSCRIBE", channel_.data()};
    const std::size_t lengths[] = {9, channel_.size()};
    if (redisAsyncCommandArgv(context_, &impl::on_subscribed, reinterpret_cast<void *>(attempt), 2,
                              argv, lengths) != REDIS_OK)
      attempt_failed("cannot send SUBSCRIBE");
  }

  static void on_subscribed(redisAsyncContext *ac, void *reply, void *privdata) {
    // NULL when the context is being freed (a loss, stop, or ~impl): nothing to look at, and
    // `ac->data` may be an impl being destroyed.
    if (reply == nullptr)
      return;
    auto *self = static_cast<impl *>(ac->data);
    if (ac != self->context_ || self->stopped_)
      return;
    const auto *r = static_cast<const redisReply *>(reply);
    if (r->type == REDIS_REPLY_ERROR)
      return self->attempt_failed("SUBSCRIBE refused: " + std::string(r->str, r->len));
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
      return;
    const std::string_view kind(r->element[0]->str, r->element[0]->len);
    if (kind == "subscribe") {
      const auto attempt = reinterpret_cast<std::uintptr_t>(privdata);
      if (!self->connected_)
        self->became_connected(attempt, true);
      return;
    }
    if (kind == "message" && r->element[2]->type == REDIS_REPLY_STRING && self->on_message_)
      self->on_message_(std::string(r->element[2]->str, r->element[2]->len));
  }

  void became_connected(std::uint64_t attempt, bool subscribed = false) {
    if (attempt != attempt_ || stopped_ || context_ == nullptr)
      return;
    if (!channel_.empty() && !subscribed)
      return subscribe_then_connected(attempt);
    connect_timer_.cancel();
    backoff_ = options_.min_backoff;
    ++state_changes_; // before connected_: see state_changes()
    connected_ = true;
    notify(true, "");
  }

  // ---- losing it ----------------------------------------------------------------------------

  static void on_disconnect(const redisAsyncContext *ac, int status) {
    auto *self = static_cast<impl *>(ac->data);
    if (ac != self->context_)
      return;                 // one we dropped ourselves
    self->context_ = nullptr; // hiredis frees it after this returns
    const std::string reason = status == REDIS_OK      ? std::string("closed")
                               : ac->errstr[0] != '\0' ? std::string(ac->errstr)
                                                       : std::string("connection closed");
    self->lost(reason);
  }

  // Frees the context ourselves (a timeout, a failed handshake, stop). Inside a hiredis callback
  // redisAsyncFree only marks it, and hiredis frees it once the callback returns.
  void drop_context() {
    if (context_ != nullptr)
      redisAsyncFree(std::exchange(context_, nullptr));
  }

  // The pending commands are taken out before the context is freed (which calls each of their
  // hiredis callbacks with no reply), so each fails once, with `ec`.
  void fail_all_and_drop(boost::system::error_code ec) {
    auto failing = std::move(pending_);
    pending_.clear();
    drop_context();
    for (auto &[id, p] : failing)
      p.done(ec, {});
  }

  void attempt_failed(const std::string &reason) { down(reason); }
  void lost(const std::string &reason) { down(reason); }

  void down(const std::string &reason) {
    ++attempt_; // a handshake step still in flight is stale from here on
    connect_timer_.cancel();
    if (connected_)
      ++state_changes_; // before connected_: see state_changes()
    connected_ = false;
    fail_all_and_drop(cluster_errc::connection_lost);
    notify(false, reason);
    schedule_retry();
  }

  void schedule_retry() {
    if (stopped_)
      return;
    // Full jitter under an exponential cap, so hosts that lost Redis together do not return
    // together.
    const auto cap = backoff_;
    backoff_ = std::min(backoff_ * 2, options_.max_backoff);
    std::uniform_int_distribution<long long> pick(cap.count() / 2, cap.count());
    retry_timer_.expires_after(milliseconds(pick(random_)));
    retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec)
        self->connect_attempt();
    });
  }

  void notify(bool up, const std::string &reason) {
    if (observer_)
      observer_(up, reason);
  }

  // ---- commands -----------------------------------------------------------------------------

  void send(const std::vector<std::string> &args, milliseconds timeout, done_fn done) {
    if (context_ == nullptr) {
      done(cluster_errc::not_connected, {});
      return;
    }
    std::vector<const char *> argv;
    std::vector<std::size_t> lengths;
    argv.reserve(args.size());
    lengths.reserve(args.size());
    for (const auto &a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    const std::uint64_t id = ++next_id_;
    pending_.emplace(id, pending{clock_type::now() + timeout, std::move(done)});
    const int status =
        redisAsyncCommandArgv(context_, &impl::on_reply, reinterpret_cast<void *>(id),
                              static_cast<int>(argv.size()), argv.data(), lengths.data());
    if (status != REDIS_OK) {
      auto it = pending_.find(id);
      auto failed = std::move(it->second.done);
      pending_.erase(it);
      failed(cluster_errc::not_connected, {});
      return;
    }
    arm_sweep();
  }

  static void on_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    auto *self = static_cast<impl *>(ac->data);
    const auto id = reinterpret_cast<std::uintptr_t>(privdata);
    const auto it = self->pending_.find(id);
    if (it == self->pending_.end())
      return; // timed out, or failed when the connection was dropped
    auto done = std::move(it->second.done);
    self->pending_.erase(it);
    if (reply == nullptr)
      done(cluster_errc::connection_lost, {});
    else
      done({}, convert(static_cast<const redisReply *>(reply)));
  }

  // Timeouts: a scan of the (bounded) pending set a few times per command_timeout while anything
  // waits, rather than a timer per command.
  void arm_sweep() {
    if (sweeping_ || pending_.empty())
      return;
    sweeping_ = true;
    sweep_timer_.expires_after(std::max(milliseconds(5), options_.command_timeout / 4));
    sweep_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      self->sweeping_ = false;
      if (ec || self->stopped_)
        return;
      self->sweep();
      self->arm_sweep();
    });
  }

  void sweep() {
    const auto now = clock_type::now();
    std::vector<done_fn> expired;
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline <= now) {
        expired.push_back(std::move(it->second.done));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    if (expired.empty())
      return;
    for (auto &done : expired)
      done(cluster_errc::timed_out, {});
    // Past its timeout a slow Redis is a lost one: the replies still owed would otherwise pile
    // up in hiredis behind the bound of requests in flight.
    if (connected_)
      lost("no answer within cluster.command_timeout (" + format_ms(options_.command_timeout) +
           ")");
  }

  void stop_now() {
    if (stopped_)
      return;
    stopped_ = true;
    if (connected_)
      ++state_changes_;
    connected_ = false;
    resolver_.cancel();
    connect_timer_.cancel();
    retry_timer_.cancel();
    sweep_timer_.cancel();
    fail_all_and_drop(cluster_errc::stopped);
    observer_ = nullptr;
    on_message_ = nullptr;
  }

  net::any_io_executor executor_;
  const redis_options options_;
  logger &log_;
  tcp::resolver resolver_;
  net::steady_timer connect_timer_;
  net::steady_timer retry_timer_;
  net::steady_timer sweep_timer_;
  redisAsyncContext *context_ = nullptr;
  std::map<std::uint64_t, pending> pending_;
  std::uint64_t next_id_ = 0;
  std::uint64_t attempt_ = 0;
  milliseconds backoff_;
  std::minstd_rand random_{std::random_device{}()};
  bool stopped_ = false;
  bool sweeping_ = false;
  state_observer observer_;
  std::string channel_; // subscriber mode: set before start(), then only read
  message_handler on_message_;
  std::atomic<bool> connected_{false};
  std::atomic<std::uint64_t> state_changes_{0};
  std::atomic<std::size_t> in_flight_{0}; // accepted by command() and not answered yet
};

std::shared_ptr<redis_client> redis_client::create(net::any_io_executor executor,
                                                   redis_options options, logger &log) {
  return std::shared_ptr<redis_client>(
      new redis_client(std::make_shared<impl>(std::move(executor), std::move(options), log)));
}

redis_client::redis_client(std::shared_ptr<impl> state) : impl_(std::move(state)) {}

redis_client::~redis_client() { stop(); }

void redis_client::start(state_observer observer) {
  net::dispatch(impl_->executor_, [self = impl_, observer = std::move(observer)]() mutable {
    self->observer_ = std::move(observer);
    self->connect_attempt();
  });
}

void redis_client::stop() {
  net::dispatch(impl_->executor_, [self = impl_] { self->stop_now(); });
}

void redis_client::subscribe(std::string channel, message_handler on_message) {
  impl_->channel_ = std::move(channel);
  impl_->on_message_ = std::move(on_message);
}

void redis_client::command(std::vector<std::string> args, net::any_io_executor completion,
                           handler on_reply) {
  impl &state = *impl_;
  // Copied into the engine's handlers (std::function needs copies): the caller's handler is
  // shared, and called once.
  auto shared_handler = std::make_shared<handler>(std::move(on_reply));
  const auto finish = [completion, shared_handler](boost::system::error_code ec,
                                                   redis_reply reply) {
    net::post(completion, [shared_handler, ec, reply = std::move(reply)]() mutable {
      (*shared_handler)(ec, std::move(reply));
    });
  };
  if (state.in_flight_.fetch_add(1) >= state.options_.max_in_flight) {
    state.in_flight_.fetch_sub(1);
    finish(cluster_errc::too_many_in_flight, {});
    return;
  }
  if (!state.connected_) {
    state.in_flight_.fetch_sub(1);
    finish(cluster_errc::not_connected, {});
    return;
  }
  net::post(state.executor_, [self = impl_, args = std::move(args), finish]() {
    auto done = [self, finish](boost::system::error_code ec, redis_reply reply) {
      self->in_flight_.fetch_sub(1);
      finish(ec, std::move(reply));
    };
    if (self->stopped_) {
      done(cluster_errc::stopped, {});
      return;
    }
    if (!self->connected_) {
      done(cluster_errc::not_connected, {});
      return;
    }
    self->send(args, self->options_.command_timeout, std::move(done));
  });
}

bool redis_client::connected() const noexcept { return impl_->connected_; }
std::uint64_t redis_client::state_changes() const noexcept { return impl_->state_changes_; }
const redis_options &redis_client::options() const noexcept { return impl_->options_; }

} // namespace apistudio::cluster
