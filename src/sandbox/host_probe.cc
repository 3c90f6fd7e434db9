#include "sandbox/host_probe.h"

#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd.h"
#include "common/file.h"
#include "net/connect_guard.h"
#include "seccomp/notify.h"

namespace rf {

namespace {

// Runs unshare(CLONE_NEWUSER|CLONE_NEWNET) in a forked child (as uid 65534
// when `as_nobody`); returns 0 or the errno. Only raw syscalls in the child.
int ProbeUnshare(bool as_nobody) {
  pid_t pid = fork();
  if (pid < 0) return errno;
  if (pid == 0) {
    if (as_nobody) {
      if (syscall(SYS_setgroups, 0, nullptr) != 0 ||
          syscall(SYS_setresgid, 65534, 65534, 65534) != 0 ||
          syscall(SYS_setresuid, 65534, 65534, 65534) != 0)
        _exit(errno & 0x7f);
    }
    if (syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNET) != 0) _exit(errno & 0x7f);
    _exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return errno;
  if (!WIFEXITED(status)) return EINVAL;
  return WEXITSTATUS(status);
}

// The errno of pidfd_getfd on ourselves (0 = it works): what a container's
// profile refuses, said by the doctor.
int PidfdGetfdErrno() {
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0)));
  if (!pidfd.valid()) return errno;
  UniqueFd copy(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), pidfd.get(), 0)));
  return copy.valid() ? 0 : errno;
}

uint64_t EffectiveCapabilities() {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return 0;
  return (static_cast<uint64_t>(data[1].effective) << 32) | data[0].effective;
}

}  // namespace

Result<HostProbe> ProbeHost(const HostProbeScope& scope) {
  HostProbe h;
  auto cap = landlock::ParseAbiCap(getenv("RINGFENCE_TEST_LANDLOCK_ABI"));
  if (!cap.ok()) return cap.status().With("landlock");
  h.landlock = landlock::ProbeAbi(*cap);
  h.user_notification = seccomp::ProbeUserNotification();
  h.pidfd_getfd = PidfdGetfdWorks();
  h.uid = geteuid();
  h.real_uid = getuid();
  h.gid = getegid();
  h.cap_eff = EffectiveCapabilities();
  if (scope.namespaces) h.namespaces = ProbeNamespaceSetup(h.root() && h.HasCap(CAP_SYS_ADMIN));
  if (scope.doctor) {
    // What only the doctor says: why a part is missing, and this process's
    // own state. A run decides by the answers above and never pays for these.
    uint32_t action = SECCOMP_RET_ERRNO;
    h.seccomp_filter = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
    h.pidfd_getfd_errno = PidfdGetfdErrno();
    if (auto yama = ReadSmallFile("/proc/sys/kernel/yama/ptrace_scope", 64); yama.ok())
      h.yama_ptrace_scope = atoi(yama->c_str());
    h.no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
    h.seccomp_mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
    if (h.seccomp_mode < 0) h.seccomp_mode = 0;
    h.userns_errno = ProbeUnshare(false);
    if (h.root()) h.userns_nobody_errno = ProbeUnshare(true);
    h.file_denials = KernelAuditReader::Probe(std::min(static_cast<int>(h.landlock.used), 7),
                                              h.landlock.used > 0);
  }
  return h;
}

std::optional<NamespaceSupport> NamespaceMode(const HostProbe& host) {
  if (!host.namespaces) return std::nullopt;
  return NamespaceModeSupport(*host.namespaces, host.pidfd_getfd, host.root(),
                              host.HasCap(CAP_SYS_PTRACE));
}

}  // namespace rf
