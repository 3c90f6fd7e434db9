// The three enforcement layers, side by side in src/sandbox/: each adapter
// turns the policy into what its own folder prepares (src/net/,
// src/landlock/, src/seccomp/, which never include src/sandbox/) and returns
// a value: the child step(s) it prepared, the decisions the later layers
// take as input, and its status for `policy show --effective`. BuildPlan
// (src/sandbox/plan.cc) calls them in a fixed order and passes the values
// on; a layer never writes another layer's state. Each appends its warnings
// and its phrase of the one-line summary to the plan. A layer returns an
// error Status when it cannot be set up as the policy demands; the command
// is then never started.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "common/fd.h"
#include "common/status.h"
#include "landlock/metadata_guard.h"
#include "net/mode.h"
#include "policy/policy.h"
#include "process/spawn.h"
#include "sandbox/host_probe.h"

namespace rf {

struct Plan;
struct NetworkSetup;

// A status of `policy show --effective` (its "enforcement" object): a
// function that writes its part, so that only `policy show` renders the
// descriptions and a run never pays for them (RenderStatus in plan.h).
using StatusWriter = std::function<void(nlohmann::json& enforcement)>;

// What every layer reads.
struct LayerInput {
  const Policy& policy;  // enriched (workdir and baselines added)
  NetMode mode;          // resolved: never kAuto
  const std::string& workdir;
  bool has_terminal;  // the command gets a terminal
  AuditSink* audit;   // never null
  const HostProbe& host;
  const std::optional<RunAs>& run_as;  // started as root: whom the command runs as
  // The slave of the command's own terminal (/dev/pts/N), or "": the only
  // terminal Landlock grants by name besides /dev/tty (the caller's stay
  // out of reach), and seccomp allows tcsetpgrp on it.
  const std::string& private_terminal;
};

// --- network (src/sandbox/network_layer.cc, on src/net/) -----------------

// What the network layer decided, the input of the layers after it.
struct NetworkDecision {
  // TCP ports for Landlock's NET_PORT rules (ABI >= 4). nullopt = the layer
  // does not handle that TCP right; an empty list handles it and allows none.
  std::optional<std::vector<uint16_t>> landlock_connect_ports;
  std::optional<std::vector<uint16_t>> landlock_bind_ports;
  // The command mounts a /proc of its own PID namespace before confinement:
  // Landlock rules on /proc must be (re)added after that mount.
  bool proc_remounted = false;
  // The command has a mount namespace of its own (a tmpfs /tmp is possible;
  // protected paths are masked by mounts, not by Landlock).
  bool mount_namespace = false;
  // connect() (and the guard's other calls) go to the supervisor's connect
  // guard by seccomp user notification.
  bool notify_connect = false;
  // false: AF_INET/AF_INET6 sockets are refused (mode none, no namespace).
  bool inet_sockets = true;
  // The command has a network namespace of its own: abstract unix names are
  // its own, not the host's.
  bool own_netns = false;
};

// Resolves nothing itself: `mode` is ResolveMode's answer with the probe
// (`none_in_namespace`: mode none gets an empty network namespace). Fills
// `net` (listener or channel, the guard's configuration), adds the
// namespace step, id maps and proxy environment to the plan.
Result<NetworkDecision> AddNetworkLayer(const LayerInput& in, const ModeDecision& mode,
                                        bool none_in_namespace, Plan& plan);

// --- Landlock (src/sandbox/landlock_layer.cc, on src/landlock/) ----------

struct LandlockInput {
  const NetworkDecision& network;
  // deny_read entries (src/sandbox/protect.h) that Landlock must keep
  // unreadable itself (no mount namespace to mask them).
  std::vector<std::string> deny_read;
  // The command mounts its own tmpfs on /tmp (src/sandbox/private_tmp.h):
  // Landlock grants that mount, added in the child after it exists.
  bool tmp_mounted = false;
  // The sandbox's own directories (its home, its private /tmp directory).
  std::vector<std::string> sandbox_own;
  // Metadata grants are wanted (the connect guard answers metadata calls).
  bool metadata_grants = false;
};

// What the Landlock layer prepared and decided.
struct LandlockDecision {
  std::unique_ptr<ChildStep> step;  // null: Landlock not enforced
  bool fs = false;                  // only granted paths can be executed
  int abi = 0;                      // the ABI the ruleset is applied with (0: none)
  bool abstract_scope = false;      // the scope of ABI 6 is applied
  bool resolve_unix = false;        // RESOLVE_UNIX (ABI 9) handled
  bool hold_task_dir = false;       // SpawnSpec::hold_task_dir
  // A duplicate of the ruleset (invalid without Landlock): the connect
  // guard binds on the command's behalf on a thread restricted by it.
  UniqueFd ruleset;
  // The rules as metadata grants (src/landlock/metadata_guard.h), when asked.
  std::vector<MetadataGrant> metadata;
};

Result<LandlockDecision> AddLandlockLayer(const LayerInput& in, const LandlockInput& ll,
                                          Plan& plan);

// --- seccomp (src/sandbox/seccomp_layer.cc, on src/seccomp/) -------------

struct SeccompInput {
  bool notify_connect = false;  // connect() -> SECCOMP_RET_USER_NOTIF
  bool notify_denials = false;  // denied calls answered (and audited) by the supervisor
  bool inet_sockets = true;     // false: AF_INET/AF_INET6 sockets refused
  // AF_UNIX datagram sockets refused although network.unix_datagram allows
  // them (no Landlock scope keeps a sendmsg() off host abstract names).
  bool refuse_unix_dgram = false;
};

struct SeccompDecision {
  std::unique_ptr<ChildStep> step;
  // With user notification: the supervisor's end of the channel on which
  // the command sends the filter's listener (see Handoff in plan.h).
  UniqueFd listener_channel;
  // run --audit: the calls whose refusals the supervisor answers.
  std::vector<std::pair<int, int>> audited_denials;
};

Result<SeccompDecision> AddSeccompLayer(const LayerInput& in, const SeccompInput& sc, Plan& plan);

}  // namespace rf
