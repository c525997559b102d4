// plugin_library.hpp — opening one plugin's shared library and checking it against the C ABI.
//
// Internal to the plugin runtime. open_plugin_library() performs every check a library must pass
// before any of its code beyond apistudio_plugin_abi_version() runs, in this order: the file
// exists; dlopen succeeds; the version symbol exists; its version has our major and a minor not
// above ours; the descriptor symbol exists; the descriptor is well formed. Each failure throws
// plugin_load_error naming the plugin, the file, the config location and what to do.
//
// The returned object is shared: the runtime, every pending timer handler and every callback into
// the plugin hold a copy, so the library is unloaded only after the last of them is gone.
#pragma once

#include "policy/host_config.hpp"

#include <apistudio/plugin_abi.h>

#include <boost/dll/shared_library.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace apistudio {

// The descriptor's hooks, copied once after the struct_size check: a plugin built against an
// older minor SDK has a shorter descriptor, and what it did not know reads as NULL here.
struct plugin_hooks {
  decltype(apistudio_plugin_descriptor::on_create) on_create = nullptr;
  decltype(apistudio_plugin_descriptor::on_destroy) on_destroy = nullptr;
  decltype(apistudio_plugin_descriptor::on_session_open) on_session_open = nullptr;
  decltype(apistudio_plugin_descriptor::on_session_close) on_session_close = nullptr;
  decltype(apistudio_plugin_descriptor::on_client_message) on_client_message = nullptr;
  decltype(apistudio_plugin_descriptor::on_message_to_upstream) on_message_to_upstream = nullptr;
  decltype(apistudio_plugin_descriptor::on_message_from_upstream) on_message_from_upstream =
      nullptr;
  decltype(apistudio_plugin_descriptor::on_upstream_connect) on_upstream_connect = nullptr;
  decltype(apistudio_plugin_descriptor::on_upstream_opened) on_upstream_opened = nullptr;
  decltype(apistudio_plugin_descriptor::on_upstream_closed) on_upstream_closed = nullptr;
  decltype(apistudio_plugin_descriptor::on_bus_message) on_bus_message = nullptr;
  decltype(apistudio_plugin_descriptor::on_settings) on_settings = nullptr;           // after 1.0
  decltype(apistudio_plugin_descriptor::on_presence_gone) on_presence_gone = nullptr; // 1.2
};

// The smallest descriptor a 1.x plugin may export: everything SDK 1.0 defined.
inline constexpr std::size_t descriptor_v1_0_size =
    offsetof(apistudio_plugin_descriptor, on_bus_message) +
    sizeof(apistudio_plugin_descriptor::on_bus_message);

// "1.0" for APISTUDIO_SDK_ABI_VERSION-style packed versions.
std::string format_abi_version(std::uint32_t packed);

class plugin_library {
public:
  plugin_library(const plugin_library &) = delete;
  plugin_library &operator=(const plugin_library &) = delete;

  const std::string &file() const noexcept { return file_; }
  std::uint32_t abi_version() const noexcept { return abi_version_; }
  const std::string &descriptor_name() const noexcept { return name_; }
  const std::string &descriptor_version() const noexcept { return version_; }
  const plugin_hooks &hooks() const noexcept { return hooks_; }

  // Where a plugin's file is looked for: `path` (relative to plugin_dir unless absolute), else
  // plugin_dir/lib<name>.so. Made absolute against the current directory.
  static std::string resolve_file(const plugin_config &entry, const std::string &plugin_dir);

  friend std::shared_ptr<plugin_library> open_plugin_library(const plugin_config &entry,
                                                             const std::string &plugin_dir);

private:
  plugin_library() = default;

  boost::dll::shared_library library_;
  std::string file_;
  std::uint32_t abi_version_ = 0;
  std::string name_;
  std::string version_;
  plugin_hooks hooks_;
};

// Throws plugin_load_error (plugin_load_error.hpp).
std::shared_ptr<plugin_library> open_plugin_library(const plugin_config &entry,
                                                    const std::string &plugin_dir);

} // namespace apistudio
