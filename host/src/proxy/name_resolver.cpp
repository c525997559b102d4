#include "proxy/name_resolver.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

namespace apistudio {
namespace net = boost::asio;

name_resolver::lookup_handle static_resolver::async_resolve(const std::string &host,
                                                            std::uint16_t port, client_key,
                                                            net::any_io_executor executor,
                                                            handler h) {
  endpoints out;
  boost::system::error_code ec;
  const auto literal = net::ip::make_address(host, ec);
  if (!ec) {
    out.emplace_back(literal, port);
  } else if (auto it = table_.find(host); it != table_.end()) {
    ec = {};
    for (const auto &a : it->second)
      out.emplace_back(net::ip::make_address(a), port);
  } else {
    ec = net::error::host_not_found;
  }
  net::post(executor,
            [h = std::move(h), ec, out = std::move(out)]() mutable { h(ec, std::move(out)); });
  return nullptr;
}

} // namespace apistudio
