// One client connection of the proxy and where it is in its life:
//
//   kReadHead -> (decision) -> kResolving -> kConnecting [-> kHandshake]
//             -> kTunnel, and from any of them kLinger (an answer of the
//             proxy's own, 403/4xx/5xx, then close).
//
// Owned by the worker thread that accepted it (no locking); its sockets are
// in that worker's epoll set under EpollTag::Client(id) / Upstream(id). An
// inspected phase (L7: requests parsed and decided one by one) slots in
// between kHandshake and kTunnel, with its per-connection state here.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/fd.h"
#include "l7/tunnel.h"
#include "policy/cidr.h"
#include "proxy/decision.h"
#include "proxy/http.h"
#include "proxy/tunnel.h"

namespace rf::proxy {

// kHandshake: connected to the upstream proxy, its answer to our CONNECT pending.
enum class State { kReadHead, kResolving, kConnecting, kHandshake, kTunnel, kLinger };

struct Conn {
  uint64_t id = 0;
  State state = State::kReadHead;
  UniqueFd client, upstream;
  sockaddr_storage peer{}, local{};
  std::string inbuf;
  Request req;
  std::string host;  // normalised
  // The network_policies the decision was made with (its endpoint indexes
  // point into them), and their generation (Proxy::Shared).
  std::shared_ptr<const Matcher> rules;
  uint64_t rules_generation = 0;
  Verdict verdict;            // the decision so far (decision.h)
  std::vector<IpAddr> addrs;  // the checked addresses, dialed in this order
  size_t next_addr = 0;
  Caller caller;
  pid_t caller_pid = 0;
  bool identified = false;  // the caller was looked up (a ledger entry is taken once)
  Readiness ready;
  Tunnel tunnel;
  int64_t deadline = 0;
  bool counted = true;  // counts toward max_connections
  std::string out;      // response to the client in kLinger
  size_t out_off = 0;
  bool via_upstream = false;  // dialed through network.upstream_proxy
  std::string handshake;      // our CONNECT to the upstream proxy, not yet sent
  std::string upstream_why;   // the upstream proxy's last refusal
  // Inspected (L7): the tunnel through TLS termination and the inspector,
  // instead of `tunnel`.
  std::unique_ptr<l7::Tunnel> inspected;
  // Redirected by the connect guard from a policy name's synthetic address
  // (docs/transparent-tcp.md): no request head, no answer of the proxy's
  // own (a refusal closes the connection). `capture_raw`: protocol: tcp.
  bool captured = false;
  bool capture_raw = false;
};

}  // namespace rf::proxy
