// Job control of a run (docs/process.md): the supervisor stands in for the
// command as a job of the caller's shell. When the command is stopped
// (Ctrl-Z), the supervisor takes the terminal back and stops itself, so the
// caller's shell sees a stopped job; when continued (fg, bg: SIGCONT), it
// gives the terminal back if it is in the foreground and continues the
// command. With a terminal of the command's own (PtyRelay), the caller's
// terminal leaves and re-enters raw mode instead.
//
// Used by the supervisor only (SpawnAndWait), never after fork in a child:
// the signals it relies on (SIGTTOU, SIGCONT, and SIGTSTP with a pty) are
// blocked by the supervisor and read from its signalfd.
#pragma once

#include <sys/types.h>
#include <termios.h>

namespace rf {

class PtyRelay;

class JobControl {
 public:
  // `pty`: the command's own terminal, or nullptr. `take_terminal`
  // (SpawnSpec::take_terminal): without a pty, give the command the caller's
  // terminal when we are its foreground. Reads the terminal's state, to be
  // restored at the end: construct before the command can change it.
  JobControl(PtyRelay* pty, bool take_terminal);
  JobControl(const JobControl&) = delete;
  JobControl& operator=(const JobControl&) = delete;

  // The terminal the supervisor follows for job control (the caller's, even
  // when we are in the background: a run started with `&` can be brought to
  // the foreground later), or -1.
  int terminal() const { return job_tty_; }
  // The terminal the command makes its foreground at start (Prepared's
  // tty_fd): its own pty, or the caller's if we are its foreground; or -1.
  int command_terminal() const { return command_tty_; }

  // The command's pid (and process group), once it exists.
  void SetCommand(pid_t pid) { cmd_pid_ = pid; }

  // Init reported the command stopped: relay the stop to the caller's shell
  // and, once resumed, continue the command. Not stopped (an orphaned
  // group): Ctrl-Z changes nothing when we hold the terminal; otherwise the
  // command stays stopped (continuing it would only stop it again, in a loop).
  void CommandStopped();
  // SIGCONT for the supervisor (fg, bg): continue the command, giving it the
  // terminal when we are the foreground.
  void Continued();
  // SIGTSTP for the supervisor itself, with a pty: stopped as a job of the
  // caller's shell, the command keeps its terminal (its output waits in the
  // buffers), the caller gets theirs until we are continued.
  void SupervisorStopped();
  // Takes the caller's terminal back, if the command's group was last given
  // it, and restores its state (at the end of the run).
  void RestoreTerminal();

 private:
  void StopSelf();
  // Returns whether we were stopped and continued since (SIGCONT, blocked
  // here, is then pending for the signalfd).
  bool RelayStop();

  PtyRelay* const pty_;
  int job_tty_ = -1;
  int command_tty_ = -1;
  pid_t cmd_pid_ = -1;
  // The caller's terminal state at start, restored at the end.
  struct termios saved_tty_ {};
  bool have_tty_state_ = false;
  // Whether the command's group was last given the terminal (at start, or
  // by `fg`). Only then is it taken back: after `bg` the caller's shell has
  // it, and must keep it.
  bool cmd_has_tty_ = false;
  // The command's terminal state when it was last stopped, given back at fg.
  struct termios cmd_tty_ {};
  bool have_cmd_tty_ = false;
};

}  // namespace rf
