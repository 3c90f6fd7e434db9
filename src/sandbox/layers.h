// The enforcement layers plug into the plan through these functions, one per
// layer, each implemented in its own folder. A layer adds its prepared child
// steps (Plan::confine_steps / privileged_steps), its status under
// plan.effective.layers["<layer>"], warnings to plan.effective.warnings, and
// a short phrase to the summary. It returns an error Status when it cannot
// be set up as the policy demands; the command is then never started.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "common/fd.h"
#include "common/status.h"
#include "policy/policy.h"

namespace rf {

struct Plan;

struct LayerContext {
  const Policy& policy;  // enriched (workdir and baselines added)
  NetMode mode;          // resolved: never kAuto
  std::string workdir;
  bool has_terminal;  // the command gets a terminal
  AuditSink* audit;   // never null
  // TCP ports for Landlock's NET_PORT rules (ABI >= 4). nullopt = the layer
  // does not handle that TCP right; an empty list handles it and allows none.
  std::optional<std::vector<uint16_t>> landlock_connect_ports = std::nullopt;
  std::optional<std::vector<uint16_t>> landlock_bind_ports = std::nullopt;
  // The command mounts a /proc of its own PID namespace before confinement:
  // Landlock rules on /proc must be (re)added after that mount.
  bool proc_remounted = false;
  // deny_read entries (src/sandbox/protect.h) that Landlock must keep
  // unreadable itself (no mount namespace to mask them).
  std::vector<std::string> landlock_deny_read = {};
  // The command mounts its own tmpfs on /tmp (src/sandbox/private_tmp.h):
  // Landlock grants that mount, added in the child after it exists.
  bool tmp_mounted = false;
  // Build the full per-layer description for `policy show --effective`
  // (`run` only needs the steps, warnings and summary).
  bool describe = true;
  // The slave of the command's own terminal (/dev/pts/N), or "": the only
  // terminal Landlock grants by name besides /dev/tty (the caller's stay
  // out of reach), and seccomp allows tcsetpgrp on it.
  std::string private_terminal = {};
  // Seccomp user notification (src/seccomp/notify.h), off by default. When
  // either flag is set the filter is installed with a listener, the command
  // sends it over a socketpair, and the supervisor end of that socketpair is
  // stored in *seccomp_listener_channel (which must then be non-null): call
  // seccomp::ReceiveListener on it once the command has started.
  bool seccomp_notify_connect = false;  // connect() -> SECCOMP_RET_USER_NOTIF
  bool seccomp_notify_denials = false;  // denied calls answered (and audited) by the supervisor
  bool seccomp_inet_sockets =
      true;  // false: AF_INET/AF_INET6 sockets refused (mode none, no netns)
  UniqueFd* seccomp_listener_channel = nullptr;
  // AF_UNIX datagram sockets refused although network.unix_datagram allows
  // them: abstract names are the host's and no Landlock scope keeps a
  // sendmsg() off host abstract names (src/sandbox/plan.cc).
  bool seccomp_refuse_unix_dgram = false;
};

Status AddLandlockLayer(const LayerContext& ctx, Plan& plan);  // src/landlock/layer.cc
Status AddSeccompLayer(const LayerContext& ctx, Plan& plan);   // src/seccomp/layer.cc

}  // namespace rf
