// The command's home directory (process.home). Started as root, the command
// runs as another user, for whom the caller's HOME (/root) is unreadable:
// shells, git and every tool that keeps settings or caches fail or warn.
// The sandbox gets a home of its own, granted read-write, with HOME and the
// XDG base directories pointing into it:
//   per_run (default): a directory made for the run under the same private
//     root as the per-run /tmp (src/sandbox/private_tmp.h; /var/tmp rather
//     than /tmp as the last resort, out of the way of a tmpfs on /tmp),
//     mode 0700, the sandbox user's, removed after the run;
//   persistent: one per working directory and sandbox uid, kept between
//     runs, under /var/lib/ringfence/homes as root, else
//     $XDG_STATE_HOME/ringfence/homes (~/.local/state/ringfence/homes);
//   an absolute path: that directory (made, mode 0700, when missing).
// The homes ringfence makes itself are the sandbox's own: only sandboxed
// programs ever read them, so protected paths do not apply there; a home
// named by path may be a person's, and gets them (docs/policy.md).
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "sandbox/private_tmp.h"

namespace rf {

struct SandboxHome {
  std::string path;
  bool own = false;  // made by ringfence for sandboxes only (per_run, persistent)
  std::unique_ptr<PrivateTmpDir> per_run;  // removed with this value
};

// `setting` is process.home (checked by the loader); `workdir` absolute and
// resolved; `owner` the sandbox's ids when started as root.
Result<SandboxHome> MakeHome(const std::string& setting, const std::string& workdir,
                             std::optional<std::pair<uid_t, gid_t>> owner);

// Where a persistent home for `workdir` and `uid` lives (nothing made).
std::string PersistentHomePath(const std::string& workdir, uid_t uid);

// HOME and the XDG base directories for `home`, as NAME=value.
std::vector<std::string> HomeEnvironment(const std::string& home);

}  // namespace rf
