// Resolving a rule path once, component by component, before it becomes a
// Landlock rule (or the command's working directory).
//
// A rule binds the inode its path names at start-up. A path that is, or
// passes through, a symbolic link therefore grants whatever the link points
// to on that run; a link someone else could have planted or swapped (in
// /tmp, in a directory the sandbox can write) would move the grant to a
// target of their choosing. So a link is followed only when the link and
// every directory walked to reach it are owned by root or by the user who
// started ringfence and are writable by no one else (sshd's StrictModes
// test). A path with no link on the way is not checked: nothing was
// re-pointed, and the plain path is what the policy names.
//
// The walk is openat(O_PATH | O_NOFOLLOW) one name at a time, readlinkat on
// the link's own descriptor, and fstat on the descriptors it holds; the
// final descriptor is the one the rule is added with, so nothing is
// resolved twice and there is no window between the check and the use.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/fd.h"
#include "common/status.h"

namespace rf::landlock {

struct FollowedLink {
  std::string link;    // absolute path of the link, as walked
  std::string target;  // what it contains (relative targets as written)
};

struct ResolvedPath {
  UniqueFd fd;                      // O_PATH descriptor of what the path names
  std::string real;                 // absolute path with every link resolved
  std::vector<FollowedLink> links;  // in the order they were followed
};

// Resolves absolute `path`. Links are followed only as described above, with
// `trusted_uid` (besides root) as the owner allowed. `root_fd` is the
// directory that stands for "/" (absolute link targets restart there, ".."
// stops there); -1 = the process's root. Errors are one phrase that fits
// after the path ("does not exist", "reached through the symlink ...").
Result<ResolvedPath> ResolveRulePath(const std::string& path, uid_t trusted_uid, int root_fd = -1);

// The phrase for an errno of opening a rule path.
std::string OpenFailure(int err);

}  // namespace rf::landlock
