// Live policy (docs/live-policy.md): what a running sandbox may change and
// how a change is checked before anything is applied.
//
// Only network_policies is dynamic; every other section (filesystem_policy,
// landlock, process, network, gpu...) was turned into Landlock rules, a
// seccomp program, namespaces and the command's environment before the
// command started, and cannot follow a change. A change is planned here, as
// a pure function of the running policy's text and the new one; the caller
// applies it (the proxy's rules) only when planning succeeded, so an invalid
// or refused change leaves everything as it was. Credential bindings join
// the dynamic part when they exist: the comparison takes a list of dynamic
// sections for that reason.
#pragma once

#include <string>

#include "common/status.h"
#include "policy/policy.h"

namespace rf::control {

struct PlannedPolicy {
  std::string text;  // the policy text in force after the change
  Policy policy;     // `text`, loaded and validated
};

// `policy set`: `text` (from `source`) replaces the running policy. It must
// be a valid policy whose static sections equal the running one's.
Result<PlannedPolicy> PlanSet(const std::string& running, const std::string& text,
                              const std::string& source);
// `policy update`: `text` holds network_policies entries (and, optionally,
// `version` and static sections equal to the running ones); each entry
// replaces the running entry of its name or is added.
Result<PlannedPolicy> PlanUpdate(const std::string& running, const std::string& text,
                                 const std::string& source);
// The first place (dotted, "filesystem_policy.read_write") where a static
// section of `a` differs from `b`'s, or "" when none does. Both must parse
// as YAML.
Result<std::string> StaticDifference(const std::string& a, const std::string& b);

// Lower-case hex SHA-256 of `text` (the digests in the audit events).
std::string Sha256Hex(const std::string& text);

}  // namespace rf::control
