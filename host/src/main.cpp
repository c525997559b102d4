// apistudio-host — the command line: configuration, checks, start and graceful stop.
#include "plugin_host/plugin_runtime.hpp"
#include "policy/config_loader.hpp"
#include "server/host_server.hpp"

#include <boost/program_options.hpp>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

namespace po = boost::program_options;
using namespace apistudio;

namespace {

bool env_truthy(const char *name) {
  const char *v = std::getenv(name);
  if (v == nullptr)
    return false;
  std::string s(v);
  for (auto &c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s == "true" || s == "1" || s == "yes";
}

// The command line's overrides, applied to the file's settings at start and again at each reload
// (a reload re-reads the file, the command line stays as the host was started).
struct overrides {
  std::optional<listen_config> listen;
  std::optional<std::string> plugin_dir;
  bool debug = false;

  void apply(host_config &config) const {
    if (listen) { // the address only: allow_public_without_auth stays the file's
      config.listen.host = listen->host;
      config.listen.port = listen->port;
    }
    if (plugin_dir)
      config.plugin_dir = *plugin_dir;
    if (debug)
      config.debug = true;
  }
};

} // namespace

int main(int argc, char **argv) {
  po::options_description opts("apistudio-host — WebSocket proxy host for API Studio\n\nOptions");
  opts.add_options()("help,h", "show this help and exit")("version", "print the version and exit")(
      "config", po::value<std::string>()->default_value("config/apistudio.yaml"),
      "configuration file (YAML)")("listen", po::value<std::string>(),
                                   "HOST:PORT to listen on (overrides server.listen)")(
      "plugin-dir", po::value<std::string>(),
      "directory of plugin libraries (overrides plugin_dir)")(
      "check-config", "validate the configuration and the plugins, print errors, exit 0 or 1");

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error &e) {
    std::cerr << "apistudio-host: " << e.what() << "\n\n" << opts << '\n';
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts << "\nEnvironment: WEBSOCKET_DEBUG=true|1|yes logs every event.\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "apistudio-host " << APISTUDIO_HOST_VERSION << " (plugin SDK "
              << APISTUDIO_SDK_VERSION_MAJOR << '.' << APISTUDIO_SDK_VERSION_MINOR << ")\n";
    return 0;
  }

  const std::string config_path = vm["config"].as<std::string>();
  host_config config;
  try {
    config = load_config(config_path);
  } catch (const config_error &e) {
    std::cerr << "apistudio-host: configuration error: " << e.what() << '\n';
    return 1;
  }
  overrides command_line;
  if (vm.count("listen")) {
    try {
      listen_config l;
      parse_listen_address(vm["listen"].as<std::string>(), l);
      command_line.listen = l;
    } catch (const std::invalid_argument &e) {
      std::cerr << "apistudio-host: --listen: " << e.what()
                << " (expected HOST:PORT or [IPV6]:PORT)\n";
      return 2;
    }
  }
  if (vm.count("plugin-dir"))
    command_line.plugin_dir = vm["plugin-dir"].as<std::string>();
  command_line.debug = env_truthy("WEBSOCKET_DEBUG");
  command_line.apply(config);

  if (vm.count("check-config")) {
    try {
      logger quiet(log_level::warn);
      boost::asio::io_context ioc;
      session_directory directory;
      auto bus = make_local_message_bus(directory);
      system_clock_source clock;
      plugin_runtime plugins(config, ioc, directory, *bus, quiet, clock);
      std::cout << config_path << ": OK (" << plugins.plugins().size() << " plugin(s) loaded)\n";
      plugins.stop();
      return 0;
    } catch (const std::exception &e) {
      std::cerr << "apistudio-host: " << e.what() << '\n';
      return 1;
    }
  }

  try {
    host_options options;
    options.reload_source = [config_path, command_line] {
      host_config next = load_config(config_path);
      command_line.apply(next);
      return next;
    };
    host_server server(std::move(config), std::move(options));
    server.watch_signals();
    server.start();
    server.wait();
  } catch (const std::exception &e) {
    std::cerr << "apistudio-host: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
