// Path and value globs of L7 rules, with OpenShell's syntax: `*` and `**`
// match any run of characters, `/` included; `?` matches one character;
// `[abc]`, `[a-z]` and `[!0]` (or `[^0]`) match one character of a class.
// A backslash makes the next character literal. Matching is case-sensitive
// (paths are) and costs O(pattern x text) at worst, never exponential: a
// hostile path cannot make the proxy spin.
#pragma once

#include <string_view>

#include "common/status.h"

namespace rf::l7 {

// Whether `pattern` is well formed (closed classes, no trailing backslash,
// ranges in order), so a policy with a broken glob is refused at load time.
Status ValidateGlob(std::string_view pattern);

// Matches the whole of `text`. A malformed pattern matches nothing.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace rf::l7
