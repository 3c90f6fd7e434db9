// The Landlock layer: turns the enriched filesystem policy and the network
// layer's port decision into a ruleset (src/landlock/ruleset.h), and applies
// landlock.compatibility: best_effort warns (stderr + audit) about every
// degradation, hard_requirement refuses to start the command.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "audit/kernel_audit.h"
#include "landlock/deny_read.h"
#include "landlock/ruleset.h"
#include "landlock/uapi.h"
#include "sandbox/layers.h"
#include "sandbox/plan.h"

namespace rf {

namespace {

// Interactive basics: /dev/tty and the terminal(s) on stdin/stdout/stderr
// by name, not all of /dev/pts: the caller's other terminals (another shell
// of the same uid) must stay out of reach. With a terminal of its own, that
// one only: the caller's is never the command's. New pseudo-terminals
// (/dev/ptmx, /dev/pts) need a policy grant (docs/landlock.md).
std::vector<std::string> TerminalPaths(const std::string& private_terminal) {
  std::vector<std::string> candidates = {"/dev/tty"}, out;
  if (!private_terminal.empty()) candidates.push_back(private_terminal);
  for (int fd = 0; fd <= 2 && private_terminal.empty(); ++fd) {
    char name[64];
    if (ttyname_r(fd, name, sizeof name) == 0 &&
        std::find(candidates.begin(), candidates.end(), name) == candidates.end())
      candidates.push_back(name);
  }
  for (const auto& p : candidates) {
    struct stat st;
    if (stat(p.c_str(), &st) == 0) out.push_back(p);
  }
  return out;
}

// The rules as the metadata guard decides by them: by inode, read or write.
std::vector<MetadataGrant> MetadataGrants(const landlock::LandlockStatus& st,
                                          const std::vector<std::string>& remounts) {
  std::vector<MetadataGrant> out;
  for (const auto& r : st.rules) {
    if (!(r.access & (landlock::kFsReadFile | landlock::kFsReadDir | landlock::kFsWriteFile |
                      landlock::kFsExecute)))
      continue;
    MetadataGrant g{r.dev, r.ino, r.kind == "directory", (r.access & landlock::kFsWriteFile) != 0,
                    ""};
    // What the sandbox mounts itself (its tmpfs on /tmp, its /proc) is
    // known by inode only once it has: the guard looks it up at start.
    bool remounted = r.dev == 0 && r.ino == 0;
    for (const auto& m : remounts)
      remounted = remounted || r.path == m || r.path.rfind(m + "/", 0) == 0;
    if (remounted) g.sandbox_path = r.path;
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace

Result<LandlockDecision> AddLandlockLayer(const LayerInput& in, const LandlockInput& ll,
                                          Plan& plan) {
  const landlock::Abi& abi = in.host.landlock;
  const bool hard = in.policy.compatibility == Compatibility::kHardRequirement;

  landlock::Request req;
  const auto& fs = in.policy.filesystem;
  for (const auto& p : fs.read_only) req.paths.push_back({p, landlock::Access::kReadOnly});
  for (const auto& p : fs.read_write) req.paths.push_back({p, landlock::Access::kReadWrite});
  if (!ll.deny_read.empty()) {
    auto split = landlock::SplitForDenyRead(req.paths, ll.deny_read);
    if (!split.ok()) return split.status();
    req.paths = std::move(split).value();
  }
  std::vector<std::string> terminal;
  if (in.has_terminal) {
    for (auto& p : TerminalPaths(in.private_terminal)) {
      if (std::find(fs.read_write.begin(), fs.read_write.end(), p) == fs.read_write.end())
        req.paths.push_back({p, landlock::Access::kReadWrite});
      terminal.push_back(std::move(p));
    }
  }
  req.sandbox_own = ll.sandbox_own;
  req.unix_sockets = in.policy.network.unix_sockets;
  req.trusted_uid = in.host.real_uid;
  req.connect_ports = ll.network.landlock_connect_ports;
  req.bind_ports = ll.network.landlock_bind_ports;
  if (ll.network.proc_remounted) req.reopen_after_mount = {"/proc"};
  if (ll.tmp_mounted) req.after_mount_only.push_back({"/tmp", landlock::Access::kReadWrite});
  req.own_task_dir = fs.own_task_dir_writable && !ll.network.proc_remounted;

  auto prepared = landlock::Build(req, abi);
  if (!prepared.ok()) return prepared.status();
  const auto& st = prepared->status;

  LandlockDecision out;
  const bool enforced = prepared->step != nullptr;
  out.fs = enforced && st.handled_fs != 0;
  out.abi = enforced ? st.abi.used : 0;
  out.hold_task_dir = enforced && req.own_task_dir;
  out.abstract_scope = enforced && (st.scoped & landlock::kScopeAbstractUnixSocket) != 0;
  out.resolve_unix = enforced && (st.handled_fs & landlock::kFsResolveUnix) != 0;

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
    in.audit->Emit({"landlock",
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
  if (enforced && ll.metadata_grants) {
    out.ruleset.reset(fcntl(prepared->step->fd(), F_DUPFD_CLOEXEC, 3));
    if (!out.ruleset.valid())
      return Status::Errno("duplicating the Landlock ruleset for the connect guard");
  }
  if (ll.metadata_grants) out.metadata = MetadataGrants(st, req.reopen_after_mount);
  // Every rule with its rights, rendered by `policy show --effective` only.
  auto described = std::make_shared<const landlock::LandlockStatus>(std::move(prepared->status));
  plan.status.push_back([described, compat = in.policy.compatibility,
                         terminal = std::move(terminal), abi = out.abi,
                         fs = out.fs](nlohmann::json& e) {
    nlohmann::json j = described->ToJson();
    j["compatibility"] = ToString(compat);
    if (!terminal.empty()) j["terminal_paths"] = terminal;
    // Whether a run would see its file denials in the audit log.
    j["file_denials"] = KernelAuditReader::Probe(abi, fs).Describe();
    e["landlock"] = std::move(j);
  });
  out.step = std::move(prepared->step);
  return out;
}

}  // namespace rf
