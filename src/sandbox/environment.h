// Which of the caller's environment variables the command gets
// (process.environment; docs/process.md, "Environment").
//
// A variable from the caller's environment is decided by the first rule
// that applies, in this order:
//   1. RINGFENCE_* names: ringfence's own, never passed.
//   2. exclude: a name matching an `exclude` glob is not passed.
//   3. include: a name matching an `include` glob is passed.
//   4. secret-shaped: a name matching SecretShapedPatterns() is not passed
//      (API keys and tokens in the environment are the easiest thing for a
//      sandboxed agent to send away; the command gets them only when the
//      policy lists them).
//   5. inherit: `all` passes the rest, `core` only CoreNames(), `none`
//      nothing.
// Variables ringfence sets itself (proxy, trust, HOME, TMPDIR...) are added
// afterwards and always set (ChildEnvironment, src/sandbox/plan.h).
// Globs: src/l7/glob.h, matched case-insensitively.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "policy/policy.h"

namespace rf {

// The one list of secret-shaped name patterns (docs/process.md quotes it).
std::span<const std::string_view> SecretShapedPatterns();
// The names (globs) `inherit: core` passes.
std::span<const std::string_view> CoreNames();

struct EnvironmentChoice {
  std::string name;
  bool passed = false;
  std::string why;  // "secret-shaped (matches *_TOKEN)", "inherit: all"...
};

struct FilteredEnvironment {
  std::vector<std::string> kept;  // NAME=value, in the caller's order
  std::vector<EnvironmentChoice> choices;
  // `kept` as a null-terminated array for ChildEnvironment; valid while
  // `kept` is unchanged.
  std::vector<char*> Pointers();
};

// Applies `policy` to `environ_in` (NAME=value entries; entries without '='
// are dropped, as no program can read them by name).
FilteredEnvironment FilterEnvironment(char** environ_in, const EnvironmentPolicy& policy);

// For `policy show --effective`: the names passed, the names dropped and
// why, the names ringfence sets (`additions`: NAME=value). Names only,
// never values.
nlohmann::json EnvironmentStatus(const FilteredEnvironment& filtered,
                                 const EnvironmentPolicy& policy,
                                 const std::vector<std::string>& additions);

// For the run's summary line: what was withheld, or "" when nothing
// secret-shaped was and inherit is all.
std::string EnvironmentSummary(const FilteredEnvironment& filtered,
                               const EnvironmentPolicy& policy);

}  // namespace rf
