// A terminal of the command's own (docs/process.md "Terminal").
//
// An interactive command gets a new pseudo-terminal instead of the caller's
// terminal: the supervisor keeps the master, the command's standard
// descriptors that were terminals become the slave (its controlling
// terminal, in a session of its own), and the supervisor relays bytes
// between the master and the caller's terminal, which it puts in raw mode
// for the run. Whatever the command does to its terminal (job control,
// termios, ioctls) happens to the pseudo-terminal and ends with it.
#pragma once

#include <poll.h>
#include <termios.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/fd.h"
#include "common/status.h"

namespace rf {

// --tty / --no-tty / neither.
enum class TtyMode { kAuto, kOn, kOff };

// Which standard descriptors get the private terminal. `auto`: one is made
// when stdin and stdout are terminals (and ringfence is the foreground);
// each of the three that is a terminal is replaced by it, the others
// (stderr to a file) are kept.
// `on`: one is made whatever they are, and all three are replaced. `off`:
// none (the command gets the descriptors as they are).
struct TerminalChoice {
  bool pty = false;
  bool replace[3] = {false, false, false};
};
TerminalChoice ChooseTerminal(TtyMode mode);

class PtyRelay {
 public:
  // Opens a pseudo-terminal pair with the caller's termios and window size.
  static Result<std::unique_ptr<PtyRelay>> Open(const TerminalChoice& choice);
  ~PtyRelay();
  PtyRelay(const PtyRelay&) = delete;
  PtyRelay& operator=(const PtyRelay&) = delete;

  int slave() const { return slave_.get(); }
  int master() const { return master_.get(); }
  // The slave's name (/dev/pts/N): the one terminal the sandbox may open.
  const std::string& slave_path() const { return slave_path_; }
  const TerminalChoice& choice() const { return choice_; }
  // After the command exec'ed: only the command holds the slave, so its
  // last close (the whole tree is gone) shows as EIO on the master.
  void CloseSlave() { slave_.reset(); }

  // The caller's input terminal, when stdin is one (job control of the
  // supervisor itself), else -1.
  int user_terminal() const { return user_tty_; }
  // Raw mode on the caller's terminal, only while we are its foreground
  // (from the background it would change the caller's shell's terminal).
  void EnterRaw();
  // The caller's terminal exactly as it was at Open. Idempotent.
  void Restore();
  // The caller's window size, copied to the pseudo-terminal (the kernel
  // then sends SIGWINCH to its foreground group).
  void Resize();

  // Adds the descriptors to poll now (bounded buffers: a full buffer stops
  // reading that side, an empty one stops waiting to write).
  void AddPollFds(std::vector<struct pollfd>& fds);
  // Moves bytes for what poll reported on the descriptors added.
  void Handle(const std::vector<struct pollfd>& fds);
  // Whether the caller's terminal hung up since the last call (the
  // pseudo-terminal was hung up too; see spawn.cc for the signals).
  bool TakeHangup() { return std::exchange(hung_up_, false); }
  // The command's tree is gone: copies what is left on the master to the
  // caller, for at most `ms` without progress.
  void Drain(int ms);

 private:
  PtyRelay() = default;
  // One direction: a bounded buffer between a source and a sink.
  struct Pipe {
    int from = -1, to = -1;
    char buf[65536];
    size_t head = 0, len = 0;
    bool eof = false;  // source closed: nothing more to read
    int from_index = -1, to_index = -1;
  };
  bool Foreground() const;
  bool Fill(Pipe& p);   // returns false on EOF or error of the source
  bool Flush(Pipe& p);  // returns false on error of the sink
  void UserInputClosed();

  TerminalChoice choice_;
  UniqueFd master_, slave_;
  std::string slave_path_;
  // Our own open file descriptions of the caller's terminal (reopened
  // O_NONBLOCK: setting it on the inherited ones would change them for the
  // caller's shell too), or the inherited descriptors when not terminals.
  UniqueFd in_own_, out_own_;
  int user_tty_ = -1;
  bool input_is_tty_ = false;
  struct termios saved_ {};
  bool have_saved_ = false;
  bool raw_ = false;
  bool hung_up_ = false;
  char last_sent_ = 0;  // the last byte given to the command (end of a line?)
  Pipe to_command_, to_user_;
};

}  // namespace rf
