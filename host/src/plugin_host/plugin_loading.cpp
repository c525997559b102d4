// plugin_loading.cpp — creating the plugin instances at start and at a reload, and retiring the
// ones a reload replaced or removed once their last session has closed.
//
// A chain (plugin_runtime_impl.hpp) is immutable once published; a reload builds the next one
// beside it, sharing the instances that stay, and swaps the pointer new sessions read. Nothing a
// session runs through changes under it, so the per-message path needs no lock.
#include "plugin_host/plugin_runtime_impl.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <unordered_set>

namespace apistudio {

namespace {

std::string place_of(const plugin_config &entry) {
  return entry.location.empty() ? "the configuration" : entry.location;
}

// The key's own line when the plugin named it (the pointer itself is not printed: some plugins
// take secrets as keys); the entry's when it did not.
std::string place_of(const plugin_config &entry, const hook_refusal &refusal) {
  return refusal.setting.empty() || entry.location.empty() ? place_of(entry)
                                                           : entry.location_of(refusal.setting);
}

std::string reason(const hook_refusal &refusal) {
  return refusal.message.empty() ? "(it gave no reason)" : refusal.message;
}

// replace: a YAML string with invalid UTF-8 must not turn into a json exception here.
std::string settings_text(const plugin_config &entry) {
  return entry.settings.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The same rules at start and at a reload, so a reload cannot bring in what a start refuses.
void check_names(const host_config &config) {
  std::unordered_set<std::string> names;
  for (const plugin_config &entry : config.plugins) {
    if (!entry.enabled)
      continue;
    const std::string where = place_of(entry);
    if (entry.name.empty()) {
      throw plugin_load_error("a plugin entry at " + where +
                              " has no name; give it the name of the plugin to load");
    }
    // '/' separates a plugin's name from its bus topics ("<name>/<topic>").
    if (entry.name.find('/') != std::string::npos) {
      throw plugin_load_error("plugin '" + entry.name + "' at " + where +
                              ": a plugin name must not contain '/'; use 'path' for the file");
    }
    if (!names.insert(entry.name).second) {
      throw plugin_load_error("plugin '" + entry.name + "' at " + where +
                              " is configured twice; remove one entry or give it another name "
                              "(with 'path' pointing at the same file)");
    }
  }
}

std::string joined(const std::vector<std::string> &names) {
  std::string out;
  for (const auto &n : names)
    out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

// An instance whose runtime is already gone (never in the host; a test's session context kept
// past the runtime): on_destroy without anything of the runtime's.
void destroy_orphan(std::unique_ptr<apistudio_plugin_handle> p) noexcept {
  if (p->hooks.on_destroy != nullptr && p->instance != nullptr)
    guarded_void([&] { p->hooks.on_destroy(p->instance); });
}

// A retired instance's last steps, on the runtime's executor. If that executor is destroyed
// first (shutdown: the workers' contexts die before the runtime), the pending job's destructor
// takes them instead; either way exactly once.
class retirement {
public:
  retirement(std::shared_ptr<plugin_runtime::impl::retire_anchor> anchor,
             std::unique_ptr<apistudio_plugin_handle> plugin)
      : anchor_(std::move(anchor)), plugin_(std::move(plugin)) {}
  retirement(retirement &&) noexcept = default;
  retirement &operator=(retirement &&) = delete;
  ~retirement() { finish(); }

  void operator()() { finish(); }

private:
  void finish() noexcept {
    if (!plugin_)
      return;
    std::lock_guard lock(anchor_->mutex);
    plugin_runtime::impl *rt = anchor_->runtime;
    if (rt == nullptr) {
      destroy_orphan(std::move(plugin_));
      return;
    }
    // Its session timers ended with its sessions; its own (session-less) ones end here, and a
    // callback of it still running is waited for: on_destroy never overlaps one.
    rt->timers->retire(plugin_.get());
    rt->destroy_instance(*plugin_, true);
    rt->timers->forget_owner(plugin_.get());
    plugin_.reset();
  }

  std::shared_ptr<plugin_runtime::impl::retire_anchor> anchor_;
  std::unique_ptr<apistudio_plugin_handle> plugin_;
};

} // namespace

std::shared_ptr<apistudio_plugin_handle>
plugin_runtime::impl::create_instance(const plugin_config &entry, const std::string &plugin_dir,
                                      const std::string &settings) {
  auto library = open_plugin_library(entry, plugin_dir);
  auto handle = std::make_unique<apistudio_plugin_handle>();
  handle->name = entry.name;
  handle->log_component = "plugin:" + entry.name;
  handle->topic_prefix = entry.name + "/";
  handle->log = &log;
  handle->runtime = this;
  handle->hooks = library->hooks();
  handle->library = library;
  handle->index = metrics.plugin_slot(entry.name);
  handle->settings_json = settings;
  handle->path = entry.path;

  hook_refusal refusal;
  void *instance = nullptr;
  try {
    instance = handle->hooks.on_create(&host_api_table(), handle.get(),
                                       {settings.data(), settings.size()}, as_refusal(refusal));
  } catch (...) {
    refusal.message = "on_create threw an exception";
  }
  if (instance == nullptr) {
    throw plugin_load_error("plugin '" + entry.name + "' (" + library->file() +
                            ") refused its settings at " + place_of(entry, refusal) + ": " +
                            reason(refusal));
  }
  handle->instance = instance;
  log.info("plugins", "loaded plugin '" + entry.name + "' " + library->descriptor_version() +
                          " (SDK " + format_abi_version(library->abi_version()) + ") from " +
                          library->file());
  return {handle.release(), [anchor = anchor](apistudio_plugin_handle *p) {
            std::lock_guard lock(anchor->mutex);
            if (anchor->runtime != nullptr)
              anchor->runtime->retire(p);
            else
              destroy_orphan(std::unique_ptr<apistudio_plugin_handle>(p));
          }};
}

void plugin_runtime::impl::load(const host_config &config) {
  check_names(config);
  auto first = std::make_shared<plugin_chain>();
  try {
    for (const plugin_config &entry : config.plugins) {
      if (entry.enabled)
        first->plugins.push_back(create_instance(entry, config.plugin_dir, settings_text(entry)));
    }
  } catch (...) {
    // The host exits: the instances already created are destroyed here and now, not queued on
    // an executor that will never run them.
    stop();
    first.reset();
    throw;
  }
  std::lock_guard lock(chain_mutex);
  current = std::move(first);
}

plugin_reload_summary plugin_runtime::impl::reload(const host_config &config) {
  check_names(config);
  const std::shared_ptr<const plugin_chain> running = chain();
  auto next = std::make_shared<plugin_chain>();
  next->generation = running->generation + 1;
  plugin_reload_summary summary;

  struct handed {
    apistudio_plugin_handle *plugin;
    std::string previous;
  };
  std::vector<handed> handed_over;
  // Back to what each running instance held before this reload, newest first. An instance that
  // took these settings before is expected to take them again; one that does not is logged.
  const auto undo = [&] {
    for (auto it = handed_over.rbegin(); it != handed_over.rend(); ++it) {
      apistudio_plugin_handle &p = *it->plugin;
      hook_refusal ignored;
      apistudio_verdict v = APISTUDIO_FAIL;
      guarded_void([&] {
        v = p.hooks.on_settings(p.instance, {it->previous.data(), it->previous.size()},
                                as_refusal(ignored));
      });
      if (v != APISTUDIO_CONTINUE)
        log.error(p.log_component, "refused its previous settings back after a failed reload",
                  plugin_log_fields(p));
      p.settings_json = std::move(it->previous);
    }
  };

  try {
    for (const plugin_config &entry : config.plugins) {
      if (!entry.enabled)
        continue;
      std::string settings = settings_text(entry);
      const auto same =
          std::find_if(running->plugins.begin(), running->plugins.end(), [&](const auto &p) {
            return p->name == entry.name && p->path == entry.path;
          });
      if (same == running->plugins.end()) {
        next->plugins.push_back(create_instance(entry, config.plugin_dir, settings));
        summary.added.push_back(entry.name);
        continue;
      }
      apistudio_plugin_handle &p = **same;
      if (settings == p.settings_json) {
        next->plugins.push_back(*same);
        continue;
      }
      if (p.hooks.on_settings == nullptr) {
        // Sessions opened before keep the instance that holds the settings they started with.
        next->plugins.push_back(create_instance(entry, config.plugin_dir, settings));
        summary.fresh.push_back(entry.name);
        continue;
      }
      hook_refusal refusal;
      apistudio_verdict v = APISTUDIO_FAIL;
      if (!guarded_void([&] {
            v = p.hooks.on_settings(p.instance, {settings.data(), settings.size()},
                                    as_refusal(refusal));
          }))
        refusal.message = "on_settings threw an exception";
      if (v != APISTUDIO_CONTINUE) {
        throw plugin_load_error("plugin '" + entry.name + "' (" + p.library->file() +
                                ") refused its new settings at " + place_of(entry, refusal) + ": " +
                                reason(refusal));
      }
      handed_over.push_back({&p, std::exchange(p.settings_json, std::move(settings))});
      next->plugins.push_back(*same);
      summary.took_settings.push_back(entry.name);
    }
  } catch (...) {
    undo();
    throw; // the instances created for `next` leave with it
  }

  for (const auto &p : running->plugins) {
    if (std::find(next->plugins.begin(), next->plugins.end(), p) == next->plugins.end() &&
        std::find(summary.fresh.begin(), summary.fresh.end(), p->name) == summary.fresh.end())
      summary.removed.push_back(p->name);
  }
  {
    std::lock_guard lock(chain_mutex);
    current = std::move(next);
  }

  for (const auto &name : summary.took_settings) {
    log_context fields;
    fields.plugin = name;
    log.info("plugin:" + name, "took its new settings", fields);
  }
  if (!summary.fresh.empty())
    log.info("plugins", "new sessions get a fresh instance of " + joined(summary.fresh) +
                            " (settings changed; no on_settings); open sessions keep theirs");
  if (!summary.added.empty())
    log.info("plugins", "new sessions run the added plugin(s) " + joined(summary.added));
  if (!summary.removed.empty())
    log.info("plugins", "new sessions no longer run " + joined(summary.removed) +
                            "; open sessions keep them until they close");
  return summary;
}

void plugin_runtime::impl::retire(apistudio_plugin_handle *plugin) noexcept {
  std::unique_ptr<apistudio_plugin_handle> p(plugin);
  if (stopped.load()) {
    // Shutdown: the timers are stopped and no callback runs any more.
    destroy_instance(*p, false);
    return;
  }
  // The last reference may go on any worker, inside the closing session's call stack: the rest
  // runs on the runtime's executor, where waiting for the instance's timer callbacks is safe.
  try {
    boost::asio::post(ioc, retirement(anchor, std::move(p)));
  } catch (...) {
    // Could not queue it (out of memory): `p` is left to the retirement that failed to queue,
    // whose destructor finishes the job here.
  }
}

void plugin_runtime::impl::destroy_instance(apistudio_plugin_handle &p, bool replaced) noexcept {
  if (p.hooks.on_destroy != nullptr && p.instance != nullptr &&
      !guarded_void([&] { p.hooks.on_destroy(p.instance); }))
    log.error(p.log_component, "on_destroy threw an exception", plugin_log_fields(p));
  p.instance = nullptr;
  if (replaced)
    log.info(p.log_component,
             "destroyed an instance of plugin '" + p.name +
                 "' that a reload replaced or removed (its last session closed)",
             plugin_log_fields(p));
}

void plugin_runtime::impl::stop() {
  if (stopped.exchange(true))
    return;
  timers->stop();
}

plugin_runtime::impl::~impl() {
  // Timers first, so no callback runs during or after on_destroy; then the instances, newest
  // first (plugin_chain's destructor); the libraries go last, with the handles (pending timer
  // handlers keep their own copy).
  stop();
  presence.on_gone(nullptr);
  {
    std::lock_guard lock(chain_mutex);
    current.reset();
  }
  std::lock_guard lock(anchor->mutex);
  anchor->runtime = nullptr;
}

} // namespace apistudio
