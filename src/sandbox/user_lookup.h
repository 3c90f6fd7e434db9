// User and group names to ids for process.run_as_user / run_as_group.
//
// Every run as root looks both up. glibc's getpwnam_r/getgrnam_r first probe
// nscd's socket and parse nsswitch.conf, which cost ~60 us per run here,
// several times reading the one line of /etc/passwd it ends up using. When
// nsswitch.conf makes `files` the first source of the database (with its
// default actions), the answer of /etc/passwd or /etc/group is the answer
// NSS gives if the name is there: it is read directly. Any other setup, and
// a name that is not in the file, go through NSS as before.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace rf {

// Whether `nsswitch` (the text of nsswitch.conf) makes plain `files` the
// first source of `database` ("passwd", "group"). No line: false (glibc's
// built-in default then applies, which is not assumed).
bool FilesFirstInNsswitch(std::string_view nsswitch, std::string_view database);

// The id (third field) of the first entry named `name` in the text of
// /etc/passwd or /etc/group, if any.
std::optional<unsigned long> IdInFilesDatabase(std::string_view text, std::string_view name);

// A name or a decimal id. Errors name the policy field.
Result<uid_t> LookupUser(const std::string& name);
Result<gid_t> LookupGroup(const std::string& name);

}  // namespace rf
