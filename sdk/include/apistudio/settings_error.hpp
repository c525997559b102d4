// settings_error.hpp — how a plugin refuses its settings.
//
// Thrown from a plugin's constructor; the host prints the message with the location of the
// offending key in the operator's YAML file (FILE:LINE:COLUMN) and does not start.
#ifndef APISTUDIO_SETTINGS_ERROR_HPP
#define APISTUDIO_SETTINGS_ERROR_HPP

#include <stdexcept>
#include <string>
#include <utility>

namespace apistudio::sdk {

struct settings_error : std::runtime_error {
  // `pointer`: the RFC 6901 JSON Pointer of the wrong setting inside the plugin's settings block,
  // e.g. "/rules/0/header"; empty when the message is about the block as a whole.
  explicit settings_error(const std::string &message, std::string pointer = {})
      : std::runtime_error(message), pointer_(std::move(pointer)) {}
  const std::string &pointer() const noexcept { return pointer_; }

private:
  std::string pointer_;
};

} // namespace apistudio::sdk

#endif // APISTUDIO_SETTINGS_ERROR_HPP
