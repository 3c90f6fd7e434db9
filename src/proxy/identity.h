// Caller identity: which process (and which executables) opened a TCP
// connection to the proxy.
//
// 1. Find the client socket's inode by the accepted connection's 4-tuple
//    (the client's local address is the proxy's peer address): with a
//    sock_diag netlink query (O(1)) on a socket of the client's network
//    namespace (in namespace mode created there by a short-lived thread that
//    joins it), else, when that is refused, in <proc>/<ns_pid>/net/tcp{,6},
//    where <ns_pid> is the sandbox root (its namespace's view; "self" without
//    a root).
// 2. Find a process in the sandbox holding socket:[inode] in /proc/<pid>/fd:
//    recent owners first, then the root and its descendants (via
//    /proc/<pid>/task/<tid>/children), or every process without a root.
// 3. Walk its ancestors while they are inside the sandbox (the root and its
//    descendants; without a root, up to but not including pid 1), reading
//    /proc/<pid>/exe of each (ChainOf, process/caller.h); one whose environment sets a loader
//    variable (LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH, GCONV_PATH) is named
//    "<exe> (VARIABLE)", which no binary rule matches.
// Under `ringfence run` the connect guard's ConnectLedger names the caller
// first (the process that called connect(), when it did); the search above
// is the fallback (degraded runs without user notification, `ringfence
// proxy` on its own), and names the first holder it finds.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "common/fd.h"
#include "common/status.h"
#include "process/caller.h"

namespace rf::proxy {

class IdentityResolver {
 public:
  // sandbox_root 0: no sandbox, every process but pid 1 counts.
  explicit IdentityResolver(pid_t sandbox_root = 0, std::string proc = "/proc")
      : root_(sandbox_root), proc_(std::move(proc)) {
    Init();  // opens the sock_diag socket now, not on the first connection
  }

  // `client` is getpeername() of the accepted socket, `proxy` getsockname().
  Result<CallerIdentity> Resolve(const sockaddr_storage& client, const sockaddr_storage& proxy);

  // Steps 2 and 3 for a socket found otherwise (the sandbox resolver's
  // UDP clients, src/dns/resolver.h).
  Result<CallerIdentity> ResolveInode(unsigned long inode);

  // Pieces, exposed for tests.
  Result<unsigned long> FindInode(const sockaddr_storage& client,
                                  const sockaddr_storage& proxy) const;
  pid_t ParentOf(pid_t pid) const;

 private:
  void Init();
  void Descendants(pid_t root, std::vector<pid_t>* out) const;
  bool HoldsInode(pid_t pid, const std::string& link) const;
  bool InSandbox(pid_t pid) const;

  pid_t root_;
  std::string proc_;
  std::vector<pid_t> recent_;  // owners found lately: checked first
  bool initialized_ = false;
  bool diag_ok_ = false;
  UniqueFd diag_;  // NETLINK_SOCK_DIAG, when in the client's namespace
};

}  // namespace rf::proxy
