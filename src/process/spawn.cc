#include "process/spawn.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/securebits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/fd.h"
#include "common/raw_syscall.h"
#include "process/pty_relay.h"

namespace rf {

namespace {

// What the command's process reports on the error pipe when it cannot exec.
struct ChildFailure {
  int stage;  // index into kStageNames, or kStepBase + step index
  int err;
};

enum Stage : int {
  kStageFork = 0,
  kStageSetpgid,
  kStageTerminal,
  kStageDropGroups,
  kStageDropBounding,
  kStageDropGid,
  kStageDropUid,
  kStageDropCaps,
  kStageVerifyDrop,
  kStageDeathSig,
  kStageRlimit,
  kStageNoNewPrivs,
  kStageChdir,
  kStageCloseFds,
  kStageSignals,
  kStageExec,
  kStageSetgroups,
  kStageUidMap,
  kStageGidMap,
  kStageCount,  // not a stage: the size of kStageNames
  kStepBase = 100,
};

const char* const kStageNames[] = {
    "fork",
    "setpgid",
    "terminal hand-off",
    "clear supplementary groups",
    "drop capability bounding set",
    "setresgid",
    "setresuid",
    "clear capabilities",
    "verify privilege drop (uid 0 regained)",
    "parent-death signal",
    "RLIMIT_CORE",
    "no_new_privs",
    "chdir to workdir",
    "close inherited descriptors",
    "reset signal handlers",
    "exec",
    "user namespace: write /proc/self/setgroups",
    "user namespace: write /proc/self/uid_map",
    "user namespace: write /proc/self/gid_map",
};
// A stage without a name would be reported as a generic "setup" failure.
static_assert(sizeof kStageNames / sizeof *kStageNames == kStageCount,
              "kStageNames must name every Stage, in order");
static_assert(kStageCount <= kStepBase, "stages and step indices must not overlap");

// Everything the child side reads, flattened before fork.
struct Prepared {
  struct rlimit nofile;  // the caller's RLIMIT_NOFILE, restored in the command
  const char* exe;
  char* const* argv;
  char* const* envp;
  const char* workdir;  // nullptr = stay
  bool drop;
  uid_t uid;
  gid_t gid;
  int tty_fd;  // -1 = no terminal hand-off
  // The command's own terminal (the slave of PtyRelay), -1 = none; the
  // standard descriptors it replaces. The master is closed in init.
  int pty_slave;
  int pty_master;
  bool pty_replace[3];
  const ChildStep* const* priv_steps;
  size_t n_priv;
  const ChildStep* const* confine_steps;
  size_t n_confine;
  int err_w;     // error pipe, write end (O_CLOEXEC)
  int status_w;  // init -> supervisor: command pid, then StatusMessages
  int life_r;    // read end of a pipe only the supervisor can write: EOF = it died
  int life_w;
  int init_ns;          // CLONE_NEW* flags init is created with
  const char* uid_map;  // written by init when init_ns has CLONE_NEWUSER
  const char* gid_map;
  char* command_stack;  // top of the command's stack (mapped before init)
  bool hold_task_dir;   // SpawnSpec::hold_task_dir
};

// What init reports on the status pipe after the command's pid.
struct StatusMessage {
  int32_t kind;   // kCommandExited or kCommandStopped
  int32_t value;  // the wait status, or the stop signal
};
constexpr int32_t kCommandExited = 0;
constexpr int32_t kCommandStopped = 1;

// Init shares the supervisor's memory and thread pointer (see SpawnAndWait):
// everything it does goes through these, which leave errno alone.
namespace sys {
long Close(int fd) noexcept { return RawSyscall(SYS_close, fd); }
long Read(int fd, void* buf, size_t n) noexcept {
  return RawSyscall(SYS_read, fd, reinterpret_cast<long>(buf), static_cast<long>(n));
}
long Write(int fd, const void* buf, size_t n) noexcept {
  return RawSyscall(SYS_write, fd, reinterpret_cast<long>(buf), static_cast<long>(n));
}
long OpenAt(int dir, const char* path, int flags) noexcept {
  return RawSyscall(SYS_openat, dir, reinterpret_cast<long>(path), flags);
}
long Kill(pid_t pid, int sig) noexcept { return RawSyscall(SYS_kill, pid, sig); }
long Wait4(pid_t pid, int* status, int options) noexcept {
  return RawSyscall(SYS_wait4, pid, reinterpret_cast<long>(status), options, 0);
}
}  // namespace sys

[[noreturn]] void FailChild(int err_w, int stage, int err) {
  ChildFailure f{stage, err};
  sys::Write(err_w, &f, sizeof f);
  _exit(stage == kStageExec ? (err == ENOENT ? 127 : 126) : 125);
}

// The command's side: runs after fork, async-signal-safe only.
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

// Both processes the supervisor starts share its memory, the way
// posix_spawn creates a child: no page tables are copied and nothing is
// copied on write afterwards (fork was the costliest step of start-up after
// the two execs), and init's exit does not tear down an address space.
//
// - init: clone(CLONE_VM) on a stack of its own. It runs alongside the
//   supervisor for the command's whole life, on the supervisor main thread's
//   thread pointer, so it makes raw system calls only (sys:: above, errno
//   untouched) and writes nothing but its own stack. If the supervisor dies,
//   the memory stays mapped for init until init exits.
// - the command: created by init with CLONE_VM|CLONE_VFORK, init suspended
//   until it execs or exits. Meanwhile the supervisor is blocked reading
//   the status pipe, and the proxy and connect guard threads are not started
//   yet (they start on the command's first connection): nothing else runs on
//   this memory. RunCommand and every step are async-signal-safe and write
//   only the command's stack, and errno (the supervisor main thread's) when
//   a call fails: the supervisor reads errno only after a failed call of its
//   own, and makes none while it waits for the command to exec.
// Descriptors, signal dispositions, credentials, Landlock domain and seccomp
// filter are per process, not shared.
constexpr size_t kStackSize = 256 * 1024;

// A stack with a guard page below it; unmapped when the owner goes.
class Stack {
 public:
  Stack() {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* m = mmap(nullptr, kStackSize + page_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) return;
    if (mprotect(m, page_, PROT_NONE) != 0) {
      munmap(m, kStackSize + page_);
      return;
    }
    base_ = static_cast<char*>(m);
  }
  ~Stack() {
    if (base_) munmap(base_, kStackSize + page_);
  }
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;
  // The top (stacks grow down), or nullptr if it could not be mapped.
  char* top() const { return base_ ? base_ + page_ + kStackSize : nullptr; }

 private:
  size_t page_ = 0;
  char* base_ = nullptr;
};

struct CommandArgs {
  const Prepared* p;
  int sfd;
};

int CommandEntry(void* arg) {
  const auto* a = static_cast<const CommandArgs*>(arg);
  sys::Close(a->p->status_w);
  sys::Close(a->sfd);
  RunCommand(*a->p);
}

// The init process: reaps, kills the tree when the command exits or the
// supervisor dies, then reports. Raw system calls only (see above).
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

struct InitArgs {
  const Prepared* p;
  int err_r;
  int status_r;
};

int InitEntry(void* arg) {
  const auto* a = static_cast<const InitArgs*>(arg);
  RunInit(*a->p, a->err_r, a->status_r);
}

std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Our controlling terminal among the standard descriptors, foreground or
// not, or -1 (job control: a run started with `&` can be brought to the
// foreground later).
int ControllingTerminal() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (isatty(fd) && tcgetsid(fd) == getsid(0)) return fd;
  }
  return -1;
}

// Reads exactly `len` bytes; fails on EOF (the writer closed early) or error.
Status ReadFull(int fd, void* buf, size_t len) {
  auto* p = static_cast<char*>(buf);
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, p + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Errno("read");
    if (n == 0) return Status::Error("end of file after " + std::to_string(got) + " bytes");
    got += static_cast<size_t>(n);
  }
  return Status::Ok();
}

std::string DescribeFailure(const ChildFailure& f, const SpawnSpec& spec) {
  std::string stage;
  if (f.stage >= kStepBase) {
    size_t i = static_cast<size_t>(f.stage - kStepBase);
    if (i < spec.privileged_steps.size()) {
      stage = spec.privileged_steps[i]->name();
    } else if (i - spec.privileged_steps.size() < spec.confine_steps.size()) {
      stage = spec.confine_steps[i - spec.privileged_steps.size()]->name();
    } else {
      stage = "sandbox step";
    }
  } else if (f.stage >= 0 && f.stage < kStageCount) {
    stage = kStageNames[f.stage];
  } else {
    stage = "setup";
  }
  if (f.stage == kStageExec) {
    return "cannot execute " + spec.exe + ": " + strerror(f.err);
  }
  return "cannot start the sandbox: " + stage + ": " + strerror(f.err);
}

}  // namespace

int ExitCodeFromWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 125;
}

void KillAndReapDescendants(pid_t pgid, pid_t keep_status_of, int* kept_status) noexcept {
  // Raw system calls: init runs this too (see RunInit).
  if (pgid > 0) sys::Kill(-pgid, SIGKILL);
  // A live descendant always has an ancestor among our children, alive or a
  // zombie (exit re-parents a process's children before it can be reaped):
  // no child at all (ECHILD) means nothing is left. Zombies are reaped
  // without looking further; only while a child is alive are the children
  // listed from /proc and killed (the command usually exits alone, and this
  // then costs two wait4 calls, no /proc walk). Bounded: each round reaps
  // one child or kills every current one and then reaps one.
  for (int round = 0; round < 1000000; ++round) {
    int status = 0;
    long w = sys::Wait4(-1, &status, __WALL | WNOHANG);
    if (w == 0) {
      KillListedChildren();
      w = sys::Wait4(-1, &status, __WALL);
    }
    if (w < 0) {
      if (w == -EINTR) continue;
      break;  // ECHILD: nothing left
    }
    if (w == keep_status_of && kept_status) *kept_status = status;
  }
}

Result<std::string> ResolveCommand(const std::string& cmd, const std::string& path_env) {
  if (cmd.empty()) return Status::Error("empty command");
  if (cmd.find('/') != std::string::npos) return cmd;
  std::string path = path_env.empty() ? "/usr/local/bin:/usr/bin:/bin" : path_env;
  bool found_non_exec = false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + cmd;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (st.st_mode & 0111) return candidate;
      found_non_exec = true;
    }
    start = end + 1;
  }
  if (found_non_exec) return Status::Error(cmd + ": permission denied (not executable)");
  return Status::Error(cmd + ": command not found");
}

SpawnResult SpawnAndWait(const SpawnSpec& spec) {
  SpawnResult res;
  auto argv = CStrings(spec.argv);
  auto envp = CStrings(spec.env);
  std::vector<const ChildStep*> priv(spec.privileged_steps), confine(spec.confine_steps);

  int err_pipe[2], status_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    res.failure = Status::Errno("pipe").reason();
    return res;
  }
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
  if (pipe2(status_pipe, O_CLOEXEC) != 0) {
    res.failure = Status::Errno("pipe").reason();
    return res;
  }
  UniqueFd status_r(status_pipe[0]), status_w(status_pipe[1]);

  Prepared p{};
  p.exe = spec.exe.c_str();
  p.argv = argv.data();
  p.envp = envp.data();
  p.workdir = spec.workdir.empty() ? nullptr : spec.workdir.c_str();
  p.drop = spec.run_as.has_value();
  if (p.drop) {
    p.uid = spec.run_as->uid;
    p.gid = spec.run_as->gid;
  }
  p.nofile = spec.caller_nofile;
  // The controlling terminal, kept for job control even when we are in the
  // background; handed to the command at start only if we are in its
  // foreground.
  PtyRelay* const pty = spec.pty;
  p.pty_slave = pty ? pty->slave() : -1;
  p.pty_master = pty ? pty->master() : -1;
  for (int fd = 0; fd <= 2; ++fd) p.pty_replace[fd] = pty && pty->choice().replace[fd];
  // With a terminal of its own, the command never gets the caller's: the
  // supervisor's job control follows the caller's terminal on stdin.
  const int job_tty = pty ? pty->user_terminal() : spec.take_terminal ? ControllingTerminal() : -1;
  p.tty_fd = pty ? pty->slave() : job_tty >= 0 && tcgetpgrp(job_tty) == getpgrp() ? job_tty : -1;
  p.priv_steps = priv.data();
  p.n_priv = priv.size();
  p.confine_steps = confine.data();
  p.n_confine = confine.size();
  p.err_w = err_w.get();
  p.status_w = status_w.get();
  int life_pipe[2];
  if (pipe2(life_pipe, O_CLOEXEC) != 0) {
    res.failure = Status::Errno("pipe").reason();
    return res;
  }
  UniqueFd life_r(life_pipe[0]), life_w(life_pipe[1]);
  p.life_r = life_r.get();
  p.life_w = life_w.get();
  p.init_ns = spec.init_namespaces;
  p.uid_map = spec.uid_map.c_str();
  p.gid_map = spec.gid_map.c_str();
  p.hold_task_dir = spec.hold_task_dir;

  struct termios saved_tty;
  bool have_tty_state = !pty && p.tty_fd >= 0 && tcgetattr(p.tty_fd, &saved_tty) == 0;

  // Signals the supervisor handles are blocked before fork (the command
  // resets its mask before exec) and read from a signalfd.
  sigset_t handled, old_mask;
  sigemptyset(&handled);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGCHLD, SIGTTOU, SIGTTIN, SIGCONT})
    sigaddset(&handled, s);
  // With a terminal of its own, a stop of the supervisor itself must give
  // the caller their terminal back first (it is in raw mode).
  if (pty) sigaddset(&handled, SIGTSTP);
  pthread_sigmask(SIG_BLOCK, &handled, &old_mask);
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  // Init and the command run on stacks of their own in this memory (see
  // Stack). Unmapped on return, after init was reaped.
  Stack init_stack, command_stack;
  p.command_stack = command_stack.top();
  InitArgs init_args{&p, err_r.get(), status_r.get()};
  // With namespaces for init (PID, user), init becomes PID 1 of the new PID
  // namespace.
  pid_t init = -1;
  if (init_stack.top() && p.command_stack) {
    init = clone(InitEntry, init_stack.top(), CLONE_VM | SIGCHLD | p.init_ns, &init_args);
  } else {
    errno = ENOMEM;
  }
  if (init < 0) {
    res.failure = Status::Errno("creating the sandbox's init process").reason();
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    return res;
  }
  // Init runs on init_stack until it is reaped. Should anything below throw
  // (bad_alloc in a callback), it is killed and reaped here, before the
  // stacks are unmapped (members are destroyed in reverse order).
  struct InitGuard {
    pid_t pid;
    bool reaped = false;
    ~InitGuard() {
      if (reaped) return;
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, __WALL);
    }
  } init_guard{init};

  err_w.reset();
  status_w.reset();
  life_r.reset();
  UniqueFd sigfd(signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK));

  int32_t cmd_pid = -1;
  // Whether the command's group was last given the terminal (at start, or
  // by `fg` through job control below). Only then is it taken back: after
  // `bg` the caller's shell has it, and must keep it.
  bool cmd_has_tty = !pty && p.tty_fd >= 0;
  auto restore_terminal = [&] {
    if (job_tty < 0 || !cmd_has_tty) return;
    // We are in the background now: SIGTTOU is blocked, so this succeeds.
    tcsetpgrp(job_tty, getpgrp());
    // Output the command suspended (tcflow TCOOFF) is resumed first: the
    // caller's writes, and TCSADRAIN below, would wait for it forever.
    tcflow(job_tty, TCOON);
    if (have_tty_state) tcsetattr(job_tty, TCSADRAIN, &saved_tty);
    cmd_has_tty = false;
  };

  if (!ReadFull(status_r.get(), &cmd_pid, sizeof cmd_pid).ok()) cmd_pid = -1;
  res.pid = cmd_pid;

  ChildFailure failure{};
  // EOF without a message: the command exec'ed (the pipe is close-on-exec).
  bool failed = ReadFull(err_r.get(), &failure, sizeof failure).ok();
  std::vector<SpawnSpec::Watch> watches;
  if (!failed && cmd_pid > 0) {
    res.started = true;
    if (spec.on_started) spec.on_started(cmd_pid, watches);
  } else if (failed) {
    res.failure = DescribeFailure(failure, spec);
  } else {
    res.failure = "cannot start the sandbox: init process failed";
  }

  // Job control (docs/process.md): when the command is stopped (Ctrl-Z),
  // the supervisor takes the terminal back and stops itself, so the caller's
  // shell sees a stopped job; when continued (fg, bg: SIGCONT), it gives the
  // terminal back if it is in the foreground and continues the command.
  struct termios cmd_tty;
  bool have_cmd_tty = false;
  // Stops the whole supervisor until SIGCONT. The kernel discards it in an
  // orphaned process group (no job-control shell that could resume us).
  auto stop_self = [&] {
    raise(SIGTSTP);
    if (pty) {
      // Blocked (read from the signalfd): delivered when unblocked, and its
      // default action is taken before the unblock returns.
      sigset_t tstp;
      sigemptyset(&tstp);
      sigaddset(&tstp, SIGTSTP);
      pthread_sigmask(SIG_UNBLOCK, &tstp, nullptr);
      pthread_sigmask(SIG_BLOCK, &tstp, nullptr);
    }
  };
  // Returns whether we were stopped and continued since (SIGCONT, blocked
  // here, is then pending for the signalfd).
  auto relay_stop = [&] {
    if (pty) {
      pty->Restore();
    } else if (tcgetpgrp(job_tty) == cmd_pid) {
      have_cmd_tty = tcgetattr(job_tty, &cmd_tty) == 0;
      cmd_has_tty = true;
      restore_terminal();
    }
    stop_self();
    sigset_t pending;
    return sigpending(&pending) == 0 && sigismember(&pending, SIGCONT) == 1;
  };
  auto relay_continue = [&] {
    if (cmd_pid <= 0) return;
    if (pty) {
      pty->EnterRaw();  // only when we are in the caller's foreground
    } else if (job_tty >= 0 && tcgetpgrp(job_tty) == getpgrp()) {
      if (have_cmd_tty) tcsetattr(job_tty, TCSADRAIN, &cmd_tty);
      tcsetpgrp(job_tty, cmd_pid);  // SIGTTOU is blocked
      cmd_has_tty = true;
    }
    kill(-cmd_pid, SIGCONT);
  };

  int32_t cmd_status = 0;
  bool have_status = false;
  int init_status = 0;
  bool init_reaped = false;
  // The wall time limit counts from the command's start. At the deadline
  // the supervisor closes its end of the life pipe: init then kills and
  // reaps the whole tree exactly as when the supervisor dies, and exits.
  struct timespec started_at;
  clock_gettime(CLOCK_MONOTONIC, &started_at);
  const bool has_deadline = res.started && spec.timeout_ms > 0;
  if (pty) {
    pty->CloseSlave();
    if (res.started) pty->EnterRaw();
  }
  while (!have_status && !init_reaped) {
    std::vector<struct pollfd> fds = {{sigfd.get(), POLLIN, 0}, {status_r.get(), POLLIN, 0}};
    for (const auto& w : watches) fds.push_back({w.fd, POLLIN, 0});
    const size_t n_watches = watches.size();
    if (pty) pty->AddPollFds(fds);
    int wait_ms = -1;
    if (has_deadline && !res.timed_out) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      const int64_t elapsed =
          (now.tv_sec - started_at.tv_sec) * 1000 + (now.tv_nsec - started_at.tv_nsec) / 1000000;
      const int64_t left = spec.timeout_ms - elapsed;
      if (left <= 0) {
        res.timed_out = true;
        life_w.reset();
        continue;
      }
      wait_ms = static_cast<int>(std::min<int64_t>(left, 1 << 30));
    }
    int n = poll(fds.data(), fds.size(), wait_ms);
    if (n < 0 && errno != EINTR) break;
    if (n > 0) {
      // Watches first: a service the command is waiting for starts before
      // anything else is handled. Each fires once, on POLLIN; a hang-up
      // without data (the command is gone) just ends the watch.
      std::vector<SpawnSpec::Watch> keep;
      std::vector<std::function<void()>> fire;
      if (pty) {
        pty->Handle(fds);
        // The caller's terminal hung up: the command's session leader gets
        // SIGHUP from the kernel as its terminal goes; that is init here,
        // so the command's group gets it instead (and SIGCONT, if stopped).
        if (pty->TakeHangup() && cmd_pid > 0 && !have_status) {
          kill(-cmd_pid, SIGHUP);
          kill(-cmd_pid, SIGCONT);
        }
      }
      for (size_t i = 0; i < n_watches; ++i) {
        short ev = fds[2 + i].revents;
        if (watches[i].repeat && (ev & (POLLIN | POLLERR))) {
          fire.push_back(watches[i].ready);
          keep.push_back(std::move(watches[i]));
        } else if (ev & POLLIN) {
          fire.push_back(std::move(watches[i].ready));
        } else if (!(ev & (POLLHUP | POLLERR | POLLNVAL))) {
          keep.push_back(std::move(watches[i]));
        }
      }
      watches = std::move(keep);
      for (auto& f : fire) f();
    }
    if (fds[1].revents) {
      StatusMessage m{};
      if (!ReadFull(status_r.get(), &m, sizeof m).ok()) {
        // init died without reporting (killed): fall back to reaping it.
        waitpid(init, &init_status, 0);
        init_reaped = true;
      } else if (m.kind == kCommandExited) {
        cmd_status = m.value;
        have_status = true;
      } else if (m.kind == kCommandStopped && job_tty >= 0 && cmd_pid > 0) {
        // Resumed: continue the command. Not stopped (orphaned group): Ctrl-Z
        // changes nothing when we hold the terminal; otherwise the command
        // stays stopped (continuing it would only stop it again, in a loop).
        if (relay_stop() || tcgetpgrp(job_tty) == getpgrp()) relay_continue();
      }
    }
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sigfd.get(), &si, sizeof si) == sizeof si) {
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGCHLD || sig == SIGTTOU || sig == SIGTTIN) continue;
        // The command was reaped: its pid (and group id) may be reused.
        if (have_status) continue;
        if (sig == SIGCONT) {
          relay_continue();
        } else if (pty && sig == SIGWINCH) {
          // The kernel tells the command's foreground job, as on resize.
          pty->Resize();
        } else if (pty && sig == SIGTSTP) {
          // Stopped as a job of the caller's shell: the command keeps its
          // terminal (its output waits in the buffers), the caller gets theirs.
          pty->Restore();
          stop_self();
          // Continued (or never stopped: an orphaned group): raw again if
          // we are the caller's foreground (not after `bg`).
          pty->EnterRaw();
        } else if (cmd_pid > 0) {
          kill(-cmd_pid, sig);
          // A stopped command acts on a hang-up or termination only once
          // continued (what shells do for their stopped jobs).
          if (sig == SIGHUP || sig == SIGTERM) kill(-cmd_pid, SIGCONT);
        }
      }
    }
  }
  if (!init_reaped) waitpid(init, &init_status, 0);
  init_guard.reaped = true;
  // Whatever init could not kill (it was killed itself) was re-parented to
  // us, the subreaper. No group kill here: the command was reaped, its pid
  // may already belong to someone else.
  KillAndReapDescendants(0, -1, nullptr);
  if (pty) {
    // Everything the command wrote reaches the caller, unless the caller's
    // side stops taking it.
    pty->Drain(2000);
    pty->Restore();
  }
  restore_terminal();
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

  if (!res.started) {
    if (failed && failure.stage == kStageExec) res.exit_code = failure.err == ENOENT ? 127 : 126;
    return res;
  }
  if (have_status) {
    res.wait_status = cmd_status;
    res.exit_code = ExitCodeFromWaitStatus(cmd_status);
  } else {
    res.wait_status = init_status;
    res.exit_code = ExitCodeFromWaitStatus(init_status);
  }
  if (res.timed_out) res.exit_code = kExitTimedOut;
  return res;
}

}  // namespace rf
