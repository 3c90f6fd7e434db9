// Whether a TCP socket listens on a port, through the kernel's sock_diag
// interface (NETLINK_SOCK_DIAG, inet_diag). The dump is filtered by the
// kernel to listening sockets, so its cost does not grow with the
// connections (and TIME_WAIT entries) of the namespace, as reading
// /proc/<pid>/net/tcp does.
#pragma once

#include <cstdint>

#include "common/status.h"

namespace rf {

// True when a TCP socket of the namespace `diag_fd` was created in listens
// on `port` (IPv4 or IPv6, any address).
Result<bool> TcpListensOn(int diag_fd, uint16_t port);

}  // namespace rf
