// worker_pool.hpp — the host's worker threads: one io_context and one thread each.
//
// A connection is assigned to one worker when it is accepted and stays there with its upstreams,
// so everything a session does is serial without strands or locks (Seastar / nginx style). Work
// that crosses sessions (bus deliveries, plugin timers, shutdown) is posted to the owner's
// executor. Context 0 also runs the listener, the plugin timers and the signal handling.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace apistudio {

class worker_pool {
public:
  explicit worker_pool(std::size_t workers);
  ~worker_pool();
  worker_pool(const worker_pool &) = delete;
  worker_pool &operator=(const worker_pool &) = delete;

  std::size_t size() const noexcept { return contexts_.size(); }
  boost::asio::io_context &main() noexcept { return *contexts_.front(); }
  // Round robin; any thread.
  boost::asio::io_context &next() noexcept;

  void start(); // one thread per context; they run until stop()
  void stop();  // any thread: lets the threads return once their contexts are stopped
  void join();
  // Destroys every context (and the handlers, and so the sessions, they still hold) while the
  // services those sessions use still exist. Only after join().
  void destroy_contexts();

private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<
      std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>>
      work_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
};

} // namespace apistudio
