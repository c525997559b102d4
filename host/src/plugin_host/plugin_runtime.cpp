// plugin_runtime.cpp — running the hook chains (creating, reloading and retiring the plugin
// instances: plugin_loading.cpp).
//
// The chains run for every frame, so the no-op path (no plugin, or plugins that continue) builds
// no string, takes no lock and allocates nothing: hooks are called through plain function
// pointers with stack-allocated arguments, and names are copied only when a chain stops.
#include "plugin_host/plugin_runtime_impl.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace apistudio {

namespace {

bool is_known(apistudio_verdict v) noexcept {
  return v == APISTUDIO_CONTINUE || v == APISTUDIO_HANDLED || v == APISTUDIO_REPLACE ||
         v == APISTUDIO_REPLY || v == APISTUDIO_CLOSE || v == APISTUDIO_FAIL ||
         v == APISTUDIO_REFUSE;
}

// A refusal the chain reports: the plugin's code and message, or the defaults naming it.
void complete_refusal(hook_refusal &r, const std::string &plugin) {
  if (r.code.empty())
    r.code = "PLUGIN_REFUSED";
  if (r.message.empty())
    r.message = "Refused by plugin '" + plugin + "'";
}

apistudio_str to_str(std::string_view s) noexcept { return {s.data(), s.size()}; }

// A hook call, counted in `walk`; in one walk of metrics_registry::hook_time_sample_every the call
// is also timed (two clock reads per call would cost as much as the no-op chain itself,
// docs/architecture.md). The plugin is called from one place so that the call inlines.
template <class Call>
apistudio_verdict counted(metrics_registry::hook_walk &walk, const apistudio_plugin_handle &p,
                          Call &&call) noexcept {
  const bool timed = walk.called(p.index);
  std::chrono::steady_clock::time_point start;
  if (timed) [[unlikely]]
    start = std::chrono::steady_clock::now();
  const apistudio_verdict v = guarded(call);
  if (timed) [[unlikely]]
    walk.took(p.index, std::chrono::steady_clock::now() - start);
  if (v != APISTUDIO_CONTINUE && v != APISTUDIO_REPLACE && (v == APISTUDIO_FAIL || !is_known(v)))
    walk.failed(p.index);
  return v;
}
template <class Call>
bool counted_void(metrics_registry::hook_walk &walk, const apistudio_plugin_handle &p,
                  Call &&call) noexcept {
  return counted(walk, p, [&] {
           call();
           return APISTUDIO_CONTINUE;
         }) == APISTUDIO_CONTINUE;
}

bool opened(const session_context &ctx, std::size_t index) noexcept {
  return index < ctx.plugin_opened.size() && ctx.plugin_opened[index];
}

} // namespace

plugin_runtime::plugin_runtime(const host_config &config, boost::asio::io_context &ioc,
                               session_directory &directory, message_bus &bus, logger &log,
                               const clock_source &clock, metrics_registry *metrics,
                               presence_service *presence, shared_counters *counters)
    : impl_(std::make_unique<impl>(ioc, directory, bus, log, clock, metrics, presence, counters)) {
  // Loading runs after impl_ is fully built: if a later plugin fails, ~impl destroys the ones
  // already created.
  impl_->load(config);
}

plugin_runtime::~plugin_runtime() = default;

bool plugin_runtime::empty() const noexcept { return impl_->chain()->plugins.empty(); }

bool plugin_runtime::empty(const session_context &ctx) noexcept {
  return ctx.chain == nullptr || ctx.chain->plugins.empty();
}

plugin_reload_summary plugin_runtime::reload(const host_config &config) {
  return impl_->reload(config);
}

std::vector<loaded_plugin_info> plugin_runtime::plugins() const {
  const auto chain = impl_->chain();
  std::vector<loaded_plugin_info> out;
  out.reserve(chain->plugins.size());
  for (const auto &p : chain->plugins) {
    out.push_back({p->name, p->library->descriptor_version(),
                   format_abi_version(p->library->abi_version()), p->library->file()});
  }
  return out;
}

void plugin_runtime::stop() { impl_->stop(); }

// ---- sessions -----------------------------------------------------------------------------------

open_outcome plugin_runtime::session_open(session_context &ctx,
                                          const std::vector<request_header> &headers) {
  ctx.chain = impl_->chain();
  const auto &plugins = ctx.chain->plugins;
  ctx.plugin_states.assign(plugins.size(), nullptr);
  ctx.plugin_opened.assign(plugins.size(), false);
  if (plugins.empty())
    return {};

  std::vector<apistudio_header> borrowed;
  borrowed.reserve(headers.size());
  for (const auto &h : headers)
    borrowed.push_back({to_str(h.name), to_str(h.value)});
  apistudio_session_info info{};
  info.struct_size = sizeof info;
  info.session_id = ctx.id;
  info.path = to_str(ctx.path);
  info.query = to_str(ctx.query);
  info.client_id = to_str(ctx.client_id);
  info.remote_address = to_str(ctx.remote_address);
  info.headers = borrowed.data();
  info.header_count = borrowed.size();

  auto walk = impl_->metrics.walk(hook_kind::on_session_open);
  for (std::size_t i = 0; i < plugins.size(); ++i) {
    apistudio_plugin_handle &p = *plugins[i];
    // "Opened" means the plugin takes part in the session (and will get on_session_close), also
    // when it has no on_session_open.
    ctx.plugin_opened[i] = true;
    if (p.hooks.on_session_open == nullptr)
      continue;

    hook_refusal refusal;
    void *state = nullptr;
    const apistudio_verdict v = counted(walk, p, [&] {
      return p.hooks.on_session_open(p.instance, as_session(ctx), &info, &state,
                                     as_refusal(refusal));
    });
    ctx.plugin_states[i] = state;

    if (v == APISTUDIO_FAIL || !is_known(v)) {
      impl_->log.error(p.log_component,
                       "plugin '" + p.name + "' failed in on_session_open; refusing session " +
                           std::to_string(ctx.id) + " with 500",
                       plugin_log_fields(p, &ctx));
      return {0, {}, {}, true, p.name};
    }
    if (v != APISTUDIO_CONTINUE && v != APISTUDIO_REPLACE) {
      open_outcome out;
      // Only error statuses refuse an upgrade; anything else a plugin writes means "forbidden".
      out.http_status = refusal.http_status >= 400 && refusal.http_status <= 599
                            ? static_cast<int>(refusal.http_status)
                            : 403;
      out.code = std::move(refusal.code);
      out.message = refusal.message.empty() ? "Refused by plugin '" + p.name + "'"
                                            : std::move(refusal.message);
      out.plugin = p.name;
      impl_->metrics.add_plugin_refusal(p.name, !out.code.empty() ? std::string_view(out.code)
                                                : out.http_status == 401 ? "UNAUTHORIZED"
                                                                         : "REJECTED");
      if (impl_->log.enabled(log_level::debug)) {
        impl_->log.debug(p.log_component,
                         "refused session " + std::to_string(ctx.id) + " with " +
                             std::to_string(out.http_status) + ": " + out.message,
                         plugin_log_fields(p, &ctx));
      }
      return out;
    }
  }
  return {};
}

void plugin_runtime::open_without_state(session_context &ctx) {
  ctx.chain = impl_->chain();
  ctx.plugin_states.assign(ctx.chain->plugins.size(), nullptr);
  ctx.plugin_opened.assign(ctx.chain->plugins.size(), true);
}

void plugin_runtime::session_close(session_context &ctx) {
  if (ctx.chain == nullptr)
    return;
  const auto &plugins = ctx.chain->plugins;
  auto walk = impl_->metrics.walk(hook_kind::on_session_close);
  for (std::size_t i = std::min(plugins.size(), ctx.plugin_opened.size()); i-- > 0;) {
    if (!ctx.plugin_opened[i])
      continue;
    apistudio_plugin_handle &p = *plugins[i];
    void *state = i < ctx.plugin_states.size() ? ctx.plugin_states[i] : nullptr;
    if (p.hooks.on_session_close != nullptr && !counted_void(walk, p, [&] {
          p.hooks.on_session_close(p.instance, as_session(ctx), state);
        })) {
      impl_->log.error(p.log_component,
                       "plugin '" + p.name + "' threw in on_session_close of session " +
                           std::to_string(ctx.id),
                       plugin_log_fields(p, &ctx));
    }
    ctx.plugin_opened[i] = false;
    if (i < ctx.plugin_states.size())
      ctx.plugin_states[i] = nullptr;
  }
  impl_->timers->cancel_session(ctx.id);
  impl_->bus.unsubscribe_all(ctx.id);
  impl_->presence.leave_all(ctx.id); // may report members gone (impl::report_gone)
  ctx.chain.reset(); // here, while the runtime surely exists: it may retire an instance
}

void plugin_runtime::impl::report_gone(const presence_gone_event &gone) noexcept {
  try {
    const auto loaded = chain();
    if (loaded == nullptr)
      return;
    std::shared_ptr<apistudio_plugin_handle> plugin;
    for (const auto &p : loaded->plugins)
      if (p->name == gone.plugin && p->hooks.on_presence_gone != nullptr)
        plugin = p;
    if (plugin == nullptr || stopped)
      return; // a plugin removed by a reload, or one without the hook: nobody to tell
    boost::asio::post(ioc, [plugin = std::move(plugin), gone]() {
      auto &p = *plugin;
      if (!guarded_void([&] {
            p.hooks.on_presence_gone(p.instance, to_str(gone.scope), to_str(gone.member),
                                     to_str(gone.status));
          }))
        p.log->log(log_level::error, p.log_component,
                   "plugin '" + p.name + "' threw in on_presence_gone", plugin_log_fields(p));
    });
  } catch (...) {
    // Out of memory: the member's absence goes unannounced rather than the host down.
  }
}

// ---- chains -------------------------------------------------------------------------------------

namespace {

// Which way a chain runs: client-bound traffic passes the plugins in reverse order, so that the
// plugin nearest the upstream on the way out is also the first to see what comes back.
enum class chain_order { config, reversed };

// Calls `visit(plugin, state)` for every plugin that takes part in the session and implements
// `hook`, until `visit` returns false. The one loop behind every chain, kept free of strings and
// allocations because it runs for every frame.
template <class Hook, class Visit>
void for_each_hooked(session_context &ctx, Hook plugin_hooks::*hook, chain_order order,
                     Visit &&visit) {
  if (ctx.chain == nullptr)
    return;
  const auto &plugins = ctx.chain->plugins;
  const std::size_t count = plugins.size();
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t i = order == chain_order::config ? k : count - 1 - k;
    apistudio_plugin_handle &p = *plugins[i];
    if (p.hooks.*hook == nullptr || !opened(ctx, i))
      continue;
    if (!visit(p, ctx.plugin_states[i]))
      return;
  }
}

// The chain stopped at plugin `p`: say so (FAIL and nonsense verdicts are logged as errors).
chain_outcome stopped_at(plugin_runtime::impl &rt, const apistudio_plugin_handle &p,
                         apistudio_verdict v, const char *hook, const session_context &ctx) {
  if (v == APISTUDIO_FAIL || !is_known(v)) {
    std::string why = "plugin '" + p.name + "' failed in " + hook;
    if (v != APISTUDIO_FAIL)
      why += " (it returned unknown verdict " + std::to_string(v) + ")";
    rt.log.error(p.log_component,
                 why + "; closing session " + std::to_string(ctx.id) + " with 1011",
                 plugin_log_fields(p, &ctx));
    return {APISTUDIO_FAIL, p.name};
  }
  return {v, p.name};
}

// A message hook chain: every plugin may let the message through (CONTINUE, or REPLACE after
// changing it); the first other verdict ends the chain and is the outcome.
template <class Hook>
chain_outcome run_message_chain(plugin_runtime::impl &rt, session_context &ctx, hook_message &msg,
                                Hook plugin_hooks::*hook, chain_order order, const char *name,
                                hook_kind kind) {
  chain_outcome outcome;
  auto walk = rt.metrics.walk(kind);
  for_each_hooked(ctx, hook, order, [&](apistudio_plugin_handle &p, void *state) {
    const apistudio_verdict v = counted(walk, p, [&] {
      return (p.hooks.*hook)(p.instance, as_session(ctx), state, as_message(msg),
                             as_refusal(msg.refusal));
    });
    if (v == APISTUDIO_CONTINUE || v == APISTUDIO_REPLACE) {
      // A reason given by a plugin that then let the message through is not the next one's.
      if (!msg.refusal.code.empty() || !msg.refusal.message.empty())
        msg.refusal = hook_refusal{};
      return true;
    }
    outcome = stopped_at(rt, p, v, name, ctx);
    if (outcome.verdict == APISTUDIO_REFUSE) {
      complete_refusal(msg.refusal, p.name);
      rt.metrics.add_plugin_refusal(p.name, msg.refusal.code);
    } else if (outcome.verdict == APISTUDIO_CLOSE) {
      rt.metrics.add_plugin_close(p.name, msg.close_code);
    }
    return false;
  });
  return outcome;
}

// A notification about an upstream: every plugin hears it; one that throws is logged, not obeyed.
template <class Hook>
void notify_upstream(plugin_runtime::impl &rt, session_context &ctx, Hook plugin_hooks::*hook,
                     const apistudio_upstream_info &info, const char *name, hook_kind kind) {
  auto walk = rt.metrics.walk(kind);
  for_each_hooked(ctx, hook, chain_order::config, [&](apistudio_plugin_handle &p, void *state) {
    if (!counted_void(walk, p, [&] { (p.hooks.*hook)(p.instance, as_session(ctx), state, &info); }))
      rt.log.error(p.log_component, "plugin '" + p.name + "' threw in " + name,
                   plugin_log_fields(p, &ctx));
    return true;
  });
}

apistudio_url url_parts(const upstream_target &t) noexcept {
  apistudio_url u{};
  u.scheme = to_str(t.tls ? "wss" : "ws");
  u.host = to_str(t.host);
  u.port = t.port;
  const std::string_view target = t.target;
  const auto q = target.find('?');
  u.path = to_str(target.substr(0, q));
  if (q != std::string_view::npos)
    u.query = to_str(target.substr(q + 1));
  return u;
}

apistudio_upstream_info upstream_info(std::string_view connection_id, std::string_view url,
                                      const upstream_target &target) {
  apistudio_upstream_info info{};
  info.struct_size = sizeof info;
  info.connection_id = to_str(connection_id);
  info.url = to_str(url);
  info.url_parts = url_parts(target);
  return info;
}

} // namespace

apistudio_url upstream_url_parts(const upstream_target &target) noexcept {
  return url_parts(target);
}

chain_outcome plugin_runtime::client_message(session_context &ctx, hook_message &msg) {
  return run_message_chain(*impl_, ctx, msg, &plugin_hooks::on_client_message, chain_order::config,
                           "on_client_message", hook_kind::on_client_message);
}

chain_outcome plugin_runtime::message_to_upstream(session_context &ctx, hook_message &msg) {
  chain_outcome o = run_message_chain(*impl_, ctx, msg, &plugin_hooks::on_message_to_upstream,
                                      chain_order::config, "on_message_to_upstream",
                                      hook_kind::on_message_to_upstream);
  // Nothing but the upstream can take a message bound for it: HANDLED and REPLY would leave the
  // client's request_id unanswered, so they are refusals too.
  if (o.verdict == APISTUDIO_HANDLED || o.verdict == APISTUDIO_REPLY) {
    o.verdict = APISTUDIO_REFUSE;
    complete_refusal(msg.refusal, o.plugin);
    impl_->metrics.add_plugin_refusal(o.plugin, msg.refusal.code);
  }
  return o;
}

chain_outcome plugin_runtime::message_from_upstream(session_context &ctx, hook_message &msg) {
  return run_message_chain(*impl_, ctx, msg, &plugin_hooks::on_message_from_upstream,
                           chain_order::reversed, "on_message_from_upstream",
                           hook_kind::on_message_from_upstream);
}

chain_outcome plugin_runtime::upstream_connect(session_context &ctx,
                                               upstream_request_data &request) {
  chain_outcome outcome;
  auto walk = impl_->metrics.walk(hook_kind::on_upstream_connect);
  for_each_hooked(ctx, &plugin_hooks::on_upstream_connect, chain_order::config,
                  [&](apistudio_plugin_handle &p, void *state) {
                    const apistudio_verdict v = counted(walk, p, [&] {
                      return p.hooks.on_upstream_connect(p.instance, as_session(ctx), state,
                                                         as_request(request),
                                                         as_refusal(request.refusal));
                    });
                    if (v == APISTUDIO_CONTINUE || v == APISTUDIO_REPLACE)
                      return true;
                    if (v == APISTUDIO_FAIL || !is_known(v)) {
                      outcome = stopped_at(*impl_, p, v, "on_upstream_connect", ctx);
                      return false;
                    }
                    // Every other verdict refuses this connection (not the client socket).
                    complete_refusal(request.refusal, p.name);
                    impl_->metrics.add_plugin_refusal(p.name, request.refusal.code);
                    outcome = {APISTUDIO_REFUSE, p.name};
                    return false;
                  });
  return outcome;
}

void plugin_runtime::upstream_opened(session_context &ctx, std::string_view connection_id,
                                     std::string_view url, const upstream_target &target,
                                     std::string_view subprotocol) {
  apistudio_upstream_info info = upstream_info(connection_id, url, target);
  info.subprotocol = to_str(subprotocol);
  notify_upstream(*impl_, ctx, &plugin_hooks::on_upstream_opened, info, "on_upstream_opened",
                  hook_kind::on_upstream_opened);
}

void plugin_runtime::upstream_closed(session_context &ctx, std::string_view connection_id,
                                     std::string_view url, const upstream_target &target,
                                     int close_code, std::string_view reason) {
  apistudio_upstream_info info = upstream_info(connection_id, url, target);
  info.close_code = close_code;
  info.close_reason = to_str(reason);
  notify_upstream(*impl_, ctx, &plugin_hooks::on_upstream_closed, info, "on_upstream_closed",
                  hook_kind::on_upstream_closed);
}

void plugin_runtime::deliver_bus(session_context &ctx,
                                 const std::shared_ptr<const bus_delivery> &delivery) {
  const std::string_view topic = delivery->topic;
  const std::string_view payload = delivery->payload;
  // Topics are "<plugin>/<topic>" (host_api.cpp): only the plugin that owns it hears it.
  const auto slash = topic.find('/');
  if (slash == std::string_view::npos)
    return;
  const std::string_view owner = topic.substr(0, slash);
  const std::string_view own_topic = topic.substr(slash + 1);
  if (ctx.chain == nullptr)
    return;
  const auto &plugins = ctx.chain->plugins;
  for (std::size_t i = 0; i < plugins.size(); ++i) {
    apistudio_plugin_handle &p = *plugins[i];
    if (p.name != owner)
      continue;
    if (p.hooks.on_bus_message == nullptr || !opened(ctx, i))
      return;
    const delivery_scope in_hand(delivery);
    impl_->metrics.add(metric::bus_deliveries);
    auto walk = impl_->metrics.walk(hook_kind::on_bus_message);
    if (!counted_void(walk, p, [&] {
          p.hooks.on_bus_message(p.instance, as_session(ctx), ctx.plugin_states[i],
                                 to_str(own_topic), to_str(payload));
        })) {
      impl_->log.error(p.log_component, "plugin '" + p.name + "' threw in on_bus_message",
                       plugin_log_fields(p, &ctx));
    }
    return;
  }
}

} // namespace apistudio
