// security_helpers.hpp — small things the security tests share: a dial recorder for
// host_options.on_dial, a resolver that counts lookups, bounded polling, and header checks.
#pragma once

#include "host_fixture.hpp"
#include "proxy/name_resolver.hpp"
#include "test_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace apistudio::testing {

// Built with AddressSanitizer: resident-memory figures are meaningless (its quarantine keeps freed
// memory), and everything is several times slower.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif

// Every TCP dial the host makes, as "address:port".
class dial_recorder {
public:
  dial_observer observer() {
    return [this](const boost::asio::ip::tcp::endpoint &ep) {
      std::lock_guard lock(mutex_);
      dials_.push_back(ep.address().to_string() + ":" + std::to_string(ep.port()));
    };
  }
  std::vector<std::string> dials() const {
    std::lock_guard lock(mutex_);
    return dials_;
  }

private:
  mutable std::mutex mutex_;
  std::vector<std::string> dials_;
};

// A static_resolver that also counts lookups per name (to prove there is no second lookup).
class counting_resolver final : public name_resolver {
public:
  explicit counting_resolver(std::map<std::string, std::vector<std::string>> table,
                             std::shared_ptr<std::map<std::string, int>> counts)
      : inner_(std::move(table)), counts_(std::move(counts)) {}
  lookup_handle async_resolve(const std::string &host, std::uint16_t port, client_key client,
                              boost::asio::any_io_executor executor, handler h) override {
    {
      std::lock_guard lock(mutex_);
      ++(*counts_)[host];
    }
    return inner_.async_resolve(host, port, client, std::move(executor), std::move(h));
  }

private:
  static_resolver inner_;
  std::shared_ptr<std::map<std::string, int>> counts_;
  std::mutex mutex_;
};

// Polls `condition` every 5 ms until it holds or `timeout` passes; returns its last value.
inline bool eventually(const std::function<bool()> &condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// No CORS grant of any kind: a page on another origin must never be allowed to read an answer.
inline void expect_no_cors(const http_result &r, const std::string &what) {
  for (const auto &[name, value] : r.headers)
    EXPECT_NE(name.rfind("access-control-", 0), 0u)
        << what << " answered " << name << ": " << value;
}

inline void expect_no_cors_in_head(const std::string &head, const std::string &what) {
  std::string lower = head;
  for (auto &c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(lower.find("access-control-"), std::string::npos) << what << ":\n" << head;
}

// The active-connections REST view, parsed.
inline nlohmann::json active_connections(std::uint16_t port) {
  return http_request(port, "GET", "/api/websocket/active-connections").json();
}

} // namespace apistudio::testing
