// What /proc says about a process of the sandbox and its descriptors: the
// guards' only readers of /proc/<pid>/{status,fdinfo,fd,net}, each built on
// ReadSmallFile (one bounded read, then parsing; an unreadable or oversized
// file reads as "unknown", which each function documents).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace rf {

// The process (thread group) of thread `tid`, from /proc/<tid>/status; 0
// when it cannot be read.
pid_t ThreadGroupOf(pid_t tid);

// O_NONBLOCK / O_CLOEXEC of the caller's descriptor, from fdinfo; -1 when
// it cannot be read.
int RemoteFdFlags(pid_t pid, int fd);

// The caller's unix socket `fd` as /proc/<pid>/net/unix lists it: its type
// (SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM; 0 = not a unix socket, or
// unreadable) and whether it has an address already.
struct RemoteUnix {
  int type = 0;
  bool bound = false;
};
RemoteUnix RemoteUnixSocket(pid_t pid, int fd);

// The socket type of the caller's unix socket `fd`; 0 = unknown.
inline int RemoteUnixType(pid_t pid, int fd) { return RemoteUnixSocket(pid, fd).type; }

// Whether the caller's descriptor `fd` is a socket at all.
bool RemoteIsSocket(pid_t pid, int fd);

// The inode of the socket the caller's descriptor `fd` names: 0 when it is
// not a socket, -1 when there is no such descriptor.
int64_t RemoteSocketIno(pid_t pid, int fd);

// What the kernel shows, in the caller's /proc/<pid>/net, of socket `ino`:
// a unix socket (bound or not, listening or not); a TCP socket only once it
// listens or is connected (one merely bound is not listed, like one never
// bound).
struct RemoteSocketState {
  bool is_unix = false;
  bool bound = false;
  bool listening = false;
};
RemoteSocketState RemoteSocketStateOf(pid_t pid, uint64_t ino);

// Whether a TCP socket of `pid`'s network namespace listens on `port` (any
// address: a wildcard listener answers on loopback too), from its
// /proc/<pid>/net/tcp and tcp6. Unreadable: "yes" (nothing is claimed).
bool ListensInNamespaceOf(pid_t pid, uint16_t port);

// Calls `fn` with the inode of each socket `pid` holds (its
// /proc/<pid>/fd links "socket:[N]") until `fn` returns true; whether one
// did. A process that cannot be read holds nothing.
bool ForEachSocketOf(pid_t pid, const std::function<bool(uint64_t)>& fn);

// Whether any process among `pids` holds one of the socket inodes.
bool HeldByAny(const std::vector<pid_t>& pids, const std::vector<uint64_t>& socket_inodes);

// `root` and all its descendants (via /proc/<pid>/task/*/children), bounded.
std::vector<pid_t> ProcessTree(pid_t root, size_t max = 100000);

}  // namespace rf
