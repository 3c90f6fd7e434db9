// Seccomp user notification plumbing.
//
// When the profile has a "notify" action (connect() checking in platform
// mode, or audited denials), the command's process installs its filter with
// SECCOMP_FILTER_FLAG_NEW_LISTENER and sends the listener fd to the
// supervisor over a socketpair prepared before fork (sendmsg + SCM_RIGHTS,
// async-signal-safe, rf::SendFd in common/scm.h). The supervisor receives it with ReceiveListener()
// once the command has been exec'ed (the step runs before exec, so by then the fd is already
// queued) and runs its listener loop on it.
//
// If the listener is closed, every pending and future notified call fails
// with ENOSYS: the sandbox fails closed.
#pragma once

#include <linux/seccomp.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "audit/audit.h"
#include "common/fd.h"
#include "common/status.h"

namespace rf::seccomp {

struct ListenerChannel {
  UniqueFd supervisor;  // ReceiveListener() reads here
  UniqueFd child;       // the command's step sends here
};

// An AF_UNIX SOCK_SEQPACKET socketpair, both ends O_CLOEXEC.
Result<ListenerChannel> MakeListenerChannel();

// Waits up to `timeout_ms` for a descriptor on `sock` and returns it
// (O_CLOEXEC). Fails on timeout, on EOF and when no fd came with the message.
Result<UniqueFd> ReceiveListener(int sock, int timeout_ms);

struct Notification {
  uint64_t id = 0;
  pid_t pid = 0;
  int nr = -1;          // system call number (x86_64)
  std::string syscall;  // its name
  uint64_t args[6] = {};
};

// Blocks until the next notification arrives on `listener`.
Result<Notification> ReceiveNotification(int listener);

// The notification a SECCOMP_IOCTL_NOTIF_RECV request describes.
Notification FromRequest(const struct seccomp_notif& req);

// Answers notification `id`: the call fails with `err` (> 0).
Status RespondError(int listener, uint64_t id, int err);

// Whether a filter with a user-notification listener can be installed here
// and connects can be done on the command's behalf: the kernel needs
// SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SETFD (Linux 5.9), and a
// seccomp filter this process already runs under (a container runtime's
// profile) must not refuse SECCOMP_FILTER_FLAG_NEW_LISTENER. Under such a
// filter a short-lived child tries it (before any thread exists). The error
// says what is missing.
Status ProbeUserNotification();

// The audit event for a denied call answered with `err`.
AuditEvent DenialEvent(const Notification& n, int err);

}  // namespace rf::seccomp
