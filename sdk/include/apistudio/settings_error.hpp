// settings_error.hpp — the exception a plugin throws from its constructor to refuse its settings.
//
// The message says what is wrong ("<plugin>: <key.path>: <problem>" by convention) and never
// quotes a setting's value, which may be a secret. The pointer says where: the RFC 6901 JSON
// Pointer of the offending setting inside the plugin's settings block ("/rules/0/header"; "" is
// the block itself), so the host can print that key's own FILE:LINE:COLUMN of the YAML file
// instead of the plugin entry's. A pointer the host cannot find falls back to its nearest
// existing parent.
//
// Rules of use: a pointer is for locating, not for showing. It is made of the operator's keys,
// and some plugins take secrets as keys (a mapping from token to user), so a host resolves it to
// a location and does not print it. Escape '~' as "~0" and '/' as "~1" in each key
// (settings.hpp does it for you).
//
// Header-only, standard library only; plugin.hpp includes it.
#ifndef APISTUDIO_SETTINGS_ERROR_HPP
#define APISTUDIO_SETTINGS_ERROR_HPP

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace apistudio::sdk {

struct settings_error : std::runtime_error {
  explicit settings_error(std::string message, std::string pointer = {})
      : std::runtime_error(message),
        pointer_(pointer.empty() ? nullptr
                                 : std::make_shared<const std::string>(std::move(pointer))) {}

  // "" when the plugin did not say, or meant the whole block.
  const std::string &pointer() const noexcept {
    static const std::string none;
    return pointer_ ? *pointer_ : none;
  }

private:
  // Shared, so copying the exception cannot throw (std::runtime_error shares its message the
  // same way): an exception whose copy throws while being thrown ends the program.
  std::shared_ptr<const std::string> pointer_;
};

} // namespace apistudio::sdk

#endif // APISTUDIO_SETTINGS_ERROR_HPP
