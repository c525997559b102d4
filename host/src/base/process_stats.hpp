// process_stats.hpp — what the kernel says about this process, for the standard process_*
// metrics (the names Prometheus' own client libraries export): CPU time, memory, descriptors and
// their limit, threads, start time. Read from /proc at each scrape; Linux only.
#pragma once

#include <cstdint>

namespace apistudio {

struct process_stats {
  bool available = false; // false: /proc could not be read (the metrics are left out)
  double cpu_seconds = 0;
  std::int64_t resident_bytes = 0;
  std::int64_t virtual_bytes = 0;
  std::int64_t open_fds = 0;
  std::int64_t max_fds = 0; // the soft RLIMIT_NOFILE
  std::int64_t threads = 0;
  double start_time_seconds = 0; // since the Unix epoch
};

process_stats read_process_stats();

} // namespace apistudio
