// Who a process of the sandbox is, for the network policy: the process
// and its ancestors inside the sandbox with their executables, read from
// /proc; and the ledger in which the connect guard records who asked for
// each connection to the proxy, which the proxy then takes (the guard in
// net/ writes it, the proxy in proxy/ reads it: neither depends on the other).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace rf {

struct CallerIdentity {
  pid_t pid = 0;
  std::vector<pid_t> chain;       // pid, parent, grandparent... inside the sandbox
  std::vector<std::string> exes;  // /proc/<pid>/exe for each of chain
};

// The calling process `pid` and its ancestors inside the sandbox: up to and
// including `root` (the sandboxed command), or, for an orphan reparented to
// the sandbox's init, up to the last process below init; never the
// supervisor (this process) or init. `root` 0: up to but not including pid 1.
// `init`: where chains stop (-1: the root's parent now).
Result<CallerIdentity> ChainOf(pid_t pid, pid_t root, const std::string& proc = "/proc",
                               pid_t init = -1);

// The parent of `pid` from <proc>/<pid>/stat; 0 when it cannot be read.
pid_t ParentOfPid(pid_t pid, const std::string& proc = "/proc");

// Who connected to the proxy. The connect guard makes every connect() of the
// sandbox itself (docs/unix-sockets.md, docs/network-modes.md); for each one
// to the proxy it records the identity of the process that called connect(),
// taken at that moment, under the client socket's inode (unique among live
// sockets, so an entry left by an earlier connection is never taken for
// another). The proxy finds the inode of each accepted connection's client
// socket and takes the entry instead of searching which processes hold the
// socket later: a socket handed to another process, or an exec after the
// connect, changes nothing. Thread-safe; the oldest entries go past 4096.
//
// Transparent TCP and capture (docs/transparent-tcp.md): a connect the guard
// redirected from a policy name's synthetic address to the proxy is recorded
// too, before the guard connects, with the destination the command asked
// for; the proxy takes it when it accepts the connection, instead of reading
// a request head. Only the guard writes entries, each is taken once, and the
// oldest go past 4096 (a connect that never reached the proxy).
struct CapturedDestination {
  std::string host;  // the policy name the synthetic address was given to
  uint16_t port = 0;
  // protocol: tcp: the bytes are carried as they are. Otherwise the
  // connection enters the proxy's HTTP(S) path: the TLS SNI or the Host
  // header must name `host`.
  bool raw = false;
};

// The guard's decision for a connect to a policy name (made by the proxy's
// policy code: src/proxy/capture.h), before it redirects anything.
struct CaptureDecision {
  bool allowed = false;
  bool raw = false;    // allowed: carried as protocol: tcp
  std::string reason;  // refused: why
  std::string hint;    // refused: which policy entry would allow it
  std::string policy;  // the network_policies entry involved
};

class ConnectLedger {
 public:
  void Record(unsigned long inode, CallerIdentity id);
  // The entry for the client socket `inode`, removed; false when there is none.
  bool Take(unsigned long inode, CallerIdentity* out);

  void RecordCapture(unsigned long inode, CapturedDestination to);
  bool TakeCapture(unsigned long inode, CapturedDestination* out);
  // Whether any capture waits to be taken (the proxy looks up the inode of
  // an accepted connection only then).
  bool CapturesPending() const { return captures_pending_.load() > 0; }

 private:
  std::mutex mu_;
  std::map<unsigned long, CallerIdentity> by_inode_;
  std::deque<unsigned long> order_;
  std::map<unsigned long, CapturedDestination> captured_;
  std::deque<unsigned long> captured_order_;
  std::atomic<size_t> captures_pending_{0};
};

}  // namespace rf
