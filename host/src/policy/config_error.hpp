// config_error.hpp — what every reader of the operator's configuration throws. Its what() is
// "FILE:LINE:COLUMN: KEY.PATH: what is wrong", so the operator can go straight to the bad value.
#pragma once

#include <stdexcept>

namespace apistudio {

class config_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace apistudio
