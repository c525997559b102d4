// client_lease.hpp — one client_id held by one live socket across every host of the cluster:
// a key in Redis with an expiry, renewed while the session lives, released when it closes.
//
// Why: the local client_registry answers 409 CLIENT_ID_IN_USE only for sockets of this host;
// behind a load balancer the second socket may reach another host (issue 15). The lease is
// `SET <prefix>client:<id> <node_id>:<session> NX PX <ttl>`; renewed every ttl/3 by a script
// that extends it only while it still holds our value (and takes it back if it expired during
// an outage and nobody took it); released with a compare-and-delete script, so a host never
// deletes another host's lease. A host killed without releasing leaves its leases to expire
// within cluster.lease_ttl.
//
// Rules of use: acquire() from the session's worker; the outcome is posted back to `completion`.
// Fail open: when the engine is not connected (or does not answer), the outcome is
// `engine_unavailable` and the caller relies on the local check alone. The returned lease lives
// on the engine's thread; release() from any thread, once (the destructor does not release:
// call it when the session closes).
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace apistudio::cluster {

class cluster_engine;

enum class lease_outcome {
  taken,              // this session holds the client_id across the cluster
  held_elsewhere,     // another live socket (on any host) holds it: answer 409
  engine_unavailable, // not connected or no answer: fall back to the local check
};

class client_lease {
public:
  virtual ~client_lease() = default;
  // Any thread; idempotent. Stops the renewals and deletes the key if it still holds our value.
  virtual void release() = 0;
};

using lease_handler = std::function<void(lease_outcome, std::shared_ptr<client_lease>)>;

void acquire_client_lease(cluster_engine &engine, const std::string &client_id,
                          boost::asio::any_io_executor completion, lease_handler done);

} // namespace apistudio::cluster
