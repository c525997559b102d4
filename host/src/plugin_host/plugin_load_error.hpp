// plugin_load_error.hpp — what loading a configured plugin throws. Its what() names the plugin,
// its file, the config location and what to do about it; the host prints it and exits 1.
#pragma once

#include <stdexcept>

namespace apistudio {

class plugin_load_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace apistudio
