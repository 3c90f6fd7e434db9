#include "net/unix_diag.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "net/diag_dump.h"

namespace rf {

Result<UniqueFd> OpenUnixDiag() {
  UniqueFd fd(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd.valid()) return Status::Errno("socket(NETLINK_SOCK_DIAG)");
  return fd;
}

namespace {

// Dumps the unix sockets in `states` (a bit per TCP state) with the
// attribute `show` and calls `each(socket inode, attribute)` for every
// attribute of that type.
template <typename F>
Status DumpSockets(int diag_fd, uint32_t states, uint32_t show, int attr_type, F each) {
  struct {
    nlmsghdr nlh;
    unix_diag_req req;
  } msg;
  memset(&msg, 0, sizeof msg);
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.nlh.nlmsg_seq = 1;
  msg.req.sdiag_family = AF_UNIX;
  msg.req.udiag_states = states;
  msg.req.udiag_show = show;
  return DiagDump(diag_fd, &msg, sizeof msg, [&](const nlmsghdr& h) {
    const auto* m = reinterpret_cast<const unix_diag_msg*>(NLMSG_DATA(&h));
    int len = static_cast<int>(h.nlmsg_len - NLMSG_LENGTH(sizeof *m));
    for (auto* a = reinterpret_cast<rtattr*>(const_cast<unix_diag_msg*>(m) + 1); RTA_OK(a, len);
         a = RTA_NEXT(a, len)) {
      if (a->rta_type == attr_type) each(m->udiag_ino, a);
    }
  });
}

constexpr uint32_t kListening = 1u << 10;  // TCP_LISTEN

Result<std::vector<uint64_t>> SocketsNamed(int diag_fd, uint32_t states, const std::string& name) {
  std::vector<uint64_t> found;
  Status s =
      DumpSockets(diag_fd, states, UDIAG_SHOW_NAME, UNIX_DIAG_NAME, [&](uint64_t sock, rtattr* a) {
        // The payload is sun_path as bound: a NUL then the abstract name.
        const char* p = static_cast<const char*>(RTA_DATA(a));
        size_t n = RTA_PAYLOAD(a);
        if (n == name.size() + 1 && p[0] == '\0' && memcmp(p + 1, name.data(), name.size()) == 0)
          found.push_back(sock);
      });
  if (!s.ok()) return s;
  return found;
}

}  // namespace

Result<std::vector<uint64_t>> ListenersBoundTo(int diag_fd, dev_t dev, ino_t ino) {
  // The kernel reports the VFS device in its internal encoding.
  const uint32_t want_major = major(dev), want_minor = minor(dev);
  std::vector<uint64_t> found;
  Status s = DumpSockets(diag_fd, kListening, UDIAG_SHOW_VFS, UNIX_DIAG_VFS,
                         [&](uint64_t sock, rtattr* a) {
                           if (RTA_PAYLOAD(a) < sizeof(unix_diag_vfs)) return;
                           unix_diag_vfs v;
                           memcpy(&v, RTA_DATA(a), sizeof v);
                           uint32_t kmaj = v.udiag_vfs_dev >> 20, kmin = v.udiag_vfs_dev & 0xfffff;
                           if (v.udiag_vfs_ino == ino && kmaj == want_major && kmin == want_minor)
                             found.push_back(sock);
                         });
  if (!s.ok()) return s;
  return found;
}

Result<std::vector<uint64_t>> ListenersNamed(int diag_fd, const std::string& name) {
  return SocketsNamed(diag_fd, kListening, name);
}

Result<std::vector<uint64_t>> SocketsBoundNamed(int diag_fd, const std::string& name) {
  return SocketsNamed(diag_fd, ~0u, name);
}

}  // namespace rf
