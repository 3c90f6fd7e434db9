// The Landlock layer: turns the enriched filesystem policy into a ruleset
// (src/landlock/ruleset.h), reports its status under
// plan.effective.layers["landlock"], and applies landlock.compatibility:
// best_effort warns (stderr + audit) about every degradation,
// hard_requirement refuses to start the command.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "common/terminal_text.h"
#include "landlock/deny_read.h"
#include "landlock/ruleset.h"
#include "landlock/uapi.h"
#include "sandbox/layers.h"
#include "sandbox/plan.h"

namespace rf {

Status AddLandlockLayer(const LayerContext& ctx, Plan& plan) {
  auto cap = landlock::ParseAbiCap(getenv("RINGFENCE_TEST_LANDLOCK_ABI"));
  if (!cap.ok()) return cap.status();
  const landlock::Abi abi = landlock::ProbeAbi(*cap);
  const bool hard = ctx.policy.compatibility == Compatibility::kHardRequirement;

  landlock::Request req;
  const auto& fs = ctx.policy.filesystem;
  for (const auto& p : fs.read_only) req.paths.push_back({p, landlock::Access::kReadOnly});
  for (const auto& p : fs.read_write) req.paths.push_back({p, landlock::Access::kReadWrite});
  if (!ctx.landlock_deny_read.empty()) {
    auto split = landlock::SplitForDenyRead(req.paths, ctx.landlock_deny_read);
    if (!split.ok()) return split.status();
    req.paths = std::move(split).value();
  }
  // Interactive basics: /dev/tty and the terminal(s) on stdin/stdout/stderr
  // by name, not all of /dev/pts: the caller's other terminals (another
  // shell of the same uid) must stay out of reach. New pseudo-terminals
  // (/dev/ptmx, /dev/pts) need a policy grant (docs/landlock.md).
  std::vector<std::string> terminal;
  if (ctx.has_terminal) {
    std::vector<std::string> candidates = {"/dev/tty"};
    for (int fd = 0; fd <= 2; ++fd) {
      char name[64];
      if (ttyname_r(fd, name, sizeof name) == 0 &&
          std::find(candidates.begin(), candidates.end(), name) == candidates.end())
        candidates.push_back(name);
    }
    for (const auto& p : candidates) {
      struct stat st;
      if (stat(p.c_str(), &st) != 0) continue;
      if (std::find(fs.read_write.begin(), fs.read_write.end(), p) == fs.read_write.end())
        req.paths.push_back({p, landlock::Access::kReadWrite});
      terminal.push_back(p);
    }
  }
  if (plan.home.own) req.sandbox_own.push_back(plan.home.path);
  if (plan.private_tmp) req.sandbox_own.push_back(plan.private_tmp->path());
  req.unix_sockets = ctx.policy.network.unix_sockets;
  req.trusted_uid = getuid();
  req.connect_ports = ctx.landlock_connect_ports;
  req.bind_ports = ctx.landlock_bind_ports;
  if (ctx.proc_remounted) req.reopen_after_mount = {"/proc"};
  if (ctx.tmp_mounted) req.after_mount_only.push_back({"/tmp", landlock::Access::kReadWrite});
  req.own_task_dir = fs.own_task_dir_writable && !ctx.proc_remounted;

  auto prepared = landlock::Build(req, abi);
  if (!prepared.ok()) return prepared.status();
  const auto& st = prepared->status;

  plan.landlock_fs = prepared->step != nullptr && st.handled_fs != 0;
  plan.hold_command_task_dir = prepared->step != nullptr && req.own_task_dir;
  plan.landlock_abstract_scope =
      prepared->step != nullptr && (st.scoped & landlock::kScopeAbstractUnixSocket) != 0;
  plan.landlock_resolve_unix =
      prepared->step != nullptr && (st.handled_fs & landlock::kFsResolveUnix) != 0;
  if (ctx.describe) {
    // Every rule with its rights, for `policy show --effective`; a run only
    // needs the status line.
    nlohmann::json j = st.ToJson();
    j["compatibility"] = ToString(ctx.policy.compatibility);
    if (!terminal.empty()) j["terminal_paths"] = terminal;
    plan.effective.layers["landlock"] = j;
  } else {
    plan.effective.layers["landlock"] = {{"status", landlock::ToString(st.enforcement)}};
  }

  std::vector<std::string> subjects;
  const std::vector<std::string> degradations = st.Degradations(&subjects);
  if (hard && !degradations.empty()) {
    std::string why;
    for (const auto& d : degradations) why += (why.empty() ? "" : "; ") + d;
    return Status::Error(
        "landlock.compatibility is hard_requirement, but the policy cannot be fully enforced: " +
        why);
  }
  for (size_t i = 0; i < degradations.size(); ++i) {
    // Printed once by the caller, with every other warning of the plan.
    plan.effective.warnings.push_back("landlock: " + degradations[i]);
    ctx.audit->Emit({"landlock",
                     "degraded",
                     subjects[i],
                     degradations[i],
                     {{"abi", st.abi.used},
                      {"kernel_abi", st.abi.kernel},
                      {"status", landlock::ToString(st.enforcement)}}});
  }

  plan.summary += std::string("; landlock: ") + landlock::ToString(st.enforcement);
  if (st.abi.used > 0)
    plan.summary +=
        " (ABI " + std::to_string(st.abi.used) + ", " + std::to_string(st.rules.size()) + " rules)";
  if (prepared->step && plan.net.guard) {
    // The connect guard binds on the command's behalf on a thread restricted
    // by this same ruleset (src/net/bind_guard.cc).
    plan.net.guard_config.landlock_ruleset.reset(fcntl(prepared->step->fd(), F_DUPFD_CLOEXEC, 3));
    if (!plan.net.guard_config.landlock_ruleset.valid())
      return Status::Errno("duplicating the Landlock ruleset for the connect guard");
  }
  if (plan.net.guard) {
    // Metadata calls are decided against the same rules
    // (src/landlock/metadata_guard.h); unconfined without Landlock.
    auto& m = plan.net.guard_config.metadata;
    m.enforce = prepared->step != nullptr;
    for (const auto& r : st.rules) {
      if (!(r.access & (landlock::kFsReadFile | landlock::kFsReadDir | landlock::kFsWriteFile |
                        landlock::kFsExecute)))
        continue;
      MetadataGrant g{r.dev, r.ino, r.kind == "directory", (r.access & landlock::kFsWriteFile) != 0,
                      ""};
      // What the sandbox mounts itself (its tmpfs on /tmp, its /proc) is
      // known by inode only once it has: the guard looks it up at start.
      bool remounted = r.dev == 0 && r.ino == 0;
      for (const auto& m : req.reopen_after_mount)
        remounted = remounted || r.path == m || r.path.rfind(m + "/", 0) == 0;
      if (remounted) g.sandbox_path = r.path;
      m.grants.push_back(std::move(g));
    }
  }
  if (prepared->step) plan.confine_steps.push_back(std::move(prepared->step));
  return Status::Ok();
}

}  // namespace rf
