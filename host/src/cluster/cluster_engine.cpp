// cluster_engine.cpp — see cluster_engine.hpp.
#include "cluster/cluster_engine.hpp"

#include "base/logger.hpp"
#include "base/metrics.hpp"

#include <boost/asio/post.hpp>

#include <unistd.h>

#include <array>
#include <future>
#include <optional>

namespace apistudio::cluster {

std::string default_node_id() {
  std::array<char, 256> name{};
  std::string host = "host";
  if (::gethostname(name.data(), name.size() - 1) == 0 && name[0] != '\0')
    host = name.data();
  return host + "-" + std::to_string(::getpid());
}

namespace {

redis_options options_of(const cluster_config &c) {
  redis_options o;
  o.url = c.url;
  o.host = c.redis_host;
  o.port = c.redis_port;
  o.db = c.redis_db;
  o.password = c.password;
  o.connect_timeout = c.connect_timeout;
  o.command_timeout = c.command_timeout;
  return o;
}

} // namespace

cluster_engine::cluster_engine(const cluster_config &config, logger &log, metrics_registry *metrics)
    : log_(log), metrics_(metrics), url_(config.url),
      node_id_(config.node_id.empty() ? default_node_id() : config.node_id),
      prefix_(config.key_prefix), lease_ttl_(config.lease_ttl),
      client_(redis_client::create(io_.get_executor(), options_of(config), log)) {}

cluster_engine::~cluster_engine() { stop(); }

std::string cluster_engine::key(std::string_view name) const {
  std::string out = prefix_;
  out.append(name);
  return out;
}

std::string cluster_engine::connect_first() {
  auto first = std::make_shared<std::promise<std::string>>();
  auto outcome = first->get_future();
  auto told = std::make_shared<bool>(false);
  client_->start([this, first, told](bool up, const std::string &reason) {
    observe(up, reason);
    if (!*told) {
      *told = true;
      first->set_value(up ? std::string() : reason);
    }
  });
  work_.emplace(io_.get_executor());
  thread_ = std::thread([this] { io_.run(); });
  // The attempt ends by itself within connect_timeout (the client's own timer); this wait only
  // guards against a bug there.
  if (outcome.wait_for(client_->options().connect_timeout + std::chrono::seconds(5)) !=
      std::future_status::ready)
    return "no answer within cluster.connect_timeout";
  return outcome.get();
}

void cluster_engine::subscribe(std::string channel, redis_client::message_handler on_message,
                               redis_client::state_observer on_state) {
  if (subscriber_ || stopped_)
    return;
  subscriber_ = redis_client::create(io_.get_executor(), client_->options(), log_);
  subscriber_->subscribe(std::move(channel), std::move(on_message));
  subscriber_->start(std::move(on_state)); // posted to the engine's thread: ordered after this
}

void cluster_engine::observe(bool up, const std::string &reason) {
  // The gauge: +1 and -1 on this thread only, so its sum is 1 while connected.
  if (metrics_ != nullptr && up != gauge_up_) {
    gauge_up_ = up;
    metrics_->add(metric::cluster_engine_connected, up ? 1 : -1);
  }
  if (up) {
    log_.info("cluster", std::string(ever_connected_ ? "reconnected" : "connected") +
                             " to the cluster engine at " + url_ + " as node " + node_id_);
    ever_connected_ = true;
    outage_logged_ = false;
    fail_open_logged_ = false;
    return;
  }
  // Once per outage: the first failure after being connected; the retries in between are debug.
  if (ever_connected_ && !outage_logged_) {
    outage_logged_ = true;
    log_.warn("cluster", "lost the cluster engine at " + url_ + ": " + reason +
                             "; this host works local-only and reconnects with backoff");
    return;
  }
  log_.debug("cluster", "cluster engine at " + url_ + " unreachable: " + reason);
}

void cluster_engine::note_fail_open(const std::string &reason) {
  if (fail_open_logged_.exchange(true))
    return;
  log_.warn("cluster", "the cluster engine at " + url_ + " cannot answer (" + reason +
                           "): client_id uniqueness, presence and the shared counters (rate "
                           "limits) are checked on this host only until it is back");
}

void cluster_engine::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  if (thread_.joinable()) {
    // Stopped explicitly rather than left to run out of work: a live session's lease keeps a
    // renewal timer on this thread. What the sessions posted before (the lease releases of a
    // graceful shutdown, which closes every session first) runs before this; a lease not
    // released expires within lease_ttl.
    boost::asio::post(io_, [this] {
      client_->stop();
      if (subscriber_)
        subscriber_->stop();
      io_.stop();
    });
    thread_.join();
  } else {
    client_->stop();
    if (subscriber_)
      subscriber_->stop();
    io_.run(); // never started: the stop and its cancellations run here
  }
}

} // namespace apistudio::cluster
