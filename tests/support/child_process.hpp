// child_process.hpp — runs a program (typically the real apistudio-host binary) as a child
// process with its stdout and stderr captured, for tests of the command line, exit codes, signals
// and what an operator sees on the terminal. The child is killed in the destructor if it is still
// running, so a failing test never leaves a host behind.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace apistudio::testing {

// An environment change for the child: a value sets the variable, nullopt removes it.
using env_change = std::pair<std::string, std::optional<std::string>>;

class child_process {
public:
  // argv[0] is the program's path (no PATH search). The child inherits this process's
  // environment with `env` applied.
  explicit child_process(std::vector<std::string> argv, std::vector<env_change> env = {});
  ~child_process();
  child_process(const child_process &) = delete;
  child_process &operator=(const child_process &) = delete;

  pid_t pid() const { return pid_; }
  void send_signal(int sig);

  // The exit status once the child ended within `timeout`: its exit code, or 128 + the signal
  // number that killed it. nullopt when it is still running at the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  std::string out() const;
  std::string err() const;
  // Waits (bounded) until stderr contains `needle`; false at the deadline or when the child ended
  // without printing it.
  bool wait_for_err(const std::string &needle, std::chrono::milliseconds timeout);

  // The port of "listening on HOST:PORT" in the host's log (stderr); 0 if it never appeared.
  std::uint16_t wait_for_listen_port(std::chrono::milliseconds timeout);

private:
  void read_pipe(int fd, std::string &into);

  pid_t pid_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string out_, err_;
  std::optional<int> status_;
  int open_pipes_ = 2;
  std::thread out_reader_, err_reader_, reaper_;
};

struct process_result {
  std::optional<int> exit_code; // nullopt: it did not end within the timeout (then killed)
  std::string out, err;
};

// Runs to completion (bounded by `timeout`).
process_result run_process(std::vector<std::string> argv, std::vector<env_change> env = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(20));

} // namespace apistudio::testing
