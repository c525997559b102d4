// listener.hpp — accepts client TCP connections and hands each to the next worker thread.
//
// Survives running out of file descriptors: EMFILE/ENFILE/ENOBUFS/ENOMEM back off (a timer, no
// busy loop) and accepting resumes when descriptors free up. Warns before that, at 90 %.
#pragma once

#include "base/worker_types.hpp"
#include "http/http_session.hpp"
#include "proxy/session_services.hpp"
#include "server/worker_pool.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/error_code.hpp>

#include <memory>

namespace apistudio {

class listener : public std::enable_shared_from_this<listener> {
public:
  // Binds and listens at once; throws boost::system::system_error naming the address.
  // Runs on the pool's main context; accepted sockets belong to pool.next().
  // `endpoints`: the admin listener's connections reach only the admin endpoints, and are still
  // accepted while the host drains (its probes and metrics say how the drain goes).
  listener(worker_pool &pool, session_services &ctx, boost::asio::ip::tcp::endpoint ep,
           endpoint_set endpoints = endpoint_set::client);
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void run();
  void stop(); // any thread

private:
  void do_accept();
  void on_accept(boost::system::error_code ec, worker_socket socket);
  // Warns (at most every 5 s) once descriptor numbers reach 90 % of the limit: Linux hands out
  // the lowest free number, so the newest one is about the count in use.
  void warn_if_descriptors_short(int newest);

  worker_pool &pool_;
  session_services &ctx_;
  endpoint_set endpoints_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  std::size_t descriptor_limit_ = 0; // RLIMIT_NOFILE when the listener was made
  std::chrono::steady_clock::time_point last_fd_warning_{};
  std::chrono::steady_clock::time_point last_fd_nearly_warning_{};
};

} // namespace apistudio
