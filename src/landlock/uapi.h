// Own Landlock UAPI definitions (include/uapi/linux/landlock.h), because
// Debian 12's kernel headers stop at ABI 3. Everything up to ABI 7 is here;
// a kernel reporting a newer ABI is used at the highest ABI listed below
// (kMaxKnownAbi), never with rights this file does not name.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace rf::landlock {

// The syscall numbers are the same on every architecture (unified table).
inline constexpr long kSysCreateRuleset = 444;
inline constexpr long kSysAddRule = 445;
inline constexpr long kSysRestrictSelf = 446;

// landlock_create_ruleset() flags.
inline constexpr uint32_t kCreateRulesetVersion = 1u << 0;  // ABI 1: returns the ABI
inline constexpr uint32_t kCreateRulesetErrata = 1u << 1;   // ABI 7: returns errata bits

// landlock_restrict_self() flags (ABI 7).
inline constexpr uint32_t kRestrictSelfLogSameExecOff = 1u << 0;
inline constexpr uint32_t kRestrictSelfLogNewExecOn = 1u << 1;
inline constexpr uint32_t kRestrictSelfLogSubdomainsOff = 1u << 2;

// Rule types.
inline constexpr int kRulePathBeneath = 1;
inline constexpr int kRuleNetPort = 2;  // ABI 4

struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;  // ABI 4
  uint64_t scoped;              // ABI 6
};

struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};

struct NetPortAttr {
  uint64_t allowed_access;
  uint64_t port;
};

static_assert(sizeof(RulesetAttr) == 24);
static_assert(sizeof(PathBeneathAttr) == 12);
static_assert(sizeof(NetPortAttr) == 16);
// The size a kernel of a given ABI accepts for the ruleset attribute.
inline constexpr size_t RulesetAttrSize(int abi) { return abi >= 6 ? 24 : abi >= 4 ? 16 : 8; }

// Filesystem access rights.
inline constexpr uint64_t kFsExecute = 1ull << 0;
inline constexpr uint64_t kFsWriteFile = 1ull << 1;
inline constexpr uint64_t kFsReadFile = 1ull << 2;
inline constexpr uint64_t kFsReadDir = 1ull << 3;
inline constexpr uint64_t kFsRemoveDir = 1ull << 4;
inline constexpr uint64_t kFsRemoveFile = 1ull << 5;
inline constexpr uint64_t kFsMakeChar = 1ull << 6;
inline constexpr uint64_t kFsMakeDir = 1ull << 7;
inline constexpr uint64_t kFsMakeReg = 1ull << 8;
inline constexpr uint64_t kFsMakeSock = 1ull << 9;
inline constexpr uint64_t kFsMakeFifo = 1ull << 10;
inline constexpr uint64_t kFsMakeBlock = 1ull << 11;
inline constexpr uint64_t kFsMakeSym = 1ull << 12;
inline constexpr uint64_t kFsRefer = 1ull << 13;     // ABI 2
inline constexpr uint64_t kFsTruncate = 1ull << 14;  // ABI 3
inline constexpr uint64_t kFsIoctlDev = 1ull << 15;  // ABI 5
// ABI 9 (Linux 7.1): connect()/sendmsg() to a pathname unix socket created
// outside the domain. Sockets created inside it stay reachable.
inline constexpr uint64_t kFsResolveUnix = 1ull << 16;

// Rights that apply to a non-directory (the kernel refuses others on a file
// with EINVAL).
inline constexpr uint64_t kFsFileRights =
    kFsExecute | kFsWriteFile | kFsReadFile | kFsTruncate | kFsIoctlDev | kFsResolveUnix;

// Network access rights (ABI 4).
inline constexpr uint64_t kNetBindTcp = 1ull << 0;
inline constexpr uint64_t kNetConnectTcp = 1ull << 1;

// Scopes (ABI 6).
inline constexpr uint64_t kScopeAbstractUnixSocket = 1ull << 0;
inline constexpr uint64_t kScopeSignal = 1ull << 1;

// ABI 8 adds only a restrict_self flag (TSYNC) ringfence does not need.
inline constexpr int kMaxKnownAbi = 9;

// What each ABI can handle.
inline constexpr uint64_t FsRightsForAbi(int abi) {
  if (abi <= 0) return 0;
  uint64_t r = (1ull << 13) - 1;  // ABI 1: EXECUTE .. MAKE_SYM
  if (abi >= 2) r |= kFsRefer;
  if (abi >= 3) r |= kFsTruncate;
  if (abi >= 5) r |= kFsIoctlDev;
  if (abi >= 9) r |= kFsResolveUnix;
  return r;
}
inline constexpr uint64_t NetRightsForAbi(int abi) {
  return abi >= 4 ? (kNetBindTcp | kNetConnectTcp) : 0;
}
inline constexpr uint64_t ScopesForAbi(int abi) {
  return abi >= 6 ? (kScopeAbstractUnixSocket | kScopeSignal) : 0;
}
inline constexpr uint32_t RestrictFlagsForAbi(int abi) {
  // Kernel audit records for what the sandboxed program is denied, not for
  // ringfence's own setup before exec.
  return abi >= 7 ? (kRestrictSelfLogSameExecOff | kRestrictSelfLogNewExecOn) : 0;
}

// Raw wrappers: return the syscall result, errno set on failure.
// RestrictSelf is async-signal-safe (used between fork and exec).
inline long CreateRuleset(const RulesetAttr* attr, size_t size, uint32_t flags) {
  return syscall(kSysCreateRuleset, attr, size, flags);
}
inline long AddRule(int ruleset_fd, int rule_type, const void* rule_attr) {
  return syscall(kSysAddRule, ruleset_fd, rule_type, rule_attr, 0u);
}
inline long RestrictSelf(int ruleset_fd, uint32_t flags) {
  return syscall(kSysRestrictSelf, ruleset_fd, flags);
}

}  // namespace rf::landlock
