// name_resolver.hpp — how upstream names become addresses. Injectable so that tests can map names
// to any address (proving the egress policy) without a DNS server or real traffic. The host's
// own is cares_resolver.hpp.
//
// Only names come here: the dialer takes an IP literal as it is, so an address never waits
// behind anyone's lookups (docs/security.md).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
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
  // Whom a lookup is for (a client session's id): lookups are bounded per client
  // (resolver.max_lookups_per_client). 0 is no session (test-connection): bounded per worker only.
  using client_key = std::uint64_t;

  // A lookup under way. Destroying it abandons the lookup: its handler never runs, and whatever
  // the lookup held (its sockets, its slot, its place in the queue) is given back at once.
  class lookup {
  public:
    virtual ~lookup() = default;
  };
  using lookup_handle = std::unique_ptr<lookup>;

  virtual ~name_resolver() = default;
  // Call on `executor`'s thread, and destroy the handle there. `h` is invoked through `executor`,
  // exactly once, unless the handle is destroyed first. A resolver that cannot abandon a lookup
  // returns nullptr, and its handler still runs: callers ignore an answer they no longer want.
  virtual lookup_handle async_resolve(const std::string &host, std::uint16_t port,
                                      client_key client, boost::asio::any_io_executor executor,
                                      handler h) = 0;
};

// Fixed answers for tests: names in the map resolve to its addresses, literal addresses to
// themselves, anything else fails with host_not_found.
class static_resolver final : public name_resolver {
public:
  explicit static_resolver(std::map<std::string, std::vector<std::string>> table)
      : table_(std::move(table)) {}
  lookup_handle async_resolve(const std::string &host, std::uint16_t port, client_key client,
                              boost::asio::any_io_executor executor, handler h) override;

private:
  std::map<std::string, std::vector<std::string>> table_;
};

} // namespace apistudio
