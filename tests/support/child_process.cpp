#include "child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <stdexcept>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace apistudio::testing {

child_process::child_process(std::vector<std::string> argv, std::vector<env_change> env) {
  if (argv.empty())
    throw std::invalid_argument("child_process: empty argv");
  // Everything the child needs is built before fork(): after it only async-signal-safe calls.
  std::map<std::string, std::string> vars;
  for (char **e = environ; *e != nullptr; ++e) {
    const std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos)
      vars[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto &[name, value] : env) {
    if (value)
      vars[name] = *value;
    else
      vars.erase(name);
  }
  std::vector<std::string> env_strings;
  for (const auto &[k, v] : vars)
    env_strings.push_back(k + "=" + v);
  std::vector<char *> argv_ptrs, env_ptrs;
  for (auto &a : argv)
    argv_ptrs.push_back(a.data());
  argv_ptrs.push_back(nullptr);
  for (auto &e : env_strings)
    env_ptrs.push_back(e.data());
  env_ptrs.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  pid_ = ::fork();
  if (pid_ < 0)
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0)
      ::dup2(devnull, STDIN_FILENO);
    ::execve(argv_ptrs[0], argv_ptrs.data(), env_ptrs.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  out_reader_ = std::thread([this, fd = out_pipe[0]] { read_pipe(fd, out_); });
  err_reader_ = std::thread([this, fd = err_pipe[0]] { read_pipe(fd, err_); });
  reaper_ = std::thread([this] {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    std::lock_guard lock(mutex_);
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    changed_.notify_all();
  });
}

child_process::~child_process() {
  {
    std::lock_guard lock(mutex_);
    if (!status_)
      ::kill(pid_, SIGKILL);
  }
  reaper_.join();
  out_reader_.join();
  err_reader_.join();
}

void child_process::read_pipe(int fd, std::string &into) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    std::lock_guard lock(mutex_);
    into.append(buf, static_cast<std::size_t>(n));
    changed_.notify_all();
  }
  ::close(fd);
  std::lock_guard lock(mutex_);
  --open_pipes_;
  changed_.notify_all();
}

void child_process::send_signal(int sig) {
  std::lock_guard lock(mutex_);
  if (!status_)
    ::kill(pid_, sig);
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  // Also wait for the pipes: a test reading err() after the exit sees everything printed.
  changed_.wait_for(lock, timeout, [&] { return status_.has_value() && open_pipes_ == 0; });
  return status_;
}

std::string child_process::out() const {
  std::lock_guard lock(mutex_);
  return out_;
}

std::string child_process::err() const {
  std::lock_guard lock(mutex_);
  return err_;
}

bool child_process::wait_for_err(const std::string &needle, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    return err_.find(needle) != std::string::npos || (status_ && open_pipes_ == 0);
  }) && err_.find(needle) != std::string::npos;
}

std::uint16_t child_process::wait_for_listen_port(std::chrono::milliseconds timeout) {
  const std::string marker = "listening on ";
  if (!wait_for_err(marker, timeout))
    return 0;
  const std::string text = err();
  const auto at = text.find(marker);
  // "listening on 127.0.0.1:PORT with" or "listening on ::1:PORT with": the port ends the address.
  const auto end = text.find(' ', at + marker.size());
  const auto colon = text.rfind(':', end);
  if (colon == std::string::npos || colon < at)
    return 0;
  try {
    return static_cast<std::uint16_t>(std::stoi(text.substr(colon + 1, end - colon - 1)));
  } catch (const std::exception &) {
    return 0;
  }
}

process_result run_process(std::vector<std::string> argv, std::vector<env_change> env,
                           std::chrono::milliseconds timeout) {
  child_process p(std::move(argv), std::move(env));
  process_result r;
  r.exit_code = p.wait_exit(timeout);
  r.out = p.out();
  r.err = p.err();
  return r;
}

} // namespace apistudio::testing
