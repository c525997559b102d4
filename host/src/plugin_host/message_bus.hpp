// message_bus.hpp — publish/subscribe between sessions. This release has one in-process
// implementation; a Redis-backed one (several hosts) implements the same small interface.
#pragma once

#include "plugin_host/session_port.hpp"

#include <string>
#include <string_view>

namespace apistudio {

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

} // namespace apistudio
