// deny_read without a mount namespace (docs/policy.md "Protected paths"):
// Landlock cannot take a path back out of a grant, so a grant that covers a
// denied path is replaced by rules that never cover it: each directory on the
// way down to the denied path keeps the grant's rights without READ_FILE,
// and every other entry of those directories gets the grant's full rights.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "landlock/ruleset.h"

namespace rf::landlock {

// `paths` rewritten so that no rule covers a path of `denied` (absolute,
// lexically normal) with READ_FILE. Entries of the directories on the way
// that are symbolic links get no rule (a rule would grant the link's
// target, which the directory's rule never did). Fails past `max_rules`
// added rules, naming the directory.
Result<std::vector<PathRule>> SplitForDenyRead(const std::vector<PathRule>& paths,
                                               const std::vector<std::string>& denied,
                                               size_t max_rules = 20'000);

}  // namespace rf::landlock
