// Caller identity: which process (and which executables) opened a TCP
// connection to the proxy.
//
// 1. Find the client socket's inode in <proc>/<ns_pid>/net/tcp{,6} by the
//    accepted connection's 4-tuple (the client's local address is the
//    proxy's peer address). <ns_pid> is a process in the client's network
//    namespace (the sandbox root in namespace mode; "self" otherwise).
// 2. Find a process in the sandbox holding socket:[inode] in /proc/<pid>/fd.
// 3. Walk its ancestors while they are inside the sandbox (descendants of the
//    sandbox root; without a root, up to but not including pid 1), reading
//    /proc/<pid>/exe of each.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace rf::proxy {

struct CallerIdentity {
  pid_t pid = 0;
  std::vector<pid_t> chain;       // pid, parent, grandparent... inside the sandbox
  std::vector<std::string> exes;  // /proc/<pid>/exe for each of chain
};

class IdentityResolver {
 public:
  // sandbox_root 0: no sandbox, every process but pid 1 counts.
  explicit IdentityResolver(pid_t sandbox_root = 0, std::string proc = "/proc")
      : root_(sandbox_root), proc_(std::move(proc)) {}

  // `client` is getpeername() of the accepted socket, `proxy` getsockname().
  Result<CallerIdentity> Resolve(const sockaddr_storage& client, const sockaddr_storage& proxy);

  // Pieces, exposed for tests.
  Result<unsigned long> FindInode(const sockaddr_storage& client,
                                  const sockaddr_storage& proxy) const;
  pid_t ParentOf(pid_t pid) const;

 private:
  bool HoldsInode(pid_t pid, const std::string& link) const;
  bool InSandbox(pid_t pid) const;

  pid_t root_;
  std::string proc_;
  std::vector<pid_t> recent_;  // owners found lately: checked first
};

}  // namespace rf::proxy
