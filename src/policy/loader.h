// Loading and strict validation of policy files.
//
// Contract: unknown keys, wrong types, duplicate keys, relative paths, `..`
// components and out-of-range ports are errors. Every error is reported as
// "file:line:col: message" (1-based), all errors of a file at once, one per
// line of the returned Status reason.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "policy/policy.h"

namespace rf {

// Parses and validates `text`; `source` names it in error messages.
Result<Policy> LoadPolicyString(const std::string& text, const std::string& source);
// The text of the policy file `path`: a regular file of at most 4 MiB. The
// reason of a failure starts "cannot read policy file PATH" (missing,
// unreadable, a directory), so that callers can tell it from an invalid one.
Result<std::string> ReadPolicyText(const std::string& path);
// Reads `path` with ReadPolicyText and parses it.
Result<Policy> LoadPolicyFile(const std::string& path);
// The policy that applies when no --policy is given: src/policy/default.yaml,
// loaded at build time (tools/default_policy_gen.cc writes both functions;
// binaries link build/default_policy.cc). DefaultPolicy() builds the loaded
// struct directly: parsing the YAML would cost about a million instructions
// on every run.
Policy DefaultPolicy();
const std::string& DefaultPolicyText();

// Paths never granted read-write, with why: the loader refuses them as
// filesystem_policy.read_write entries, and the working directory that
// include_workdir grants gets the same test (src/sandbox/workdir.h).
struct RefusedReadWrite {
  const char* path;  // absolute, normalised
  const char* why;
};
const std::vector<RefusedReadWrite>& RefusedReadWritePaths();

// process.home: per_run, persistent, or a plain absolute path other than
// the refused read_write paths. The error names the field and the value.
Status CheckHomeSetting(const std::string& home);
// One value of process.limits (or of the matching `run` flag) from its
// text: `key` is memory, processes, cpu, wall_time, file_size or open_files.
// Sizes take a k, m, g or t suffix (powers of 1024), wall_time an s, m, h or
// d suffix (plain numbers are seconds), cpu a decimal number of cores.
// Fails with what is expected, without naming where (the caller does).
Status ParseLimit(const std::string& key, const std::string& text, ProcessLimits& out);

// Whether `h` is an endpoint host the loader accepts: a DNS name, an IP
// literal, or a name with wildcards in its first label only (`*.`, `**.`,
// or `*` inside the label), leaving at least two labels.
bool ValidHostPattern(const std::string& h);

}  // namespace rf
