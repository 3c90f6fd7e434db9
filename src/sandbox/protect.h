// Protected paths and read denials inside grants (filesystem_policy.protected
// and deny_read; docs/policy.md, "Protected paths"). Landlock cannot take a
// path back out of a grant, so the entries are found before the run and
// held by the mount namespace where there is one (read-only binds, masks,
// placeholders that make creation fail) and, without one, by a snapshot
// restored after the run. `policy show --effective` names the mechanism of
// each entry and what it does not guarantee.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit.h"
#include "common/status.h"
#include "policy/policy.h"
#include "process/spawn.h"

namespace rf {

struct ProtectedEntry {
  enum class Kind { kProtected, kDenyRead };
  enum class Type { kAbsent, kFile, kDir, kSymlink, kOther };
  std::string path;     // absolute host path
  std::string pattern;  // the pattern that named it
  Kind kind = Kind::kProtected;
  Type type = Type::kAbsent;
  bool dir_pattern = false;  // the pattern ends with '/': a directory
  std::string grant;         // the grant root it was found below
  // Absent, and held by the snapshot after the run even with a mount
  // namespace: a placeholder would only be noise there (a shell's file in a
  // repository that is not a home).
  bool restore_only = false;
};

struct ProtectLimits {
  int max_depth = 4;            // levels of entries below a grant
  size_t max_entries = 20'000;  // directory entries looked at, all grants together
};

struct ProtectScan {
  std::vector<ProtectedEntry> entries;
  std::vector<std::string> warnings;
};

// `rel` (a path relative to a grant, or an absolute path without its leading
// '/') against `pattern`: '*', '?' and '[...]' inside one component, '**'
// for any number of components. A relative pattern matches at any depth; an
// absolute one only `abs`.
bool MatchProtectPattern(std::string_view pattern, std::string_view rel, std::string_view abs);

// Walks the directory grants of `fs` (never /proc, /sys or /dev), without
// following symbolic links, into neither node_modules nor the directories
// inside a .git: protected patterns inside read-write grants,
// deny_read patterns inside every grant; a match is not descended into.
// Protected names without glob characters that do not exist yet are listed
// (kAbsent) where their parent directory exists below a read-write grant
// root that is a repository (holds .git) or a home directory. Past the limits the walk stops with a
// warning naming the grant.
ProtectScan ScanProtected(const FilesystemPolicy& fs, const ProtectLimits& limits = {});

// Holds the scanned entries for one run.
class Protection {
 public:
  enum class Mechanism { kMountNamespace, kSnapshot };
  // `mount_namespace`: the command gets a mount namespace of its own.
  Protection(ProtectScan scan, bool mount_namespace);
  ~Protection();
  Protection(const Protection&) = delete;
  Protection& operator=(const Protection&) = delete;

  const std::vector<ProtectedEntry>& entries() const { return scan_.entries; }
  // For `policy show --effective`: each entry, its mechanism and limits.
  std::vector<std::string> Describe() const;
  bool empty() const { return scan_.entries.empty(); }

  // Before the command starts (never for `policy show`): namespace mode
  // makes the masks and placeholders its mounts need; platform mode takes
  // the snapshot. Nothing is left behind on failure.
  Status Prepare();
  // The child step that mounts what Prepare made (namespace mode), or
  // nullptr. Valid after Prepare.
  const ChildStep* step() const;
  // After the command and everything it started are gone: removes
  // placeholders and masks; platform mode compares with the snapshot and
  // restores what changed. Returns one line per change found (empty: none),
  // each also written to `audit`.
  std::vector<std::string> Finish(AuditSink* audit);

 private:
  struct Impl;
  ProtectScan scan_;
  bool mount_namespace_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rf
