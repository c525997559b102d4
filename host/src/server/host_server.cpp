#include "server/host_server.hpp"

#include "cluster/cluster_engine.hpp"
#include "plugin_host/message_bus.hpp"
#include "plugin_host/plugin_runtime.hpp"
#include "plugin_host/shared_counters.hpp"
#include "policy/restart_only_settings.hpp"
#include "proxy/cares_resolver.hpp"
#include "server/listener.hpp"
#include "server/worker_pool.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace apistudio {
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

ssl::context make_upstream_tls(const tls_config &tls, bool verify) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (verify) {
    ctx.set_default_verify_paths();
    if (!tls.ca_file.empty()) {
      boost::system::error_code ec;
      ctx.load_verify_file(tls.ca_file, ec);
      if (ec)
        throw std::runtime_error("tls.ca_file: cannot load CA bundle '" + tls.ca_file +
                                 "': " + ec.message());
    }
    ctx.set_verify_mode(ssl::verify_peer);
  } else {
    ctx.set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

tcp::endpoint listen_endpoint(const listen_config &l) {
  boost::system::error_code ec;
  auto address = net::ip::make_address(l.host == "localhost" ? "127.0.0.1" : l.host, ec);
  if (ec)
    throw std::runtime_error("server.listen: '" + l.host + "' is not an IP address");
  return {address, l.port};
}

// Tokens are what keeps a public listener from being an open proxy: checked at start and again
// on every reload (a reload that removes the last token there is refused).
void require_tokens_when_public(const host_config &config) {
  const bool loopback = admission_policy::is_loopback_host(
      config.listen.host.find(':') != std::string::npos ? "[" + config.listen.host + "]"
                                                        : config.listen.host);
  if (!loopback && config.security.access_tokens.empty() &&
      !config.listen.allow_public_without_auth)
    throw std::runtime_error("refusing to listen on non-loopback address " + config.listen.host +
                             " without security.access_tokens; set "
                             "server.allow_public_without_auth: true to do it anyway");
}

// With cluster.backend: redis, the engine is connected before the listener opens (the caller
// binds it next): a host that cannot share its state refuses to start, unless the operator chose
// to start local-only (cluster.start_without_engine). The URL is named, never the password.
void connect_cluster_engine(const cluster_config &config,
                            std::unique_ptr<cluster::cluster_engine> &engine, logger &log,
                            metrics_registry &metrics) {
  if (config.backend != cluster_backend::redis)
    return;
  engine = std::make_unique<cluster::cluster_engine>(config, log, &metrics);
  const std::string failure = engine->connect_first();
  if (failure.empty())
    return;
  if (!config.start_without_engine) {
    engine->stop();
    throw std::runtime_error(
        "cluster.backend is redis but the cluster engine at " + config.url +
        " cannot be used: " + failure +
        "; not starting. Start Redis or fix cluster.url / cluster.password, or set "
        "cluster.start_without_engine: true to start local-only and join when Redis comes");
  }
  log.warn("cluster", "the cluster engine at " + config.url + " cannot be used: " + failure +
                          "; starting local-only (cluster.start_without_engine), /readyz answers "
                          "503 until it connects, retrying in the background");
}

void raise_descriptor_limit(logger &log) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  log.info("host", "file descriptor limit: " + std::to_string(rl.rlim_cur));
}

} // namespace

struct host_server::parts {
  logger own_log;
  logger &log;
  system_clock_source system_clock;
  const clock_source &clock;
  // Before the workers: sessions count into it until their contexts are destroyed.
  metrics_registry metrics;
  // The workers' contexts go first in destruction (destroyed by hand in ~host_server) so that
  // pending handlers, and the sessions they own, die while everything they use still exists.
  worker_pool workers;
  // cluster.backend: redis only. Stopped (its thread joined) in ~host_server before the workers'
  // contexts go, since its completions are posted to them.
  std::unique_ptr<cluster::cluster_engine> cluster;
  session_directory directory;
  std::unique_ptr<message_bus> bus;
  std::unique_ptr<presence_service> presence; // outlives the runtime, which reports through it
  // Plugins' counter_add: after the engine (its batches run there) and before the runtime.
  std::unique_ptr<shared_counters> counters;
  std::unique_ptr<plugin_runtime> plugins;
  client_registry clients;
  std::unique_ptr<live_settings> settings;
  own_endpoints own; // the bound listener, which egress always denies
  std::function<host_config()> reload_source;
  std::mutex reload_mutex; // one reload at a time (signal, admin endpoint, tests)
  std::atomic<std::uint64_t> reloads_applied{0};
  std::atomic<std::uint64_t> reloads_failed{0};
  std::unique_ptr<name_resolver> resolver;
  ssl::context tls_verify;
  ssl::context tls_insecure;
  std::unique_ptr<session_services> ctx;
  std::shared_ptr<listener> accept;
  std::shared_ptr<listener> admin; // admin.listen, when set
  std::unique_ptr<net::signal_set> signals;
  std::atomic<bool> draining{false};
  std::atomic<bool> shutting_down{false};
  // The drain's or the close's: polls every 10 ms until every session is gone or the deadline.
  std::unique_ptr<net::steady_timer> phase_timer;
  std::chrono::steady_clock::time_point phase_deadline;
  std::unique_ptr<net::steady_timer> repeat_timer;

  // Repeat summaries (log.repeat_window) appear within a second of their window's end, also
  // when nothing else is logged after a flood.
  void repeat_tick() {
    log.write_closed_repeats();
    repeat_timer->expires_after(std::chrono::seconds(1));
    repeat_timer->async_wait([this](boost::system::error_code ec) {
      if (!ec)
        repeat_tick();
    });
  }

  // Polls until every closed session is gone or the grace period ends, then lets the threads
  // return.
  void close_tick() {
    if (directory.size() == 0 || std::chrono::steady_clock::now() >= phase_deadline) {
      plugins->stop();
      workers.stop();
      return;
    }
    phase_timer->expires_after(std::chrono::milliseconds(10));
    phase_timer->async_wait([this](boost::system::error_code ec) {
      if (!ec)
        close_tick();
    });
  }

  parts(const host_config &config, host_options &options)
      : log(options.log ? *options.log : own_log),
        clock(options.clock ? *options.clock : system_clock),
        workers(config.worker_threads > 0 ? static_cast<std::size_t>(config.worker_threads)
                                          : std::max(1u, std::thread::hardware_concurrency())),
        tls_verify(make_upstream_tls(config.tls, config.tls.verify)),
        tls_insecure(make_upstream_tls(config.tls, false)) {}
};

host_server::host_server(host_config config, host_options options) : config_(std::move(config)) {
  parts_ = std::make_unique<parts>(config_, options);
  auto &p = *parts_;
  require_tokens_when_public(config_);
  p.reload_source = std::move(options.reload_source);
  p.log.set_format(config_.log.format);
  p.log.set_threshold(config_.debug ? log_level::debug : config_.log.level);
  p.log.set_repeat_window(config_.log.repeat_window);
  raise_descriptor_limit(p.log);
  connect_cluster_engine(config_.cluster, p.cluster, p.log, p.metrics);
  // With an engine the bus spans the hosts (docs/cluster.md, "The cross-host bus").
  p.bus = p.cluster ? make_cluster_message_bus(p.directory, *p.cluster, p.metrics, p.log)
                    : make_local_message_bus(p.directory);
  // Likewise presence (docs/cluster.md, "Presence") and the shared counters ("Shared counters").
  p.presence =
      p.cluster ? make_cluster_presence(*p.cluster, config_.cluster.presence_ttl, p.metrics, p.log)
                : make_local_presence();
  p.counters = p.cluster ? make_cluster_shared_counters(*p.cluster, p.clock, p.metrics, p.log,
                                                        config_.cluster.counter_sync_interval)
                         : make_local_shared_counters(p.clock);
  p.plugins =
      std::make_unique<plugin_runtime>(config_, p.workers.main(), p.directory, *p.bus, p.log,
                                       p.clock, &p.metrics, p.presence.get(), p.counters.get());
  p.resolver =
      options.resolver ? std::move(options.resolver) : make_cares_resolver(config_.resolver);
  // The egress policy needs the real port (port 0 in tests), so the first snapshot is published
  // again after binding; the listener only starts accepting in start(), after that.
  p.settings = std::make_unique<live_settings>(
      std::make_shared<const settings_snapshot>(config_, own_endpoints{}, 1));
  p.ctx = std::unique_ptr<session_services>(new session_services{
      *p.settings, p.log, p.clock, *p.plugins, p.directory, p.clients, *p.resolver, p.tls_verify,
      p.tls_insecure, p.metrics, std::move(options.on_dial)});
  // The members after on_dial keep their default initialisers: an explicit {} would start
  // next_session_id at 0, the ABI's "no session" (the first session's timers became global).
  try {
    p.accept = std::make_shared<listener>(p.workers, *p.ctx, listen_endpoint(config_.listen));
  } catch (const boost::system::system_error &e) {
    throw std::runtime_error("cannot listen on " + config_.listen.host + ":" +
                             std::to_string(config_.listen.port) + ": " + e.code().message());
  }
  const auto bound = p.accept->local_endpoint();
  p.own = {{bound.address(), bound.port()}};
  if (config_.admin.enabled()) {
    const listen_config admin_address{config_.admin.host, config_.admin.port, false};
    try {
      p.admin = std::make_shared<listener>(p.workers, *p.ctx, listen_endpoint(admin_address),
                                           endpoint_set::admin);
    } catch (const boost::system::system_error &e) {
      throw std::runtime_error("cannot listen on " + config_.admin.host + ":" +
                               std::to_string(config_.admin.port) +
                               " (admin.listen): " + e.code().message());
    }
    // The egress rules keep clients from dialling it: a proxied POST /api/admin/reload would
    // come from loopback.
    const auto admin_bound = p.admin->local_endpoint();
    p.own.emplace_back(admin_bound.address(), admin_bound.port());
  }
  p.ctx->reload_configuration = [this] { return reload(); };
  p.ctx->cluster = p.cluster.get();
  p.settings->publish(std::make_shared<const settings_snapshot>(config_, p.own, 1));
}

host_server::~host_server() {
  if (started_) {
    shutdown(std::chrono::milliseconds(1000));
    wait();
  }
  if (parts_) {
    parts_->plugins->stop();
    parts_->signals.reset();
    parts_->phase_timer.reset();
    parts_->repeat_timer.reset();
    parts_->accept.reset();
    parts_->admin.reset();
    parts_->workers.stop();
    parts_->workers.join();
    if (parts_->cluster)
      parts_->cluster->stop();          // no completion is posted to a worker after this
    parts_->workers.destroy_contexts(); // pending handlers (and the sessions they hold) first
    parts_->log.flush_repeats();        // the counts of floods still inside their window
  }
}

tcp::endpoint host_server::endpoint() const { return parts_->accept->local_endpoint(); }
std::optional<tcp::endpoint> host_server::admin_endpoint() const {
  if (!parts_->admin)
    return std::nullopt;
  return parts_->admin->local_endpoint();
}
session_services &host_server::context() { return *parts_->ctx; }
std::shared_ptr<const settings_snapshot> host_server::settings() const {
  return parts_->settings->current();
}

void host_server::start() {
  auto &p = *parts_;
  p.accept->run();
  if (p.admin)
    p.admin->run();
  if (config_.log.repeat_window.count() > 0) {
    p.repeat_timer = std::make_unique<net::steady_timer>(p.workers.main());
    p.repeat_tick();
  }
  p.workers.start();
  started_ = true;
  p.log.info("host", "listening on " + config_.listen.host + ":" + std::to_string(port()) +
                         " with " + std::to_string(p.workers.size()) + " worker thread(s), " +
                         std::to_string(p.plugins->plugins().size()) + " plugin(s)");
  if (p.admin)
    p.log.info("host", "admin endpoints (metrics, probes, reload) on " + config_.admin.host + ":" +
                           std::to_string(p.admin->local_endpoint().port()));
}

void host_server::watch_signals() {
  auto &p = *parts_;
  p.signals = std::make_unique<net::signal_set>(p.workers.main(), SIGINT, SIGTERM, SIGHUP);
  await_signal();
}

// Re-armed after every signal: a second one (an operator who will not wait for the drain) cuts
// the drain short.
void host_server::await_signal() {
  parts_->signals->async_wait([this](boost::system::error_code ec, int sig) {
    if (ec)
      return;
    if (sig == SIGHUP) {
      parts_->log.info("host", "received SIGHUP; reloading the configuration");
      reload(); // logs its outcome
      return await_signal();
    }
    auto &p = *parts_;
    const bool again = p.draining.load() || p.shutting_down.load();
    const std::string name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    if (sig == SIGTERM && !again) {
      // The file's value as last reloaded: a drain is often preceded by a reload.
      const auto timeout = p.settings->current()->config.shutdown.drain_timeout;
      p.log.info("host",
                 "received SIGTERM; draining for up to " + std::to_string(timeout.count()) + " ms");
      drain(timeout);
    } else {
      p.log.info("host", "received " + name + "; shutting down" +
                             (p.draining.load() ? " without waiting for the drain" : ""));
      shutdown();
    }
    await_signal();
  });
}

void host_server::drain(std::chrono::milliseconds timeout) {
  auto &p = *parts_;
  if (p.shutting_down.load() || p.draining.exchange(true))
    return;
  net::post(p.workers.main(), [this, timeout] {
    auto &q = *parts_;
    if (q.shutting_down.load())
      return;
    q.ctx->stopping = true;
    q.accept->stop();
    q.log.info("host", "draining: no new sessions; " + std::to_string(q.directory.size()) +
                           " open session(s) go on for up to " + std::to_string(timeout.count()) +
                           " ms");
    q.phase_deadline = std::chrono::steady_clock::now() + timeout;
    q.phase_timer = std::make_unique<net::steady_timer>(q.workers.main());
    wait_for_drain();
  });
}

void host_server::wait_for_drain() {
  auto &p = *parts_;
  if (p.shutting_down.load())
    return; // shutdown() took over (a second signal)
  if (p.directory.size() == 0 || std::chrono::steady_clock::now() >= p.phase_deadline) {
    shutdown();
    return;
  }
  p.phase_timer->expires_after(std::chrono::milliseconds(10));
  p.phase_timer->async_wait([this](boost::system::error_code ec) {
    if (!ec)
      wait_for_drain();
  });
}

reload_outcome host_server::reload() {
  auto &p = *parts_;
  std::lock_guard lock(p.reload_mutex);
  reload_outcome out;
  std::string source = config_.source_file.empty() ? "the configuration" : config_.source_file;
  try {
    if (!p.reload_source)
      throw std::runtime_error("this host was not started from a configuration file");
    host_config next = p.reload_source();
    if (!next.source_file.empty())
      source = next.source_file;
    out.restart_needed = keep_restart_only_settings(config_, next);
    require_tokens_when_public(next);
    const std::uint64_t generation = p.settings->current()->generation + 1;
    // Built completely (egress rules compiled) before anyone can see it; a throw publishes nothing.
    auto snapshot = std::make_shared<const settings_snapshot>(std::move(next), p.own, generation);
    // The plugins last: everything else that can fail has passed, so a plugin that refuses or
    // does not load leaves nothing half-applied (the runtime hands the others their old
    // settings back). New sessions open with the new chain from here on.
    p.plugins->reload(snapshot->config);
    p.settings->publish(std::move(snapshot));
    // The log settings apply to the next line (nginx re-reads its error_log level the same way).
    const log_config logs = p.settings->current()->config.log;
    p.log.set_format(logs.format);
    p.log.set_threshold(config_.debug ? log_level::debug : logs.level);
    p.log.set_repeat_window(logs.repeat_window);
    out.applied = true;
    out.generation = generation;
    p.reloads_applied.fetch_add(1);
    p.metrics.add(metric::config_reloads_applied);
    p.log.info("reload", "configuration reloaded from " + source + " (generation " +
                             std::to_string(generation) + ")");
  } catch (const std::exception &e) {
    out.error = e.what();
    out.generation = p.settings->current()->generation;
    out.restart_needed.clear();
    p.reloads_failed.fetch_add(1);
    p.metrics.add(metric::config_reloads_failed);
    p.log.error("reload",
                "configuration not reloaded, the running one stays in force: " + out.error);
    return out;
  }
  for (const auto &key : out.restart_needed)
    p.log.warn("reload", key + " changed in " + source +
                             " but needs a restart; the running value stays until then");
  return out;
}

reload_counts host_server::reload_stats() const {
  return {parts_->reloads_applied.load(), parts_->reloads_failed.load()};
}

void host_server::shutdown(std::chrono::milliseconds grace) {
  auto &p = *parts_;
  if (p.shutting_down.exchange(true))
    return;
  net::post(p.workers.main(), [this, grace] {
    auto &q = *parts_;
    q.ctx->stopping = true;
    q.accept->stop();
    if (q.admin)
      q.admin->stop();
    // Posted, not dispatched: a session on this worker closes after this loop, like the others.
    // One still upgrading closes as soon as its upgrade completes.
    for (auto &s : q.directory.live())
      net::post(s->executor(), [s] { s->post_close(1001, "server shutting down"); });
    q.phase_deadline = std::chrono::steady_clock::now() + grace;
    // A new timer: one a drain left waiting is cancelled by its destruction, on this thread.
    q.phase_timer = std::make_unique<net::steady_timer>(q.workers.main());
    q.close_tick();
  });
}

void host_server::wait() {
  parts_->workers.join();
  started_ = false;
}

} // namespace apistudio
