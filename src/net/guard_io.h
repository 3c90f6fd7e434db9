// Small pieces the connect guard's handlers share: answering a seccomp
// notification, installing a socket over the caller's descriptor, the
// address it passed, and (net/proc_read.h) what /proc says about its
// descriptors.
#pragma once

#include <linux/seccomp.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/proc_read.h"

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

// The first "@..." entry of `allowed` that matches `shown` (exactly or as a
// glob); null when none does.
const std::string* FirstListedAbstract(const std::vector<std::string>& allowed,
                                       const std::string& shown);
inline bool ListedAbstract(const std::vector<std::string>& allowed, const std::string& shown) {
  return FirstListedAbstract(allowed, shown) != nullptr;
}

// A fresh prefix for the abstract names one sandbox binds ("rf-" and 16
// random hex digits and "/"): unguessable before the run, and distinct for
// sandboxes side by side.
std::string RandomAbstractPrefix();

// The local address `sock` will connect to `to` (the proxy, on loopback)
// from: its own when bound, else the loopback address of `to`'s family with
// a port the kernel picks now. 0 or an errno.
int LocalAddressForProxy(int sock, const sockaddr_storage& to, sockaddr_storage* local);

// Whether `to` is the proxy's listening address: 127.0.0.1 (or its
// IPv4-mapped IPv6 spelling) on `proxy_port`.
bool IsProxyAddress(const sockaddr_storage& to, uint16_t proxy_port);

}  // namespace rf
