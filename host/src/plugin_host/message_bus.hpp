// message_bus.hpp — publish/subscribe between sessions: in-process (cluster.backend: local), or
// spanning every host on one Redis (cluster.backend: redis, docs/cluster.md), behind the same
// small interface.
#pragma once

#include "plugin_host/session_port.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace apistudio {

class logger;
class metrics_registry;
namespace cluster {
class cluster_engine;
}

class message_bus {
public:
  virtual ~message_bus() = default;
  virtual void subscribe(std::string_view topic, apistudio_session_id session) = 0;
  virtual void unsubscribe(std::string_view topic, apistudio_session_id session) = 0;
  virtual void unsubscribe_all(apistudio_session_id session) = 0;
  // Delivers to every subscriber (the publisher included, if subscribed) through its port.
  // Never holds a lock while a session's strand runs; one shared payload for all recipients.
  virtual void publish(std::string_view topic, std::string_view payload) = 0;
};

// In-process bus over the session directory.
std::unique_ptr<message_bus> make_local_message_bus(session_directory &directory);

// The in-process bus, plus every publish sent to the other hosts through `engine`'s Redis and
// theirs delivered here (cluster_message_bus.cpp). A publish never waits for Redis: past the
// bound of publishes in flight, or while the engine is down, the copy for the other hosts is
// dropped and counted; local delivery is never affected. `engine`, `metrics` and `log` must
// outlive the engine's thread; the bus itself may go first.
std::unique_ptr<message_bus> make_cluster_message_bus(session_directory &directory,
                                                      cluster::cluster_engine &engine,
                                                      metrics_registry &metrics, logger &log);

} // namespace apistudio
