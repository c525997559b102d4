#include "server/worker_pool.hpp"

namespace apistudio {
namespace net = boost::asio;

worker_pool::worker_pool(std::size_t workers) {
  if (workers == 0)
    workers = 1;
  // Concurrency hint 1: each context is run by exactly one thread, so Asio's scheduler skips
  // the wake-ups it would otherwise do for other threads. Posting from other threads stays safe.
  for (std::size_t i = 0; i < workers; ++i)
    contexts_.push_back(std::make_unique<net::io_context>(1));
  work_.resize(workers);
}

worker_pool::~worker_pool() {
  stop();
  join();
  destroy_contexts();
}

net::io_context &worker_pool::next() noexcept {
  return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

void worker_pool::start() {
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    work_[i].emplace(contexts_[i]->get_executor());
    threads_.emplace_back([ctx = contexts_[i].get()] { ctx->run(); });
  }
}

void worker_pool::stop() {
  for (auto &w : work_)
    w.reset();
  for (auto &c : contexts_)
    if (c)
      c->stop();
}

void worker_pool::join() {
  for (auto &t : threads_)
    if (t.joinable())
      t.join();
  threads_.clear();
}

void worker_pool::destroy_contexts() {
  // A context's pending handlers hold only its own sessions (a session and its upstreams share
  // one worker; deliveries are posted to the recipient's worker). Sessions find each other only
  // through the directory's weak pointers, so once a context is gone nothing can post to it.
  for (auto &c : contexts_)
    c.reset();
}

} // namespace apistudio
