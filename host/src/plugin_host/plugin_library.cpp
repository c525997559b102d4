// plugin_library.cpp — the loader's checks, in the order plugin_library.hpp lists them.
#include "plugin_host/plugin_library.hpp"

#include "plugin_host/plugin_load_error.hpp"

#include <boost/dll/shared_library_load_mode.hpp>

#include <dlfcn.h>

#include <filesystem>
#include <system_error>

namespace apistudio {

namespace {

constexpr std::uint32_t version_major(std::uint32_t packed) { return packed >> 16; }
constexpr std::uint32_t version_minor(std::uint32_t packed) { return packed & 0xffffu; }

// Every message starts the same way so the operator sees at once which entry of which file is at
// fault: "plugin 'x' (/abs/libx.so) configured at config.yaml:12:5".
class error_context {
public:
  error_context(const plugin_config &entry, const std::string &file)
      : prefix_("plugin '" + entry.name + "' (" + file + ")"),
        location_(entry.location.empty() ? std::string("the configuration") : entry.location) {}

  [[noreturn]] void fail(const std::string &problem, const std::string &what_to_do) const {
    throw plugin_load_error(prefix_ + " configured at " + location_ + " " + problem + "; " +
                            what_to_do);
  }

private:
  std::string prefix_;
  std::string location_;
};

} // namespace

std::string format_abi_version(std::uint32_t packed) {
  return std::to_string(version_major(packed)) + "." + std::to_string(version_minor(packed));
}

std::string plugin_library::resolve_file(const plugin_config &entry,
                                         const std::string &plugin_dir) {
  namespace fs = std::filesystem;
  fs::path file;
  if (!entry.path.empty()) {
    file = fs::path(entry.path);
    if (file.is_relative())
      file = fs::path(plugin_dir) / file;
  } else {
    file = fs::path(plugin_dir) / ("lib" + entry.name + ".so");
  }
  std::error_code ec;
  fs::path absolute = fs::absolute(file, ec);
  return (ec ? file : absolute).lexically_normal().string();
}

std::shared_ptr<plugin_library> open_plugin_library(const plugin_config &entry,
                                                    const std::string &plugin_dir) {
  // make_shared cannot reach the private constructor.
  std::shared_ptr<plugin_library> lib(new plugin_library());
  lib->file_ = plugin_library::resolve_file(entry, plugin_dir);
  const error_context error(entry, lib->file_);

  std::error_code exists_ec;
  if (!std::filesystem::is_regular_file(lib->file_, exists_ec)) {
    error.fail("but the library file does not exist",
               "build the plugin into plugin_dir '" + plugin_dir +
                   "' or set the entry's 'path' to its .so file");
  }

  // RTLD_NOW: an unresolved symbol fails here, with dlerror's explanation, rather than as a crash
  // in the middle of a session. RTLD_LOCAL: plugins cannot see (or clash with) each other.
  boost::dll::fs::error_code load_ec;
  lib->library_.load(lib->file_,
                     boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, load_ec);
  if (load_ec || !lib->library_.is_loaded()) {
    // Boost.DLL keeps dlerror()'s text out of its error_code; the thread-local message is still
    // there because nothing else called into libdl since the failed dlopen.
    const char *reason = ::dlerror();
    error.fail("could not be loaded: " +
                   std::string(reason != nullptr ? reason : load_ec.message()),
               "check that the file is a plugin built for this platform and that the libraries "
               "it needs are installed");
  }

  // The version comes first: nothing else of a library built for another ABI may be trusted,
  // not even the layout of its descriptor.
  if (!lib->library_.has(APISTUDIO_ENTRY_ABI_VERSION)) {
    error.fail("does not export " APISTUDIO_ENTRY_ABI_VERSION "()",
               "it is not an API Studio plugin, or it was built without the APISTUDIO_PLUGIN "
               "macro (C plugins: export the function with APISTUDIO_EXPORT)");
  }
  lib->abi_version_ = lib->library_.get<std::uint32_t()>(APISTUDIO_ENTRY_ABI_VERSION)();
  const std::uint32_t plugin_major = version_major(lib->abi_version_);
  const std::uint32_t plugin_minor = version_minor(lib->abi_version_);
  const std::string host_version = format_abi_version(APISTUDIO_SDK_ABI_VERSION);
  const std::string plugin_version = format_abi_version(lib->abi_version_);
  if (plugin_major != APISTUDIO_SDK_VERSION_MAJOR) {
    error.fail("was built for plugin SDK " + plugin_version + " but this host implements SDK " +
                   host_version + " (a plugin must have the same major version)",
               "rebuild the plugin against SDK " + host_version + " or use a host of the " +
                   std::to_string(plugin_major) + ".x series");
  }
  if (plugin_minor > APISTUDIO_SDK_VERSION_MINOR) {
    error.fail("was built for plugin SDK " + plugin_version + ", newer than this host's SDK " +
                   host_version + " (a plugin's minor version must not exceed the host's)",
               "upgrade the host or rebuild the plugin against SDK " + host_version);
  }

  if (!lib->library_.has(APISTUDIO_ENTRY_DESCRIPTOR)) {
    error.fail("does not export " APISTUDIO_ENTRY_DESCRIPTOR "()",
               "rebuild it with the APISTUDIO_PLUGIN macro (C plugins: export the function with "
               "APISTUDIO_EXPORT)");
  }
  const apistudio_plugin_descriptor *descriptor =
      lib->library_.get<const apistudio_plugin_descriptor *()>(APISTUDIO_ENTRY_DESCRIPTOR)();
  const std::string broken = "the plugin is broken: rebuild it against SDK " + host_version +
                             " or report it to its author";
  if (descriptor == nullptr)
    error.fail("returned no descriptor (NULL)", broken);
  if (descriptor->struct_size < descriptor_v1_0_size) {
    error.fail("has a descriptor of " + std::to_string(descriptor->struct_size) +
                   " bytes, smaller than the " + std::to_string(descriptor_v1_0_size) +
                   " bytes of SDK 1.0",
               broken);
  }
  if (descriptor->abi_version != lib->abi_version_) {
    error.fail("declares plugin SDK " + format_abi_version(descriptor->abi_version) +
                   " in its descriptor but " + plugin_version + " from " +
                   APISTUDIO_ENTRY_ABI_VERSION "()",
               broken);
  }
  if (descriptor->name.data == nullptr || descriptor->name.size == 0)
    error.fail("has a descriptor without a name", broken);
  if (descriptor->on_create == nullptr)
    error.fail("has a descriptor without on_create", broken);

  // Every 1.0 member is present (checked above); members of later minors will be read only when
  // struct_size covers them, e.g. `if (size >= offsetof(m) + sizeof(m)) hooks.m = descriptor->m`.
  plugin_hooks &h = lib->hooks_;
  h.on_create = descriptor->on_create;
  h.on_destroy = descriptor->on_destroy;
  h.on_session_open = descriptor->on_session_open;
  h.on_session_close = descriptor->on_session_close;
  h.on_client_message = descriptor->on_client_message;
  h.on_message_to_upstream = descriptor->on_message_to_upstream;
  h.on_message_from_upstream = descriptor->on_message_from_upstream;
  h.on_upstream_connect = descriptor->on_upstream_connect;
  h.on_upstream_opened = descriptor->on_upstream_opened;
  h.on_upstream_closed = descriptor->on_upstream_closed;
  h.on_bus_message = descriptor->on_bus_message;
  if (descriptor->struct_size >= offsetof(apistudio_plugin_descriptor, on_settings) +
                                     sizeof(apistudio_plugin_descriptor::on_settings))
    h.on_settings = descriptor->on_settings;
  if (descriptor->struct_size >= offsetof(apistudio_plugin_descriptor, on_presence_gone) +
                                     sizeof(apistudio_plugin_descriptor::on_presence_gone))
    h.on_presence_gone = descriptor->on_presence_gone;
  lib->name_.assign(descriptor->name.data, descriptor->name.size);
  if (descriptor->version.data != nullptr)
    lib->version_.assign(descriptor->version.data, descriptor->version.size);
  return lib;
}

} // namespace apistudio
