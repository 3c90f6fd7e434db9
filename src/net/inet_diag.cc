#include "net/inet_diag.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>

#include "net/diag_dump.h"

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
  bool found = false;
  Status s = DiagDump(diag_fd, &msg, sizeof msg, [&](const nlmsghdr& h) {
    const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(&h));
    if (ntohs(m->id.idiag_sport) == port) found = true;
  });
  if (!s.ok()) return s;
  return found;
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
