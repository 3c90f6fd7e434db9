// What the three process roles of a spawn share (spawn.h is the public
// interface; this header is for src/process/ only):
//
//   supervisor.cc  SpawnAndWait: prepares everything, clones init, waits
//                  (signals, watches, deadline, job control through
//                  job_control.h), returns the exit code.
//   init.cc        RunInit: the sandbox's reaper (PID 1 in namespace mode),
//                  creates the command, kills and reaps the whole tree.
//   child.cc       RunCommand: the command's sequence from clone to execve.
//
// Both processes the supervisor starts share its memory, the way
// posix_spawn creates a child: no page tables are copied and nothing is
// copied on write afterwards (fork was the costliest step of start-up after
// the two execs), and init's exit does not tear down an address space.
//
// - init: clone(CLONE_VM) on a stack of its own. It runs alongside the
//   supervisor for the command's whole life, on the supervisor main thread's
//   thread pointer, so it makes raw system calls only (sys:: below, errno
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
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "common/raw_syscall.h"
#include "process/spawn.h"

namespace rf::spawn_internal {

// What the command's process (or init) reports on the error pipe when the
// command cannot be exec'ed.
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

inline constexpr const char* kStageNames[] = {
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

// Everything init and the command read, flattened by the supervisor before
// init is cloned.
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
inline constexpr int32_t kCommandExited = 0;
inline constexpr int32_t kCommandStopped = 1;

// Init shares the supervisor's memory and thread pointer: everything it
// does goes through these, which leave errno alone.
namespace sys {
inline long Close(int fd) noexcept { return RawSyscall(SYS_close, fd); }
inline long Read(int fd, void* buf, size_t n) noexcept {
  return RawSyscall(SYS_read, fd, reinterpret_cast<long>(buf), static_cast<long>(n));
}
inline long Write(int fd, const void* buf, size_t n) noexcept {
  return RawSyscall(SYS_write, fd, reinterpret_cast<long>(buf), static_cast<long>(n));
}
inline long OpenAt(int dir, const char* path, int flags) noexcept {
  return RawSyscall(SYS_openat, dir, reinterpret_cast<long>(path), flags);
}
inline long Kill(pid_t pid, int sig) noexcept { return RawSyscall(SYS_kill, pid, sig); }
inline long Wait4(pid_t pid, int* status, int options) noexcept {
  return RawSyscall(SYS_wait4, pid, reinterpret_cast<long>(status), options, 0);
}
}  // namespace sys

// child.cc. Reports {stage, err} on the error pipe and exits (125, or
// 126/127 for the exec itself). Async-signal-safe.
[[noreturn]] void FailChild(int err_w, int stage, int err) noexcept;

// child.cc. The argument of CommandEntry, on init's stack.
struct CommandArgs {
  const Prepared* p;
  int sfd;  // init's signalfd, closed in the command
};
// child.cc. The command's clone entry point (init clones it).
int CommandEntry(void* arg);

// init.cc. The argument of InitEntry, on the supervisor's stack.
struct InitArgs {
  const Prepared* p;
  int err_r;  // the supervisor's ends of the pipes, closed in init
  int status_r;
};
// init.cc. Init's clone entry point (the supervisor clones it).
int InitEntry(void* arg);

}  // namespace rf::spawn_internal
