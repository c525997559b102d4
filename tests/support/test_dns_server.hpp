// test_dns_server.hpp — a name server on 127.0.0.1 (UDP) that a test starts and stops: silent
// (reads every query and never answers, like a server that is down behind a firewall that drops
// packets) or answering A queries from a table (a known name's other types get an empty answer,
// an unknown name NXDOMAIN). Enough DNS for a resolver under test, nothing more.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace apistudio::testing {

// Name (lower case, no final dot) -> IPv4 address.
using dns_table = std::map<std::string, std::string>;

class test_dns_server {
public:
  // `a_records` empty: silent. `port` 0: any free port.
  explicit test_dns_server(dns_table a_records = {}, std::uint16_t port = 0);
  ~test_dns_server();
  test_dns_server(const test_dns_server &) = delete;
  test_dns_server &operator=(const test_dns_server &) = delete;

  std::uint16_t port() const { return port_; }
  // As resolver.servers wants it: "127.0.0.1:PORT".
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The name of every query received (A and AAAA alike), lower case, in arrival order.
  std::vector<std::string> queries() const;

private:
  void serve();
  std::string answer(const std::string &query, const std::string &name, std::uint16_t type) const;

  std::map<std::string, std::string> a_records_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> queries_;
  std::thread thread_;
};

} // namespace apistudio::testing
