// Permission checks as the sandbox's user, before it exists. Started as
// root, the command runs as another uid with one group and no supplementary
// groups: what root may do says nothing about what it may do. The kernel
// answers (ownership, mode bits, ACLs, every directory on the way), in a
// short-lived child that takes the sandbox's ids first; otherwise (the
// sandbox keeps the caller's ids) faccessat answers for the caller itself.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "process/spawn.h"

namespace rf {

struct AccessCheck {
  std::string path;
  int mode;  // F_OK, or R_OK / W_OK / X_OK combined
};

// For each check, 0 when the sandbox's user may, else the errno (EACCES,
// ENOENT, ...). `run_as`: the sandbox's ids when started as root; nullopt:
// the caller's. A check the child could not make (it failed or timed out)
// reads 0: these checks only add warnings and hints, they never refuse.
std::vector<int> AccessAs(const std::optional<RunAs>& run_as,
                          const std::vector<AccessCheck>& checks);

}  // namespace rf
