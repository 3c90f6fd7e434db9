// Which listening unix socket is bound to a filesystem inode, through the
// kernel's sock_diag interface (NETLINK_SOCK_DIAG, AF_UNIX, UDIAG_SHOW_VFS).
// A sock_diag socket reports the sockets of the network namespace it was
// created in: namespace mode gets one made inside the sandbox's namespace.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "common/fd.h"
#include "common/status.h"
#include "net/proc_read.h"  // HeldByAny, ProcessTree

namespace rf {

// A NETLINK_SOCK_DIAG socket in the caller's network namespace.
Result<UniqueFd> OpenUnixDiag();

// The socket inodes of listening unix sockets bound to the file (dev, ino)
// (st_dev / st_ino of the socket file, as stat(2) gives them).
Result<std::vector<uint64_t>> ListenersBoundTo(int diag_fd, dev_t dev, ino_t ino);

// The socket inodes of listening unix sockets bound to the abstract name
// `name` (without the leading NUL).
Result<std::vector<uint64_t>> ListenersNamed(int diag_fd, const std::string& name);

// The socket inodes of unix sockets of any state (datagram ones included)
// bound to the abstract name `name`.
Result<std::vector<uint64_t>> SocketsBoundNamed(int diag_fd, const std::string& name);

}  // namespace rf
