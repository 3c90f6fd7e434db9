// Audit events as JSON Lines: one object a line with at least
// time (RFC 3339, UTC, ms), layer, action, subject, reason. See docs/audit.md.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

struct timeval;

#include "common/fd.h"
#include "common/status.h"

namespace rf {

struct AuditEvent {
  std::string layer;    // process | landlock | seccomp | proxy | network | ...
  std::string action;   // start | exit | allow | deny | degraded | ...
  std::string subject;  // what the event is about (command, host:port, path)
  std::string reason;   // why
  nlohmann::json extra = nlohmann::json::object();  // layer-specific fields
};

// Thread-safe sink. A sink without a file accepts events and drops them, so
// callers never need to check whether auditing is on.
//
// Every source (layer and action, e.g. "network deny") is capped: past
// kCapPerSource events of one source, one line says further ones are not
// written, and they are only counted. A sandbox looping on a refused call
// cannot fill the disk through the log; Counts() gives the totals for the
// end-of-run summary. Process lifecycle events (layer "process") are few
// and never capped.
class AuditSink {
 public:
  static constexpr uint64_t kCapPerSource = 10000;
  struct SourceCount {
    uint64_t total = 0;    // events emitted
    uint64_t written = 0;  // of which written (the rest: past the cap)
  };

  // What the log is written to. A regular file takes each event with one
  // write and, when the disk fills mid-line, is cut back to before it; a
  // stream (pipe, FIFO, socket, terminal) cannot be cut back, so its
  // events are kept within PIPE_BUF, the size the kernel writes to a pipe
  // whole, never interleaved with another writer's bytes.
  enum class Kind { kFile, kStream };
  // What each line holds: ringfence's own event (below, docs/audit.md) or
  // the same event as an OCSF record (src/audit/ocsf.h, --audit-format).
  enum class LineFormat { kJson, kOcsf };

  AuditSink() = default;
  // `path` is a file (not followed through a symbolic link), a FIFO (a
  // reader is waited for, bounded), or a name for one of ringfence's own
  // descriptors: "-" and /dev/stderr (2), /dev/stdout (1), /dev/fd/N and
  // /proc/self/fd/N, which take that descriptor instead of opening a path.
  // `flag` is the option named in errors (--audit, --events).
  static Result<std::unique_ptr<AuditSink>> Open(const std::string& path,
                                                 const std::string& flag = "--audit");
  // An inherited descriptor (`--audit-fd N`): kept close-on-exec, so the
  // command never gets it (unless it is one of its stdio).
  static Result<std::unique_ptr<AuditSink>> FromFd(const std::string& number,
                                                   const std::string& flag = "--audit-fd");

  void set_format(LineFormat f) { format_ = f; }
  // A second destination that gets every event this one is given, as it
  // is given (`run --audit FILE --events -`): its own caps, format and
  // failures; the counts and denials that `run` reports are this sink's.
  void Also(std::unique_ptr<AuditSink> other) { also_ = std::move(other); }
  const AuditSink* also() const { return also_.get(); }

  void Emit(const AuditEvent& e);
  // Each event line also goes to `f` (the control socket's `events`
  // subscribers, docs/live-policy.md), with or without a log; null: none.
  // Called under the sink's lock, so `f` must not emit events itself.
  void SetSubscriber(std::function<void(const std::string&)> f);
  // Every event from now on carries "sandbox_id": ID (docs/live-policy.md):
  // set before the first one, so each line of a shared log names its run.
  void SetSandboxId(std::string id) { sandbox_id_ = std::move(id); }
  // Per source ("layer action"), in name order.
  std::map<std::string, SourceCount> Counts() const;
  // Refusals ("deny" events) by class, counted with or without a log file,
  // for the end-of-run summary: "network", "unix sockets", "filesystem",
  // "seccomp", "proxy", or the layer's name. `example` is the first one.
  struct DenialClass {
    uint64_t count = 0;
    std::string example;  // "subject: reason"
  };
  std::map<std::string, DenialClass> Denials() const;
  bool enabled() const { return fd_.valid(); }
  // The log's descriptor (-1 without one), held from before the command
  // starts to after it ends: the path is not opened again.
  int fd() const { return fd_.get(); }
  // Whether Open made the file (it did not exist before this run).
  bool created() const { return created_; }
  // Number of events that could not be written (e.g. disk full): each
  // is missing whole, never left as part of a line.
  uint64_t write_failures() const;
  Kind kind() const { return kind_; }
  // `at`: the event's time (default: now). An event given to several
  // sinks carries one time in all of them.
  static std::string Format(const AuditEvent& e, LineFormat f = LineFormat::kJson,
                            const struct timeval* at = nullptr);
  // Format(e) within `limit` bytes: past it, the longest fields are
  // shortened and the event carries "truncated": true.
  static std::string FormatWithin(const AuditEvent& e, size_t limit,
                                  LineFormat f = LineFormat::kJson,
                                  const struct timeval* at = nullptr);

 private:
  mutable std::mutex mu_;
  UniqueFd fd_;
  Kind kind_ = Kind::kFile;
  LineFormat format_ = LineFormat::kJson;
  std::unique_ptr<AuditSink> also_;
  uint64_t failures_ = 0;
  bool warned_ = false;
  bool created_ = false;
  // Whether to look at the file's last byte before the next write: a line
  // another run (or an older version) left unfinished is ended first, so
  // this run's events start on a line of their own.
  bool check_line_start_ = true;
  std::map<std::string, SourceCount> counts_;
  std::function<void(const std::string&)> subscriber_;
  std::string sandbox_id_;  // set once, before any thread emits
  std::atomic<bool> subscribed_{false};
  std::map<std::string, DenialClass> denials_;
  void EmitAt(const AuditEvent& e, const struct timeval& at);
  static Result<std::unique_ptr<AuditSink>> Adopt(UniqueFd fd, const std::string& shown);
  void Write(const std::string& line);
  bool WriteFile(const std::string& line);
  bool WriteStream(const std::string& line);
  void Failed(int err);
};

}  // namespace rf
