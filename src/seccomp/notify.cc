#include "seccomp/notify.h"

#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/scm.h"

namespace rf::seccomp {

Result<ListenerChannel> MakeListenerChannel() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return Status::Errno("socketpair for the seccomp listener");
  ListenerChannel ch;
  ch.supervisor.reset(sv[0]);
  ch.child.reset(sv[1]);
  return ch;
}

Result<UniqueFd> ReceiveListener(int sock, int timeout_ms) {
  struct pollfd pfd = {sock, POLLIN, 0};
  int n;
  do {
    n = poll(&pfd, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::Errno("poll on the seccomp listener channel");
  if (n == 0)
    return Status::Error("no seccomp listener received within " + std::to_string(timeout_ms) +
                         " ms");
  return ReceiveFd(sock);
}

Result<Notification> ReceiveNotification(int listener) {
  struct seccomp_notif_sizes sizes = {};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
    return Status::Errno("SECCOMP_GET_NOTIF_SIZES");
  // The kernel's struct may be larger than this header's.
  std::vector<char> buf(std::max<size_t>(sizes.seccomp_notif, sizeof(struct seccomp_notif)));
  auto* req = reinterpret_cast<struct seccomp_notif*>(buf.data());
  for (;;) {
    memset(buf.data(), 0, buf.size());
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) == 0) break;
    // ENOENT: the caller died (or was interrupted) before we got it.
    if (errno == EINTR || errno == ENOENT) continue;
    return Status::Errno("SECCOMP_IOCTL_NOTIF_RECV");
  }
  Notification n;
  n.id = req->id;
  n.pid = static_cast<pid_t>(req->pid);
  n.nr = req->data.nr;
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, n.nr);
  n.syscall = name ? name : "syscall " + std::to_string(n.nr);
  free(name);
  for (int i = 0; i < 6; ++i) n.args[i] = req->data.args[i];
  return n;
}

Status RespondError(int listener, uint64_t id, int err) {
  struct seccomp_notif_sizes sizes = {};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
    return Status::Errno("SECCOMP_GET_NOTIF_SIZES");
  std::vector<char> buf(
      std::max<size_t>(sizes.seccomp_notif_resp, sizeof(struct seccomp_notif_resp)));
  auto* resp = reinterpret_cast<struct seccomp_notif_resp*>(buf.data());
  resp->id = id;
  resp->error = -err;
  resp->val = 0;
  resp->flags = 0;
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0) {
    // ENOENT: the caller is gone; nothing to answer.
    if (errno == ENOENT) return Status::Ok();
    return Status::Errno("SECCOMP_IOCTL_NOTIF_SEND");
  }
  return Status::Ok();
}

AuditEvent DenialEvent(const Notification& n, int err) {
  nlohmann::json args = nlohmann::json::array();
  for (uint64_t a : n.args) args.push_back(a);
  const char* name = strerrorname_np(err);
  return AuditEvent{"seccomp",
                    "deny",
                    n.syscall,
                    std::string("system call refused by the seccomp profile: ") +
                        (name ? name : std::to_string(err)),
                    {{"pid", n.pid}, {"syscall_nr", n.nr}, {"args", args}, {"errno", err}}};
}

}  // namespace rf::seccomp
