// session_port.hpp — how anything outside a client session (plugins' timers, the bus, other
// sessions) reaches it. Every method may be called from any thread: implementations post the
// work to the session's worker thread. Ports are held weakly; a vanished session is simply not
// found.
#pragma once

#include <apistudio/plugin_abi.h>

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace apistudio {

// The host side of the opaque apistudio_session: what plugins can read about a client socket.
// Only touched on the session's worker thread.
struct plugin_chain; // plugin_runtime_impl.hpp

struct session_context {
  apistudio_session_id id = 0;
  std::string client_id;
  std::string path;
  std::string query;
  std::string remote_address;
  std::string identity;
  std::shared_ptr<const plugin_chain> chain; // the plugins it opened with (a reload: new sessions)
  std::vector<void *> plugin_states;         // one slot per plugin of the chain
  std::vector<bool> plugin_opened;           // on_session_open ran for that plugin
};

struct bus_delivery {
  std::string topic;
  std::string payload;
};

class session_port {
public:
  virtual ~session_port() = default;
  // Queues `bytes` as one frame. They stay valid as long as `owner` lives: the port keeps the
  // owner, not a copy, so one payload queued to many sessions is held once.
  virtual void post_send(std::shared_ptr<const void> owner, std::string_view bytes,
                         bool binary) = 0;
  virtual void post_close(int code, std::string reason) = 0;
  // Runs on the session's worker: the runtime calls plugins' on_bus_message from there.
  virtual void post_bus(std::shared_ptr<const bus_delivery> delivery) = 0;
  virtual boost::asio::any_io_executor executor() = 0;
  // Only on the session's worker thread.
  virtual session_context &context() = 0;
};

// Live sessions by id (the spec's ConnectionManager keeps the client-id view; this one the ids).
// The host's only session registry: plugins' timers and the bus find sessions here, and shutdown
// closes every session listed here. A session joins before its upgrade and leaves when it finishes.
class session_directory {
public:
  void add(apistudio_session_id id, std::weak_ptr<session_port> port) {
    std::lock_guard lock(mutex_);
    ports_[id] = std::move(port);
  }
  void remove(apistudio_session_id id) {
    std::lock_guard lock(mutex_);
    ports_.erase(id);
  }
  std::shared_ptr<session_port> find(apistudio_session_id id) const {
    std::lock_guard lock(mutex_);
    auto it = ports_.find(id);
    return it == ports_.end() ? nullptr : it->second.lock();
  }
  // The sessions still alive, held strongly only by the caller (e.g. to close them all).
  std::vector<std::shared_ptr<session_port>> live() const {
    std::vector<std::shared_ptr<session_port>> out;
    std::lock_guard lock(mutex_);
    out.reserve(ports_.size());
    for (const auto &[id, port] : ports_)
      if (auto p = port.lock())
        out.push_back(std::move(p));
    return out;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return ports_.size();
  }

private:
  mutable std::mutex mutex_;
  std::unordered_map<apistudio_session_id, std::weak_ptr<session_port>> ports_;
};

} // namespace apistudio
