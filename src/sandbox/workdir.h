// The working directory that filesystem_policy.include_workdir grants
// read-write. Containers, systemd units and cron jobs start in `/`, and a
// shell is often in the caller's home: granting either silently would hand
// the command the whole host, or the caller's startup files and keys.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace rf {

// `workdir` is absolute and resolved (every symbolic link followed, see
// src/landlock/resolve.h). An error when it is a path the loader refuses in
// read_write (RefusedReadWritePaths), by name or by identity (a bind mount
// of `/` is `/`); a warning appended to `warnings` when it is, or contains,
// the caller's home directory ($HOME, and the home of the real uid).
Status CheckWorkdirGrant(const std::string& workdir, std::vector<std::string>& warnings);

}  // namespace rf
