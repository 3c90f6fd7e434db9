// The seccomp profile as data. A profile is a list of rules, each reading like
// the rule it states ("socket: a0 == AF_PACKET -> EPERM"); everything not
// matched is allowed. Compile() turns it into a BPF program with libseccomp
// before fork; the child only installs that program (see layer.cc).
//
// Arguments are compared on their low 32 bits wherever the kernel reads the
// argument as an int (socket family/type/protocol, ioctl request, flags), so
// that garbage in the high half cannot smuggle a value past a rule. Where a
// rule needs "not one of these values", the complement is expanded into
// masked-equality blocks (libseccomp allows one comparison per argument).
//
// Architecture: x86_64 only. i386 (int 0x80, so also `socketcall`) and x32
// (__X32_SYSCALL_BIT) system calls fail with EPERM. See docs/seccomp.md.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "policy/policy.h"

namespace rf::seccomp {

// What the filter returns for a matching call.
struct Action {
  enum Kind { kErrno, kNotify } kind = kErrno;
  int err = 0;  // errno for kErrno (and the answer the supervisor gives for a
                // notified denial)
  static Action Errno(int e) { return {kErrno, e}; }
  static Action Notify() { return {kNotify, 0}; }
};

// One comparison on a system-call argument: (arg & mask) OP value. With
// kMaskedEq a mask of 0xffffffff compares the low 32 bits only.
struct ArgCmp {
  enum Op { kMaskedEq, kGt } op;
  unsigned arg;  // 0..5
  uint64_t mask;
  uint64_t value;
  static ArgCmp Eq32(unsigned arg, uint32_t v) { return {kMaskedEq, arg, 0xffffffffu, v}; }
  static ArgCmp Bits(unsigned arg, uint64_t m, uint64_t v) { return {kMaskedEq, arg, m, v}; }
  // Full 64-bit comparison: arg > v.
  static ArgCmp Gt64(unsigned arg, uint64_t v) { return {kGt, arg, 0, v}; }
};

// syscall + all of `when` -> action. An empty `when` matches every call.
struct Rule {
  std::string syscall;
  std::vector<ArgCmp> when;
  Action action;
  std::string why;  // shown by `policy show --effective` (grouped)
};

struct ProfileOptions {
  NetMode mode = NetMode::kPlatform;  // resolved
  bool sysv_ipc = false;              // policy.process.sysv_ipc
  // connect() gets SECCOMP_RET_USER_NOTIF (the supervisor decides). Off by
  // default: it needs a listener loop in the supervisor.
  bool notify_connect = false;
  // Denied calls go to the supervisor through the listener instead of
  // returning their errno in the kernel, so each one can be audited. The
  // supervisor answers with Rule::action.err (see notify.h). Off by default.
  bool notify_denials = false;
  // AF_UNIX SOCK_DGRAM (socket and socketpair) allowed. A datagram to a
  // pathname address cannot be checked cheaply below Landlock ABI 9, so it
  // is refused unless the policy opts in (network.unix_datagram). Host mode
  // does not guard unix sockets.
  bool unix_dgram = false;
  // AF_INET/AF_INET6 sockets at all. Mode none without a network namespace
  // of its own (a restricted pod) has no use for them (Landlock refuses
  // every connect and bind) and one would still accept connections through
  // listen()'s unchecked implicit bind: refused there.
  bool inet_sockets = true;
  // The command's terminal is a pseudo-terminal of its own, in a session
  // that only init and the sandbox's processes are in (src/process/
  // pty_relay.h): tcsetpgrp (TIOCSPGRP) can only pick one of those groups,
  // so it is allowed again without a PID namespace. Only meaningful outside
  // namespace mode (allowed there anyway).
  bool private_terminal = false;
};

struct Profile {
  ProfileOptions options;
  std::vector<Rule> rules;
  bool needs_listener() const { return options.notify_connect || options.notify_denials; }
};

// The hardened default profile for the options' network mode.
Profile DefaultProfile(const ProfileOptions& options);

// Masked-equality blocks covering exactly the 32-bit values NOT in `allowed`
// (each block: (v & mask) == value). Used for "anything but these values".
std::vector<std::pair<uint32_t, uint32_t>> ComplementBlocks32(std::vector<uint32_t> allowed);

// (mask, value) pairs whose union is exactly the 32-bit values other than
// 0xffffffff and the combinations of `free_bits` (every subset of them,
// 0 included): for each, a set bit outside `free_bits` and a clear bit. 32
// pairs, the fewest masked compares can do (a value with one clear bit
// needs its own), where ComplementBlocks32 of the same set needs about 60.
std::vector<std::pair<uint32_t, uint32_t>> ComplementOfSubsetsAndAllOnes32(uint32_t free_bits);

// Compiles with libseccomp into a BPF program (x86_64 native arch only).
Result<std::vector<sock_filter>> Compile(const Profile& profile);

// libseccomp's pseudo filter code, for debugging and tests.
Result<std::string> PseudoCode(const Profile& profile);

// `policy show --effective` description.
nlohmann::json Describe(const Profile& profile);

// The errno a denied call gets (for answering notified denials); 0 if the
// profile does not deny that system call number unconditionally or by args.
int DenialErrno(const Profile& profile, int syscall_nr);

// With options.notify_denials: the system calls whose refusals are sent to
// the supervisor, each with the errno to answer. clone3's ENOSYS is left to
// the kernel: it is a redirect (libc falls back to clone), not a refusal, and
// every thread and process creation would otherwise be a round trip.
std::vector<std::pair<int, int>> NotifiedDenials(const Profile& profile);

}  // namespace rf::seccomp
