#include "audit/audit.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "audit/ocsf.h"
#include "common/json_text.h"

namespace rf {

namespace {

// A descriptor number as written on the command line: digits only.
bool ParseDescriptor(const std::string& s, int* out) {
  if (s.empty() || s.size() > 9) return false;
  int n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  *out = n;
  return true;
}

// The descriptor of ringfence's own that `path` names, or -1. These names
// are magic links to whatever the descriptor is (a pipe, a socket, a file);
// opening them would mean following a link, which the audit log never does,
// and would fail for a socket. The descriptor itself is taken instead.
// `-` is stderr, not stdout: stdout carries the command's output, which the
// caller pipes and parses, and ringfence's own messages already go to stderr.
int NamedDescriptor(const std::string& path) {
  if (path == "-" || path == "/dev/stderr") return 2;
  if (path == "/dev/stdout") return 1;
  for (const std::string prefix : {"/dev/fd/", "/proc/self/fd/"}) {
    int n;
    if (path.rfind(prefix, 0) == 0 && ParseDescriptor(path.substr(prefix.size()), &n)) return n;
  }
  return -1;
}

// How long a run waits for a reader to open an audit FIFO: a collector is
// normally there first; a FIFO no one reads is a mistake worth a clear
// error, not a run that hangs before it starts.
constexpr int kFifoReaderWaitMs = 10000;

// Past this, a write to a stream that takes nothing (a non-blocking
// descriptor whose reader stopped reading) gives the event up.
constexpr int kStreamStallMs = 10000;

}  // namespace

Result<std::unique_ptr<AuditSink>> AuditSink::Open(const std::string& path,
                                                   const std::string& flag) {
  if (int n = NamedDescriptor(path); n >= 0) {
    int flags = fcntl(n, F_GETFL);
    if (flags < 0)
      return Status::Error(flag + " " + path + ": descriptor " + std::to_string(n) +
                           " is not open");
    UniqueFd fd(fcntl(n, F_DUPFD_CLOEXEC, 3));
    if (!fd.valid()) return Status::Errno(flag + " ", path);
    return Adopt(std::move(fd), flag + " " + path);
  }
  // Not through a symlink: one the sandbox planted in a directory it can
  // write would make a later run (as root) append to any file.
  // O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) instead of
  // blocking with the early signals held; it is then waited for, bounded.
  // O_EXCL first: a log this run made is one it may remove again when run
  // refuses it (src/sandbox/audit_path.h) before anything was written.
  const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK;
  bool created = true;
  UniqueFd fd(::open(path.c_str(), flags | O_CREAT | O_EXCL, 0600));
  if (!fd.valid() && errno == EEXIST) {
    created = false;
    fd.reset(::open(path.c_str(), flags | O_CREAT, 0600));
    struct stat st;
    if (!fd.valid() && errno == ENXIO && lstat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) {
      fprintf(stderr, "ringfence: waiting up to %d s for a reader of the audit FIFO %s\n",
              kFifoReaderWaitMs / 1000, path.c_str());
      for (int waited = 0; !fd.valid() && errno == ENXIO && waited < kFifoReaderWaitMs;
           waited += 20) {
        usleep(20 * 1000);
        fd.reset(::open(path.c_str(), flags, 0600));
      }
      if (!fd.valid() && errno == ENXIO)
        return Status::Error("cannot open audit file " + path +
                             ": no reader opened the FIFO within " +
                             std::to_string(kFifoReaderWaitMs / 1000) + " s");
    }
  }
  if (!fd.valid()) return Status::Errno("cannot open audit file ", path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::Errno("cannot stat audit file ", path);
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !(S_ISCHR(st.st_mode) && isatty(fd.get())))
    return Status::Error("cannot open audit file " + path +
                         ": not a regular file, a FIFO or a terminal");
  // This description is ringfence's own: writes block for room in a FIFO
  // like any writer's (the reader sets the pace), whole up to PIPE_BUF.
  int now = fcntl(fd.get(), F_GETFL);
  if (now < 0 || fcntl(fd.get(), F_SETFL, now & ~O_NONBLOCK) != 0)
    return Status::Errno("audit file ", path);
  auto sink = Adopt(std::move(fd), path);
  if (sink.ok()) (*sink)->created_ = created;
  return sink;
}

Result<std::unique_ptr<AuditSink>> AuditSink::FromFd(const std::string& number,
                                                     const std::string& flag) {
  int n;
  if (!ParseDescriptor(number, &n))
    return Status::Error(flag + " '" + number + "': not a descriptor number");
  const std::string shown = flag + " " + number;
  if (fcntl(n, F_GETFL) < 0)
    return Status::Error(shown + ": descriptor " + number + " is not open");
  UniqueFd fd;
  if (n <= 2) {
    // The command's stdio: ringfence writes through a copy of its own.
    fd.reset(fcntl(n, F_DUPFD_CLOEXEC, 3));
    if (!fd.valid()) return Status::Errno(shown);
  } else {
    // Close-on-exec, so no exec of ringfence's passes it on; the command
    // also gets every descriptor above stderr closed (src/process/child.cc).
    fd.reset(n);
    if (fcntl(n, F_SETFD, FD_CLOEXEC) != 0) return Status::Errno(shown);
  }
  return Adopt(std::move(fd), shown);
}

Result<std::unique_ptr<AuditSink>> AuditSink::Adopt(UniqueFd fd, const std::string& shown) {
  int flags = fcntl(fd.get(), F_GETFL);
  if (flags < 0) return Status::Errno(shown);
  if ((flags & O_ACCMODE) == O_RDONLY) return Status::Error(shown + ": not open for writing");
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::Errno(shown);
  auto sink = std::make_unique<AuditSink>();
  if (S_ISREG(st.st_mode)) {
    sink->kind_ = Kind::kFile;
  } else if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
             (S_ISCHR(st.st_mode) && isatty(fd.get()))) {
    sink->kind_ = Kind::kStream;
  } else {
    return Status::Error(shown + ": not a regular file, a pipe, a socket or a terminal");
  }
  sink->fd_ = std::move(fd);
  return sink;
}

std::string AuditSink::Format(const AuditEvent& e, LineFormat f, const struct timeval* at) {
  struct timeval tv;
  if (at)
    tv = *at;
  else
    gettimeofday(&tv, nullptr);
  if (f == LineFormat::kOcsf) {
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
    const int64_t ms = static_cast<int64_t>(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
    return JsonText(OcsfRecord(e, ms, host, getpid())) + "\n";
  }
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[64];
  size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(ts + n, sizeof ts - n, ".%03ldZ", static_cast<long>(tv.tv_usec / 1000));
  nlohmann::json j = nlohmann::json::object();
  j["time"] = ts;
  j["layer"] = e.layer;
  j["action"] = e.action;
  j["subject"] = e.subject;
  j["reason"] = e.reason;
  for (auto it = e.extra.begin(); it != e.extra.end(); ++it) {
    if (!j.contains(it.key())) j[it.key()] = it.value();
  }
  return JsonText(j) + "\n";
}

std::string AuditSink::FormatWithin(const AuditEvent& e, size_t limit, LineFormat f,
                                    const struct timeval* at) {
  std::string line = Format(e, f, at);
  if (line.size() <= limit) return line;
  // Cut at byte counts: a UTF-8 sequence cut in two is written as U+FFFD.
  AuditEvent cut = e;
  for (size_t keep : {size_t{1024}, size_t{256}, size_t{64}}) {
    if (cut.subject.size() > keep) cut.subject.resize(keep);
    if (cut.reason.size() > keep) cut.reason.resize(keep);
    nlohmann::json extra = nlohmann::json::object();
    for (auto it = e.extra.begin(); it != e.extra.end(); ++it)
      if (JsonText(it.value()).size() <= keep) extra[it.key()] = it.value();
    extra["truncated"] = true;
    cut.extra = extra;
    line = Format(cut, f, at);
    if (line.size() <= limit) return line;
  }
  cut.extra = {{"truncated", true}};
  return Format(cut, f, at);
}

void AuditSink::Emit(const AuditEvent& e) {
  if (!sandbox_id_.empty() && !e.extra.contains("sandbox_id")) {
    AuditEvent named = e;
    named.extra["sandbox_id"] = sandbox_id_;
    return Emit(named);
  }
  struct timeval now;
  gettimeofday(&now, nullptr);
  EmitAt(e, now);
}

void AuditSink::EmitAt(const AuditEvent& e, const struct timeval& at) {
  if (also_) also_->EmitAt(e, at);
  if (e.action == "deny") {
    // A unix socket is refused by the network guards too; the user looks
    // for it as its own class.
    const std::string cls =
        e.layer == "network" && e.subject.rfind("unix:", 0) == 0 ? "unix sockets" : e.layer;
    std::lock_guard<std::mutex> lock(mu_);
    DenialClass& d = denials_[cls];
    if (d.count++ == 0) d.example = e.subject + ": " + e.reason;
  }
  const bool subscribed = subscribed_.load();
  if (!fd_.valid() && !subscribed) return;
  bool cap_line = false;
  if (e.layer != "process") {
    std::lock_guard<std::mutex> lock(mu_);
    SourceCount& c = counts_[e.layer + " " + e.action];
    ++c.total;
    if (c.total > kCapPerSource + 1) return;
    cap_line = c.total == kCapPerSource + 1;
  }
  // On a stream an event longer than PIPE_BUF could be split by the kernel
  // and interleaved with another writer's bytes (the command's, on stderr).
  const size_t limit = kind_ == Kind::kStream ? PIPE_BUF : SIZE_MAX;
  if (!cap_line) return Write(FormatWithin(e, limit, format_, &at));
  const bool deny = e.action == "deny";
  Write(FormatWithin(
      {e.layer,
       e.action,
       "audit log",
       "more than " + std::to_string(kCapPerSource) + " " + e.layer + " " + e.action +
           " events: further " + (deny ? "refusals" : "events") + " are not written (still " +
           (deny ? "refused" : "in force") + "); the exit event counts them",
       {}},
      limit, format_, &at));
}

void AuditSink::SetSubscriber(std::function<void(const std::string&)> f) {
  std::lock_guard<std::mutex> lock(mu_);
  subscribed_.store(f != nullptr);
  subscriber_ = std::move(f);
}

void AuditSink::Write(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (subscriber_) subscriber_(line);
  if (!fd_.valid()) return;
  if (!(kind_ == Kind::kFile ? WriteFile(line) : WriteStream(line))) ++failures_;
}

void AuditSink::Failed(int err) {
  if (warned_) return;
  warned_ = true;
  fprintf(stderr,
          "ringfence: warning: audit log write failed (%s); events that cannot be written are "
          "left out whole and counted\n",
          err ? strerror(err) : "short write");
}

// One write per event, with O_APPEND where the log was opened by ringfence:
// lines from the supervisor's threads and from other runs never interleave.
// A write the disk could only take part of is cut off again, so the file
// holds whole lines only and the next event (or run) starts on its own line.
bool AuditSink::WriteFile(const std::string& line) {
  std::string text = line;
  if (check_line_start_) {
    // Read through a descriptor of ringfence's own: the log may be write-only.
    char last = '\n';
    struct stat st;
    if (fstat(fd_.get(), &st) == 0 && st.st_size > 0) {
      UniqueFd r(::open(("/proc/self/fd/" + std::to_string(fd_.get())).c_str(),
                        O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
      if (r.valid() && pread(r.get(), &last, 1, st.st_size - 1) != 1) last = '\n';
    }
    if (last != '\n') text.insert(0, 1, '\n');
  }
  ssize_t w = ::write(fd_.get(), text.data(), text.size());
  if (w == static_cast<ssize_t>(text.size())) {
    check_line_start_ = false;
    return true;
  }
  const int err = w < 0 ? errno : 0;
  check_line_start_ = true;
  if (w > 0) {
    // The descriptor's offset is where this write ended; cut the file back
    // to where it began, unless someone appended after it meanwhile (then
    // the next write starts a fresh line instead).
    off_t end = lseek(fd_.get(), 0, SEEK_CUR);
    struct stat st;
    if (end >= w && fstat(fd_.get(), &st) == 0 && st.st_size == end &&
        ftruncate(fd_.get(), end - w) == 0) {
      int flags = fcntl(fd_.get(), F_GETFL);
      if (flags >= 0 && !(flags & O_APPEND)) lseek(fd_.get(), end - w, SEEK_SET);
    }
  }
  Failed(err);
  return false;
}

// A stream cannot be cut back: the event goes out whole (it is within
// PIPE_BUF, which a pipe takes in one piece) or, when the reader is gone,
// not at all. A non-blocking descriptor (inherited so) is waited on for
// room, bounded.
bool AuditSink::WriteStream(const std::string& line) {
  size_t done = 0;
  int err = 0;
  for (int tries = 0; done < line.size() && tries < 64; ++tries) {
    ssize_t w = ::write(fd_.get(), line.data() + done, line.size() - done);
    if (w > 0) {
      done += static_cast<size_t>(w);
      continue;
    }
    err = w < 0 ? errno : EIO;
    if (err == EINTR) continue;
    if (err != EAGAIN) break;
    struct pollfd p = {fd_.get(), POLLOUT, 0};
    if (poll(&p, 1, kStreamStallMs) <= 0) break;
  }
  if (done == line.size()) return true;
  // A line begun and not finished (a reader that stopped taking it): ended,
  // where it still can be, so the next event is not glued to it.
  if (done > 0) (void)!::write(fd_.get(), "\n", 1);
  Failed(err);
  return false;
}

std::map<std::string, AuditSink::SourceCount> AuditSink::Counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  auto out = counts_;
  // `written` is derived: the cap line stands in for the rest.
  for (auto& [k, c] : out) c.written = std::min(c.total, kCapPerSource);
  return out;
}

std::map<std::string, AuditSink::DenialClass> AuditSink::Denials() const {
  std::lock_guard<std::mutex> lock(mu_);
  return denials_;
}

uint64_t AuditSink::write_failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

}  // namespace rf
