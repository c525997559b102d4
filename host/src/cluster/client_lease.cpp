// client_lease.cpp — see client_lease.hpp.
#include "cluster/client_lease.hpp"

#include "base/logger.hpp"
#include "cluster/cluster_engine.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace apistudio::cluster {
namespace {

namespace net = boost::asio;

// KEYS[1] the lease, ARGV[1] our value, ARGV[2] the ttl in ms. 1: extended; 2: it had expired
// and was free, taken again; 0: another socket holds it now.
constexpr const char *renew_script =
    "local v = redis.call('GET', KEYS[1]) "
    "if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end "
    "return 0";
// Deletes the lease only while it holds our value.
constexpr const char *release_script =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

class redis_lease : public client_lease, public std::enable_shared_from_this<redis_lease> {
public:
  redis_lease(cluster_engine &engine, std::string key, std::string value)
      : engine_(engine), key_(std::move(key)), value_(std::move(value)), timer_(engine.executor()) {
  }

  void start_renewals() {
    net::post(engine_.executor(), [self = shared_from_this()] { self->schedule(); });
  }

  void release() override {
    net::post(engine_.executor(), [self = shared_from_this()] {
      if (self->released_)
        return;
      self->released_ = true;
      self->timer_.cancel();
      // Best effort: a lease not deleted here expires within lease_ttl.
      self->engine_.client().command({"EVAL", release_script, "1", self->key_, self->value_},
                                     self->engine_.executor(),
                                     [](boost::system::error_code, redis_reply) {});
    });
  }

private:
  void schedule() {
    if (released_)
      return;
    timer_.expires_after(engine_.lease_ttl() / 3);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->released_)
        return;
      self->renew();
    });
  }

  void renew() {
    const std::string ttl = std::to_string(engine_.lease_ttl().count());
    engine_.client().command(
        {"EVAL", renew_script, "1", key_, value_, ttl}, engine_.executor(),
        [self = shared_from_this()](boost::system::error_code ec, redis_reply reply) {
          if (!ec && !reply.is_error() && reply.integer == 0)
            self->engine_.log().warn("cluster",
                                     "lease " + self->key_ +
                                         " was taken by another socket while Redis was away; "
                                         "this session no longer holds it across hosts");
          self->schedule(); // an outage: try again at the next tick (fail open meanwhile)
        });
  }

  cluster_engine &engine_;
  const std::string key_;
  const std::string value_;
  net::steady_timer timer_;
  bool released_ = false; // engine thread only
};

} // namespace

void acquire_client_lease(cluster_engine &engine, const std::string &client_id,
                          net::any_io_executor completion, lease_handler done) {
  const std::string key = engine.key("client:" + client_id);
  const std::string value = engine.node_id() + ":" + std::to_string(engine.next_lease_serial());
  const std::string ttl = std::to_string(engine.lease_ttl().count());
  auto lease = std::make_shared<redis_lease>(engine, key, value);
  engine.client().command(
      {"SET", key, value, "NX", "PX", ttl}, completion,
      [&engine, lease, done = std::move(done)](boost::system::error_code ec, redis_reply reply) {
        if (ec || reply.is_error()) {
          engine.note_fail_open(ec ? ec.message() : reply.text);
          done(lease_outcome::engine_unavailable, nullptr);
          return;
        }
        if (reply.kind == redis_reply::type::nil) {
          done(lease_outcome::held_elsewhere, nullptr);
          return;
        }
        lease->start_renewals();
        done(lease_outcome::taken, lease);
      });
}

} // namespace apistudio::cluster
