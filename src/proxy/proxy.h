// The egress proxy: the only door from the sandbox to the network.
//
// Event driven (one epoll loop per worker thread, a small fixed number of
// workers sharing the listening socket with EPOLLEXCLUSIVE), non-blocking
// sockets, tunnel bytes moved with splice() through pipes (a read/write loop
// where splice is unavailable). Serves CONNECT host:port and absolute-form
// http:// requests; everything else gets 400/405 and is closed.
//
// Per connection: host + port + calling binary are checked against the
// compiled network_policies (deny by default), the name is resolved once
// (network.hosts, then c-ares: /etc/hosts and resolv.conf), every resulting
// address passes the SSRF filter, and the proxy connects only to an address
// it checked. Denials answer 403 with a JSON body; every decision is an audit
// event. See docs/proxy.md; the parts: worker.h (the loop), connection.h,
// decision.h, resolver.h, tunnel.h, epoll_tag.h.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit.h"
#include "common/fd.h"
#include "common/status.h"
#include "policy/policy.h"
#include "process/caller.h"

namespace rf::cred {
class Store;
}  // namespace rf::cred

namespace rf::proxy {

struct ProxyConfig {
  int threads = 2;                 // worker threads (each one epoll loop)
  size_t max_head_bytes = 8192;    // request head limit; 431 past it
  int header_timeout_ms = 10000;   // accept -> complete request head; 408 after
  int connect_timeout_ms = 10000;  // upstream TCP connect; 504 after
  int dns_timeout_ms = 5000;       // per lookup (c-ares); 502 after
  int idle_timeout_ms = 300000;    // tunnel with no bytes either way; closed after
  int max_connections = 1024;      // concurrent client connections; 503 past it
  std::string dns_servers;         // c-ares "ip:port,..." ; empty = resolv.conf
  bool use_splice = true;          // false: read/write buffer loop
  int pipe_size = 1 << 20;      // F_SETPIPE_SZ for tunnel pipes (best effort); 0 = kernel default
  bool identify_always = true;  // resolve the caller for audit even if no rule needs it
  bool tcp_nodelay = true;      // TCP_NODELAY on both sides of a tunnel
  // Serve only connections attributed to the sandbox (a connect-guard
  // record, or a holder below the sandbox root): `run` sets it, since its
  // proxy listens where every local process can reach it.
  bool sandbox_only = false;
  // Names the run in the inspecting proxy's CA certificate (docs/l7.md).
  std::string ca_label = "standalone";
  // The run's credentials (docs/credentials.md): the inspector puts their
  // values on the wire where they are bound. Null: none.
  std::shared_ptr<const cred::Store> credentials;
};

struct DenialCount {
  std::string target;  // host:port
  std::string binary;  // caller executable, or "unknown"
  uint64_t count = 0;
};

struct ProxyCounters {
  uint64_t accepted = 0, allowed = 0, denied = 0, errors = 0, over_capacity = 0;
  int active = 0;
};

class Worker;
}  // namespace rf::proxy
namespace rf::tls {
class Authority;
}  // namespace rf::tls
namespace rf::proxy {

class Proxy {
 public:
  static Result<std::unique_ptr<Proxy>> Create(const ProxyConfig& config, const Policy& policy,
                                               AuditSink* audit);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  // The certificate authority the inspecting proxy signs with, or null when
  // no endpoint inspects (the command must trust it: docs/l7.md).
  const tls::Authority* authority() const;
  Proxy& operator=(const Proxy&) = delete;

  // Serves on `listener` (a bound, listening TCP socket; made non-blocking)
  // until Stop(). The caller creates it, possibly in another network namespace.
  Status Start(UniqueFd listener);
  // Caller identity is looked up among descendants of `root` (0: any process
  // but pid 1), in root's network namespace view of /proc/<root>/net/tcp.
  void SetSandboxRoot(pid_t root);
  // Who connected, recorded by the connect guard (process/caller.h); set before
  // Start(). With it, a connection it has no entry for names nobody (no
  // search for the socket's holders).
  void SetConnectLedger(std::shared_ptr<ConnectLedger> ledger);
  // The connect guard's question for a direct connect to a policy name
  // (docs/transparent-tcp.md): thread-safe, decided by this proxy's policy.
  CaptureDecision DecideCapture(const std::string& host, uint16_t port,
                                const std::vector<std::string>& caller) const;
  void Stop();
  // Live policy (docs/live-policy.md): from now on new connections are
  // decided by `policy`'s network_policies; connections already decided keep
  // the rules they were decided with. Refused, changing nothing, when the
  // new rules inspect and this proxy was made without an authority (the
  // command trusts the run's CA from its start: it cannot be added later).
  Status ReplaceNetworkPolicies(const Policy& policy);

  std::vector<DenialCount> DenialSummary() const;
  // "ringfence: proxy denied N connection(s):\n  host:port  binary  xN\n" or "".
  static std::string FormatDenialSummary(const std::vector<DenialCount>& d);
  ProxyCounters Counters() const;

  // What the worker threads share (proxy/shared.h, internal).
  struct Shared;

 private:
  Proxy(const ProxyConfig& config, const Policy& policy, AuditSink* audit);

  std::unique_ptr<Shared> shared_;
  UniqueFd listener_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  AuditSink null_audit_;
};

}  // namespace rf::proxy
