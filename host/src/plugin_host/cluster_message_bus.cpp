// cluster_message_bus.cpp — the message_bus of cluster.backend: redis (docs/cluster.md, "The
// cross-host bus").
//
// One Redis channel, <key_prefix>bus, carries every host's publishes in an envelope naming the
// origin node (cluster_bus_envelope.hpp). A publish:
//   1. is delivered locally exactly as by the in-process bus (same call, same shared payload);
//   2. is handed to the engine's thread as a PUBLISH, unless the engine is down or too many
//      publishes are already in flight (both: dropped and counted; logged once per outage).
//      The worker only encodes and posts: it never waits for Redis.
// The engine's second, subscribed connection receives every host's envelopes, on the engine's
// thread: refused (counted, logged once per kind) unless valid; our own are skipped (they were
// delivered locally at publish time); the others go to the in-process bus as if published here.
//
// Lifetime: the engine's callbacks hold the shared core, and check `open` under its mutex
// before touching the local bus, whose sessions may be gone once this bus is destroyed.
#include "base/logger.hpp"
#include "base/metrics.hpp"
#include "cluster/cluster_engine.hpp"
#include "plugin_host/cluster_bus_envelope.hpp"
#include "plugin_host/message_bus.hpp"

#include <array>
#include <atomic>
#include <limits>
#include <mutex>

namespace apistudio {
namespace {

// Publishes handed to the engine and not answered yet. Each is at most max_bus_payload, but a
// collaboration event is typically far smaller; the bound keeps a slow Redis from piling up
// worker-made copies on the engine's thread (the engine's own bound, 1024, is shared with the
// client_id leases).
constexpr std::size_t max_publishes_in_flight = 256;

constexpr std::size_t refusal_kinds = 6; // bus_envelope_error's values

struct bus_core {
  bus_core(session_directory &directory, cluster::cluster_engine &engine, metrics_registry &metrics,
           logger &log)
      : local(make_local_message_bus(directory)), engine(engine), metrics(metrics), log(log),
        channel(engine.key("bus")) {}

  std::unique_ptr<message_bus> local;
  cluster::cluster_engine &engine;
  metrics_registry &metrics;
  logger &log;
  const std::string channel;

  std::mutex mutex; // guards `open` against the engine thread's deliveries
  bool open = true;
  std::atomic<std::size_t> in_flight{0};
  // The publishing connection's state_changes() when a drop was last logged: one warning per
  // outage (or per connected spell in which Redis is too slow). Keyed on the connection that
  // publishes, not on the subscription: the two reconnect on their own backoffs, and when the
  // subscription came back first, re-arming there logged the drops of the same outage twice.
  std::atomic<std::uint64_t> drop_logged_at{std::numeric_limits<std::uint64_t>::max()};
  std::array<std::atomic<bool>, refusal_kinds> refusal_logged{};
  // The engine's thread only.
  bool ever_subscribed = false;
  bool lost_logged = false;

  void dropped(std::string_view why) {
    metrics.add(metric::cluster_bus_dropped);
    const auto episode = engine.client().state_changes();
    if (drop_logged_at.exchange(episode) != episode)
      log.warn("cluster", "cross-host bus: a publish for the other hosts was dropped (" +
                              std::string(why) +
                              "); this host's own sessions still get every message. Further "
                              "drops are counted (apistudio_cluster_bus_messages_total"
                              "{outcome=\"dropped\"}), not logged, until the bus is back");
  }

  // The engine's thread: one message from the channel.
  void received(const std::string &text) {
    bus_envelope_error why = bus_envelope_error::none;
    const auto envelope = decode_bus_envelope(text, why);
    if (!envelope) {
      metrics.add(metric::cluster_bus_refused);
      const auto kind = static_cast<std::size_t>(why);
      if (kind < refusal_kinds && !refusal_logged[kind].exchange(true))
        log.warn("cluster", "cross-host bus: refused a message on " + channel + ": " +
                                std::string(describe(why)) + " (" + std::to_string(text.size()) +
                                " bytes; not delivered). Further refusals of this kind are "
                                "counted (apistudio_cluster_bus_messages_total"
                                "{outcome=\"refused\"}), not logged");
      return;
    }
    if (envelope->node_id == engine.node_id())
      return; // ours: delivered locally when it was published
    std::lock_guard lock(mutex);
    if (!open)
      return;
    metrics.add(metric::cluster_bus_received);
    local->publish(envelope->topic, envelope->payload);
  }

  // The engine's thread: the subscribed connection came up or went down.
  void subscription(bool up, const std::string &reason) {
    if (up) {
      if (ever_subscribed)
        log.info("cluster", "cross-host bus: subscribed to " + channel +
                                " again; messages from the other hosts are delivered again");
      ever_subscribed = true;
      lost_logged = false;
      return;
    }
    if (ever_subscribed && !lost_logged) {
      lost_logged = true;
      log.warn("cluster", "cross-host bus: lost the subscription to " + channel + " (" + reason +
                              "); messages of the other hosts are not received until it is back");
    }
  }
};

class cluster_message_bus final : public message_bus {
public:
  cluster_message_bus(session_directory &directory, cluster::cluster_engine &engine,
                      metrics_registry &metrics, logger &log)
      : core_(std::make_shared<bus_core>(directory, engine, metrics, log)) {
    if (!valid_bus_node_id(engine.node_id()))
      log.warn("cluster", "cross-host bus: cluster.node_id '" + engine.node_id() +
                              "' cannot travel in an envelope (1-128 printable characters, no "
                              "space); the other hosts will refuse this host's messages");
    engine.subscribe(
        core_->channel, [core = core_](std::string payload) { core->received(payload); },
        [core = core_](bool up, const std::string &reason) { core->subscription(up, reason); });
  }

  ~cluster_message_bus() override {
    std::lock_guard lock(core_->mutex);
    core_->open = false;
  }

  void subscribe(std::string_view topic, apistudio_session_id session) override {
    core_->local->subscribe(topic, session);
  }
  void unsubscribe(std::string_view topic, apistudio_session_id session) override {
    core_->local->unsubscribe(topic, session);
  }
  void unsubscribe_all(apistudio_session_id session) override {
    core_->local->unsubscribe_all(session);
  }

  void publish(std::string_view topic, std::string_view payload) override {
    core_->local->publish(topic, payload);
    auto &core = *core_;
    if (payload.size() > max_bus_payload || topic.size() > max_bus_topic)
      return core.dropped("larger than the bounds of the cross-host bus");
    if (!core.engine.connected())
      return core.dropped("the cluster engine is not connected");
    if (core.in_flight.fetch_add(1) >= max_publishes_in_flight) {
      core.in_flight.fetch_sub(1);
      return core.dropped(std::to_string(max_publishes_in_flight) +
                          " publishes already in flight: Redis is slow");
    }
    core.engine.client().command(
        {"PUBLISH", core.channel, encode_bus_envelope(core.engine.node_id(), topic, payload)},
        core.engine.executor(),
        [keep = core_](boost::system::error_code ec, cluster::redis_reply reply) {
          keep->in_flight.fetch_sub(1);
          if (ec || reply.is_error())
            return keep->dropped(ec ? ec.message() : "Redis answered " + reply.text);
          keep->metrics.add(metric::cluster_bus_published);
        });
  }

private:
  std::shared_ptr<bus_core> core_;
};

} // namespace

std::unique_ptr<message_bus> make_cluster_message_bus(session_directory &directory,
                                                      cluster::cluster_engine &engine,
                                                      metrics_registry &metrics, logger &log) {
  return std::make_unique<cluster_message_bus>(directory, engine, metrics, log);
}

} // namespace apistudio
