// Taking the sandbox's credentials on one thread of the supervisor.
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>

namespace rf {

// No supplementary groups, then `gid`, then `uid` (real, effective and
// saved), on the calling thread only: the raw system calls change just
// the caller, where glibc's wrappers would change every thread of the
// process. 0 or the errno of the call that failed. Async-signal-safe, so
// a forked child may use it too.
inline int SwitchThreadCredentials(uid_t uid, gid_t gid) noexcept {
  if (syscall(SYS_setgroups, 0, nullptr) != 0 || syscall(SYS_setresgid, gid, gid, gid) != 0 ||
      syscall(SYS_setresuid, uid, uid, uid) != 0)
    return errno;
  return 0;
}

}  // namespace rf
