// The seccomp layer: the profile is compiled with libseccomp before fork; the
// command's process only installs the prepared program (and, with user
// notification, sends the listener to the supervisor). Last confine step:
// after no_new_privs and Landlock.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>
#include <optional>

#include "common/scm.h"
#include "sandbox/layers.h"
#include "sandbox/plan.h"
#include "seccomp/layer_step.h"
#include "seccomp/notify.h"
#include "seccomp/precompiled.h"
#include "seccomp/profile.h"

namespace rf {

namespace seccomp {

FilterStep::FilterStep(std::vector<sock_filter> program, UniqueFd listener_channel)
    : program_(std::move(program)), channel_(std::move(listener_channel)) {
  flags_ = channel_.valid() ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
}

int FilterStep::Apply() const noexcept {
  struct sock_fprog fprog;
  fprog.len = static_cast<unsigned short>(program_.size());
  fprog.filter = const_cast<sock_filter*>(program_.data());
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags_, &fprog);
  if (fd < 0) return errno;
  if (!channel_.valid()) return 0;
  int err = SendFd(channel_.get(), static_cast<int>(fd));
  close(static_cast<int>(fd));
  return err;
}

}  // namespace seccomp

Status AddSeccompLayer(const LayerContext& ctx, Plan& plan) {
  seccomp::ProfileOptions o;
  o.mode = ctx.mode;
  o.sysv_ipc = ctx.policy.process.sysv_ipc;
  o.notify_connect = ctx.seccomp_notify_connect;
  o.notify_denials = ctx.seccomp_notify_denials;
  o.unix_dgram = ctx.policy.network.unix_datagram && !ctx.seccomp_refuse_unix_dgram;
  o.inet_sockets = ctx.seccomp_inet_sockets;
  o.private_terminal = !ctx.private_terminal.empty() && ctx.mode != NetMode::kNamespace;
  // The rules are only built when they must be compiled now (no
  // precompiled program) or described (`policy show`), not on every run.
  std::optional<seccomp::Profile> profile;
  auto rules = [&]() -> const seccomp::Profile& {
    if (!profile) profile = seccomp::DefaultProfile(o);
    return *profile;
  };
  seccomp::ProgramView pre = seccomp::PrecompiledProgram(o);
  auto prog = pre.len ? Result<std::vector<sock_filter>>(
                            std::vector<sock_filter>(pre.insns, pre.insns + pre.len))
                      : seccomp::Compile(rules());
  if (!prog.ok()) return prog.status();
  const bool needs_listener = o.notify_connect || o.notify_denials;

  UniqueFd child_end;
  if (needs_listener) {
    if (!ctx.seccomp_listener_channel)
      return Status::Error("user notification requested without a listener channel");
    auto ch = seccomp::MakeListenerChannel();
    if (!ch.ok()) return ch.status();
    *ctx.seccomp_listener_channel = std::move(ch->supervisor);
    child_end = std::move(ch->child);
  }

  if (ctx.describe) {
    nlohmann::json desc = seccomp::Describe(rules());
    desc["bpf_instructions"] = prog->size();
    desc["precompiled"] = pre.len > 0;
    plan.effective.layers["seccomp"] = desc;
  } else {
    plan.effective.layers["seccomp"] = {{"status", "enforced"}, {"mode", ToString(o.mode)}};
  }
  if (o.sysv_ipc && o.mode != NetMode::kNamespace) {
    plan.effective.warnings.push_back(
        "process.sysv_ipc: true: System V IPC is allowed and shared with the host's IPC "
        "namespace (weakened boundary)");
  }
  if (o.notify_denials) plan.net.guard_config.audited_denials = seccomp::NotifiedDenials(rules());
  plan.summary += std::string(", seccomp (") + ToString(o.mode) + " socket rules" +
                  (needs_listener ? ", user notification" : "") +
                  (o.notify_denials ? ", refusals audited" : "") + ")";
  plan.confine_steps.push_back(
      std::make_unique<seccomp::FilterStep>(std::move(prog).value(), std::move(child_end)));
  return Status::Ok();
}

}  // namespace rf
