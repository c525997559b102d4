#include "host_fixture.hpp"

#include "test_upstream.hpp"

namespace apistudio::testing {

host_config test_config() {
  host_config c;
  c.listen.host = "127.0.0.1";
  c.listen.port = 0;
  c.worker_threads = 2;
  c.tls.ca_file = test_data_dir() + "/tls/ca.pem";
  c.plugin_dir = APISTUDIO_PLUGIN_DIR;
  c.log.level = log_level::debug; // tests read every line the host writes
  return c;
}

plugin_config make_plugin(const std::string &name, nlohmann::json settings) {
  plugin_config p;
  p.name = name;
  p.settings = std::move(settings);
  p.location = "test:" + name;
  return p;
}

host_instance::host_instance(host_config config, host_options options) {
  log_.set_sink([this](std::string_view line) {
    std::lock_guard lock(mutex_);
    lines_.emplace_back(line);
  });
  if (options.log == nullptr)
    options.log = &log_;
  server_ = std::make_unique<host_server>(std::move(config), std::move(options));
  server_->start();
}

host_instance::~host_instance() {
  server_->shutdown(std::chrono::milliseconds(2000));
  server_->wait();
  server_.reset();
}

std::vector<std::string> host_instance::log_lines() const {
  std::lock_guard lock(mutex_);
  return lines_;
}

bool host_instance::log_contains(const std::string &needle) const {
  return log_text().find(needle) != std::string::npos;
}

std::string host_instance::log_text() const {
  std::lock_guard lock(mutex_);
  std::string all;
  for (const auto &l : lines_) {
    all += l;
    if (all.empty() || all.back() != '\n')
      all += '\n';
  }
  return all;
}

} // namespace apistudio::testing
