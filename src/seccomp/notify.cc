#include "seccomp/notify.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
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
  return FromRequest(*req);
}

Notification FromRequest(const struct seccomp_notif& req) {
  Notification n;
  n.id = req.id;
  n.pid = static_cast<pid_t>(req.pid);
  n.nr = req.data.nr;
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, n.nr);
  n.syscall = name ? name : "syscall " + std::to_string(n.nr);
  free(name);
  for (int i = 0; i < 6; ++i) n.args[i] = req.data.args[i];
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

Status ProbeUserNotification() {
  struct utsname u;
  int major = 0, minor = 0;
  if (uname(&u) == 0 && sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
      (major < 5 || (major == 5 && minor < 9)))
    return Status::Error("the kernel (" + std::string(u.release) +
                         ") has no SECCOMP_ADDFD_FLAG_SETFD (Linux 5.9)");
  struct seccomp_notif_sizes sizes;
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
    return Status::Errno("seccomp(SECCOMP_GET_NOTIF_SIZES)");
  if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2) return Status::Ok();  // no filter above us
  // A filter is in force (a container's profile): try a listener in a child.
  pid_t child = fork();
  if (child < 0) return Status::Errno("fork (seccomp probe)");
  if (child == 0) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {1, &allow};
    long fd =
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    _exit(fd >= 0 ? 0 : (errno > 0 && errno < 256 ? errno : 255));
  }
  int st = 0;
  while (waitpid(child, &st, 0) < 0) {
    if (errno != EINTR) return Status::Errno("waitpid (seccomp probe)");
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return Status::Ok();
  int err = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
  return Status::Error(std::string("the seccomp filter this process runs under refuses a "
                                   "user-notification listener (") +
                       (err > 0 && err < 255 ? strerror(err) : "the probe was killed") + ")");
}

}  // namespace rf::seccomp
