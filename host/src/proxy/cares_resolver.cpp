#include "proxy/cares_resolver.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>

#include <ares.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <chrono>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace apistudio {
namespace net = boost::asio;
using tcp = net::ip::tcp;
using client_key = name_resolver::client_key;

namespace {

// Boost's error_category has a protected non-virtual destructor on purpose (categories are
// never deleted through a base pointer); the warning does not know that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class cares_category final : public boost::system::error_category {
public:
  const char *name() const noexcept override { return "c-ares"; }
  std::string message(int status) const override { return ares_strerror(status); }
};
#pragma GCC diagnostic pop

const cares_category &cares_errors() {
  static const cares_category category;
  return category;
}

// The dialer tells a lookup that timed out (TIMEOUT) from a name that does not exist
// (DNS_FAILED), as it always did with getaddrinfo's codes; the rest keep c-ares's own words.
boost::system::error_code to_error_code(int status) {
  switch (status) {
  case ARES_SUCCESS:
    return {};
  case ARES_ETIMEOUT:
    return net::error::timed_out;
  case ARES_ENOTFOUND:
  case ARES_ENONAME:
    return net::error::host_not_found;
  case ARES_ENODATA:
    return net::error::no_data;
  default:
    return {status, cares_errors()};
  }
}

class cares_lookup;

// What one worker thread knows about its lookups. Touched only on that thread.
struct worker_lookups {
  worker_lookups(ares_channel channel, const resolver_config &limits)
      : template_channel(channel), config(limits) {}
  ~worker_lookups() { ares_destroy(template_channel); }
  worker_lookups(const worker_lookups &) = delete;
  worker_lookups &operator=(const worker_lookups &) = delete;

  bool may_start(client_key client) const {
    if (running >= config.max_lookups_per_worker)
      return false;
    if (client == 0)
      return true;
    const auto it = running_for.find(client);
    return it == running_for.end() || it->second < config.max_lookups_per_client;
  }
  void started(client_key client) {
    ++running;
    if (client != 0)
      ++running_for[client];
  }
  void ended(client_key client, const net::any_io_executor &executor) {
    --running;
    if (client != 0) {
      const auto it = running_for.find(client);
      if (--it->second == 0)
        running_for.erase(it);
    }
    // Posted, not run here: the slot may free inside a caller's call (an abandoned lookup), and
    // while the worker's context is being destroyed a posted pump is dropped instead of starting
    // lookups on a dying reactor.
    if (!pump_posted && !waiting.empty()) {
      pump_posted = true;
      net::post(executor, [this] {
        pump_posted = false;
        pump();
      });
    }
  }
  void pump();

  ares_channel template_channel;
  const resolver_config &config;
  std::size_t running = 0;
  std::unordered_map<client_key, std::size_t> running_for;
  std::list<cares_lookup *> waiting; // oldest first; a lookup leaves it when abandoned
  bool pump_posted = false;
};

// One lookup: its own channel, the descriptors of that channel's sockets, a timer for c-ares's
// retries. Owned by the caller's handle; the asynchronous waits hold only weak references, so
// dropping the handle ends everything at once.
class cares_lookup final : public std::enable_shared_from_this<cares_lookup> {
public:
  cares_lookup(worker_lookups &worker, client_key client, std::string host, std::uint16_t port,
               net::any_io_executor executor, name_resolver::handler h)
      : worker_(worker), client_(client), host_(std::move(host)), port_(port),
        executor_(std::move(executor)), handler_(std::move(h)), timer_(executor_) {}
  ~cares_lookup() { abandon(); }
  cares_lookup(const cares_lookup &) = delete;
  cares_lookup &operator=(const cares_lookup &) = delete;

  client_key client() const noexcept { return client_; }

  void queue() {
    phase_ = phase::waiting;
    place_ = worker_.waiting.insert(worker_.waiting.end(), this);
  }

  // Called by the worker's pump once a slot is free (the lookup has left the queue).
  void start() {
    phase_ = phase::running;
    worker_.started(client_);
    const int status = ares_dup(&channel_, worker_.template_channel);
    if (status != ARES_SUCCESS) {
      channel_ = nullptr;
      answered_ = true;
      status_ = status;
      return finish();
    }
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo(channel_, host_.c_str(), nullptr, &hints, &cares_lookup::on_answer, this);
    after_ares();
  }

  void abandon() {
    handler_ = nullptr;
    switch (phase_) {
    case phase::waiting:
      worker_.waiting.erase(place_);
      phase_ = phase::done;
      break;
    case phase::running:
      phase_ = phase::done;
      close_channel();
      worker_.ended(client_, executor_);
      break;
    case phase::idle:
    case phase::done:
      phase_ = phase::done;
      break;
    }
  }

private:
  enum class phase { idle, waiting, running, done };

  // c-ares calls this from inside ares_getaddrinfo, ares_process_fd or ares_destroy; the channel
  // must not be destroyed from here, so it only records the answer (after_ares acts on it).
  static void on_answer(void *arg, int status, int, ares_addrinfo *result) {
    auto *self = static_cast<cares_lookup *>(arg);
    if (self->phase_ == phase::running && !self->answered_) {
      self->answered_ = true;
      self->status_ = status;
      if (status == ARES_SUCCESS && result != nullptr)
        self->collect(*result);
    }
    if (result != nullptr)
      ares_freeaddrinfo(result);
  }

  void collect(const ares_addrinfo &result) {
    for (const ares_addrinfo_node *n = result.nodes; n != nullptr; n = n->ai_next) {
      if (n->ai_family == AF_INET) {
        const auto *sa = reinterpret_cast<const sockaddr_in *>(n->ai_addr);
        net::ip::address_v4::bytes_type bytes;
        std::memcpy(bytes.data(), &sa->sin_addr, bytes.size());
        addresses_.emplace_back(net::ip::address_v4(bytes), port_);
      } else if (n->ai_family == AF_INET6) {
        const auto *sa = reinterpret_cast<const sockaddr_in6 *>(n->ai_addr);
        net::ip::address_v6::bytes_type bytes;
        std::memcpy(bytes.data(), &sa->sin6_addr, bytes.size());
        addresses_.emplace_back(net::ip::address_v6(bytes, sa->sin6_scope_id), port_);
      }
    }
  }

  // After every call into c-ares: either the answer is in, or wait for what c-ares waits for.
  void after_ares() {
    if (phase_ != phase::running)
      return;
    if (answered_)
      return finish();
    watch();
  }

  // The channel's sockets and its next timeout, looked up afresh after each step: c-ares may
  // have closed a socket and opened another under the same number, which a registration kept
  // from before would no longer see.
  void watch() {
    unwatch();
    std::array<ares_socket_t, ARES_GETSOCK_MAXNUM> sockets{};
    const int bits = ares_getsock(channel_, sockets.data(), static_cast<int>(sockets.size()));
    const std::weak_ptr<cares_lookup> weak = weak_from_this();
    const unsigned round = round_;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      const bool readable = ARES_GETSOCK_READABLE(bits, i) != 0;
      const bool writable = ARES_GETSOCK_WRITABLE(bits, i) != 0;
      if (!readable && !writable)
        continue;
      const ares_socket_t fd = sockets[static_cast<std::size_t>(i)];
      auto &d =
          descriptors_.emplace_back(std::make_unique<net::posix::stream_descriptor>(executor_));
      boost::system::error_code ec;
      d->assign(fd, ec);
      if (ec) {
        descriptors_.pop_back();
        answered_ = true;
        failure_ = ec;
        return finish();
      }
      if (readable)
        d->async_wait(net::posix::stream_descriptor::wait_read,
                      [weak, round, fd](boost::system::error_code e) {
                        if (auto self = weak.lock())
                          self->on_ready(round, e, fd, ARES_SOCKET_BAD);
                      });
      if (writable)
        d->async_wait(net::posix::stream_descriptor::wait_write,
                      [weak, round, fd](boost::system::error_code e) {
                        if (auto self = weak.lock())
                          self->on_ready(round, e, ARES_SOCKET_BAD, fd);
                      });
    }
    timeval buffer{};
    if (const timeval *next = ares_timeout(channel_, nullptr, &buffer)) {
      timer_.expires_after(std::chrono::seconds(next->tv_sec) +
                           std::chrono::microseconds(next->tv_usec));
      timer_.async_wait([weak, round](boost::system::error_code e) {
        if (auto self = weak.lock())
          self->on_ready(round, e, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      });
    }
  }

  void on_ready(unsigned round, boost::system::error_code ec, ares_socket_t read_fd,
                ares_socket_t write_fd) {
    if (ec == net::error::operation_aborted || round != round_ || phase_ != phase::running)
      return;
    // Both BAD: only the timeouts are processed.
    ares_process_fd(channel_, read_fd, write_fd);
    after_ares();
  }

  // c-ares owns the sockets: each descriptor lets go of its number before it is destroyed, and
  // the waits still pending end as aborted (and are ignored: their round is over).
  void unwatch() {
    ++round_;
    for (auto &d : descriptors_)
      d->release();
    descriptors_.clear();
    timer_.cancel();
  }

  // Stops watching while the sockets are still open, then lets c-ares close them. Its callback
  // runs once more (ARES_EDESTRUCTION) and is ignored: phase_ is no longer running.
  void close_channel() {
    unwatch();
    if (channel_ != nullptr)
      ares_destroy(std::exchange(channel_, nullptr));
  }

  void finish() {
    phase_ = phase::done;
    close_channel();
    boost::system::error_code ec = failure_;
    if (!ec)
      ec = to_error_code(addresses_.empty() && status_ == ARES_SUCCESS ? ARES_ENODATA : status_);
    if (auto h = std::exchange(handler_, nullptr))
      net::post(executor_, [h = std::move(h), ec, eps = std::move(addresses_)]() mutable {
        h(ec, std::move(eps));
      });
    worker_.ended(client_, executor_);
  }

  worker_lookups &worker_;
  client_key client_;
  std::string host_;
  std::uint16_t port_;
  net::any_io_executor executor_;
  name_resolver::handler handler_;
  phase phase_ = phase::idle;
  std::list<cares_lookup *>::iterator place_; // in worker_.waiting, while waiting
  ares_channel channel_ = nullptr;
  std::vector<std::unique_ptr<net::posix::stream_descriptor>> descriptors_;
  net::steady_timer timer_;
  unsigned round_ = 0; // which watch() a completion belongs to
  bool answered_ = false;
  int status_ = ARES_SUCCESS;
  boost::system::error_code failure_; // the host's own failure to watch a socket
  name_resolver::endpoints addresses_;
};

void worker_lookups::pump() {
  for (auto it = waiting.begin(); it != waiting.end() && running < config.max_lookups_per_worker;) {
    cares_lookup *lookup = *it;
    if (!may_start(lookup->client())) {
      ++it;
      continue;
    }
    it = waiting.erase(it);
    lookup->start(); // may end at once (/etc/hosts): that posts another pump, never recurses
  }
}

class cares_handle final : public name_resolver::lookup {
public:
  explicit cares_handle(std::shared_ptr<cares_lookup> lookup) : lookup_(std::move(lookup)) {}
  ~cares_handle() override { lookup_->abandon(); }
  cares_handle(const cares_handle &) = delete;
  cares_handle &operator=(const cares_handle &) = delete;

private:
  std::shared_ptr<cares_lookup> lookup_;
};

std::string servers_csv(const std::vector<name_server> &servers) {
  std::string csv;
  for (const auto &s : servers) {
    if (!csv.empty())
      csv += ',';
    const bool v6 = s.address.find(':') != std::string::npos;
    csv += (v6 ? "[" + s.address + "]" : s.address) + ":" + std::to_string(s.port);
  }
  return csv;
}

class cares_resolver final : public name_resolver {
public:
  explicit cares_resolver(const resolver_config &config) : config_(config) {
    static std::once_flag library;
    int status = ARES_SUCCESS;
    std::call_once(library, [&] { status = ares_library_init(ARES_LIB_INIT_ALL); });
    if (status != ARES_SUCCESS)
      throw std::runtime_error(std::string("cannot initialise c-ares: ") + ares_strerror(status));
    status = ares_init(&prototype_);
    if (status != ARES_SUCCESS)
      throw std::runtime_error(std::string("cannot initialise the DNS resolver: ") +
                               ares_strerror(status));
    if (!config_.servers.empty()) {
      status = ares_set_servers_ports_csv(prototype_, servers_csv(config_.servers).c_str());
      if (status != ARES_SUCCESS) {
        ares_destroy(prototype_);
        throw std::runtime_error(std::string("resolver.servers: ") + ares_strerror(status));
      }
    }
  }
  ~cares_resolver() override {
    workers_.clear();
    ares_destroy(prototype_);
  }
  cares_resolver(const cares_resolver &) = delete;
  cares_resolver &operator=(const cares_resolver &) = delete;

  lookup_handle async_resolve(const std::string &host, std::uint16_t port, client_key client,
                              net::any_io_executor executor, handler h) override {
    worker_lookups &worker = worker_for(executor);
    auto lookup =
        std::make_shared<cares_lookup>(worker, client, host, port, executor, std::move(h));
    lookup->queue();
    worker.pump();
    return std::make_unique<cares_handle>(std::move(lookup));
  }

private:
  worker_lookups &worker_for(const net::any_io_executor &executor) {
    const void *context = &net::query(executor, net::execution::context);
    std::lock_guard lock(mutex_);
    auto &slot = workers_[context];
    if (!slot) {
      // Per worker, so that no two threads ever use one channel, not even to copy it.
      ares_channel channel = nullptr;
      const int status = ares_dup(&channel, prototype_);
      if (status != ARES_SUCCESS)
        throw std::runtime_error(std::string("cannot set up the DNS resolver: ") +
                                 ares_strerror(status));
      slot = std::make_unique<worker_lookups>(channel, config_);
    }
    return *slot;
  }

  resolver_config config_;
  ares_channel prototype_ = nullptr;
  std::mutex mutex_;
  std::map<const void *, std::unique_ptr<worker_lookups>> workers_;
};

} // namespace

std::unique_ptr<name_resolver> make_cares_resolver(const resolver_config &config) {
  return std::make_unique<cares_resolver>(config);
}

} // namespace apistudio
