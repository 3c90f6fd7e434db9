// The seccomp layer: the profile (src/seccomp/profile.h) is compiled with
// libseccomp before fork, or taken precompiled; the command's process only
// installs the prepared program (and, with user notification, sends the
// listener to the supervisor). Last confine step: after no_new_privs and
// Landlock.
#include <memory>
#include <optional>

#include "sandbox/layers.h"
#include "sandbox/plan.h"
#include "seccomp/layer_step.h"
#include "seccomp/notify.h"
#include "seccomp/precompiled.h"
#include "seccomp/profile.h"

namespace rf {

Result<SeccompDecision> AddSeccompLayer(const LayerInput& in, const SeccompInput& sc, Plan& plan) {
  seccomp::ProfileOptions o;
  o.mode = in.mode;
  o.sysv_ipc = in.policy.process.sysv_ipc;
  o.notify_connect = sc.notify_connect;
  o.notify_denials = sc.notify_denials;
  o.unix_dgram = in.policy.network.unix_datagram && !sc.refuse_unix_dgram;
  o.inet_sockets = sc.inet_sockets;
  o.private_terminal = !in.private_terminal.empty() && in.mode != NetMode::kNamespace;
  // The rules are only built when they must be compiled now (no
  // precompiled program) or described (`policy show`), not on every run.
  std::optional<seccomp::Profile> profile;
  auto rules = [&]() -> const seccomp::Profile& {
    if (!profile) profile = seccomp::DefaultProfile(o);
    return *profile;
  };
  auto prog = seccomp::CompileCached(o, rules);
  if (!prog.ok()) return prog.status();
  const bool needs_listener = o.notify_connect || o.notify_denials;

  SeccompDecision out;
  UniqueFd child_end;
  if (needs_listener) {
    auto ch = seccomp::MakeListenerChannel();
    if (!ch.ok()) return ch.status();
    out.listener_channel = std::move(ch->supervisor);
    child_end = std::move(ch->child);
  }
  if (o.sysv_ipc && o.mode != NetMode::kNamespace) {
    plan.effective.warnings.push_back(
        "process.sysv_ipc: true: System V IPC is allowed and shared with the host's IPC "
        "namespace (weakened boundary)");
  }
  if (o.notify_denials) out.audited_denials = seccomp::NotifiedDenials(rules());
  plan.summary += std::string(", seccomp (") + ToString(o.mode) + " socket rules" +
                  (needs_listener ? ", user notification" : "") +
                  (o.notify_denials ? ", refusals audited" : "") + ")";
  // Described from the options (the profile is rebuilt there, not kept).
  plan.status.push_back(
      [o, size = prog->insns.size(), precompiled = prog->precompiled](nlohmann::json& e) {
        nlohmann::json desc = seccomp::Describe(seccomp::DefaultProfile(o));
        desc["bpf_instructions"] = size;
        desc["precompiled"] = precompiled;
        e["seccomp"] = std::move(desc);
      });
  out.step = std::make_unique<seccomp::FilterStep>(std::move(prog->insns), std::move(child_end));
  return out;
}

}  // namespace rf
