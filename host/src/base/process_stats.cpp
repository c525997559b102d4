#include "base/process_stats.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

namespace apistudio {

namespace {

std::string read_file(const char *path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The boot time in seconds since the epoch ("btime" in /proc/stat); 0 when unknown.
double boot_time() {
  std::istringstream in(read_file("/proc/stat"));
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

} // namespace

process_stats read_process_stats() {
  process_stats s;
  // /proc/self/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so the
  // fields are counted from the last ')'.
  const std::string stat = read_file("/proc/self/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos)
    return s;
  std::istringstream in(stat.substr(close + 2));
  std::vector<std::string> fields{std::istream_iterator<std::string>(in),
                                  std::istream_iterator<std::string>()};
  // fields[0] is field 3 (state) of proc(5); field N is fields[N - 3].
  if (fields.size() < 22)
    return s;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  s.cpu_seconds = (std::stod(fields[14 - 3]) + std::stod(fields[15 - 3])) / ticks;
  s.threads = std::stoll(fields[20 - 3]);
  s.start_time_seconds = boot_time() + std::stod(fields[22 - 3]) / ticks;
  s.virtual_bytes = std::stoll(fields[23 - 3]);
  s.resident_bytes = static_cast<std::int64_t>(std::stod(fields[24 - 3]) * page);

  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec))
    ++s.open_fds;
  if (s.open_fds > 0)
    --s.open_fds; // the directory's own descriptor, open while it is listed

  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    s.max_fds = static_cast<std::int64_t>(rl.rlim_cur);
  s.available = true;
  return s;
}

} // namespace apistudio
