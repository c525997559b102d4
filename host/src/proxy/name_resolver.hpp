// name_resolver.hpp — how upstream names become addresses. Injectable so that tests can map names
// to any address (proving the egress policy) without a DNS server or real traffic.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace apistudio {

class name_resolver {
public:
  using endpoints = std::vector<boost::asio::ip::tcp::endpoint>;
  using handler = std::function<void(boost::system::error_code, endpoints)>;
  virtual ~name_resolver() = default;
  // `handler` is invoked through `executor` (the caller's strand), exactly once.
  virtual void async_resolve(const std::string &host, std::uint16_t port,
                             boost::asio::any_io_executor executor, handler h) = 0;
};

// The system resolver (getaddrinfo via Asio).
std::unique_ptr<name_resolver> make_system_resolver();

// Fixed answers for tests: names in the map resolve to its addresses, literal addresses to
// themselves, anything else fails with host_not_found.
class static_resolver final : public name_resolver {
public:
  explicit static_resolver(std::map<std::string, std::vector<std::string>> table)
      : table_(std::move(table)) {}
  void async_resolve(const std::string &host, std::uint16_t port,
                     boost::asio::any_io_executor executor, handler h) override;

private:
  std::map<std::string, std::vector<std::string>> table_;
};

} // namespace apistudio
