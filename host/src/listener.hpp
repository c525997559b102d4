// listener.hpp — accepts client TCP connections, each onto its own strand.
//
// Survives running out of file descriptors: EMFILE/ENFILE/ENOBUFS/ENOMEM back off (a timer, no
// busy loop) and accepting resumes when descriptors free up.
#pragma once

#include "server_context.hpp"

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
  listener(boost::asio::io_context &ioc, server_context &ctx, boost::asio::ip::tcp::endpoint ep);
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void run();
  void stop(); // any thread

private:
  void do_accept();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

  boost::asio::io_context &ioc_;
  server_context &ctx_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  std::chrono::steady_clock::time_point last_fd_warning_{};
};

} // namespace apistudio
