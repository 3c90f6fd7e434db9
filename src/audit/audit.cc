#include "audit/audit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "common/json_text.h"

namespace rf {

Result<std::unique_ptr<AuditSink>> AuditSink::Open(const std::string& path) {
  // Not through a symlink: one the sandbox planted in a directory it can
  // write would make a later run (as root) append to any file. Not a FIFO
  // either (O_NONBLOCK: no waiting for a reader; then regular files only).
  // O_EXCL first: a log this run made is one it may remove again when run
  // refuses it (src/sandbox/audit_path.h) before anything was written.
  const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK;
  bool created = true;
  UniqueFd fd(::open(path.c_str(), flags | O_CREAT | O_EXCL, 0600));
  if (!fd.valid() && errno == EEXIST) {
    created = false;
    fd.reset(::open(path.c_str(), flags | O_CREAT, 0600));
  }
  if (!fd.valid()) return Status::Errno("cannot open audit file " + path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::Errno("cannot stat audit file " + path);
  if (!S_ISREG(st.st_mode))
    return Status::Error("cannot open audit file " + path + ": not a regular file");
  int now = fcntl(fd.get(), F_GETFL);
  if (now < 0 || fcntl(fd.get(), F_SETFL, now & ~O_NONBLOCK) != 0)
    return Status::Errno("audit file " + path);
  auto sink = std::make_unique<AuditSink>();
  sink->fd_ = std::move(fd);
  sink->created_ = created;
  return sink;
}

std::string AuditSink::Format(const AuditEvent& e) {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
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

void AuditSink::Emit(const AuditEvent& e) {
  if (e.action == "deny") {
    // A unix socket is refused by the network guards too; the user looks
    // for it as its own class.
    const std::string cls =
        e.layer == "network" && e.subject.rfind("unix:", 0) == 0 ? "unix sockets" : e.layer;
    std::lock_guard<std::mutex> lock(mu_);
    DenialClass& d = denials_[cls];
    if (d.count++ == 0) d.example = e.subject + ": " + e.reason;
  }
  if (!fd_.valid()) return;
  bool cap_line = false;
  if (e.layer != "process") {
    std::lock_guard<std::mutex> lock(mu_);
    SourceCount& c = counts_[e.layer + " " + e.action];
    ++c.total;
    if (c.total > kCapPerSource + 1) return;
    cap_line = c.total == kCapPerSource + 1;
  }
  if (!cap_line) return Write(Format(e));
  const bool deny = e.action == "deny";
  Write(Format({e.layer,
                e.action,
                "audit log",
                "more than " + std::to_string(kCapPerSource) + " " + e.layer + " " + e.action +
                    " events: further " + (deny ? "refusals" : "events") +
                    " are not written (still " + (deny ? "refused" : "in force") +
                    "); the exit event counts them",
                {}}));
}

void AuditSink::Write(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  // One write per event with O_APPEND: lines never interleave.
  ssize_t w = ::write(fd_.get(), line.data(), line.size());
  if (w != static_cast<ssize_t>(line.size())) {
    ++failures_;
    if (!warned_) {
      warned_ = true;
      fprintf(stderr,
              "ringfence: warning: audit log write failed (%s); further events may be lost\n",
              w < 0 ? strerror(errno) : "short write");
    }
  }
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
