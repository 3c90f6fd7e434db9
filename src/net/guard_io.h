// Small pieces the connect guard's handlers share: answering a seccomp
// notification, installing a socket over the caller's descriptor, and what
// /proc says about the caller's descriptor and the address it passed.
#pragma once

#include <linux/seccomp.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace rf {

// Whether notification `id` is still pending (its caller alive, the call
// not interrupted): checked after reading anything of the caller's, so a
// recycled pid cannot be acted upon.
bool IdValid(int listener, uint64_t id);

// Answers notification `id` with `error` (0 = success), or "continue" when
// `cont` (the kernel then reads the caller's arguments again).
void Respond(int listener, uint64_t id, int error, bool cont);

// Answers notification `id` with the return value `val` (a byte count).
void RespondValue(int listener, uint64_t id, int64_t val);

// Reads `len` bytes at `addr` in process `pid`; false unless all were read.
// Check IdValid() after reading, before acting on it.
bool ReadRemote(pid_t pid, uint64_t addr, void* out, size_t len);

// Installs our socket `sock` over the caller's descriptor `fd` (same number,
// its O_CLOEXEC from `flags` kept) and answers the call with `call_err`.
// When the descriptor cannot be installed the call is answered with that
// error instead, which is returned.
int InstallAndRespond(int listener, uint64_t id, int sock, int fd, int flags, int call_err);

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

// A socket address copied from the caller, under the kernel's length rules
// (move_addr_to_kernel): a length that is negative as an int or larger than
// sockaddr_storage is EINVAL before anything is read. `err` is the errno
// the kernel would answer (EINVAL, EFAULT), 0 when `len` bytes were read.
// Check IdValid() after reading, before acting on it.
struct SockaddrCopy {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int err = 0;
};
SockaddrCopy ReadSockaddr(pid_t pid, uint64_t addr_ptr, uint64_t len_arg);

// An abstract name (no leading NUL) as audit lines show it and "@..."
// entries of network.unix_sockets match it: NULs inside the name (legal)
// shown as '@', as /proc/net/unix does.
std::string ShownAbstract(const std::string& name);

// Whether an "@..." entry of `allowed` matches `shown` (exactly or as a glob).
bool ListedAbstract(const std::vector<std::string>& allowed, const std::string& shown);

// A fresh prefix for the abstract names one sandbox binds ("rf-" and 16
// random hex digits and "/"): unguessable before the run, and distinct for
// sandboxes side by side.
std::string RandomAbstractPrefix();

}  // namespace rf
