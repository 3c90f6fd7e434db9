// What this kernel and container allow, asked once per command and read by
// `run`, `policy show` (through BuildPlan) and `doctor` (which renders it):
// the three can never reach different conclusions. A plain value, so tests
// hand BuildPlan and RunDoctor a fake one (the host's answers are never
// asked again behind it).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "audit/kernel_audit.h"
#include "common/status.h"
#include "landlock/ruleset.h"
#include "net/mode.h"

namespace rf {

struct HostProbe {
  // Landlock: the kernel's ABI and errata, with the test knob
  // RINGFENCE_TEST_LANDLOCK_ABI (which can only lower it) applied in `used`.
  landlock::Abi landlock;
  // Doctor only: seccomp filters at all (SECCOMP_RET_ERRNO available).
  bool seccomp_filter = true;
  // Seccomp user notification with on-behalf connects
  // (seccomp::ProbeUserNotification): ok, or what is missing.
  Status user_notification;
  // pidfd_getfd as the connect guard uses it (PidfdGetfdWorks: the call on
  // ourselves and kernel.yama.ptrace_scope), and, doctor only, the errno of
  // the bare call (0 = works) and the Yama scope (-1 = no Yama) for its text.
  bool pidfd_getfd = true;
  int pidfd_getfd_errno = 0;
  int yama_ptrace_scope = -1;
  // The namespace set-up `run` makes (ProbeNamespaceSetup); nullopt when it
  // was not asked (a mode that needs no namespace).
  std::optional<NamespaceSupport> namespaces;
  // Doctor only: unshare(CLONE_NEWUSER|CLONE_NEWNET) as this user and, as
  // root, as uid 65534; 0 = works, an errno, -1 = not probed.
  int userns_errno = -1;
  int userns_nobody_errno = -1;
  // Identity of this process.
  uid_t uid = 0;       // effective
  uid_t real_uid = 0;  // trusted owner of rule paths (landlock::ResolveRulePath)
  gid_t gid = 0;       // effective
  uint64_t cap_eff = 0;
  // Doctor only: this process's no_new_privs and seccomp mode (0 none,
  // 1 strict, 2 filter).
  bool no_new_privs = false;
  int seccomp_mode = 0;
  // Doctor only: whether a run would see the command's file denials
  // (Landlock's kernel audit records, src/audit/kernel_audit.h).
  std::optional<FileDenialReporting> file_denials;

  bool root() const { return uid == 0; }
  bool HasCap(int cap) const { return cap >= 0 && cap < 64 && ((cap_eff >> cap) & 1); }
};

// What to ask beyond the cheap probes (Landlock, seccomp, pidfd_getfd,
// identity: a few system calls).
struct HostProbeScope {
  bool namespaces = false;  // the namespace set-up (a throwaway child)
  bool doctor = false;      // the fields marked "doctor only"
};

// Asks the host. Fails only on a malformed RINGFENCE_TEST_LANDLOCK_ABI.
Result<HostProbe> ProbeHost(const HostProbeScope& scope);

// Whether namespace mode can run here (NamespaceModeSupport of the probe's
// answers); nullopt when the namespace set-up was not probed.
std::optional<NamespaceSupport> NamespaceMode(const HostProbe& host);

}  // namespace rf
