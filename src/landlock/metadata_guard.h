// Metadata and watches outside the policy (docs/threat-model.md, "Metadata
// and watches"). Landlock (up to ABI 7) checks opens, not chmod, chown,
// utimes, the xattr calls or inotify_add_watch: a sandbox could make a file
// of its uid outside every grant world-readable, read its xattrs, or watch
// it. The seccomp profile sends these calls to the supervisor (user
// notification); this guard, run by the connect guard's thread,
//   - resolves the path itself in the caller's view (its root, its cwd or
//     directory descriptor), one component at a time, never following a
//     magic link (/proc/<pid>/fd/N is read as the path it names);
//   - decides against the Landlock rules the command is restricted with:
//     the object, or a directory above it (walked up with ".." as Landlock
//     walks), must be a rule; metadata writes need a read-write rule,
//     xattr reads and watches any rule;
//   - acts through the descriptor it resolved, on a thread with the
//     sandbox's credentials (so Unix permissions and ownership are judged
//     as the sandbox's), and answers with that call's result. It never
//     answers "continue": the kernel would resolve the path again, after a
//     racing thread had swapped a component for a symlink.
// Calls on a descriptor (fchmod, fchown, fsetxattr, fremovexattr, the *at
// calls with AT_EMPTY_PATH, utimensat with a NULL path) are decided on the
// object the descriptor names. fgetxattr and flistxattr are not sent here:
// the kernel refuses them on O_PATH descriptors, so their descriptor was
// opened, which Landlock checked.
#pragma once

#include <linux/seccomp.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "audit/audit.h"
#include "common/status.h"
#include "net/sandbox_thread.h"

namespace rf {

// One Landlock path rule, as the inode it binds.
struct MetadataGrant {
  dev_t dev = 0;
  ino_t ino = 0;
  bool dir = false;    // a directory: everything beneath it
  bool write = false;  // a read-write rule
  // A rule the sandbox re-adds after mounting something there itself (its
  // /proc, its /tmp): the inode is only known once it has, found at start
  // through the sandbox's root (ResolveSandboxGrants).
  std::string sandbox_path;
};

// Fills in the inode of each grant with a `sandbox_path`, as the sandbox's
// process `pid` sees that path (/proc/PID/root). A grant that cannot be
// found keeps inode 0 and grants nothing.
void ResolveSandboxGrants(std::vector<MetadataGrant>& grants, pid_t pid);

struct MetadataGuardConfig {
  // Landlock is enforced: calls are decided against `grants`. Otherwise the
  // filesystem is not confined at all and calls are answered "continue".
  bool enforce = false;
  std::vector<MetadataGrant> grants;
  // When the supervisor is root: acts with the sandbox's uid/gid, no groups.
  bool switch_creds = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Whether system call `nr` is one this guard answers.
bool IsMetadataCall(int nr);

class MetadataGuard {
 public:
  // `listener`: the seccomp listener (borrowed, the connect guard's).
  static Result<std::unique_ptr<MetadataGuard>> Create(int listener, MetadataGuardConfig cfg,
                                                       AuditSink* audit);
  // Answers notification `req` (an IsMetadataCall one).
  void Handle(const struct seccomp_notif& req);
  uint64_t denied() const { return denied_; }

 private:
  MetadataGuard() = default;

  int listener_ = -1;
  MetadataGuardConfig cfg_;
  AuditSink* audit_ = nullptr;
  std::unique_ptr<SandboxThread> worker_;
  uint64_t denied_ = 0;
};

}  // namespace rf
