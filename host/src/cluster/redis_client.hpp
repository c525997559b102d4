// redis_client.hpp — one connection to Redis, used asynchronously from any thread: commands in,
// replies posted back to the caller's executor; reconnects with backoff after a loss.
//
// Why: the cluster engine's shared state (docs/cluster.md) lives in Redis, and a worker thread
// must never wait for it. Every hiredis call happens on the client's own executor (a one-thread
// io_context or a strand, given at creation); callers only post to it.
//
// Rules of use:
// - create(), then start(); stop() before the executor's io_context is destroyed. After stop()
//   every pending command has failed with operation_aborted and no callback comes later.
// - command(): any thread. The handler runs on `completion` exactly once: with the reply (which
//   may be a Redis error reply: check redis_reply::is_error()), or with an error_code of
//   cluster_errc (not connected, too many in flight, timed out, connection lost).
// - A command that outlives command_timeout fails with timed_out, and the connection is dropped
//   and made again: past its timeout a slow Redis is treated as a lost one, so the requests
//   hiredis still holds cannot pile up.
// - The password is used for AUTH and never logged or put in a message; the URL is.
// - Subscriber mode (pub/sub needs a connection of its own: once subscribed, Redis accepts no
//   other command on it): subscribe() before start(). Every connection then SUBSCRIBEs to that
//   channel before it counts as connected, so a reconnection re-subscribes by itself; messages
//   arrive on the client's executor. command() is not for such a client.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace apistudio {
class logger;
}

namespace apistudio::cluster {

enum class cluster_errc {
  not_connected = 1, // no connection now (connecting, or waiting to reconnect)
  too_many_in_flight,
  timed_out,
  connection_lost,
  stopped,
};
const boost::system::error_category &cluster_category() noexcept;
inline boost::system::error_code make_error_code(cluster_errc e) noexcept {
  return {static_cast<int>(e), cluster_category()};
}

struct redis_reply {
  enum class type { nil, status, error, string, integer, array };
  type kind = type::nil;
  std::string text; // status, error and string replies
  long long integer = 0;
  std::vector<redis_reply> elements;

  bool is_error() const noexcept { return kind == type::error; }
};

struct redis_options {
  std::string url; // for messages only: redis://HOST:PORT/DB (never a password)
  std::string host;
  std::uint16_t port = 6379;
  int db = 0;
  std::string password; // empty: no AUTH
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds command_timeout{1000};
  std::size_t max_in_flight = 1024;
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
};

class redis_client {
public:
  using handler = std::function<void(boost::system::error_code, redis_reply)>;
  // Called on the client's executor after each connection attempt and each loss: connected, or
  // not with the reason ("connection refused", "AUTH refused: WRONGPASS ..."). The reason never
  // holds the password.
  using state_observer = std::function<void(bool connected, const std::string &reason)>;
  // Subscriber mode: one message published on the channel (the payload, binary-safe).
  using message_handler = std::function<void(std::string payload)>;

  static std::shared_ptr<redis_client> create(boost::asio::any_io_executor executor,
                                              redis_options options, logger &log);
  ~redis_client();
  redis_client(const redis_client &) = delete;
  redis_client &operator=(const redis_client &) = delete;

  // Any thread. `observer` (may be empty) sees every state change from the first attempt on.
  void start(state_observer observer = {});
  // Any thread; returns at once. Idempotent.
  void stop();
  // Before start(): makes this a subscriber of `channel` (see the rules above); `on_message`
  // runs on the client's executor for each message, until stop().
  void subscribe(std::string channel, message_handler on_message);

  // Any thread. `args` is the command and its arguments, binary-safe.
  void command(std::vector<std::string> args, boost::asio::any_io_executor completion,
               handler on_reply);

  // Any thread: true between a successful AUTH/SELECT and the next loss.
  bool connected() const noexcept;
  // Any thread: how many times connected() changed so far (up, then down, then up ...). Counted
  // before connected() shows the change, so a caller that saw connected() false reads the loss
  // counted here: callers use it to do something once per outage or per connection.
  std::uint64_t state_changes() const noexcept;
  const redis_options &options() const noexcept;

  struct impl; // shared with the handlers in flight, so it outlives the last of them

private:
  explicit redis_client(std::shared_ptr<impl> state);
  std::shared_ptr<impl> impl_;
};

} // namespace apistudio::cluster

template <>
struct boost::system::is_error_code_enum<apistudio::cluster::cluster_errc> : std::true_type {};
