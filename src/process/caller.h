// Who a process of the sandbox is, for the network policy: the process
// and its ancestors inside the sandbox with their executables, read from
// /proc; and the ledger in which the connect guard records who asked for
// each connection to the proxy, which the proxy then takes (the guard in
// net/ writes it, the proxy in proxy/ reads it: neither depends on the other).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
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
// taken at that moment, under the client socket's local address and port,
// before it answers the call. The proxy takes the entry under its accepted
// connection's peer address: a hash lookup, no system call. A socket handed
// to another process, or an exec after the connect, changes nothing.
//
// Why the address is enough: the client cannot send a byte before the guard
// answers, and the proxy takes the entry only once bytes arrived, so the
// entry is there; a later connection from the same address and port is
// made by the guard too, which replaces the entry before that connection can
// send; the proxy drops an entry it did not take when the connection closes.
// Thread-safe; the oldest entries go past 4096.
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
  static constexpr size_t kMaxEntries = 4096;

  // `client`: getsockname() of the socket that connected to the proxy.
  void Record(const sockaddr_storage& client, CallerIdentity id);
  // The entry for `client` (getpeername() of the accepted connection),
  // removed; false when there is none.
  bool Take(const sockaddr_storage& client, CallerIdentity* out);
  // Forgets the entry for `client`, if any (its connection closed).
  void Drop(const sockaddr_storage& client);
  size_t size() const;

  // A capture, under the client socket's local address like Record, made
  // before the guard connects (the proxy acts on it when it accepts).
  void RecordCapture(const sockaddr_storage& client, CapturedDestination to);
  bool TakeCapture(const sockaddr_storage& client, CapturedDestination* out);
  // Whether any capture waits to be taken.
  bool CapturesPending() const { return captures_pending_.load() > 0; }

 private:
  // An inet address and port; IPv4 as its IPv4-mapped IPv6 form, so both
  // spellings of one client meet.
  struct Key {
    std::array<uint8_t, 16> addr{};
    uint16_t port = 0;
    bool operator==(const Key& o) const { return port == o.port && addr == o.addr; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Entry {
    CallerIdentity id;
    uint64_t seq = 0;
  };
  static bool KeyOf(const sockaddr_storage& ss, Key* out);
  void Trim();

  mutable std::mutex mu_;
  std::unordered_map<Key, Entry, KeyHash> by_client_;
  // Insertion order, for the bound; an element whose seq no longer matches
  // its entry was taken or replaced and is skipped.
  std::deque<std::pair<Key, uint64_t>> order_;
  uint64_t next_seq_ = 0;
  std::unordered_map<Key, CapturedDestination, KeyHash> captured_;
  std::deque<Key> captured_order_;
  std::atomic<size_t> captures_pending_{0};
};

}  // namespace rf
