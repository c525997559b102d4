#include "proxy/name_resolver.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

namespace apistudio {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

class system_resolver final : public name_resolver {
public:
  void async_resolve(const std::string &host, std::uint16_t port, net::any_io_executor executor,
                     handler h) override {
    auto resolver = std::make_shared<tcp::resolver>(executor);
    resolver->async_resolve(
        host, std::to_string(port),
        [resolver, h = std::move(h)](boost::system::error_code ec, tcp::resolver::results_type r) {
          endpoints out;
          if (!ec)
            for (const auto &e : r)
              out.push_back(e.endpoint());
          h(ec, std::move(out));
        });
  }
};

} // namespace

std::unique_ptr<name_resolver> make_system_resolver() {
  return std::make_unique<system_resolver>();
}

void static_resolver::async_resolve(const std::string &host, std::uint16_t port,
                                    net::any_io_executor executor, handler h) {
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
}

} // namespace apistudio
