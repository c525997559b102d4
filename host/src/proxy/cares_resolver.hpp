// cares_resolver.hpp — the host's name_resolver: DNS with c-ares on the worker's own event loop.
//
// Why not Asio's resolver: it runs getaddrinfo on one background thread per io_context, one
// lookup at a time, and cannot cancel one; a client asking for names whose server never answers
// held up every other connect of its worker for as long as the system's retries took. c-ares is
// non-blocking and a lookup can really be abandoned (docs/architecture.md, "Name lookups").
//
// Each lookup runs on a channel of its own, duplicated from its worker's template channel (which
// holds the servers and options), so abandoning it destroys exactly its queries and closes its
// sockets. Its sockets are watched by the worker's reactor and its retries timed by a timer
// there: no thread of its own. /etc/hosts is consulted first, so `localhost` needs no DNS.
//
// Bounds (resolver.*): at most max_lookups_per_client lookups run for one client and at most
// max_lookups_per_worker on one worker; the others wait, first come first served, except that a
// client at its own bound does not hold up the clients behind it.
//
// Threading: each worker's lookups and queue are touched only on that worker's thread; finding
// the worker's state takes a mutex once per lookup. Lifetime: the resolver outlives every
// io_context it serves (host_server destroys the contexts first).
#pragma once

#include "policy/host_config.hpp"
#include "proxy/name_resolver.hpp"

#include <memory>

namespace apistudio {

// Throws std::runtime_error when c-ares cannot be set up (the message says why).
std::unique_ptr<name_resolver> make_cares_resolver(const resolver_config &config);

} // namespace apistudio
