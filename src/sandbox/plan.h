// The sandbox plan: everything decided and prepared before fork. `run`
// executes it; `policy show --effective` prints it without running anything.
// BuildPlan reads the host only through a HostProbe (src/sandbox/host_probe.h)
// and calls the enforcement layers (network, Landlock, seccomp:
// src/sandbox/layers.h) in the order its definition lists; a layer that
// cannot be set up as the policy demands makes it fail, so the command is
// never started. docs/architecture.md has the whole `run` sequence.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "common/fd.h"
#include "common/status.h"
#include "dns/synthetic.h"
#include "net/connect_guard.h"
#include "policy/effective.h"
#include "process/spawn.h"
#include "sandbox/home.h"
#include "sandbox/host_probe.h"
#include "sandbox/layers.h"
#include "sandbox/limits.h"
#include "sandbox/private_tmp.h"
#include "sandbox/protect.h"
#include "sandbox/trust.h"

namespace rf {

struct PlanOptions {
  std::string workdir;  // absolute, resolved
  std::string mode;     // --mode override, empty = policy's
  AuditSink* audit = nullptr;
  bool has_terminal = false;  // the command will get a terminal
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
  // supervisor's ConnectGuard (inet in platform mode, unix paths always),
  // refusals answered and audited (run --audit).
  UniqueFd seccomp_channel;
  bool guard = false;
  ConnectGuardConfig guard_config;
  // Policy DNS (docs/dns.md): the run's synthetic addresses for policy
  // names, one map shared by the resolver and the connect guard; set in
  // the modes with a proxy.
  std::shared_ptr<dns::SyntheticNames> synthetic_names;
  // namespace: the resolver's socket (127.0.0.1:53 in the sandbox's
  // namespace) comes after the sock_diag socket on listener_channel.
  bool dns_socket_in_namespace = false;
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
  // The Landlock ABI the ruleset is applied with (0: none): from 7 the
  // kernel can report the command's file denials (src/audit/kernel_audit.h).
  int landlock_abi = 0;
  std::vector<std::unique_ptr<ChildStep>> privileged_steps;
  std::vector<std::unique_ptr<ChildStep>> confine_steps;
  std::vector<std::string> env_additions;  // NAME=value for the child
  int init_namespaces = 0;                 // SpawnSpec::init_namespaces
  std::string uid_map, gid_map;
  // The per-run private /tmp directory (modes without a mount namespace),
  // removed when the plan is destroyed, after the run.
  std::unique_ptr<PrivateTmpDir> private_tmp;
  // The trust the command gets when the proxy inspects TLS (sandbox/trust.h):
  // run.cc writes its files once the proxy has made the CA.
  std::optional<SandboxTrust> trust;
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
  // Each layer's status, in the order the layers ran: rendered by
  // RenderStatus for `policy show --effective` only.
  std::vector<StatusWriter> status;
};

// The network mode `policy` asks for, with --mode (`mode`, may be empty)
// over the policy's. Fails on a --mode that names no mode.
Result<NetMode> RequestedMode(const Policy& policy, const std::string& mode);

// The host probe BuildPlan needs for `policy` and `opts` (the namespace
// set-up only where the requested mode may use a namespace).
Result<HostProbe> ProbeHostFor(const Policy& policy, const PlanOptions& opts);

Result<Plan> BuildPlan(const Policy& policy, const PlanOptions& opts, const HostProbe& host);

// The layers' status (the effective policy's "enforcement" object).
nlohmann::json RenderStatus(const Plan& plan);

// The descriptors the command sends the supervisor before its exec, all
// from inside the sandbox (namespaces and filter already made). They travel
// on the plan's channels in this order: the proxy listener, a sock_diag
// socket of the sandbox's network namespace and the resolver's socket
// (NamespaceStep, on NetworkSetup::listener_channel), then the seccomp filter's listener
// (seccomp::FilterStep, last confinement step, on
// NetworkSetup::seccomp_channel). Each is invalid where the plan has none
// (platform mode: the proxy listener is the one made before fork).
struct Handoff {
  UniqueFd proxy_listener;
  UniqueFd sandbox_diag;
  UniqueFd seccomp_listener;
  // Namespace mode with a proxy: the resolver's UDP socket and TCP listener.
  UniqueFd dns_socket;
  UniqueFd dns_tcp_listener;
};

// Receives the hand-off of a started command (its channels in `net`); an
// error names the descriptor that did not arrive.
Result<Handoff> ReceiveHandoff(NetworkSetup& net);

// The caller's environment minus ringfence's own variables (RINGFENCE_*),
// plus RINGFENCE_SANDBOX=1 and `additions` (which override).
std::vector<std::string> ChildEnvironment(char** environ_in,
                                          const std::vector<std::string>& additions);

}  // namespace rf
