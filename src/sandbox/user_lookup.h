// User and group names to ids for process.run_as_user / run_as_group.
//
// ringfence reads /etc/passwd and /etc/group itself and never calls glibc's
// getpwnam_r/getgrnam_r. The binary is linked statically, and a static glibc
// that consults a source other than `files` loads that NSS module
// (libnss_systemd.so.2 on Debian's stock nsswitch.conf) together with the
// shared libc it depends on: two libcs in one process, which crashes. The
// name of an account that exists only in another source (systemd, sss,
// ldap) is reported as unknown; a numeric id always works. This is also how
// OCI runtimes resolve a container's user: from its /etc/passwd.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace rf {

// The id (third field) of the first entry named `name` in the text of
// /etc/passwd or /etc/group, if any.
std::optional<unsigned long> IdInFilesDatabase(std::string_view text, std::string_view name);

// The primary group (fourth field) of the first /etc/passwd entry whose uid
// is `uid`, if any.
std::optional<unsigned long> PrimaryGidInPasswd(std::string_view text, unsigned long uid);
std::optional<gid_t> PrimaryGidOf(uid_t uid);

// A name or a decimal id. Errors name the policy field and the value.
Result<uid_t> LookupUser(const std::string& name);
Result<gid_t> LookupGroup(const std::string& name);

}  // namespace rf
