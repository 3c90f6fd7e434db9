#include "process/job_control.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "process/pty_relay.h"

namespace rf {

namespace {

// Our controlling terminal among the standard descriptors, foreground or
// not, or -1 (job control: a run started with `&` can be brought to the
// foreground later).
int ControllingTerminal() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (isatty(fd) && tcgetsid(fd) == getsid(0)) return fd;
  }
  return -1;
}

}  // namespace

JobControl::JobControl(PtyRelay* pty, bool take_terminal) : pty_(pty) {
  // With a terminal of its own, the command never gets the caller's: the
  // supervisor's job control follows the caller's terminal on stdin.
  job_tty_ = pty ? pty->user_terminal() : take_terminal ? ControllingTerminal() : -1;
  // The controlling terminal is kept for job control even when we are in
  // the background; it is handed to the command at start only if we are in
  // its foreground.
  command_tty_ = pty                                                 ? pty->slave()
                 : job_tty_ >= 0 && tcgetpgrp(job_tty_) == getpgrp() ? job_tty_
                                                                     : -1;
  have_tty_state_ = !pty && command_tty_ >= 0 && tcgetattr(command_tty_, &saved_tty_) == 0;
  cmd_has_tty_ = !pty && command_tty_ >= 0;
}

void JobControl::RestoreTerminal() {
  if (job_tty_ < 0 || !cmd_has_tty_) return;
  // We are in the background now: SIGTTOU is blocked, so this succeeds.
  tcsetpgrp(job_tty_, getpgrp());
  // Output the command suspended (tcflow TCOOFF) is resumed first: the
  // caller's writes, and TCSADRAIN below, would wait for it forever.
  tcflow(job_tty_, TCOON);
  if (have_tty_state_) tcsetattr(job_tty_, TCSADRAIN, &saved_tty_);
  cmd_has_tty_ = false;
}

// Stops the whole supervisor until SIGCONT. The kernel discards it in an
// orphaned process group (no job-control shell that could resume us).
void JobControl::StopSelf() {
  raise(SIGTSTP);
  if (pty_) {
    // Blocked (read from the signalfd): delivered when unblocked, and its
    // default action is taken before the unblock returns.
    sigset_t tstp;
    sigemptyset(&tstp);
    sigaddset(&tstp, SIGTSTP);
    pthread_sigmask(SIG_UNBLOCK, &tstp, nullptr);
    pthread_sigmask(SIG_BLOCK, &tstp, nullptr);
  }
}

bool JobControl::RelayStop() {
  if (pty_) {
    pty_->Restore();
  } else if (tcgetpgrp(job_tty_) == cmd_pid_) {
    have_cmd_tty_ = tcgetattr(job_tty_, &cmd_tty_) == 0;
    cmd_has_tty_ = true;
    RestoreTerminal();
  }
  StopSelf();
  sigset_t pending;
  return sigpending(&pending) == 0 && sigismember(&pending, SIGCONT) == 1;
}

void JobControl::Continued() {
  if (cmd_pid_ <= 0) return;
  if (pty_) {
    pty_->EnterRaw();  // only when we are in the caller's foreground
  } else if (job_tty_ >= 0 && tcgetpgrp(job_tty_) == getpgrp()) {
    if (have_cmd_tty_) tcsetattr(job_tty_, TCSADRAIN, &cmd_tty_);
    tcsetpgrp(job_tty_, cmd_pid_);  // SIGTTOU is blocked
    cmd_has_tty_ = true;
  }
  kill(-cmd_pid_, SIGCONT);
}

void JobControl::CommandStopped() {
  if (job_tty_ < 0 || cmd_pid_ <= 0) return;
  if (RelayStop() || tcgetpgrp(job_tty_) == getpgrp()) Continued();
}

void JobControl::SupervisorStopped() {
  if (!pty_) return;
  pty_->Restore();
  StopSelf();
  // Continued (or never stopped: an orphaned group): raw again if we are
  // the caller's foreground (not after `bg`).
  pty_->EnterRaw();
}

}  // namespace rf
