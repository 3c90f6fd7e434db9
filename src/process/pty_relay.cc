#include "process/pty_relay.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace rf {

namespace {

// Writes to a descriptor we could not make non-blocking (a pipe or file
// given with --tty) stay below the size poll's POLLOUT guarantees room for.
constexpr size_t kBlockingChunk = 4096;

// Our own open file description of the terminal on `fd`, non-blocking, so
// that O_NONBLOCK does not change the caller's (shared) one.
UniqueFd Reopen(int fd, int access) {
  char path[32];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  return UniqueFd(open(path, access | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
}

int64_t NowMs() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t{t.tv_sec} * 1000 + t.tv_nsec / 1000000;
}

}  // namespace

TerminalChoice ChooseTerminal(TtyMode mode) {
  TerminalChoice c;
  if (mode == TtyMode::kOff) return c;
  if (mode == TtyMode::kOn) {
    c.pty = true;
    for (bool& r : c.replace) r = true;
    return c;
  }
  const bool tty[3] = {isatty(0) == 1, isatty(1) == 1, isatty(2) == 1};
  // Output to a pipe (`ringfence run -- cmd | less`): other programs of
  // the pipeline share the caller's terminal, and raw mode for the run
  // would change it under them.
  if (!tty[0] || !tty[1]) return c;
  // Started in the background (`ringfence run ... &`): the caller's
  // terminal is their shell's; the command gets it as it is and is stopped
  // when it reads it (job control of the caller's shell, docs/process.md).
  if (tcgetpgrp(0) != getpgrp()) return c;
  c.pty = true;
  for (int i = 0; i < 3; ++i) c.replace[i] = tty[i];
  return c;
}

Result<std::unique_ptr<PtyRelay>> PtyRelay::Open(const TerminalChoice& choice) {
  std::unique_ptr<PtyRelay> r(new PtyRelay());
  r->choice_ = choice;
  r->master_.reset(open("/dev/ptmx", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  if (!r->master_.valid()) return Status::Errno("a terminal for the command: /dev/ptmx");
  if (unlockpt(r->master_.get()) != 0) return Status::Errno("a terminal for the command: unlockpt");
  unsigned int n = 0;
  if (ioctl(r->master_.get(), TIOCGPTN, &n) != 0)
    return Status::Errno("a terminal for the command: TIOCGPTN");
  r->slave_path_ = "/dev/pts/" + std::to_string(n);
  // The peer of this master, whatever /dev/pts is mounted over (no lookup
  // by name another devpts instance could answer).
  r->slave_.reset(ioctl(r->master_.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!r->slave_.valid())
    r->slave_.reset(open(r->slave_path_.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!r->slave_.valid()) return Status::Errno("a terminal for the command: " + r->slave_path_);

  // The caller's terminal: settings and size to start from, and the one
  // raw mode is set on (stdin, when it is a terminal).
  int model = -1;
  for (int fd = 0; fd <= 2 && model < 0; ++fd)
    if (isatty(fd)) model = fd;
  r->input_is_tty_ = isatty(0) == 1;
  r->user_tty_ = r->input_is_tty_ ? 0 : -1;
  if (model >= 0) {
    struct termios t;
    if (tcgetattr(model, &t) == 0) {
      tcsetattr(r->slave_.get(), TCSANOW, &t);
      if (model == 0) {
        r->saved_ = t;
        r->have_saved_ = true;
      }
    }
    struct winsize ws;
    if (ioctl(model, TIOCGWINSZ, &ws) == 0) ioctl(r->master_.get(), TIOCSWINSZ, &ws);
  }

  int in = 0;
  if (r->input_is_tty_) {
    r->in_own_ = Reopen(0, O_RDONLY);
    if (r->in_own_.valid()) in = r->in_own_.get();
  }
  int out_fd = choice.replace[1] ? 1 : 2;
  int out = out_fd;
  if (isatty(out_fd)) {
    r->out_own_ = Reopen(out_fd, O_WRONLY);
    if (r->out_own_.valid()) out = r->out_own_.get();
  }
  r->to_command_.from = in;
  r->to_command_.to = r->master_.get();
  r->to_user_.from = r->master_.get();
  r->to_user_.to = out;
  return r;
}

PtyRelay::~PtyRelay() { Restore(); }

bool PtyRelay::Foreground() const { return user_tty_ >= 0 && tcgetpgrp(user_tty_) == getpgrp(); }

void PtyRelay::EnterRaw() {
  if (!have_saved_ || raw_ || !Foreground()) return;
  struct termios raw = saved_;
  cfmakeraw(&raw);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr(user_tty_, TCSADRAIN, &raw) == 0) raw_ = true;
}

void PtyRelay::Restore() {
  if (!raw_) return;
  // From the background too: SIGTTOU is blocked in the supervisor.
  tcsetattr(user_tty_, TCSADRAIN, &saved_);
  raw_ = false;
}

void PtyRelay::Resize() {
  if (!master_.valid()) return;
  for (int fd = 0; fd <= 2; ++fd) {
    struct winsize ws;
    if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0) {
      ioctl(master_.get(), TIOCSWINSZ, &ws);
      return;
    }
  }
}

void PtyRelay::AddPollFds(std::vector<struct pollfd>& fds) {
  for (Pipe* p : {&to_command_, &to_user_}) {
    p->from_index = p->to_index = -1;
    // A pipe whose sink is gone is still read (and discarded): the side
    // writing into it must never block on it.
    if (p->from < 0) continue;
    // Input is read only while we are the caller's foreground: from the
    // background the read would fail (SIGTTIN is blocked) and poll would
    // report it again at once.
    const bool may_read = p != &to_command_ || !input_is_tty_ || Foreground();
    if (!p->eof && p->head + p->len < sizeof p->buf && may_read) {
      p->from_index = static_cast<int>(fds.size());
      fds.push_back({p->from, POLLIN, 0});
    }
    if (p->len && p->to >= 0) {
      p->to_index = static_cast<int>(fds.size());
      fds.push_back({p->to, POLLOUT, 0});
    }
  }
}

bool PtyRelay::Fill(Pipe& p) {
  if (p.head && p.head + p.len == sizeof p.buf) {
    memmove(p.buf, p.buf + p.head, p.len);
    p.head = 0;
  }
  size_t room = sizeof p.buf - p.head - p.len;
  if (!room) return true;
  ssize_t n = read(p.from, p.buf + p.head + p.len, room);
  if (n > 0) {
    p.len += static_cast<size_t>(n);
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  p.eof = true;  // EOF, or EIO: every descriptor of the other side is closed
  return false;
}

bool PtyRelay::Flush(Pipe& p) {
  size_t chunk = p.len;
  if (p.to != master_.get() && p.to != out_own_.get()) chunk = std::min(chunk, kBlockingChunk);
  ssize_t n = write(p.to, p.buf + p.head, chunk);
  if (n > 0) {
    p.head += static_cast<size_t>(n);
    p.len -= static_cast<size_t>(n);
    if (!p.len) p.head = 0;
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  // The sink is gone: what it would have received is dropped, and the
  // source is still read so the other side is never blocked on it.
  p.head = p.len = 0;
  p.to = -1;
  return false;
}

void PtyRelay::UserInputClosed() {
  if (input_is_tty_) {
    // The caller's terminal hung up: so does the command's. Closing the
    // master hangs up the slave, and the kernel sends SIGHUP (and SIGCONT)
    // to its session leader and foreground group, as for a real terminal.
    to_command_.from = to_command_.to = -1;
    to_user_.from = to_user_.to = -1;
    to_command_.len = to_user_.len = 0;
    master_.reset();
    hung_up_ = true;
    return;
  }
  // Input from a pipe or file (--tty) ended: an end-of-file character, as
  // typing Ctrl-D would give, twice if a line is unfinished (the first only
  // ends the line).
  struct termios t;
  if (tcgetattr(master_.get(), &t) != 0 || !(t.c_lflag & ICANON)) return;
  Pipe& p = to_command_;
  const bool mid_line =
      p.len ? p.buf[p.head + p.len - 1] != '\n' : last_sent_ != '\n' && last_sent_ != 0;
  for (int i = 0; i < (mid_line ? 2 : 1) && p.head + p.len < sizeof p.buf; ++i)
    p.buf[p.head + p.len++] = static_cast<char>(t.c_cc[VEOF]);
}

void PtyRelay::Handle(const std::vector<struct pollfd>& fds) {
  for (Pipe* p : {&to_command_, &to_user_}) {
    const int fi = p->from_index, ti = p->to_index;
    if (ti >= 0 && fds[static_cast<size_t>(ti)].revents && p->to >= 0) {
      const char last = p->len ? p->buf[p->head + p->len - 1] : 0;
      if (Flush(*p) && p == &to_command_ && !p->len) last_sent_ = last;
    }
    if (fi >= 0 && fds[static_cast<size_t>(fi)].revents && p->from >= 0 && !p->eof) {
      if (!Fill(*p) && p == &to_command_) UserInputClosed();
      // Nowhere to deliver it: discarded, so the command never blocks.
      if (p->to < 0) p->head = p->len = 0;
    }
  }
}

void PtyRelay::Drain(int ms) {
  int64_t last_progress = NowMs();
  // Bounded: every round either moves bytes or waits for them, and stops
  // after `ms` without any.
  for (int round = 0; round < 1000000; ++round) {
    Pipe& p = to_user_;
    if (!master_.valid() || p.to < 0 || (p.eof && !p.len)) return;
    const int64_t left = last_progress + ms - NowMs();
    if (left <= 0) return;
    std::vector<struct pollfd> fds;
    if (!p.eof && p.head + p.len < sizeof p.buf) fds.push_back({p.from, POLLIN, 0});
    if (p.len) fds.push_back({p.to, POLLOUT, 0});
    if (poll(fds.data(), fds.size(), static_cast<int>(left)) <= 0) continue;
    const size_t before = p.len;
    const bool eof_before = p.eof;
    for (const auto& f : fds) {
      if (!f.revents) continue;
      if (f.events == POLLIN) {
        Fill(p);
      } else {
        Flush(p);
      }
    }
    if (p.len != before || p.eof != eof_before) last_progress = NowMs();
  }
}

}  // namespace rf
