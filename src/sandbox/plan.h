// The sandbox plan: everything decided and prepared before fork. `run`
// executes it; `policy show --effective` prints it without running anything.
// Each enforcement layer (Landlock, seccomp, network) adds its prepared child
// steps and its status here; a layer that cannot be set up as the policy
// demands makes BuildPlan fail, so the command is never started.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "common/fd.h"
#include "common/status.h"
#include "net/connect_guard.h"
#include "policy/effective.h"
#include "process/spawn.h"
#include "sandbox/home.h"
#include "sandbox/limits.h"
#include "sandbox/private_tmp.h"
#include "sandbox/protect.h"

namespace rf {

struct PlanOptions {
  std::string workdir;  // absolute, resolved
  std::string mode;     // --mode override, empty = policy's
  AuditSink* audit = nullptr;
  bool has_terminal = false;  // the command will get a terminal
  bool describe = true;       // full layer descriptions (policy show); run: false
  // run --audit: seccomp refusals are answered and logged by the supervisor.
  bool audit_denials = false;
  // run: make the per-run private /tmp directory where there is no mount
  // namespace (policy show only describes it).
  bool make_private_tmp = false;
  // process.limits.processes is the default policy's cap (SandboxLimits).
  bool default_processes = false;
  // The command's own terminal, /dev/pts/N (src/process/pty_relay.h), or "".
  std::string private_terminal = {};
};

// How the command reaches the network (src/net/).
struct NetworkSetup {
  NetMode mode = NetMode::kNone;  // resolved
  bool proxy = false;             // an egress proxy serves the command
  uint16_t proxy_port = 0;
  // platform: the proxy's listener, bound on 127.0.0.1 before fork.
  UniqueFd listener;
  // namespace: the supervisor's end of the socketpair on which the command
  // sends the listener it created inside its network namespace.
  UniqueFd listener_channel;
  // Seccomp user notification listener channel: connect() checks by the
  // supervisor's ConnectGuard (inet in platform mode, unix paths always).
  UniqueFd seccomp_channel;
  bool guard = false;
  ConnectGuardConfig guard_config;
};

struct Plan {
  EffectivePolicy effective;
  NetworkSetup net;
  std::optional<RunAs> run_as;
  // Why run_as is what it is: "process.run_as_user" or "owner of the
  // working directory" (started as root only).
  std::string run_as_why;
  // The command's home (src/sandbox/home.h); a per-run one is removed with
  // the plan, after the run. Empty path for `policy show`.
  SandboxHome home;
  // Landlock confines the filesystem: only granted paths can be executed.
  bool landlock_fs = false;
  std::vector<std::unique_ptr<ChildStep>> privileged_steps;
  std::vector<std::unique_ptr<ChildStep>> confine_steps;
  std::vector<std::string> env_additions;  // NAME=value for the child
  int init_namespaces = 0;                 // SpawnSpec::init_namespaces
  // Landlock confines abstract unix sockets (the scope of ABI 6 is applied).
  bool landlock_abstract_scope = false;
  // Landlock handles RESOLVE_UNIX (ABI 9): host pathname sockets need a rule.
  bool landlock_resolve_unix = false;
  std::string uid_map, gid_map;
  // The per-run private /tmp directory (modes without a mount namespace),
  // removed when the plan is destroyed, after the run.
  std::unique_ptr<PrivateTmpDir> private_tmp;
  bool hold_command_task_dir = false;  // SpawnSpec::hold_task_dir
  std::string summary;                 // one line: what is enforced
  // filesystem_policy.protected and deny_read (src/sandbox/protect.h): run
  // calls Prepare before the spawn, adds its step after the privileged ones
  // and calls Finish once the sandbox is gone.
  std::unique_ptr<Protection> protection;
  // process.limits: the sandbox's cgroups (removed when the plan is
  // destroyed), its rlimits and its deadline. Run puts the join step first
  // among the privileged steps and the rlimit step first among the
  // confinement ones.
  std::unique_ptr<SandboxLimits> limits;
};

Result<Plan> BuildPlan(const Policy& policy, const PlanOptions& opts);

// The caller's environment minus ringfence's own variables (RINGFENCE_*),
// plus RINGFENCE_SANDBOX=1 and `additions` (which override).
std::vector<std::string> ChildEnvironment(char** environ_in,
                                          const std::vector<std::string>& additions);

}  // namespace rf
