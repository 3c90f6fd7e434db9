// File denials from the kernel's audit records (Landlock ABI 7).
//
// Landlock refuses a file access in the kernel; the sandboxed program only
// sees EACCES. With kernel auditing on, the kernel writes a record for each
// refusal of a domain restricted with LOG_NEW_EXEC_ON (src/landlock/uapi.h)
// and multicasts every record to readers of the audit netlink socket's
// read-only group (CAP_AUDIT_READ; no auditd needed, nothing configured).
// The supervisor reads them there and turns this sandbox's into ringfence
// audit events. See docs/audit.md for the record format, attribution and
// what is reported when this is unavailable.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/audit.h"
#include "common/fd.h"
#include "common/status.h"

namespace rf {

// Record types (include/uapi/linux/audit.h).
inline constexpr int kAuditSyscall = 1300;
inline constexpr int kAuditEoe = 1320;
inline constexpr int kAuditLandlockAccess = 1423;
inline constexpr int kAuditLandlockDomain = 1424;

// One record as the kernel wrote it: "audit(SEC.MS:SERIAL): key=value ...".
struct KernelRecord {
  int type = 0;
  uint64_t serial = 0;
  struct Field {
    std::string key;
    std::string value;  // without the quotes when quoted
    bool quoted = false;
  };
  std::vector<Field> fields;
  const Field* Find(std::string_view key) const;
  // A field's value as text ("" when absent).
  std::string Text(std::string_view key) const;
  // An untrusted string field (path, exe, comm): the kernel writes it in
  // quotes, or as upper-case hex when it holds a space, a quote, a control
  // character or a byte past 0x7e. Decoded here; a value that is neither
  // is returned as written.
  std::string Untrusted(std::string_view key) const;
};

// Parses one record's text (a netlink message's payload, not NUL-ended).
// Bounded: at most kMaxFields fields of a text of at most kMaxText bytes;
// anything else is an error, never a partial record.
inline constexpr size_t kMaxRecordText = 16384;
inline constexpr size_t kMaxRecordFields = 64;
Result<KernelRecord> ParseKernelRecord(int type, std::string_view text);

// Decodes the kernel's hex form of an untrusted string; nullopt when `hex`
// is not an even number of upper-case hex digits.
std::optional<std::string> DecodeAuditHex(std::string_view hex);

// One refused file access of this sandbox.
struct FileDenial {
  std::string domain;               // the Landlock domain's id (hex)
  std::vector<std::string> access;  // "read_file", "write_file", "make_dir" ...
  std::string path;                 // as the kernel resolved it
  std::string dev;
  uint64_t ino = 0;
  pid_t pid = -1;  // the process refused, when the kernel said (syscall record)
  std::string exe, comm;
  int syscall = -1;
};

// Turns the stream of records (every process's, from the whole host) into
// this sandbox's file denials, and those into audit events, bounded:
//  - a record belongs to this sandbox when its Landlock domain was created
//    by the command's process (the domain record, written with the first
//    refusal of each domain, names the creating pid);
//  - records are grouped by their serial (one per system call) until the
//    end-of-event record, at most kMaxPending groups at once;
//  - each distinct (binary, access, path) is written once, at most
//    kMaxDistinct of them; repeats and the rest are counted only, and the
//    counts are in the closing event.
class LandlockDenials {
 public:
  static constexpr size_t kMaxPending = 256;
  static constexpr size_t kMaxGroupRecords = 16;
  static constexpr size_t kMaxDistinct = 1000;
  static constexpr size_t kMaxDomains = 64;
  static constexpr size_t kMaxRepeatsListed = 20;

  void SetSandboxPid(pid_t pid) { sandbox_pid_ = pid; }
  // One netlink message: its type and payload.
  void Feed(int type, std::string_view text, AuditSink& sink);
  // Ends every group still open (the run is over).
  void Flush(AuditSink& sink);
  // The closing event (only when something was refused or lost).
  // `records_lost`: what the kernel dropped; `overflows`: times the
  // socket's buffer was full (an unknown number each).
  void EmitSummary(AuditSink& sink, uint64_t records_lost, uint64_t overflows) const;

  struct Totals {
    uint64_t denials = 0;    // this sandbox's refusals received
    uint64_t written = 0;    // of which written as their own event
    uint64_t malformed = 0;  // records that could not be parsed
    uint64_t kernel = 0;     // refusals the kernel counted for our domains
    size_t domains = 0;      // this sandbox's domains seen
    size_t released = 0;     // of which the kernel said were freed
    std::string example;     // the first: "PATH: access"
  };
  const Totals& totals() const { return totals_; }
  // Every domain of ours seen has been freed: no more records will come.
  bool AllReleased() const { return totals_.domains > 0 && totals_.released == totals_.domains; }
  // The denials handed to the sink, for tests.
  static AuditEvent EventFor(const FileDenial& d);

 private:
  struct Pending {
    std::vector<KernelRecord> records;
  };
  void Finish(uint64_t serial, AuditSink& sink);
  void Report(const FileDenial& d, AuditSink& sink);

  pid_t sandbox_pid_ = -1;
  std::map<uint64_t, Pending> pending_;
  std::set<std::string> ours_;      // domain ids
  std::set<std::string> released_;  // domain ids freed
  struct Seen {
    uint64_t count = 0;
    std::string path, access, exe;
  };
  std::map<std::string, Seen> seen_;  // key: exe, access, path
  Totals totals_;
};

// Whether file denials can be reported here, and why not.
struct FileDenialReporting {
  bool available = false;
  std::string reason;  // why not; or, when available, a caveat ("" none)
  // Kernel auditing is off and could be turned on (CAP_AUDIT_CONTROL).
  bool can_enable = false;
  std::string Describe() const;  // "reported (...)" or "not reported (...)"
};

// The audit netlink socket, bound to the read-only multicast group.
class KernelAuditReader {
 public:
  // `landlock_abi`: the ABI the ruleset uses (0: no Landlock). With
  // `enable`, kernel auditing is turned on when it is off (host-wide; it
  // stays on), and `*enabled_now` says whether this call did that.
  static Result<std::unique_ptr<KernelAuditReader>> Open(int landlock_abi, bool landlock_fs,
                                                         bool enable, bool* enabled_now);
  // Without opening anything that stays open or changing anything.
  static FileDenialReporting Probe(int landlock_abi, bool landlock_fs);

  int fd() const { return sock_.get(); }
  LandlockDenials& denials() { return denials_; }
  // Reads what has arrived, without blocking; at most kMaxPerCall records,
  // the rest on the next call (the descriptor stays readable).
  static constexpr int kMaxPerCall = 4096;
  void Read(AuditSink& sink);
  // After the run: reads until every domain of ours has been freed, or
  // nothing of ours came for `quiet_ms`, at most `max_ms` in all; then ends
  // the open groups and writes the closing event.
  void Finish(AuditSink& sink, int quiet_ms, int max_ms);
  // Records the socket could not take (its buffer overflowed): some
  // refusals may be missing. Counted once per overflow, not per record.
  uint64_t overflows() const { return overflows_; }
  // After Finish: the records the kernel dropped host-wide during the run
  // (backlog or rate limit), when it could be asked.
  uint64_t records_lost() const { return records_lost_; }

 private:
  UniqueFd sock_;
  LandlockDenials denials_;
  uint64_t overflows_ = 0;
  uint64_t records_lost_ = 0;
  std::vector<char> buf_;  // one record at a time
  uint64_t kernel_lost_at_start_ = 0;
  bool have_lost_ = false;
};

}  // namespace rf
