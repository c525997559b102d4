#include "server/host_server.hpp"

#include "plugin_host/message_bus.hpp"
#include "plugin_host/plugin_runtime.hpp"
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
  // The workers' contexts go first in destruction (destroyed by hand in ~host_server) so that
  // pending handlers, and the sessions they own, die while everything they use still exists.
  worker_pool workers;
  session_directory directory;
  std::unique_ptr<message_bus> bus;
  std::unique_ptr<plugin_runtime> plugins;
  client_registry clients;
  std::unique_ptr<egress_policy> egress;
  std::unique_ptr<admission_policy> admission;
  std::unique_ptr<name_resolver> resolver;
  ssl::context tls_verify;
  ssl::context tls_insecure;
  std::unique_ptr<session_services> ctx;
  std::shared_ptr<listener> accept;
  std::unique_ptr<net::signal_set> signals;
  std::atomic<bool> draining{false};
  std::atomic<bool> shutting_down{false};
  // The drain's or the close's: polls every 10 ms until every session is gone or the deadline.
  std::unique_ptr<net::steady_timer> phase_timer;
  std::chrono::steady_clock::time_point phase_deadline;

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
  if (!admission_policy::is_loopback_host(config_.listen.host.find(':') != std::string::npos
                                              ? "[" + config_.listen.host + "]"
                                              : config_.listen.host) &&
      config_.security.access_tokens.empty() && !config_.listen.allow_public_without_auth)
    throw std::runtime_error("refusing to listen on non-loopback address " + config_.listen.host +
                             " without security.access_tokens; set "
                             "server.allow_public_without_auth: true to do it anyway");
  if (config_.debug && p.log.enabled(log_level::info))
    p.log.set_threshold(log_level::debug);
  raise_descriptor_limit(p.log);
  p.bus = make_local_message_bus(p.directory);
  p.plugins = std::make_unique<plugin_runtime>(config_, p.workers.main(), p.directory, *p.bus,
                                               p.log, p.clock);
  p.resolver =
      options.resolver ? std::move(options.resolver) : make_cares_resolver(config_.resolver);
  p.admission = std::make_unique<admission_policy>(config_.security, config_.listen);
  // The egress policy needs the real port (port 0 in tests), so it is built after binding; the
  // listener only starts accepting in start(), after the context exists.
  p.egress = std::make_unique<egress_policy>();
  p.ctx = std::unique_ptr<session_services>(new session_services{
      config_, p.log, p.clock, *p.plugins, p.directory, p.clients, *p.egress, *p.admission,
      *p.resolver, p.tls_verify, p.tls_insecure, std::move(options.on_dial)});
  // The members after on_dial keep their default initialisers: an explicit {} would start
  // next_session_id at 0, the ABI's "no session" (the first session's timers became global).
  try {
    p.accept = std::make_shared<listener>(p.workers, *p.ctx, listen_endpoint(config_.listen));
  } catch (const boost::system::system_error &e) {
    throw std::runtime_error("cannot listen on " + config_.listen.host + ":" +
                             std::to_string(config_.listen.port) + ": " + e.code().message());
  }
  const auto bound = p.accept->local_endpoint();
  *p.egress = egress_policy(config_.egress, {{bound.address(), bound.port()}});
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
    parts_->accept.reset();
    parts_->workers.stop();
    parts_->workers.join();
    parts_->workers.destroy_contexts(); // pending handlers (and the sessions they hold) first
  }
}

tcp::endpoint host_server::endpoint() const { return parts_->accept->local_endpoint(); }
session_services &host_server::context() { return *parts_->ctx; }

void host_server::start() {
  auto &p = *parts_;
  p.accept->run();
  p.workers.start();
  started_ = true;
  p.log.info("host", "listening on " + config_.listen.host + ":" + std::to_string(port()) +
                         " with " + std::to_string(p.workers.size()) + " worker thread(s), " +
                         std::to_string(p.plugins->plugins().size()) + " plugin(s)");
}

void host_server::watch_signals() {
  auto &p = *parts_;
  p.signals = std::make_unique<net::signal_set>(p.workers.main(), SIGINT, SIGTERM);
  await_signal();
}

// Re-armed after every signal: a second one (an operator who will not wait for the drain) cuts
// the drain short.
void host_server::await_signal() {
  parts_->signals->async_wait([this](boost::system::error_code ec, int sig) {
    if (ec)
      return;
    auto &p = *parts_;
    const bool again = p.draining.load() || p.shutting_down.load();
    const std::string name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    if (sig == SIGTERM && !again) {
      p.log.info("host", "received SIGTERM; draining for up to " +
                             std::to_string(config_.shutdown.drain_timeout.count()) + " ms");
      drain(config_.shutdown.drain_timeout);
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

void host_server::shutdown(std::chrono::milliseconds grace) {
  auto &p = *parts_;
  if (p.shutting_down.exchange(true))
    return;
  net::post(p.workers.main(), [this, grace] {
    auto &q = *parts_;
    q.ctx->stopping = true;
    q.accept->stop();
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
