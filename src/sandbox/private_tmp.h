// The sandbox's own /tmp. The host's /tmp is shared by every user and
// every process: what a sandbox leaves there (a symbolic link a host program
// follows, a file another user runs, a listener a host client connects to)
// acts outside it. Unless the policy lists /tmp itself, the sandbox gets:
//   namespace mode: a fresh tmpfs on /tmp in its mount namespace (nosuid,
//     nodev, mode 1777, filesystem_policy.tmp_size); paths under /tmp that
//     the policy grants (the workdir included) are bound into it;
//   other modes (no mount namespace): a directory made for this run (mode
//     0700, the sandbox user's), granted read-write and exported as TMPDIR,
//     TMP and TEMP, removed after the run.
// docs/threat-model.md says what each leaves open.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/status.h"
#include "policy/policy.h"
#include "process/spawn.h"

namespace rf {

// The policy lists /tmp itself (read-only or read-write): the host's /tmp.
bool PolicyListsTmp(const FilesystemPolicy& fs);

// Paths strictly under /tmp among `paths`, without those under another of
// them, sorted.
std::vector<std::string> PathsUnderTmp(const std::vector<std::string>& paths);

// Namespace mode, when no host path under /tmp must stay visible: mounts a
// fresh tmpfs on /tmp. A privileged step: it runs after the namespace step
// (mounts private) and before the privilege drop. Host paths are never bound
// into it: Landlock's rule on the tmpfs covers whatever is mounted beneath
// it, so a read-only grant bound there would become writable.
class PrivateTmpfsStep : public ChildStep {
 public:
  static std::unique_ptr<PrivateTmpfsStep> Create(const std::string& size);
  const char* name() const override { return "private /tmp"; }
  int Apply() const noexcept override;

 private:
  PrivateTmpfsStep() = default;
  std::string options_;  // tmpfs mount data
};

// Other modes: the per-run directory, removed (with everything in it) when
// this object is destroyed.
class PrivateTmpDir {
 public:
  // Made under a root the sandbox cannot write: /run/ringfence as root,
  // $XDG_RUNTIME_DIR/ringfence or /tmp/ringfence-<uid> otherwise (mode
  // 0711, owned by the caller, checked without following links), then a
  // random name inside, mode 0700, owned by `owner` when given (root).
  // `prefix` starts the random name ("run-": the /tmp directory, "home-":
  // the per-run home, src/sandbox/home.h). `outside_tmp`: try
  // /var/tmp/ringfence-<uid> before /tmp (namespace mode's tmpfs on /tmp
  // would otherwise give way to a directory there).
  static Result<std::unique_ptr<PrivateTmpDir>> Create(std::optional<std::pair<uid_t, gid_t>> owner,
                                                       const char* prefix = "run-",
                                                       const char* what = "private /tmp",
                                                       bool outside_tmp = false);
  ~PrivateTmpDir();
  PrivateTmpDir(const PrivateTmpDir&) = delete;
  PrivateTmpDir& operator=(const PrivateTmpDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  PrivateTmpDir() = default;
  std::string path_;
  std::string name_;
  std::string what_;
  UniqueFd parent_;
};

// A directory ringfence keeps its per-run or persistent directories under:
// made (mode 0711) if missing, then checked through a descriptor opened
// without following links: a link, or a directory another user owns or can
// write, planted there is refused, never used.
Result<UniqueFd> OpenPrivateRoot(const std::string& path);

}  // namespace rf
