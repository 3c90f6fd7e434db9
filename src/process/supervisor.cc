// The supervisor's side of a spawn (see spawn_internal.h): SpawnAndWait
// prepares what init and the command read, clones init, and then waits:
// the command's start, signals to forward, the watches of services started
// on first use, the wall-time deadline, job control (job_control.h) and the
// terminal relay (pty_relay.h), until the command and its whole tree are
// reaped.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/fd.h"
#include "process/job_control.h"
#include "process/pty_relay.h"
#include "process/spawn_internal.h"

namespace rf {

namespace {

using spawn_internal::ChildFailure;
using spawn_internal::InitArgs;
using spawn_internal::InitEntry;
using spawn_internal::kCommandExited;
using spawn_internal::kCommandStopped;
using spawn_internal::kStageCount;
using spawn_internal::kStageExec;
using spawn_internal::kStageNames;
using spawn_internal::kStepBase;
using spawn_internal::Prepared;
using spawn_internal::StatusMessage;

// Init's and the command's stacks (see spawn_internal.h).
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

std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
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
  PtyRelay* const pty = spec.pty;
  p.pty_slave = pty ? pty->slave() : -1;
  p.pty_master = pty ? pty->master() : -1;
  for (int fd = 0; fd <= 2; ++fd) p.pty_replace[fd] = pty && pty->choice().replace[fd];
  // Reads the caller's terminal state before the command can change it.
  JobControl jobs(pty, spec.take_terminal);
  p.tty_fd = jobs.command_terminal();
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
  if (!ReadFull(status_r.get(), &cmd_pid, sizeof cmd_pid).ok()) cmd_pid = -1;
  res.pid = cmd_pid;
  jobs.SetCommand(cmd_pid);

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
      } else if (m.kind == kCommandStopped) {
        jobs.CommandStopped();
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
          jobs.Continued();
        } else if (pty && sig == SIGWINCH) {
          // The kernel tells the command's foreground job, as on resize.
          pty->Resize();
        } else if (pty && sig == SIGTSTP) {
          jobs.SupervisorStopped();
        } else if (spec.on_signal && spec.on_signal(sig)) {
          // Taken by the supervisor itself.
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
  jobs.RestoreTerminal();
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
