// Path globs of the policy: binary paths (network_policies.*.binaries),
// unix socket grants and the in-label host wildcard.
//
// `*` and `?` stay within one path component, `**` crosses `/` (and in
// "/**/" may match nothing). A pattern without wildcards matches only the
// same string. Cost: O(pattern x path) time, O(path) memory, whatever the
// pattern (the path can be chosen by the sandboxed program).
#pragma once

#include <string>

namespace rf {

bool GlobMatch(const std::string& pattern, const std::string& path);

}  // namespace rf
