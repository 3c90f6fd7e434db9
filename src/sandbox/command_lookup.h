// Finds the command the way a shell does, but for the sandbox's user and
// policy: a PATH entry the sandbox cannot search (another user's directory,
// /root/.pyenv/shims when root runs the command as nobody) or that no grant
// covers (Landlock would refuse it) is skipped, as a shell skips an entry it
// cannot search; a file found but not executable is remembered and the
// search goes on. When nothing runnable is found, the message says what
// refused each candidate: the policy or the file's permissions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "process/spawn.h"

namespace rf {

struct CommandLookup {
  std::optional<RunAs> run_as;  // the sandbox's ids (started as root)
  // Landlock confines the filesystem: only paths under `granted` (the
  // policy's read_only and read_write grants, enriched) can be executed.
  bool landlock = false;
  std::vector<std::string> granted;
  std::string workdir;  // where relative PATH entries and commands resolve
};

// The path to exec, or why there is none: kNotFound when nothing of that
// name exists where the search looked (a shell's 127), kPermission when
// something was found that the sandbox may not run (126).
Result<std::string> LookupCommand(const std::string& cmd, const std::string& path_env,
                                  const CommandLookup& how);

}  // namespace rf
