// redis_asio_adapter.hpp — hiredis' asynchronous event hooks (redisAsyncContext::ev: addRead,
// delRead, addWrite, delWrite, cleanup) carried out on an Asio descriptor.
//
// hiredis 0.14 ships adapters for libevent, libev and libuv, none for Asio; this one is ours
// (docs/architecture.md, "Layers"). hiredis owns the socket: the descriptor only waits for
// readiness (async_wait) and is release()d, never closed, when hiredis calls cleanup.
//
// Rules of use: attach() right after redisAsyncConnect, on the executor (a strand or a
// one-thread io_context) that makes every later hiredis call on that context; all hooks then run
// there. The adapter keeps itself alive until hiredis calls cleanup (context freed) and until
// its last wait has completed; after cleanup it never touches the context again.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <memory>

struct redisAsyncContext;

namespace apistudio::cluster {

// Returns false (nothing attached) when the context already has hooks or no descriptor.
bool attach_asio_adapter(redisAsyncContext *context, const boost::asio::any_io_executor &executor);

} // namespace apistudio::cluster
