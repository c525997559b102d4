// plugin_timers.cpp — see plugin_timers.hpp for the rules this follows.
#include "plugin_host/plugin_timers.hpp"

#include "plugin_host/plugin_library.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <vector>

namespace apistudio {

namespace {

// Far beyond any sensible timer, and far from overflowing steady_clock's nanoseconds.
constexpr std::uint64_t max_timer_ms = std::uint64_t{1} << 40; // about 35 years

std::chrono::milliseconds clamp_ms(std::uint64_t ms) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(ms, max_timer_ms)));
}

} // namespace

struct plugin_timers::entry {
  explicit entry(boost::asio::any_io_executor executor) : timer(std::move(executor)) {}
  // The last reference goes when the timer can no longer fire: that is when the plugin may free
  // what it handed us (the C++ layer's lambda). `library` is released after this body runs.
  ~entry() {
    if (release != nullptr)
      release(user_data);
  }
  entry(const entry &) = delete;
  entry &operator=(const entry &) = delete;

  std::uint64_t id = 0;
  const void *owner = nullptr;
  apistudio_session_id session = 0;
  std::shared_ptr<const plugin_library> library; // keeps `fn` mapped
  std::string plugin_name;
  std::chrono::milliseconds interval{0};
  apistudio_timer_fn fn = nullptr;
  apistudio_timer_release_fn release = nullptr;
  void *user_data = nullptr;
  std::atomic<bool> cancelled{false};
  boost::asio::steady_timer timer;
};

std::shared_ptr<plugin_timers> plugin_timers::create(boost::asio::io_context &ioc,
                                                     session_directory &directory, logger &log) {
  return std::shared_ptr<plugin_timers>(new plugin_timers(ioc, directory, log));
}

std::uint64_t plugin_timers::start(const void *owner, std::shared_ptr<const plugin_library> library,
                                   std::string_view plugin_name, apistudio_session_id session,
                                   std::uint64_t delay_ms, std::uint64_t interval_ms,
                                   apistudio_timer_fn fn, apistudio_timer_release_fn release,
                                   void *user_data) {
  auto nothing_started = [&]() -> std::uint64_t {
    if (release != nullptr)
      release(user_data);
    return 0;
  };
  if (fn == nullptr)
    return nothing_started();
  boost::asio::any_io_executor executor;
  if (session != 0) {
    auto port = directory_.find(session);
    if (!port)
      return nothing_started();
    executor = port->executor();
  } else {
    executor = boost::asio::make_strand(ioc_);
  }

  auto e = std::make_shared<entry>(executor);
  e->owner = owner;
  e->session = session;
  e->library = std::move(library);
  e->plugin_name = plugin_name;
  e->interval = clamp_ms(interval_ms);
  e->fn = fn;
  e->release = release;
  e->user_data = user_data;
  // Nobody else can see the entry yet, so touching the timer here is safe.
  e->timer.expires_after(clamp_ms(delay_ms));

  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    if (stopped_ || retired_.count(owner) != 0)
      return 0; // `e` releases user_data as it goes
    id = next_id_++;
    e->id = id;
    timers_.emplace(id, e);
    if (session != 0)
      by_session_[session].insert(id);
  }
  // The session may have ended between find() and the registration above, after its
  // session_close() cancelled its timers: then nobody would cancel this one.
  if (session != 0 && !directory_.find(session)) {
    cancel(owner, id);
    return 0;
  }
  // async_wait on the timer's executor: from now on a concurrent cancel() may touch the timer.
  boost::asio::post(executor, [self = shared_from_this(), e] {
    if (e->cancelled.load()) {
      self->forget(*e);
      return;
    }
    self->arm(e);
  });
  return id;
}

void plugin_timers::arm(const std::shared_ptr<entry> &e) {
  e->timer.async_wait([self = shared_from_this(), e](const boost::system::error_code &ec) {
    self->fire(e, ec.failed());
  });
}

void plugin_timers::fire(const std::shared_ptr<entry> &e, bool aborted) {
  if (aborted || e->cancelled.load() || !enter(e->owner)) {
    forget(*e);
    return;
  }
  // A session's timers end with it even if this handler was already queued.
  const bool session_alive = e->session == 0 || directory_.find(e->session) != nullptr;
  if (session_alive && !e->cancelled.load()) {
    try {
      e->fn(e->user_data);
    } catch (const std::exception &ex) {
      // A C++ plugin calling host code through a plain function pointer may still throw.
      log_context fields;
      fields.plugin = e->plugin_name;
      fields.session_id = e->session;
      log_.error("plugin:" + e->plugin_name, std::string("timer callback threw: ") + ex.what(),
                 fields);
    } catch (...) {
      log_context fields;
      fields.plugin = e->plugin_name;
      fields.session_id = e->session;
      log_.error("plugin:" + e->plugin_name, "timer callback threw an unknown exception", fields);
    }
  }
  leave(e->owner);

  if (!session_alive || e->interval.count() == 0 || e->cancelled.load()) {
    forget(*e);
    return;
  }
  // Fixed rate, but after a stall (a long callback, a busy strand) the next tick is one interval
  // from now rather than a burst of catch-up ticks.
  auto next = e->timer.expiry() + e->interval;
  const auto now = boost::asio::steady_timer::clock_type::now();
  if (next < now)
    next = now + e->interval;
  e->timer.expires_at(next);
  arm(e);
}

void plugin_timers::forget(const entry &e) {
  std::lock_guard lock(mutex_);
  auto it = timers_.find(e.id);
  if (it == timers_.end() || it->second.get() != &e)
    return;
  timers_.erase(it);
  if (e.session != 0) {
    auto s = by_session_.find(e.session);
    if (s != by_session_.end()) {
      s->second.erase(e.id);
      if (s->second.empty())
        by_session_.erase(s);
    }
  }
}

std::shared_ptr<plugin_timers::entry> plugin_timers::take_locked(std::uint64_t id) {
  auto it = timers_.find(id);
  if (it == timers_.end())
    return nullptr;
  auto e = std::move(it->second);
  timers_.erase(it);
  return e;
}

void plugin_timers::cancel_entry(const std::shared_ptr<entry> &e) {
  // The flag is what guarantees the callback does not run (fire() checks it on the same
  // executor); cancelling the wait only releases the handler, and with it the library, early.
  e->cancelled.store(true);
  boost::asio::post(e->timer.get_executor(), [e] { e->timer.cancel(); });
}

bool plugin_timers::cancel(const void *owner, std::uint64_t id) {
  std::shared_ptr<entry> e;
  {
    std::lock_guard lock(mutex_);
    auto it = timers_.find(id);
    if (it == timers_.end() || it->second->owner != owner)
      return false;
    e = take_locked(id);
    if (e->session != 0) {
      auto s = by_session_.find(e->session);
      if (s != by_session_.end()) {
        s->second.erase(id);
        if (s->second.empty())
          by_session_.erase(s);
      }
    }
  }
  cancel_entry(e);
  return true;
}

void plugin_timers::cancel_session(apistudio_session_id session) {
  std::vector<std::shared_ptr<entry>> cancelled;
  {
    std::lock_guard lock(mutex_);
    auto s = by_session_.find(session);
    if (s == by_session_.end())
      return;
    cancelled.reserve(s->second.size());
    for (const auto id : s->second) {
      if (auto e = take_locked(id))
        cancelled.push_back(std::move(e));
    }
    by_session_.erase(s);
  }
  for (const auto &e : cancelled)
    cancel_entry(e);
}

void plugin_timers::stop() {
  std::vector<std::shared_ptr<entry>> cancelled;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    cancelled.reserve(timers_.size());
    for (auto &[id, e] : timers_)
      cancelled.push_back(std::move(e));
    timers_.clear();
    by_session_.clear();
  }
  for (const auto &e : cancelled)
    cancel_entry(e);
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return running_ == 0; });
}

std::size_t plugin_timers::pending() const {
  std::lock_guard lock(mutex_);
  return timers_.size();
}

void plugin_timers::retire(const void *owner) {
  std::vector<std::shared_ptr<entry>> cancelled;
  {
    std::lock_guard lock(mutex_);
    retired_.insert(owner);
    for (auto it = timers_.begin(); it != timers_.end();) {
      if (it->second->owner != owner) {
        ++it;
        continue;
      }
      const std::shared_ptr<entry> &e = it->second;
      if (e->session != 0) {
        auto s = by_session_.find(e->session);
        if (s != by_session_.end()) {
          s->second.erase(e->id);
          if (s->second.empty())
            by_session_.erase(s);
        }
      }
      cancelled.push_back(std::move(it->second));
      it = timers_.erase(it);
    }
  }
  for (const auto &e : cancelled)
    cancel_entry(e);
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] { return running_by_owner_.count(owner) == 0; });
}

void plugin_timers::forget_owner(const void *owner) {
  std::lock_guard lock(mutex_);
  retired_.erase(owner);
}

bool plugin_timers::enter(const void *owner) {
  std::lock_guard lock(mutex_);
  if (stopped_ || retired_.count(owner) != 0)
    return false;
  ++running_;
  ++running_by_owner_[owner];
  return true;
}

void plugin_timers::leave(const void *owner) {
  std::lock_guard lock(mutex_);
  const auto it = running_by_owner_.find(owner);
  const bool owner_idle = it != running_by_owner_.end() && --it->second == 0;
  if (owner_idle)
    running_by_owner_.erase(it);
  if ((--running_ == 0 && stopped_) || (owner_idle && retired_.count(owner) != 0))
    idle_.notify_all();
}

} // namespace apistudio
