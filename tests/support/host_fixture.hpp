// host_fixture.hpp — a real host_server in this process on 127.0.0.1:0, with its log captured.
#pragma once

#include "base/logger.hpp"
#include "policy/config_loader.hpp"
#include "policy/host_config.hpp"
#include "server/host_server.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace apistudio::testing {

// Loopback, port 0, two workers, the test CA trusted, plugins from the build's plugin folder.
host_config test_config();
plugin_config make_plugin(const std::string &name,
                          nlohmann::json settings = nlohmann::json::object());

class host_instance {
public:
  explicit host_instance(host_config config = test_config(), host_options options = {});
  ~host_instance();
  std::uint16_t port() const { return server_->port(); }
  host_server &server() { return *server_; }

  std::vector<std::string> log_lines() const;
  bool log_contains(const std::string &needle) const;
  std::string log_text() const;

private:
  logger log_{log_level::debug};
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
  std::unique_ptr<host_server> server_;
};

} // namespace apistudio::testing
