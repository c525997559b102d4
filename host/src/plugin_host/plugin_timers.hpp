// plugin_timers.hpp — the timers plugins start through apistudio_host_api.timer_start.
//
// Internal to the plugin runtime. A timer with a session id runs on that session's thread (so its
// callback never overlaps the session's hooks) and ends with the session; a timer without one
// runs on a strand of its own on the io_context.
//
// Rules that make the C contract hold:
//  - every operation on a steady_timer happens on the timer's own executor (cancel is posted),
//    because Asio I/O objects are not thread-safe;
//  - a callback runs only inside a "gate": stop() closes it and waits for callbacks in flight,
//    so once stop() returns no plugin code is started or running (on_destroy may follow);
//  - each pending handler holds the plugin's library, so the .so stays mapped while Asio may
//    still run or destroy that handler, even after the runtime itself is gone.
// The object is shared (handlers hold it), hence create() and enable_shared_from_this.
#pragma once

#include "base/logger.hpp"
#include "plugin_host/session_port.hpp"

#include <apistudio/plugin_abi.h>

#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace apistudio {

class plugin_library;

class plugin_timers : public std::enable_shared_from_this<plugin_timers> {
public:
  static std::shared_ptr<plugin_timers> create(boost::asio::io_context &ioc,
                                               session_directory &directory, logger &log);
  plugin_timers(const plugin_timers &) = delete;
  plugin_timers &operator=(const plugin_timers &) = delete;

  // Returns 0 (and starts nothing) when `fn` is NULL, the session does not exist or stop() ran.
  // `owner` identifies the plugin: only it can cancel the timer. `release(user_data)` runs once,
  // when the timer can no longer fire (at once when nothing was started).
  std::uint64_t start(const void *owner, std::shared_ptr<const plugin_library> library,
                      std::string_view plugin_name, apistudio_session_id session,
                      std::uint64_t delay_ms, std::uint64_t interval_ms, apistudio_timer_fn fn,
                      apistudio_timer_release_fn release, void *user_data);
  // False when the id is unknown (already fired, cancelled) or belongs to another plugin.
  bool cancel(const void *owner, std::uint64_t id);
  // Session end: every timer of the session, whichever plugin started it.
  void cancel_session(apistudio_session_id session);
  // Cancels everything, refuses new timers and waits for running callbacks to return. Must not be
  // called from a timer callback.
  void stop();
  // The same for one plugin instance that a reload replaced or removed, before its on_destroy:
  // cancels its timers, refuses its new ones and waits for its callbacks in flight. Not from one
  // of its callbacks. forget_owner() afterwards, once the instance is gone (its address may be
  // reused by the next one).
  void retire(const void *owner);
  void forget_owner(const void *owner);

  std::size_t pending() const;

  struct entry;

private:
  plugin_timers(boost::asio::io_context &ioc, session_directory &directory, logger &log)
      : ioc_(ioc), directory_(directory), log_(log) {}

  void arm(const std::shared_ptr<entry> &e);
  void fire(const std::shared_ptr<entry> &e, bool aborted);
  void forget(const entry &e);
  std::shared_ptr<entry> take_locked(std::uint64_t id);
  static void cancel_entry(const std::shared_ptr<entry> &e);
  bool enter(const void *owner);
  void leave(const void *owner);

  boost::asio::io_context &ioc_;
  // Touched only inside the gate (enter/leave): the runtime outlives every open gate.
  session_directory &directory_;
  logger &log_;

  mutable std::mutex mutex_;
  std::condition_variable idle_;
  bool stopped_ = false;
  int running_ = 0; // callbacks in flight
  std::unordered_map<const void *, int> running_by_owner_;
  std::unordered_set<const void *> retired_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::shared_ptr<entry>> timers_;
  std::unordered_map<apistudio_session_id, std::unordered_set<std::uint64_t>> by_session_;
};

} // namespace apistudio
