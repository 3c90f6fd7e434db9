// Where `run --audit` may write: never where the sandboxed command can.
//
// The audit log is the record of what the command did. A log inside a grant
// the command can write (the working directory, /tmp, a read_write path) is
// one it can truncate and fill with forged events, so `run` refuses it before
// anything starts. "Inside" is judged as Landlock judges a path: by the
// identity (device and inode) of the file and of each directory above it,
// so a symbolic link, a bind mount or a second hard link does not hide a
// grant; a mount placed inside a grant counts as part of that grant.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace rf {

// `fd` is the open audit log, `shown` the option that named it as given
// ("--audit FILE", "--audit-fd N"). `writable` are the
// effective policy's read_write paths, resolved as the Landlock layer
// resolves them (links followed only when `trusted_uid` or root owns them);
// `workdir` names the working directory's grant in the message. An error
// naming the log and the grant when the command could write the log.
Status CheckAuditOutsideGrants(int fd, const std::string& shown,
                               const std::vector<std::string>& writable, const std::string& workdir,
                               uid_t trusted_uid);

}  // namespace rf
