// reload_outcome.hpp — what one configuration reload did: applied or not, and why.
//
// In the policy layer because both its callers are above it: host_server (SIGHUP) and the admin
// listener's POST /api/admin/reload (http), which reports it as JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace apistudio {

struct reload_outcome {
  bool applied = false;
  std::uint64_t generation =
      0;             // the configuration now in force (1 = the one the host started with)
  std::string error; // why nothing changed, when not applied ("FILE:LINE:COLUMN: ..." for a file)
  // Settings that changed in the file but only take effect after a restart (restart_only_settings).
  std::vector<std::string> restart_needed;
};

} // namespace apistudio
