#include "net/inet_diag.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace rf {

namespace {

Result<bool> ListensOnFamily(int diag_fd, uint8_t family, uint16_t port) {
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg;
  memset(&msg, 0, sizeof msg);
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.nlh.nlmsg_seq = 1;
  msg.req.sdiag_family = family;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = 1u << TCP_LISTEN;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(diag_fd, &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return Status::Errno("sock_diag request");
  alignas(nlmsghdr) char buf[16384];
  bool found = false;
  // The whole dump is read even after a match: the next request on this
  // socket must not see the rest of this one.
  for (int rounds = 0; rounds < 100000; ++rounds) {
    ssize_t n = recv(diag_fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Errno("sock_diag reply");
    }
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<unsigned>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) return found;
      if (h->nlmsg_type == NLMSG_ERROR)
        return Status::Error("sock_diag: the kernel refused the dump");
      const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      if (ntohs(m->id.idiag_sport) == port) found = true;
    }
  }
  return Status::Error("sock_diag: no end of dump");
}

}  // namespace

Result<bool> TcpListensOn(int diag_fd, uint16_t port) {
  for (uint8_t family : {uint8_t{AF_INET}, uint8_t{AF_INET6}}) {
    auto listens = ListensOnFamily(diag_fd, family, port);
    if (!listens.ok() || *listens) return listens;
  }
  return false;
}

}  // namespace rf
