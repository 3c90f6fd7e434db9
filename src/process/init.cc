// Init, the sandbox's reaper (see spawn_internal.h): a child subreaper,
// PID 1 of the sandbox's PID namespace in namespace mode. It creates the
// command, reaps orphans, reports the command's stops and exit to the
// supervisor, and kills and reaps the command's whole process tree when the
// command exits or the supervisor dies.
//
// Init shares the supervisor's memory and runs on its main thread's thread
// pointer for the command's whole life: raw system calls only (sys::, errno
// untouched), async-signal-safe, nothing written but its own stack.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "process/spawn_internal.h"

namespace rf {

namespace spawn_internal {

namespace {

// Opens /proc/PID/task and never closes it (init's descriptors go when init
// exits), see SpawnSpec::hold_task_dir. Called as soon as the command has
// exec'ed: the command's own descriptor on it is closed by that exec, later
// than init is resumed. Async-signal-safe.
void HoldTaskDir(pid_t pid) noexcept {
  char digits[16];
  size_t n = 0;
  for (unsigned long v = static_cast<unsigned long>(pid); n < sizeof digits && (n == 0 || v);
       v /= 10)
    digits[n++] = static_cast<char>('0' + v % 10);
  char path[48] = "/proc/";
  size_t len = 6;
  while (n) path[len++] = digits[--n];
  memcpy(path + len, "/task", 6);
  sys::OpenAt(AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

// SIGKILLs every pid listed in /proc/self/task/*/children. Returns how many.
int KillListedChildren() noexcept {
  int dir = static_cast<int>(
      sys::OpenAt(AT_FDCWD, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir < 0) return 0;
  int killed = 0;
  char dents[4096];
  for (;;) {
    long n = RawSyscall(SYS_getdents64, dir, reinterpret_cast<long>(dents), sizeof dents);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(dents + off);
      off += d->d_reclen;
      if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
      char path[64];
      size_t len = strlen(d->d_name);
      if (len > 20) continue;
      memcpy(path, d->d_name, len);
      memcpy(path + len, "/children", 10);
      int f = static_cast<int>(sys::OpenAt(dir, path, O_RDONLY | O_CLOEXEC));
      if (f < 0) continue;
      char buf[8192];
      long r = sys::Read(f, buf, sizeof buf - 1);
      sys::Close(f);
      if (r <= 0) continue;
      long pid = 0;
      bool in = false;
      for (long i = 0; i <= r; ++i) {
        char c = i < r ? buf[i] : ' ';
        if (c >= '0' && c <= '9') {
          pid = pid * 10 + (c - '0');
          in = true;
        } else if (in) {
          sys::Kill(static_cast<pid_t>(pid), SIGKILL);
          ++killed;
          pid = 0;
          in = false;
        }
      }
    }
  }
  sys::Close(dir);
  return killed;
}

// Returns 0 or the errno value.
int WriteProcFile(const char* path, const char* data) noexcept {
  long fd = sys::OpenAt(AT_FDCWD, path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return static_cast<int>(-fd);
  long len = static_cast<long>(strlen(data));
  long n = sys::Write(static_cast<int>(fd), data, static_cast<size_t>(len));
  sys::Close(static_cast<int>(fd));
  return n == len ? 0 : (n < 0 ? static_cast<int>(-n) : EIO);
}

// The first pid in /proc/thread-self/children, or -1. Async-signal-safe.
// `children`: /proc/thread-self/children opened while /proc was still the
// host's procfs (the command mounts its own over it in init's mount
// namespace); read now, it lists what is there now, with host pids.
int32_t FirstChildHostPid(int children) noexcept {
  if (children < 0) return -1;
  char buf[64];
  long r = sys::Read(children, buf, sizeof buf - 1);
  sys::Close(children);
  int32_t pid = 0;
  for (long i = 0; i < r && buf[i] >= '0' && buf[i] <= '9'; ++i) pid = pid * 10 + (buf[i] - '0');
  return pid > 0 ? pid : -1;
}

// Kills everything the init process is responsible for and reaps it,
// keeping the command's status. In its own PID namespace init is PID 1 and
// kill(-1) reaches exactly the namespace; otherwise it walks its children
// (it is a child subreaper).
void KillTree(const Prepared& p, pid_t cmd, int* cmd_status) noexcept {
  if (p.init_ns & CLONE_NEWPID) {
    sys::Kill(-1, SIGKILL);
    for (;;) {
      int st = 0;
      long w = sys::Wait4(-1, &st, __WALL);
      if (w < 0) {
        if (w == -EINTR) continue;
        break;
      }
      if (w == cmd && cmd_status) *cmd_status = st;
    }
    return;
  }
  KillAndReapDescendants(cmd, cmd, cmd_status);
}

// The init process: reaps, kills the tree when the command exits or the
// supervisor dies, then reports. Raw system calls only (see the top of this file).
[[noreturn]] void RunInit(const Prepared& p, int err_r, int status_r) {
  sys::Close(err_r);
  sys::Close(status_r);
  sys::Close(p.life_w);
  // The supervisor's end of the command's terminal: a copy here would keep
  // the terminal from hanging up when the supervisor closes it.
  if (p.pty_master >= 0) sys::Close(p.pty_master);
  if (p.pty_slave >= 0) {
    // A session of init's with the command's terminal as its controlling
    // terminal: the command's group, whose parent (init) is in the same
    // session, is not orphaned, so Ctrl-Z on that terminal stops it and
    // job control inside works; no process of the caller's session can
    // become that terminal's foreground.
    long err = RawSyscall(SYS_setsid);
    if (err >= 0) err = RawSyscall(SYS_ioctl, p.pty_slave, TIOCSCTTY, 0);
    if (err < 0) FailChild(p.err_w, kStageTerminal, static_cast<int>(-err));
  }
  const uint64_t all = ~uint64_t{0};
  RawSyscall(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&all), 0, sizeof all);
  RawSyscall(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  // A SIGCHLD the caller ignored is inherited across exec, and an ignored
  // SIGCHLD makes the kernel reap children by itself: init would never see
  // the command exit. Its dispositions are its own (no CLONE_SIGHAND).
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    uint64_t mask;
  } dfl = {reinterpret_cast<void*>(SIG_DFL), 0, nullptr, 0};
  RawSyscall(SYS_rt_sigaction, SIGCHLD, reinterpret_cast<long>(&dfl), 0, sizeof dfl.mask);
  if (p.init_ns & CLONE_NEWUSER) {
    // Same uid and gid inside: no fake root. The capabilities the new user
    // namespace gives are only over namespaces it owns, and they are gone
    // at the command's exec (non-zero uid, no_new_privs).
    // The supervisor's memory, which init shares, is not dumpable, so our
    // /proc files belong to root, who is not mapped here yet: dumpable for
    // these three writes, before any sandboxed code exists, then not again.
    RawSyscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0);
    int stage = kStageSetgroups;
    int err = WriteProcFile("/proc/self/setgroups", "deny");
    if (!err) {
      stage = kStageUidMap;
      err = WriteProcFile("/proc/self/uid_map", p.uid_map);
    }
    if (!err) {
      stage = kStageGidMap;
      err = WriteProcFile("/proc/self/gid_map", p.gid_map);
    }
    RawSyscall(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (err) FailChild(p.err_w, stage, err);
  }
  const uint64_t chld = uint64_t{1} << (SIGCHLD - 1);
  long sfd_r = RawSyscall(SYS_signalfd4, -1, reinterpret_cast<long>(&chld), sizeof chld,
                          SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd_r < 0) FailChild(p.err_w, kStageSignals, static_cast<int>(-sfd_r));
  const int sfd = static_cast<int>(sfd_r);
  const int children = (p.init_ns & CLONE_NEWPID)
                           ? static_cast<int>(sys::OpenAt(AT_FDCWD, "/proc/thread-self/children",
                                                          O_RDONLY | O_CLOEXEC))
                           : -1;
  CommandArgs args{&p, sfd};
  // glibc's clone writes errno only when it fails, and then init exits.
  pid_t cmd = clone(CommandEntry, p.command_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  if (cmd < 0) FailChild(p.err_w, kStageFork, errno);
  // The command has exec'ed or exited by now (CLONE_VFORK). Only it holds
  // its terminal from now on: the last close shows on the master.
  if (p.pty_slave >= 0) sys::Close(p.pty_slave);
  RawSyscall(SYS_setpgid, cmd, cmd);  // done by the command already; fails after its exec
  if (p.hold_task_dir && !(p.init_ns & CLONE_NEWPID)) HoldTaskDir(cmd);
  sys::Close(p.err_w);
  // The supervisor needs the command's pid in its own PID namespace. In a
  // new one, `cmd` is namespace-relative; /proc (the host's procfs) lists
  // our children with host pids, and the command is our only child yet.
  int32_t pid32 = (p.init_ns & CLONE_NEWPID) ? FirstChildHostPid(children) : cmd;
  if (pid32 <= 0 || sys::Write(p.status_w, &pid32, sizeof pid32) != sizeof pid32) {
    KillTree(p, cmd, nullptr);
    _exit(125);
  }
  for (;;) {
    struct pollfd fds[2] = {{sfd, POLLIN, 0}, {p.life_r, POLLIN, 0}};
    if (RawSyscall(SYS_ppoll, reinterpret_cast<long>(fds), 2, 0, 0, 0) < 0) continue;
    if (fds[1].revents) {
      // The supervisor is gone (even SIGKILLed): so is the sandbox.
      KillTree(p, cmd, nullptr);
      _exit(137);
    }
    struct signalfd_siginfo si;
    while (sys::Read(sfd, &si, sizeof si) == sizeof si) {
    }
    // Reap exited orphans, but leave the command a zombie: while it is one,
    // its pid (and so its process group id) cannot be reused, which keeps
    // the group kill below from hitting an unrelated group.
    bool done = false;
    for (;;) {
      siginfo_t peek;
      memset(&peek, 0, sizeof peek);
      if (RawSyscall(SYS_waitid, P_ALL, 0, reinterpret_cast<long>(&peek),
                     WEXITED | WNOHANG | WNOWAIT | __WALL, 0) != 0 ||
          peek.si_pid == 0)
        break;
      if (peek.si_pid == cmd) {
        done = true;
        break;
      }
      sys::Wait4(peek.si_pid, nullptr, __WALL);
    }
    if (!done) {
      // Stopped by a signal (Ctrl-Z): the supervisor relays it to the
      // caller's shell (job control). One report per stop.
      siginfo_t stop;
      memset(&stop, 0, sizeof stop);
      if (RawSyscall(SYS_waitid, P_PID, cmd, reinterpret_cast<long>(&stop),
                     WSTOPPED | WNOHANG | __WALL, 0) == 0 &&
          stop.si_pid == cmd && stop.si_code == CLD_STOPPED) {
        StatusMessage m{kCommandStopped, stop.si_status};
        sys::Write(p.status_w, &m, sizeof m);
      }
      continue;
    }
    // The command is gone: nothing it started may outlive it.
    int status = 0;
    KillTree(p, cmd, &status);
    StatusMessage m{kCommandExited, status};
    sys::Write(p.status_w, &m, sizeof m);
    _exit(0);
  }
}

}  // namespace

int InitEntry(void* arg) {
  const auto* a = static_cast<const InitArgs*>(arg);
  RunInit(*a->p, a->err_r, a->status_r);
}

}  // namespace spawn_internal

void KillAndReapDescendants(pid_t pgid, pid_t keep_status_of, int* kept_status) noexcept {
  // Raw system calls: init runs this too (see RunInit).
  if (pgid > 0) spawn_internal::sys::Kill(-pgid, SIGKILL);
  // A live descendant always has an ancestor among our children, alive or a
  // zombie (exit re-parents a process's children before it can be reaped):
  // no child at all (ECHILD) means nothing is left. Zombies are reaped
  // without looking further; only while a child is alive are the children
  // listed from /proc and killed (the command usually exits alone, and this
  // then costs two wait4 calls, no /proc walk). Bounded: each round reaps
  // one child or kills every current one and then reaps one.
  for (int round = 0; round < 1000000; ++round) {
    int status = 0;
    long w = spawn_internal::sys::Wait4(-1, &status, __WALL | WNOHANG);
    if (w == 0) {
      spawn_internal::KillListedChildren();
      w = spawn_internal::sys::Wait4(-1, &status, __WALL);
    }
    if (w < 0) {
      if (w == -EINTR) continue;
      break;  // ECHILD: nothing left
    }
    if (w == keep_status_of && kept_status) *kept_status = status;
  }
}

}  // namespace rf
