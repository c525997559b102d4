// The real apistudio-host binary in a child process (issue 5, "Resource exhaustion" and
// "Graceful shutdown"): the accept loop survives running out of file descriptors (the child runs
// with a small RLIMIT_NOFILE), backs off instead of spinning, and recovers; SIGTERM under load
// closes every client with 1001 and exits 0 within 5 seconds.
#include "raw_socket.hpp"
#include "security_helpers.hpp"
#include "test_client.hpp"
#include "test_upstream.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace apistudio;
using namespace apistudio::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// One apistudio-host process with its stderr captured. Killed (SIGKILL) if still running at the
// end.
class host_process {
public:
  host_process(const std::string &yaml, rlim_t max_descriptors = 0) {
    char dir_template[] = "/tmp/apistudio-security-XXXXXX";
    dir_ = ::mkdtemp(dir_template);
    config_ = dir_ + "/config.yaml";
    std::ofstream(config_) << yaml;

    int err[2];
    if (::pipe2(err, O_CLOEXEC) != 0)
      return;
    const std::string binary = APISTUDIO_HOST_BINARY;
    std::vector<std::string> args = {binary, "--config", config_};
    std::vector<char *> argv;
    for (auto &a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      ::dup2(err[1], 2);
      if (max_descriptors != 0) {
        // The hard limit too: the host raises its soft limit to the hard one.
        rlimit rl{max_descriptors, max_descriptors};
        ::setrlimit(RLIMIT_NOFILE, &rl);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(err[1]);
    reader_ = std::thread([this, fd = err[0]] {
      char buf[4096];
      for (;;) {
        const auto n = ::read(fd, buf, sizeof buf);
        if (n <= 0)
          break;
        std::lock_guard lock(mutex_);
        log_.append(buf, static_cast<std::size_t>(n));
      }
      ::close(fd);
    });
    // "listening on 127.0.0.1:PORT with ..."
    eventually([&] { return log().find("listening on ") != std::string::npos || exited(); }, 10s);
    const std::string text = log();
    const auto at = text.find("listening on 127.0.0.1:");
    if (at != std::string::npos)
      port_ = static_cast<std::uint16_t>(std::stoi(text.substr(at + 23)));
  }

  ~host_process() {
    if (pid_ > 0 && !exited()) {
      ::kill(pid_, SIGKILL);
      wait_exit(10s);
    }
    if (reader_.joinable())
      reader_.join();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }

  bool exited() {
    if (status_)
      return true;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_)
      status_ = st;
    return status_.has_value();
  }
  // The wait status, or nullopt when it is still running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    eventually([&] { return exited(); }, timeout);
    return status_;
  }

  // User + system CPU time the process has used so far.
  double cpu_seconds() const {
    std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
    std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::istringstream fields(all.substr(all.rfind(')') + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i)
      if (i == 14 || i == 15)
        ticks += std::stod(field);
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  std::size_t descriptors() const {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
      ++n;
    return n;
  }

private:
  std::string dir_, config_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::optional<int> status_;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::string log_;
};

std::string base_config(const std::string &extra = {}) {
  return "server:\n  listen: \"127.0.0.1:0\"\n  worker_threads: 2\n"
         "plugin_dir: \"" APISTUDIO_PLUGIN_DIR "\"\n" +
         extra;
}

} // namespace

TEST(Process, AcceptLoopSurvivesRunningOutOfDescriptorsAndRecovers) {
  const rlim_t limit = 48;
  if (sanitized) {
    // UBSan's vptr check probes memory through a pipe; with no descriptor left the probe fails and
    // every virtual call (boost::system::error_category's, in any error_code) is reported as a bad
    // vptr, fatally. Suppressions cannot help: the dynamic type cannot be read either. The
    // release build runs this test.
    GTEST_SKIP() << "cannot run out of descriptors under UBSan's vptr check";
  }
  host_process host(base_config("limits:\n  http_header_timeout: 60s\n"), limit);
  ASSERT_NE(host.port(), 0) << host.log();
  const std::size_t used = host.descriptors();
  ASSERT_LT(used, limit) << host.log();

  // More idle connections than the host has descriptors left: the rest wait in the backlog.
  std::vector<raw_socket> hogs;
  for (std::size_t i = 0; i < limit - used + 16; ++i) {
    hogs.emplace_back(host.port());
    ASSERT_TRUE(hogs.back().connected()) << i;
  }
  ASSERT_TRUE(eventually([&] {
    return host.log().find("out of descriptors") != std::string::npos;
  })) << host.log();
  EXPECT_GE(host.descriptors(), limit - 2);
  // It said so before it ran out, naming the limit.
  const std::string log = host.log();
  const auto nearly = log.find("of " + std::to_string(limit) + " file descriptors in use (90 %)");
  EXPECT_NE(nearly, std::string::npos) << log;
  EXPECT_LT(nearly, log.find("out of descriptors")) << log;

  // While out of descriptors it backs off: over one second it burns far less than a CPU-second.
  const double cpu_before = host.cpu_seconds();
  const auto window_end = std::chrono::steady_clock::now() + 1s;
  eventually([&] { return std::chrono::steady_clock::now() >= window_end; }, 2s);
  const double cpu_used = host.cpu_seconds() - cpu_before;
  EXPECT_LT(cpu_used, 0.3) << "the accept loop spins while out of descriptors";
  EXPECT_FALSE(host.exited()) << host.log();

  // Descriptors free up: accepting resumes and a real client is served.
  hogs.clear();
  bool served = eventually(
      [&] {
        ws_client c;
        return c.connect(host.port(), "/api/websocket/connect/recovered", {}, 1s) &&
               http_request(host.port(), "GET", "/healthz", {}, {}, 1s).status == 200;
      },
      15s);
  EXPECT_TRUE(served) << host.log();
  ::kill(host.pid(), SIGTERM);
  const auto status = host.wait_exit(5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << host.log();
}

TEST(Process, SigtermUnderLoadClosesEveryClientWith1001AndExitsZeroWithinFiveSeconds) {
  test_upstream echo;
  // A 1 s drain, then the close: both phases under load, within the 5 s.
  host_process host(base_config("shutdown:\n  drain_timeout: 1s\n"));
  ASSERT_NE(host.port(), 0) << host.log();
  std::vector<std::unique_ptr<ws_client>> clients;
  for (int i = 0; i < 10; ++i) {
    clients.push_back(std::make_unique<ws_client>());
    auto &c = *clients.back();
    ASSERT_TRUE(c.connect(host.port(), "/api/websocket/connect/term" + std::to_string(i)));
    c.send_json({{"type", "connect_external"}, {"url", echo.url()}});
    ASSERT_EQ(c.read_until("connection_status")["status"], "connecting");
    ASSERT_EQ(c.read_until("connection_status")["status"], "connected");
    for (int m = 0; m < 10; ++m)
      c.send_json({{"type", "send_message"}, {"content", std::string(8192, 'x')}});
  }
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(host.pid(), SIGTERM), 0);
  for (auto &c : clients)
    EXPECT_EQ(c->wait_closed(5s), 1001);
  const auto status = host.wait_exit(5s);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  ASSERT_TRUE(status.has_value()) << "still running 5 s after SIGTERM\n" << host.log();
  EXPECT_TRUE(WIFEXITED(*status)) << host.log();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << host.log();
  EXPECT_NE(host.log().find("SIGTERM"), std::string::npos) << host.log();
  EXPECT_TRUE(eventually([&] { return echo.open_now() == 0; }));
}
