#include "sandbox/plan.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "sandbox/layers.h"

namespace rf {

namespace {

Result<uid_t> LookupUser(const std::string& name) {
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos)
    return static_cast<uid_t>(std::stoul(name));
  struct passwd pw, *res = nullptr;
  char buf[4096];
  if (getpwnam_r(name.c_str(), &pw, buf, sizeof buf, &res) != 0 || !res)
    return Status::Error("process.run_as_user '" + name + "' does not exist on this host");
  return pw.pw_uid;
}

Result<gid_t> LookupGroup(const std::string& name) {
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos)
    return static_cast<gid_t>(std::stoul(name));
  struct group gr, *res = nullptr;
  char buf[4096];
  if (getgrnam_r(name.c_str(), &gr, buf, sizeof buf, &res) != 0 || !res)
    return Status::Error("process.run_as_group '" + name + "' does not exist on this host");
  return gr.gr_gid;
}

}  // namespace

Result<Plan> BuildPlan(const Policy& policy, const PlanOptions& opts) {
  Plan plan;
  Policy p = policy;
  if (!opts.mode.empty()) {
    auto m = ParseNetMode(opts.mode);
    if (!m)
      return Status::Error("--mode must be auto, namespace, platform, none or host, not '" +
                           opts.mode + "'");
    p.network.mode = *m;
  }
  NetMode mode = p.network.mode;
  if (mode == NetMode::kAuto) mode = NetMode::kPlatform;  // TODO(issue 6): namespace when possible
  plan.effective = Enrich(p, EnrichContext{opts.workdir, mode});

  nlohmann::json proc = nlohmann::json::object();
  if (geteuid() == 0) {
    auto uid = LookupUser(p.process.run_as_user);
    if (!uid.ok()) return uid.status();
    auto gid = LookupGroup(p.process.run_as_group);
    if (!gid.ok()) return gid.status();
    if (*uid == 0 || *gid == 0) return Status::Error("the sandbox never runs as uid/gid 0");
    plan.run_as = RunAs{*uid, *gid};
    proc["user"] = p.process.run_as_user + " (uid " + std::to_string(*uid) + ")";
    proc["group"] = p.process.run_as_group + " (gid " + std::to_string(*gid) + ")";
    proc["capabilities"] = "none (bounding, ambient and inheritable sets cleared)";
  } else {
    proc["user"] =
        "caller (uid " + std::to_string(geteuid()) + "; run_as_user applies only as root)";
    proc["capabilities"] = "none gained (no_new_privs)";
  }
  proc["no_new_privs"] = true;
  proc["rlimit_core"] = 0;
  proc["status"] = "enforced";
  plan.effective.layers["process"] = proc;
  plan.summary = std::string("process: ") +
                 (plan.run_as ? "uid " + std::to_string(plan.run_as->uid) : "caller uid") +
                 ", no_new_privs";

  AuditSink no_audit;
  LayerContext ctx{plan.effective.policy, mode, opts.workdir, opts.has_terminal,
                   opts.audit ? opts.audit : &no_audit};
  if (Status s = AddLandlockLayer(ctx, plan); !s.ok()) return s.With("landlock");
  if (Status s = AddSeccompLayer(ctx, plan); !s.ok()) return s.With("seccomp");
  return plan;
}

std::vector<std::string> ChildEnvironment(char** environ_in,
                                          const std::vector<std::string>& additions) {
  std::map<std::string, std::string> add;
  for (const auto& a : additions) add[a.substr(0, a.find('='))] = a;
  add["RINGFENCE_SANDBOX"] = "RINGFENCE_SANDBOX=1";
  std::vector<std::string> out;
  for (char** e = environ_in; e && *e; ++e) {
    std::string kv(*e);
    std::string name = kv.substr(0, kv.find('='));
    if (name.rfind("RINGFENCE_", 0) == 0 || add.count(name)) continue;
    out.push_back(kv);
  }
  for (const auto& [name, kv] : add) out.push_back(kv);
  return out;
}

}  // namespace rf
