#include "server/listener.hpp"

#include "http/http_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/strand.hpp>

#include <sys/resource.h>

namespace apistudio {
namespace net = boost::asio;
using tcp = net::ip::tcp;

listener::listener(worker_pool &pool, session_services &ctx, tcp::endpoint ep,
                   endpoint_set endpoints)
    : pool_(pool), ctx_(ctx), endpoints_(endpoints), strand_(net::make_strand(pool.main())),
      acceptor_(strand_), backoff_(strand_) {
  acceptor_.open(ep.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  if (ep.address().is_v6())
    acceptor_.set_option(net::ip::v6_only(false));
  acceptor_.bind(ep);
  acceptor_.listen(net::socket_base::max_listen_connections);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    descriptor_limit_ = static_cast<std::size_t>(rl.rlim_cur);
}

void listener::warn_if_descriptors_short(int newest) {
  if (descriptor_limit_ == 0 || newest < 0)
    return;
  const auto in_use = static_cast<std::size_t>(newest) + 1;
  if (in_use * 10 < descriptor_limit_ * 9)
    return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_fd_nearly_warning_ < std::chrono::seconds(5))
    return;
  last_fd_nearly_warning_ = now;
  ctx_.log.warn("listener", "about " + std::to_string(in_use) + " of " +
                                std::to_string(descriptor_limit_) +
                                " file descriptors in use (90 %); at the limit, accepts pause and "
                                "new upstream connections fail");
}

tcp::endpoint listener::local_endpoint() const { return acceptor_.local_endpoint(); }

void listener::run() {
  net::dispatch(strand_, [self = shared_from_this()] { self->do_accept(); });
}

void listener::stop() {
  net::dispatch(strand_, [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->backoff_.cancel();
    self->acceptor_.close(ignored);
  });
}

void listener::do_accept() {
  if (!acceptor_.is_open())
    return;
  // The accepted socket is bound to the next worker's context: the connection lives there.
  acceptor_.async_accept(
      pool_.next(), [self = shared_from_this()](boost::system::error_code ec, worker_socket s) {
        self->on_accept(ec, std::move(s));
      });
}

void listener::on_accept(boost::system::error_code ec, worker_socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open())
    return;
  if (ec == net::error::no_descriptors || ec.value() == ENFILE ||
      ec == net::error::no_buffer_space || ec == net::error::no_memory) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_fd_warning_ > std::chrono::seconds(5)) {
      last_fd_warning_ = now;
      ctx_.log.warn("listener", "accept failed (" + ec.message() +
                                    "): out of descriptors; pausing accepts for 100 ms");
    }
    backoff_.expires_after(std::chrono::milliseconds(100));
    backoff_.async_wait([self = shared_from_this()](boost::system::error_code e) {
      if (!e)
        self->do_accept();
    });
    return;
  }
  if (!ec)
    warn_if_descriptors_short(socket.native_handle());
  if (!ec && (!ctx_.stopping || endpoints_ == endpoint_set::admin))
    std::make_shared<http_session>(ctx_, std::move(socket),
                                   connection_slot(ctx_.live_client_sockets), endpoints_)
        ->run();
  do_accept();
}

} // namespace apistudio
