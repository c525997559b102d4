// worker_types.hpp — the concrete I/O types of a worker thread.
//
// Every session lives on one worker's io_context (one thread each, docs/architecture.md), so its
// sockets, streams and timers name that executor type exactly. A type-erased any_io_executor
// would cost a heap-backed copy in every composed operation's work guard (docs/performance.md).
#pragma once

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/basic_stream.hpp>

#include <chrono>

namespace apistudio {

using worker_executor = boost::asio::io_context::executor_type;
using worker_socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, worker_executor>;
using worker_timer =
    boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                      boost::asio::wait_traits<std::chrono::steady_clock>,
                                      worker_executor>;
// The HTTP phase of a client connection: Beast's stream for its per-operation deadlines.
using http_stream = boost::beast::basic_stream<boost::asio::ip::tcp, worker_executor>;

} // namespace apistudio
