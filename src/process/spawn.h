// The spawn sequence: supervisor -> init -> command.
//
//   supervisor (ringfence itself, outside the sandbox): forwards signals,
//     owns the terminal hand-off, returns the exit code.
//   init: a small reaper sharing the supervisor's memory (clone CLONE_VM,
//     raw system calls only; see init.cc and docs/process.md). It is a child
//     subreaper and watches a pipe only the supervisor holds open, so when
//     the command exits, or the supervisor dies (even by SIGKILL), it kills
//     the command's whole process tree and reaps it.
//   command: new process group -> terminal foreground -> privileged steps
//     (namespaces) -> drop privileges -> parent-death signal -> rlimits ->
//     no_new_privs -> close inherited descriptors -> confinement steps
//     (Landlock, then seccomp) -> execve.
//
// Everything the command's side needs is prepared before fork: argv, envp,
// uid/gid, Landlock ruleset fds and seccomp programs (inside ChildSteps).
//
// One file per process role: supervisor.cc (SpawnAndWait), init.cc,
// child.cc (the command's sequence), with job control in job_control.h;
// what they share is in spawn_internal.h, not part of this interface.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace rf {

class PtyRelay;

// One piece of sandbox setup that runs in the command's process between fork
// and exec. Implementations hold only state prepared before fork; Apply must
// be async-signal-safe: raw system calls on prepared data, no allocation, no
// locks, no stdio.
class ChildStep {
 public:
  virtual ~ChildStep() = default;
  // A static string naming the step in error messages ("landlock").
  virtual const char* name() const = 0;
  // Returns 0, or the errno value that made the step fail (the sandbox is
  // then never started).
  virtual int Apply() const noexcept = 0;
};

struct RunAs {
  uid_t uid;
  gid_t gid;
};

struct SpawnSpec {
  std::string exe;  // absolute or relative path, already resolved
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value"
  std::string workdir;           // chdir before confinement; empty = stay
  std::optional<RunAs> run_as;   // set when started as root
  bool take_terminal = true;     // give the terminal's foreground to the command
  // A terminal of the command's own (docs/process.md "Terminal"): its slave
  // replaces the chosen standard descriptors, the supervisor relays. Owned
  // by the caller; nullptr = the command gets the descriptors as they are.
  PtyRelay* pty = nullptr;
  // Namespaces init is created in (CLONE_NEWPID, CLONE_NEWUSER): init is
  // then PID 1 of the sandbox's PID namespace. With CLONE_NEWUSER init writes
  // uid_map/gid_map (prepared "inside outside 1" lines) first.
  int init_namespaces = 0;
  // RLIMIT_NOFILE to restore in the command (the supervisor may have raised
  // its own for the proxy); rlim_cur == 0: leave it.
  struct rlimit caller_nofile = {0, 0};
  std::string uid_map, gid_map;
  // init keeps the command's /proc/<pid>/task open for the whole run: the
  // command's Landlock rule on it binds that directory's inode, which
  // procfs replaces when an unused entry is dropped and looked up again.
  bool hold_task_dir = false;
  std::vector<const ChildStep*> privileged_steps;  // before the privilege drop
  std::vector<const ChildStep*> confine_steps;     // after no_new_privs, in order
  // Called in the supervisor once the command has been exec'ed (pid given).
  // It may add watches: descriptors the supervisor's wait loop polls while
  // the command runs, calling `ready` once, on the first POLLIN, and then
  // forgetting the descriptor. Services the command may never use (the
  // proxy's threads, the connect guard) start that way, on first use.
  // A `repeat` watch is called on every wake-up with data (or an error to
  // read, such as a socket's overflow) and kept: a stream of records.
  struct Watch {
    int fd;
    std::function<void()> ready;
    bool repeat = false;
  };
  std::function<void(pid_t, std::vector<Watch>&)> on_started;
  // A signal the supervisor would forward to the command: handled here
  // instead when this returns true (SIGHUP reloads the policy:
  // docs/live-policy.md). Called on the wait loop's thread.
  std::function<bool(int sig)> on_signal;
  // Wall time limit from the command's start, in milliseconds (0 = none):
  // at the deadline the whole sandbox is killed and the result is 124.
  int64_t timeout_ms = 0;
};

struct SpawnResult {
  int exit_code = 125;     // what `ringfence run` returns
  int wait_status = 0;     // raw status of the command, when it ran
  bool started = false;    // exec succeeded
  pid_t pid = -1;          // the command's pid (in the supervisor's pid namespace)
  std::string failure;     // why the command never started, when !started
  bool timed_out = false;  // killed at SpawnSpec::timeout_ms (exit_code 124)
};

// What `run` returns when the sandbox was killed at its wall time limit
// (what timeout(1) returns).
inline constexpr int kExitTimedOut = 124;

// Runs the command and waits for it. Never returns an exit code from the
// child before it is reaped together with its whole process tree.
SpawnResult SpawnAndWait(const SpawnSpec& spec);

// Exit code for a wait status: the code, or 128+N for signal N.
int ExitCodeFromWaitStatus(int status);

// Kills every descendant of the calling process that is its child or
// becomes one (the caller must be a child subreaper), plus the process group
// `pgid` when > 0, and reaps them. Async-signal-safe.
void KillAndReapDescendants(pid_t pgid, pid_t keep_status_of, int* kept_status) noexcept;

}  // namespace rf
