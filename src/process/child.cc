// The command's side of a spawn (see spawn_internal.h): what the
// command's process runs between init's clone and execve.
//
// Everything in this file runs in a process that shares the supervisor's
// memory, before exec: async-signal-safe calls only, on data prepared before
// init was cloned (Prepared, ChildStep). No allocation, no locks, no stdio,
// no exceptions; nothing is written but the command's own stack (and errno,
// see spawn_internal.h). Keep it that way: anything else belongs in the
// supervisor, before the clone.
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/securebits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "process/spawn_internal.h"

namespace rf::spawn_internal {

void FailChild(int err_w, int stage, int err) noexcept {
  ChildFailure f{stage, err};
  sys::Write(err_w, &f, sizeof f);
  _exit(stage == kStageExec ? (err == ENOENT ? 127 : 126) : 125);
}

namespace {

// The command's sequence, in the order docs/architecture.md lists it.
[[noreturn]] void RunCommand(const Prepared& p) {
  const pid_t init = getppid();
  if (setpgid(0, 0) != 0) FailChild(p.err_w, kStageSetpgid, errno);
  // The command's own terminal (init made it the controlling terminal of
  // its session) instead of each standard descriptor that was a terminal.
  for (int fd = 0; fd <= 2; ++fd) {
    if (p.pty_slave >= 0 && p.pty_replace[fd] && dup2(p.pty_slave, fd) < 0)
      FailChild(p.err_w, kStageTerminal, errno);
  }
  if (p.tty_fd >= 0) {
    // From a background group, tcsetpgrp raises SIGTTOU: it is blocked here
    // (the whole mask is, inherited from init).
    if (tcsetpgrp(p.tty_fd, getpid()) != 0) FailChild(p.err_w, kStageTerminal, errno);
  }
  for (size_t i = 0; i < p.n_priv; ++i) {
    if (int err = p.priv_steps[i]->Apply())
      FailChild(p.err_w, kStepBase + static_cast<int>(i), err);
  }
  if (p.drop) {
    // Lock root out before giving it up: no capabilities from uid 0 or
    // setuid-root binaries, ever, in this process tree.
    syscall(SYS_prctl, PR_SET_SECUREBITS,
            SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
                SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
            0, 0, 0);
    if (syscall(SYS_setgroups, 0, nullptr) != 0) FailChild(p.err_w, kStageDropGroups, errno);
    // Capabilities are numbered from 0 without gaps: the first EINVAL is
    // past the kernel's last one (no need to read cap_last_cap from /proc).
    for (int cap = 0; cap < 64; ++cap) {
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
      if (errno == EINVAL) break;
      FailChild(p.err_w, kStageDropBounding, errno);
    }
    if (syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0) FailChild(p.err_w, kStageDropGid, errno);
    if (syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0) FailChild(p.err_w, kStageDropUid, errno);
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (p.drop) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capset, &hdr, data) != 0) FailChild(p.err_w, kStageDropCaps, errno);
    if (syscall(SYS_setresuid, 0, 0, 0) == 0 || syscall(SYS_setresgid, 0, 0, 0) == 0 ||
        getuid() != p.uid || geteuid() != p.uid || getgid() != p.gid)
      FailChild(p.err_w, kStageVerifyDrop, EPERM);
  }
  // The credential change above cleared any earlier parent-death signal.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) FailChild(p.err_w, kStageDeathSig, errno);
  if (getppid() != init) _exit(125);
  struct rlimit no_core = {0, 0};
  if (setrlimit(RLIMIT_CORE, &no_core) != 0) FailChild(p.err_w, kStageRlimit, errno);
  // The supervisor raised its own descriptor limit for the proxy; the
  // command gets the caller's.
  if (p.nofile.rlim_cur && setrlimit(RLIMIT_NOFILE, &p.nofile) != 0)
    FailChild(p.err_w, kStageRlimit, errno);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) FailChild(p.err_w, kStageNoNewPrivs, errno);
  if (p.workdir && chdir(p.workdir) != 0) FailChild(p.err_w, kStageChdir, errno);
  // Every descriptor the caller left open, except stdio, is closed at exec;
  // the prepared ones (error pipe, Landlock ruleset) stay usable until then.
  if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0)
    FailChild(p.err_w, kStageCloseFds, errno);
  // Default dispositions and an empty mask for the command.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &dfl, nullptr);  // EINVAL for the glibc-internal ones
  }
  for (size_t i = 0; i < p.n_confine; ++i) {
    if (int err = p.confine_steps[i]->Apply())
      FailChild(p.err_w, kStepBase + static_cast<int>(p.n_priv + i), err);
  }
  sigset_t empty;
  sigemptyset(&empty);
  if (sigprocmask(SIG_SETMASK, &empty, nullptr) != 0) FailChild(p.err_w, kStageSignals, errno);
  execve(p.exe, p.argv, p.envp);
  FailChild(p.err_w, kStageExec, errno);
}

}  // namespace

int CommandEntry(void* arg) {
  const auto* a = static_cast<const CommandArgs*>(arg);
  sys::Close(a->p->status_w);
  sys::Close(a->sfd);
  RunCommand(*a->p);
}

}  // namespace rf::spawn_internal
