// One NETLINK_SOCK_DIAG dump: the request sent, every reply message handed
// to a callback until the kernel's end of dump (src/net/unix_diag.cc,
// src/net/inet_diag.cc).
#pragma once

#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/status.h"

namespace rf {

// Sends `request` (an nlmsghdr and the family's request) and calls
// `each(const nlmsghdr&)` for every message of the reply. The whole dump is
// read even when the caller has what it wants: the next request on the
// socket must not see the rest of this one.
template <typename Each>
Status DiagDump(int diag_fd, const void* request, size_t length, Each each) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(diag_fd, request, length, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return Status::Errno("sock_diag request");
  alignas(nlmsghdr) char buf[32768];
  for (int rounds = 0; rounds < 100000; ++rounds) {
    ssize_t n = recv(diag_fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Errno("sock_diag reply");
    }
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<unsigned>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) return Status::Ok();
      if (h->nlmsg_type == NLMSG_ERROR)
        return Status::Error("sock_diag: the kernel refused the dump");
      each(*h);
    }
  }
  return Status::Error("sock_diag: no end of dump");
}

}  // namespace rf
