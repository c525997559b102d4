// redis_server.cpp — see redis_server.hpp.
#include "redis_server.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <array>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

namespace apistudio::testing {
namespace {
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
} // namespace

std::uint16_t free_loopback_port() {
  net::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

std::string redis_server_program() {
  for (const char *candidate : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"})
    if (std::filesystem::exists(candidate))
      return candidate;
  return {};
}

redis_server::redis_server(std::uint16_t port, std::vector<std::string> extra)
    : port_(port == 0 ? free_loopback_port() : port) {
  const std::string program = redis_server_program();
  if (program.empty()) {
    ADD_FAILURE() << "redis-server is not installed (scripts/setup.sh installs it)";
    return;
  }
  std::vector<std::string> argv = {
      program,        "--port", std::to_string(port_), "--bind", "127.0.0.1",  "--save", "",
      "--appendonly", "no",     "--daemonize",         "no",     "--loglevel", "warning"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  process_ = std::make_unique<child_process>(argv);
  std::string password;
  for (std::size_t i = 0; i + 1 < extra.size(); ++i)
    if (extra[i] == "--requirepass")
      password = extra[i + 1];
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (command("PING", password).rfind("+PONG", 0) == 0)
      return;
    if (process_->wait_exit(50ms)) {
      ADD_FAILURE() << "redis-server on port " << port_ << " exited: " << process_->err()
                    << process_->out();
      process_.reset();
      return;
    }
  }
  ADD_FAILURE() << "redis-server on port " << port_ << " did not answer PING within 10 s";
}

redis_server::~redis_server() { stop(); }

std::string redis_server::url(int db) const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

void redis_server::stop() {
  if (!process_)
    return;
  process_->send_signal(SIGTERM);
  if (!process_->wait_exit(10s)) {
    process_->send_signal(SIGKILL);
    process_->wait_exit(5s);
  }
  process_.reset();
}

std::string redis_server::command(const std::string &line, const std::string &password) const {
  try {
    net::io_context ioc;
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
    std::string request;
    if (!password.empty())
      request += "AUTH " + password + "\r\n";
    request += line + "\r\n";
    net::write(s, net::buffer(request));
    // The reply to AUTH first when there is one, then the command's: read until both lines (or
    // a bulk's header and body) are in. Enough for the short replies the tests read.
    std::string in;
    const int lines_wanted = (password.empty() ? 0 : 1) + 1;
    std::array<char, 4096> buf{};
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    s.non_blocking(true);
    while (std::chrono::steady_clock::now() < deadline) {
      boost::system::error_code ec;
      const std::size_t n = s.read_some(net::buffer(buf), ec);
      if (ec == net::error::would_block) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      if (ec)
        break;
      in.append(buf.data(), n);
      int complete = 0;
      std::size_t at = 0;
      while (at < in.size()) {
        const auto end = in.find("\r\n", at);
        if (end == std::string::npos)
          break;
        if (in[at] == '$' && in.compare(at, 3, "$-1") != 0) {
          const auto body_end = in.find("\r\n", end + 2);
          if (body_end == std::string::npos)
            break;
          at = body_end + 2;
        } else {
          at = end + 2;
        }
        ++complete;
      }
      if (complete >= lines_wanted) {
        if (!password.empty())
          in.erase(0, in.find("\r\n") + 2);
        return in;
      }
    }
    return {};
  } catch (const std::exception &) {
    return {};
  }
}

cluster_config cluster_on(const redis_server &server, const std::string &node) {
  cluster_config c;
  c.backend = cluster_backend::redis;
  c.url = server.url();
  c.redis_host = "127.0.0.1";
  c.redis_port = server.port();
  c.node_id = node;
  c.connect_timeout = std::chrono::seconds(2);
  c.start_without_engine = true;
  return c;
}

bool bus_subscribers_are(const redis_server &server, int n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  const std::string expected = ":" + std::to_string(n) + "\r\n";
  while (std::chrono::steady_clock::now() < deadline) {
    if (server.command("PUBSUB NUMSUB apistudio:bus").find(expected) != std::string::npos)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

} // namespace apistudio::testing
