// echo_server — the upstream of the benchmarks: a plain Beast WebSocket server that sends every
// message back as it came (same bytes, same text/binary kind), on as many threads as asked.
//
// It is the "direct" reference of bench/run, so it is written the way a careful Beast server is
// (Beast's websocket/server/async example) and nothing more: one io_context per thread (no strand
// needed: a connection lives on one thread), TCP_NODELAY, no compression, no timeouts, one read
// then one write per message. Prints "listening on HOST:PORT" once ready; stops on SIGINT/SIGTERM.
//
//   echo_server [--host 127.0.0.1] [--port 0] [--threads 1]
//
// Two switches exist only to price, in this minimal server, what the host's sessions pay for
// (docs/performance.md): --strand puts every connection on a strand of one shared io_context
// (the host's threading model) and --idle-timeout enables Beast's idle timeout with keep-alive
// pings (as the host configures its streams), which re-arms a timer on every read;
// --raw-socket drops beast::tcp_stream (its timer and rate policy) for a bare tcp::socket.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/program_options.hpp>

#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace po = boost::program_options;
using tcp = net::ip::tcp;

namespace {

// Idle-memory runs hold thousands of sockets: take every descriptor the hard limit allows.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

struct echo_options {
  int idle_timeout_s = 0;  // 0: none
  bool raw_socket = false; // websocket::stream<tcp::socket> instead of beast::tcp_stream
};

// Stream: beast::tcp_stream (as Beast's examples and the host) or tcp::socket (--raw-socket).
template <class Stream>
class echo_session : public std::enable_shared_from_this<echo_session<Stream>> {
  using std::enable_shared_from_this<echo_session<Stream>>::shared_from_this;

public:
  echo_session(tcp::socket &&socket, const echo_options &o) : ws_(std::move(socket)), o_(o) {}

  // The socket belongs to another thread's io_context: start there (Beast's examples do this).
  void run() {
    net::dispatch(ws_.get_executor(), [self = shared_from_this()] { self->start(); });
  }

private:
  void start() {
    beast::error_code ignored;
    if constexpr (std::is_same_v<Stream, tcp::socket>)
      ws_.next_layer().set_option(tcp::no_delay(true), ignored);
    else
      ws_.next_layer().socket().set_option(tcp::no_delay(true), ignored);
    if (o_.idle_timeout_s > 0)
      ws_.set_option(websocket::stream_base::timeout{
          std::chrono::seconds(30), std::chrono::seconds(o_.idle_timeout_s), true});
    else
      ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(30),
                                                     websocket::stream_base::none(), false});
    ws_.read_message_max(64 * 1024 * 1024);
    ws_.auto_fragment(false);
    ws_.async_accept([self = shared_from_this()](beast::error_code ec) {
      if (!ec)
        self->do_read();
    });
  }

  void do_read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    // closed, eof, reset: the peer is gone; nothing to report for a benchmark upstream.
    if (ec)
      return;
    ws_.text(ws_.got_text());
    ws_.async_write(buffer_.data(), [self = shared_from_this()](beast::error_code e, std::size_t) {
      self->on_write(e);
    });
  }

  void on_write(beast::error_code ec) {
    if (ec)
      return;
    buffer_.consume(buffer_.size());
    do_read();
  }

  websocket::stream<Stream> ws_;
  const echo_options &o_;
  beast::flat_buffer buffer_;
};

class echo_server {
public:
  echo_server(const std::string &host, unsigned short port, int threads, bool strands,
              echo_options o)
      : contexts_(strands ? 1 : static_cast<std::size_t>(threads)), acceptor_(contexts_[0]),
        threads_(threads), strands_(strands), o_(o) {
    const tcp::endpoint ep(net::ip::make_address(host), port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }

  tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }

  void run() {
    do_accept();
    net::signal_set signals(contexts_[0], SIGINT, SIGTERM);
    signals.async_wait([this](beast::error_code, int) {
      for (auto &c : contexts_)
        c.stop();
    });
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < contexts_.size(); ++i)
      threads.emplace_back([this, i] {
        auto guard = net::make_work_guard(contexts_[i]);
        contexts_[i].run();
      });
    if (strands_) // one io_context, several threads: connections need strands
      for (int i = 1; i < threads_; ++i)
        threads.emplace_back([this] { contexts_[0].run(); });
    contexts_[0].run();
    for (auto &c : contexts_)
      c.stop();
    for (auto &t : threads)
      t.join();
  }

private:
  void do_accept() {
    if (strands_) {
      using strand_socket =
          tcp::socket::rebind_executor<net::strand<net::io_context::executor_type>>::other;
      return acceptor_.async_accept(net::make_strand(contexts_[0]),
                                    [this](beast::error_code ec, strand_socket socket) {
                                      on_accept(ec, tcp::socket(std::move(socket)));
                                    });
    }
    // Connections go round-robin to the threads' io_contexts.
    acceptor_.async_accept(
        contexts_[next_++ % contexts_.size()],
        [this](beast::error_code ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted)
      return;
    if (!ec && o_.raw_socket)
      std::make_shared<echo_session<tcp::socket>>(std::move(socket), o_)->run();
    else if (!ec)
      std::make_shared<echo_session<beast::tcp_stream>>(std::move(socket), o_)->run();
    do_accept();
  }

  std::vector<net::io_context> contexts_;
  tcp::acceptor acceptor_;
  int threads_;
  bool strands_;
  echo_options o_;
  std::size_t next_ = 0;
};

} // namespace

int main(int argc, char **argv) {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  int threads = 1;
  bool strands = false;
  echo_options eo;
  po::options_description opts(
      "echo_server — WebSocket echo upstream for the benchmarks\n\nOptions");
  opts.add_options()("help,h", "show this help")("host", po::value(&host)->default_value(host),
                                                 "address to listen on")(
      "port", po::value(&port)->default_value(port), "port (0: any free port)")(
      "threads", po::value(&threads)->default_value(threads), "I/O threads")(
      "strand", po::bool_switch(&strands), "one io_context, a strand per connection (as the host)")(
      "idle-timeout", po::value(&eo.idle_timeout_s)->default_value(0),
      "seconds of Beast's idle timeout with keep-alive pings (0: none, as by default)")(
      "raw-socket", po::bool_switch(&eo.raw_socket),
      "websocket::stream<tcp::socket> instead of beast::tcp_stream");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error &e) {
    std::cerr << "echo_server: " << e.what() << '\n';
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts << '\n';
    return 0;
  }
  if (threads < 1)
    threads = 1;
  raise_fd_limit();
  try {
    echo_server server(host, port, threads, strands, eo);
    const auto ep = server.endpoint();
    std::printf("listening on %s:%u\n", ep.address().to_string().c_str(),
                static_cast<unsigned>(ep.port()));
    std::fflush(stdout);
    server.run();
  } catch (const std::exception &e) {
    std::cerr << "echo_server: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
