#include "sandbox/plan.h"

#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "common/scm.h"
#include "landlock/resolve.h"
#include "net/mode.h"
#include "sandbox/access_as.h"
#include "sandbox/layers.h"
#include "sandbox/user_lookup.h"
#include "sandbox/workdir.h"
#include "seccomp/notify.h"

namespace rf {

namespace {

// The sandbox's own /tmp (src/sandbox/private_tmp.h), decided after the
// network layer (which says whether there is a mount namespace) and before
// Landlock (which grants it). Returns whether the command mounts a tmpfs.
Result<bool> AddPrivateTmp(const PlanOptions& opts, const NetworkDecision& net, uid_t trusted_uid,
                           Plan& plan) {
  bool tmp_mounted = false;
  FilesystemPolicy& fs = plan.effective.policy.filesystem;
  nlohmann::json st;
  if (PolicyListsTmp(fs)) {
    st = {{"kind", "host"},
          {"status", "the host's /tmp, as the policy lists it (shared with every host process)"}};
  } else {
    struct stat tmp;
    const bool tmp_dir = lstat("/tmp", &tmp) == 0 && S_ISDIR(tmp.st_mode);
    std::vector<std::string> visible;  // host paths under /tmp the sandbox must see
    if (net.mount_namespace && tmp_dir) {
      std::vector<std::string> needed = fs.read_only;
      needed.insert(needed.end(), fs.read_write.begin(), fs.read_write.end());
      for (auto& r : landlock::UnixResolveRoots(plan.effective.policy.network.unix_sockets))
        needed.push_back(std::move(r));
      if (!opts.workdir.empty()) needed.push_back(opts.workdir);
      // A grant reached through a link into /tmp counts by what Landlock's
      // rule binds (the link's target, when the checked walk follows it).
      for (size_t i = 0, n = needed.size(); i < n; ++i)
        if (auto r = landlock::ResolveRulePath(needed[i], trusted_uid); r.ok())
          needed.push_back(r->real);
      visible = PathsUnderTmp(needed);
    }
    if (net.mount_namespace && tmp_dir && visible.empty()) {
      st = {{"kind", "tmpfs"},
            {"status", "a fresh tmpfs on /tmp in the sandbox's mount namespace (nosuid, nodev)"},
            {"size", fs.tmp_size.empty() ? "tmpfs default (half of RAM)" : fs.tmp_size}};
      plan.privileged_steps.push_back(PrivateTmpfsStep::Create(fs.tmp_size));
      tmp_mounted = true;
    } else {
      st = {{"kind", "directory"},
            {"status",
             "a directory made for this run (mode 0700, the sandbox user's), in TMPDIR, TMP and "
             "TEMP, removed after the run; the host's /tmp is not granted"}};
      if (!visible.empty())
        st["why_not_tmpfs"] = "paths under the host's /tmp must stay visible (" + visible.front() +
                              (visible.size() > 1 ? ", ..." : "") +
                              "); a tmpfs over /tmp would hide them";
      if (!fs.tmp_size.empty())
        st["size"] = "filesystem_policy.tmp_size applies to namespace mode's tmpfs only";
      if (opts.make_private_tmp) {
        std::optional<std::pair<uid_t, gid_t>> owner;
        if (plan.run_as) owner = std::make_pair(plan.run_as->uid, plan.run_as->gid);
        auto dir = PrivateTmpDir::Create(owner);
        if (!dir.ok()) return dir.status();
        plan.private_tmp = std::move(dir).value();
        const std::string& path = plan.private_tmp->path();
        st["path"] = path;
        fs.read_write.push_back(path);
        plan.net.guard_config.visible_roots.push_back(path);
        for (const char* name : {"TMPDIR", "TMP", "TEMP"})
          plan.env_additions.push_back(std::string(name) + "=" + path);
      }
    }
  }
  plan.status.push_back([st = std::move(st)](nlohmann::json& e) { e["tmp"] = st; });
  return tmp_mounted;
}

// With an inspecting proxy the command trusts the run's CA: a directory
// granted read-only (its files are written by run.cc), the variables that
// name it, and the JVM's trust store after the caller's own options.
Status AddTrust(const PlanOptions& opts, Plan& plan) {
  const Policy& p = plan.effective.policy;
  if (!plan.net.proxy || !PolicyInspects(p)) return Status::Ok();
  nlohmann::json st = {{"tls", "terminated for inspected endpoints with a CA made for the run"}};
  if (opts.make_private_tmp) {
    std::optional<std::pair<uid_t, gid_t>> owner;
    if (plan.run_as) owner = std::make_pair(plan.run_as->uid, plan.run_as->gid);
    auto trust = MakeTrustDir(owner);
    if (!trust.ok()) return trust.status();
    plan.trust = std::move(trust).value();
    const SandboxTrust& t = *plan.trust;
    st["bundle"] = t.bundle;
    plan.effective.policy.filesystem.read_only.push_back(t.dir->path());
    for (auto& kv : TrustEnvironment(t.bundle)) plan.env_additions.push_back(std::move(kv));
    for (auto& kv : plan.env_additions)
      if (kv.rfind("JAVA_TOOL_OPTIONS=", 0) == 0) kv += " " + JavaTrustOptions(t.java_store);
  }
  st["environment"] = {"SSL_CERT_FILE",       "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                       "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO",     "PIP_CERT",
                       "AWS_CA_BUNDLE",       "JAVA_TOOL_OPTIONS"};
  plan.status.push_back(
      [st = std::move(st)](nlohmann::json& e) { e["network"]["inspection"] = st; });
  return Status::Ok();
}

// The command's home: made for a run (policy show only describes it),
// granted read-write, in HOME and the XDG base directories.
Status AddHome(const PlanOptions& opts, uid_t uid, Plan& plan) {
  const std::string& setting = plan.effective.policy.process.home;
  nlohmann::json st = {{"setting", setting}};
  if (setting == "per_run") {
    st["status"] =
        "a directory made for this run (mode 0700, the sandbox user's), removed after "
        "the run; protected paths do not apply there (the sandbox's own)";
  } else if (setting == "persistent") {
    st["status"] =
        "one directory per working directory and sandbox uid, kept between runs; "
        "protected paths do not apply there (only sandboxes use it)";
    st["path"] = PersistentHomePath(opts.workdir, plan.run_as ? plan.run_as->uid : uid);
  } else {
    st["status"] = "the directory process.home names, granted read-write; protected paths apply";
    st["path"] = setting;
  }
  st["environment"] = {"HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                       "XDG_STATE_HOME"};
  if (opts.make_private_tmp) {
    std::optional<std::pair<uid_t, gid_t>> owner;
    if (plan.run_as) owner = std::make_pair(plan.run_as->uid, plan.run_as->gid);
    auto h = MakeHome(setting, opts.workdir, owner);
    if (!h.ok()) return h.status();
    plan.home = std::move(h).value();
    st["path"] = plan.home.path;
    auto& rw = plan.effective.policy.filesystem.read_write;
    if (std::find(rw.begin(), rw.end(), plan.home.path) == rw.end()) rw.push_back(plan.home.path);
    for (auto& kv : HomeEnvironment(plan.home.path)) plan.env_additions.push_back(std::move(kv));
  }
  plan.status.push_back([st = std::move(st)](nlohmann::json& e) { e["process"]["home"] = st; });
  return Status::Ok();
}

// A read-write grant the sandbox's user cannot write fails at the first
// write, with a bare "Permission denied" the user cannot trace: said at
// start, with the fix (fatal under hard_requirement).
Status CheckWritableGrants(const PlanOptions& opts, const HostProbe& host, Plan& plan) {
  const auto& fs = plan.effective.policy.filesystem;
  std::vector<AccessCheck> checks;
  std::vector<struct stat> stats;
  for (const auto& g : fs.read_write) {
    if (g == plan.home.path || (plan.private_tmp && g == plan.private_tmp->path())) continue;
    struct stat st;
    if (stat(g.c_str(), &st) != 0) continue;  // a missing path is reported elsewhere
    checks.push_back({g, W_OK | (S_ISDIR(st.st_mode) ? X_OK : 0)});
    stats.push_back(st);
  }
  std::vector<int> res = AccessAs(plan.run_as, checks);
  const uid_t uid = plan.run_as ? plan.run_as->uid : host.uid;
  const gid_t gid = plan.run_as ? plan.run_as->gid : host.gid;
  for (size_t i = 0; i < checks.size(); ++i) {
    if (res[i] == 0) continue;
    const auto& st = stats[i];
    char mode[8];
    snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    const bool is_workdir = checks[i].path == opts.workdir;
    std::string fix =
        "make it writable for uid " + std::to_string(uid) + " (chown, chmod or setfacl)";
    if (plan.run_as)
      fix += ", or set process.run_as_user to a user who can write it (its owner is uid " +
             std::to_string(st.st_uid) + ")";
    if (is_workdir) fix += ", or pass --workdir with a directory that user can write";
    std::string text = std::string("filesystem: the sandbox runs as uid ") + std::to_string(uid) +
                       " (gid " + std::to_string(gid) + "), which cannot write the read-write " +
                       (is_workdir ? "working directory " : "grant ") + checks[i].path +
                       " (owner uid " + std::to_string(st.st_uid) + ", gid " +
                       std::to_string(st.st_gid) + ", mode " + mode +
                       "): writes there fail with 'Permission denied'; fix: " + fix;
    if (plan.effective.policy.compatibility == Compatibility::kHardRequirement)
      return Status::Error(text + "; landlock.compatibility is hard_requirement");
    plan.effective.warnings.push_back(std::move(text));
  }
  return Status::Ok();
}

}  // namespace

Result<NetMode> RequestedMode(const Policy& policy, const std::string& mode) {
  if (mode.empty()) return policy.network.mode;
  auto m = ParseNetMode(mode);
  if (!m)
    return Status::Error("--mode must be auto, namespace, platform, none or host, not '" + mode +
                         "'");
  return *m;
}

Result<HostProbe> ProbeHostFor(const Policy& policy, const PlanOptions& opts) {
  auto requested = RequestedMode(policy, opts.mode);
  if (!requested.ok()) return requested.status();
  return ProbeHost({.namespaces = NeedsNamespaceProbe(*requested), .doctor = false});
}

nlohmann::json RenderStatus(const Plan& plan) {
  nlohmann::json e = nlohmann::json::object();
  for (const auto& write : plan.status) write(e);
  return e;
}

Result<Handoff> ReceiveHandoff(NetworkSetup& net) {
  Handoff h;
  if (net.listener.valid()) {
    h.proxy_listener = std::move(net.listener);
  } else if (net.proxy && net.listener_channel.valid()) {
    // Sent by the command before exec, from inside its namespace.
    auto l = ReceiveFd(net.listener_channel.get());
    if (!l.ok()) return l.status().With("proxy");
    h.proxy_listener = std::move(l).value();
  }
  if (net.listener_channel.valid()) {
    // Then the sock_diag socket of the sandbox's network namespace.
    auto d = ReceiveFd(net.listener_channel.get());
    if (!d.ok()) return d.status().With("network namespace");
    h.sandbox_diag = std::move(d).value();
    if (net.dns_socket_in_namespace) {
      // Then the resolver's socket, on the namespace's loopback port 53.
      auto s = ReceiveFd(net.listener_channel.get());
      if (!s.ok()) return s.status().With("the sandbox's resolver");
      h.dns_socket = std::move(s).value();
      auto t = ReceiveFd(net.listener_channel.get());
      if (!t.ok()) return t.status().With("the sandbox's resolver (TCP)");
      h.dns_tcp_listener = std::move(t).value();
    }
  }
  if (net.seccomp_channel.valid()) {
    // The filter's listener, sent by the command's last confinement step.
    auto l = seccomp::ReceiveListener(net.seccomp_channel.get(), 5000);
    if (!l.ok()) return l.status().With("connect guard");
    h.seccomp_listener = std::move(l).value();
  }
  return h;
}

// The order, and why (each step reads only what the steps above decided):
//  1. The network mode, from the host probe: whether the command gets
//     namespaces decides what the policy is enriched with (its own /proc)
//     and what every layer below does.
//  2. Enrichment (src/policy/effective.cc): workdir and baselines.
//  3. Identity: whom the command runs as (started as root), which the
//     home, the grants check and the connect guard's credentials need.
//  4. Home: a grant and environment of its own, before the layers grant it.
//  5. Network layer: namespace step or platform listener, the guard's
//     configuration; returns the NetworkDecision (ports, mount namespace,
//     connect notification) the later steps take as input.
//  6. Private /tmp: a tmpfs needs the mount namespace of step 5; before
//     Landlock, which grants it.
//  7. Writable grants check: after 4 and 6 added their grants.
//  8. Protected paths and deny_read: before Landlock, which keeps deny_read
//     unreadable itself where there is no mount namespace.
//  9. Landlock layer: the rules, the TCP ports of step 5; returns its
//     scopes, which decide 10.
// 10. The guard's abstract-socket and datagram handling, from Landlock's
//     scope.
// 11. Seccomp layer: last, as its filter is the last confinement step and
//     takes every notification decided above (connect, --audit refusals).
// 12. Limits: cgroups and rlimits, which need to know about the user
//     namespace of step 5.
Result<Plan> BuildPlan(const Policy& policy, const PlanOptions& opts, const HostProbe& host) {
  Plan plan;
  Policy p = policy;
  // 1. Network mode.
  auto requested = RequestedMode(p, opts.mode);
  if (!requested.ok()) return requested.status();
  p.network.mode = *requested;
  ModeDecision decision{NetMode::kNone, false, ""};
  bool none_in_namespace = false;
  const std::optional<NamespaceSupport> ns_mode =
      NeedsNamespaceProbe(*requested) ? NamespaceMode(host) : std::nullopt;
  if (NeedsNamespaceProbe(*requested) && !ns_mode)
    return Status::Error("internal: the host probe did not ask about namespaces");
  if (*requested == NetMode::kNone) {
    // `none` wants an empty network namespace when one can be had.
    auto ns = ResolveMode(NetMode::kAuto, *ns_mode);
    if (!ns.ok()) return ns.status();
    decision = {NetMode::kNone, ns->mode == NetMode::kNamespace && ns->use_userns, ""};
    none_in_namespace = ns->mode == NetMode::kNamespace;
    decision.why = none_in_namespace ? "none (empty network namespace)"
                                     : "none (Landlock + seccomp: no sockets)";
  } else {
    auto d = ResolveMode(*requested, ns_mode.value_or(NamespaceSupport{}));
    if (!d.ok()) return d.status();
    decision = *d;
  }
  const NetMode mode = decision.mode;
  // 2. Enrichment.
  std::vector<std::string> workdir_warnings;
  if (p.filesystem.include_workdir && !opts.workdir.empty())
    if (Status s = CheckWorkdirGrant(opts.workdir, workdir_warnings); !s.ok()) return s;
  EnrichContext enrich{opts.workdir, mode};
  // Where the command mounts its own /proc (the network layer's proc_remounted).
  enrich.own_proc = mode == NetMode::kNamespace || (mode == NetMode::kNone && none_in_namespace);
  plan.effective = Enrich(std::move(p), enrich);
  for (auto& w : workdir_warnings) plan.effective.warnings.push_back(std::move(w));
  const ProcessPolicy& process = plan.effective.policy.process;

  // 3. Identity.
  if (host.root()) {
    // A person's repository: run as that person, so that the command can
    // write it and git trusts it (docs/policy.md, "process"), unless the
    // policy names the user.
    struct stat wd;
    const bool as_owner = !process.run_as_user_given && !opts.workdir.empty() &&
                          stat(opts.workdir.c_str(), &wd) == 0 && wd.st_uid != 0;
    auto uid = as_owner ? Result<uid_t>(wd.st_uid) : LookupUser(process.run_as_user);
    if (!uid.ok()) return uid.status();
    Result<gid_t> gid = Status::Error("");
    if (as_owner && !process.run_as_group_given) {
      // The owner's primary group, else the directory's group, else the
      // policy's default group: never root's.
      std::optional<gid_t> g = PrimaryGidOf(*uid);
      if (!g || *g == 0) g = wd.st_gid;
      gid = *g != 0 ? Result<gid_t>(*g) : LookupGroup(process.run_as_group);
    } else {
      gid = LookupGroup(process.run_as_group);
    }
    if (!gid.ok()) return gid.status();
    if (*uid == 0 || *gid == 0) return Status::Error("the sandbox never runs as uid/gid 0");
    plan.run_as = RunAs{*uid, *gid};
    plan.run_as_why = as_owner ? "owner of the working directory" : "process.run_as_user";
  }
  {
    nlohmann::json proc = nlohmann::json::object();
    if (plan.run_as && plan.run_as_why != "process.run_as_user") {
      proc["user"] = "uid " + std::to_string(plan.run_as->uid) + " (the " + plan.run_as_why + " " +
                     opts.workdir + "; process.run_as_user chooses another)";
      proc["group"] = "gid " + std::to_string(plan.run_as->gid);
      proc["capabilities"] = "none (bounding, ambient and inheritable sets cleared)";
    } else if (plan.run_as) {
      proc["user"] = process.run_as_user + " (uid " + std::to_string(plan.run_as->uid) + ")";
      proc["group"] = process.run_as_group + " (gid " + std::to_string(plan.run_as->gid) + ")";
      proc["capabilities"] = "none (bounding, ambient and inheritable sets cleared)";
    } else {
      proc["user"] =
          "caller (uid " + std::to_string(host.uid) + "; run_as_user applies only as root)";
      proc["capabilities"] = "none gained (no_new_privs)";
    }
    proc["no_new_privs"] = true;
    proc["rlimit_core"] = 0;
    proc["status"] = "enforced";
    plan.status.push_back([proc = std::move(proc)](nlohmann::json& e) { e["process"] = proc; });
  }
  plan.summary =
      std::string("process: ") +
      (plan.run_as
           ? "uid " + std::to_string(plan.run_as->uid) +
                 (plan.run_as_why == "process.run_as_user" ? "" : " (" + plan.run_as_why + ")")
           : "caller uid") +
      ", no_new_privs";

  AuditSink no_audit;
  const LayerInput in{plan.effective.policy,
                      mode,
                      opts.workdir,
                      opts.has_terminal,
                      opts.audit ? opts.audit : &no_audit,
                      host,
                      plan.run_as,
                      opts.private_terminal};
  // 4. Home.
  if (Status s = AddHome(opts, host.uid, plan); !s.ok()) return s.With("process.home");
  // 5. Network layer.
  auto net = AddNetworkLayer(in, decision, none_in_namespace, plan);
  if (!net.ok()) return net.status().With("network");
  // 5b. Trust for inspected TLS: after the network layer (the proxy's
  // environment is there), before Landlock (the directory is granted).
  if (Status s = AddTrust(opts, plan); !s.ok()) return s.With("L7 inspection");
  // 6. Private /tmp.
  auto tmp_mounted = AddPrivateTmp(opts, *net, host.real_uid, plan);
  if (!tmp_mounted.ok()) return tmp_mounted.status().With("private /tmp");
  // 7. Writable grants.
  if (Status s = CheckWritableGrants(opts, host, plan); !s.ok()) return s;
  // 8. Protected paths and deny_read.
  LandlockInput ll{*net, {}, *tmp_mounted, {}, plan.net.guard};
  {
    // The home ringfence made is the sandbox's own: only sandboxed programs
    // read it (src/sandbox/home.h).
    FilesystemPolicy scanned = plan.effective.policy.filesystem;
    if (plan.home.own)
      scanned.read_write.erase(
          std::remove(scanned.read_write.begin(), scanned.read_write.end(), plan.home.path),
          scanned.read_write.end());
    ProtectScan scan = ScanProtected(scanned);
    for (auto& w : scan.warnings) plan.effective.warnings.push_back(std::move(w));
    if (!net->mount_namespace)
      for (const auto& e : scan.entries)
        if (e.kind == ProtectedEntry::Kind::kDenyRead) ll.deny_read.push_back(e.path);
    plan.protection = std::make_unique<Protection>(std::move(scan), net->mount_namespace);
    // The plan owns the Protection (and the limits below) for as long as
    // its status can be rendered.
    plan.status.push_back([prot = plan.protection.get()](nlohmann::json& e) {
      e["filesystem"]["protected"] = prot->Describe();
    });
  }
  // 9. Landlock layer.
  if (plan.home.own) ll.sandbox_own.push_back(plan.home.path);
  if (plan.private_tmp) ll.sandbox_own.push_back(plan.private_tmp->path());
  auto landlock = AddLandlockLayer(in, ll, plan);
  if (!landlock.ok()) return landlock.status().With("landlock");
  plan.landlock_fs = landlock->fs;
  plan.landlock_abi = landlock->abi;
  plan.hold_command_task_dir = landlock->hold_task_dir;
  // 10. The guard's abstract sockets and datagrams, by Landlock's scope.
  SeccompInput sc{net->notify_connect, false, net->inet_sockets, false};
  if (plan.net.guard) {
    auto& g = plan.net.guard_config;
    // The connect guard binds on the command's behalf on a thread restricted
    // by the same ruleset (src/net/bind_guard.cc), and decides metadata
    // calls against the same rules (src/landlock/metadata_guard.h);
    // unconfined without Landlock.
    g.landlock_ruleset = std::move(landlock->ruleset);
    g.metadata.enforce = landlock->step != nullptr;
    g.metadata.grants = std::move(landlock->metadata);
    // Abstract unix sockets: who confines them on this kernel and mode.
    const bool own_netns = net->own_netns;
    g.check_abstract = !own_netns;
    g.abstract_scoped = !own_netns && landlock->abstract_scope;
    const bool dgram = plan.effective.policy.network.unix_datagram;
    std::string datagram;
    if (!own_netns && !landlock->abstract_scope && dgram) {
      // A datagram's destination is in memory: sendto() is notified and
      // mapped, but sendmsg() cannot be (the command hands the listener to
      // the supervisor with sendmsg() itself), so only Landlock's scope
      // keeps one off host abstract names. Without it: no datagram sockets.
      sc.refuse_unix_dgram = true;
      plan.effective.warnings.push_back(
          "network.unix_datagram: AF_UNIX datagram sockets stay refused: without Landlock's "
          "abstract-socket scope (ABI 6) a datagram could reach the host's abstract unix "
          "sockets in this mode");
      datagram =
          "AF_UNIX SOCK_DGRAM refused (seccomp): network.unix_datagram needs Landlock's "
          "abstract-socket scope (ABI 6) in this mode";
    } else if (!own_netns && dgram) {
      datagram =
          "allowed (network.unix_datagram: weakened boundary); sendto(@NAME) goes to the "
          "sandbox's own prefixed name (seccomp user notification)";
    }
    plan.status.push_back([datagram, own_netns, scoped = landlock->abstract_scope,
                           resolve_unix = landlock->resolve_unix](nlohmann::json& e) {
      auto& u = e["network"]["unix_sockets"];
      if (!datagram.empty()) u["datagram"] = datagram;
      u["mechanism"] =
          std::string(resolve_unix ? "Landlock RESOLVE_UNIX (ABI 9): host pathname sockets only "
                                     "where network.unix_sockets grants them; and "
                                   : "") +
          "seccomp user notification on connect(): the supervisor resolves the path itself (no "
          "magic links) and connects on the command's behalf" +
          (resolve_unix ? "" : " (Landlock ABI < 9 cannot refuse it)");
      u["abstract"] =
          own_netns
              ? "the sandbox's own network namespace: host abstract sockets do not exist there"
          : scoped ? "Landlock scope (ABI 6): only abstract sockets created inside the sandbox"
                   : "seccomp user notification on connect() (no Landlock scope on this kernel): "
                     "refused unless listed as @name in network.unix_sockets or served by the "
                     "sandbox; connected on the command's behalf";
    });
  }
  if (opts.audit_denials) {
    // run --audit: refused system calls go to the supervisor, which answers
    // with the rule's errno and writes an audit event (docs/seccomp.md).
    // A connect notification kept by the network layer means the probe passed.
    if (sc.notify_connect || host.user_notification.ok()) {
      sc.notify_denials = true;
    } else {
      plan.effective.warnings.push_back(
          "seccomp: refused system calls are not written to the audit log: " +
          host.user_notification.reason());
    }
  }
  // 11. Seccomp layer.
  auto seccomp = AddSeccompLayer(in, sc, plan);
  if (!seccomp.ok()) return seccomp.status().With("seccomp");
  plan.net.seccomp_channel = std::move(seccomp->listener_channel);
  if (sc.notify_denials)
    plan.net.guard_config.audited_denials = std::move(seccomp->audited_denials);
  // The confinement steps in their order: Landlock, then seccomp.
  if (landlock->step) plan.confine_steps.push_back(std::move(landlock->step));
  plan.confine_steps.push_back(std::move(seccomp->step));
  // 12. Limits.
  const ProcessLimits& limits = plan.effective.policy.process.limits;
  if (!limits.empty()) {
    plan.limits = SandboxLimits::Prepare(limits, (plan.init_namespaces & CLONE_NEWUSER) != 0,
                                         opts.default_processes);
    plan.status.push_back(
        [limits = plan.limits.get()](nlohmann::json& e) { e["limits"] = limits->Describe(); });
    for (const auto& why : plan.limits->NotHeld()) {
      // The default cap is the policy's own best effort, never fatal.
      if (plan.effective.policy.compatibility == Compatibility::kHardRequirement &&
          !(opts.default_processes && why.rfind("processes ", 0) == 0))
        return Status::Error("limits: " + why +
                             "; landlock.compatibility is hard_requirement, so a limit that "
                             "cannot be held is fatal");
      if (!(opts.default_processes && why.rfind("processes ", 0) == 0))
        plan.effective.warnings.push_back("limit not held: " + why);
    }
    plan.summary += ", limits: " + plan.limits->Summary();
  }
  return plan;
}

std::vector<std::string> ChildEnvironment(char** environ_in,
                                          const std::vector<std::string>& additions) {
  // Names of the additions (a later one of the same name wins) and ours;
  // a handful, so a linear search: this runs on every start.
  auto name_of = [](std::string_view kv) { return kv.substr(0, kv.find('=')); };
  std::vector<std::string_view> added;
  added.reserve(additions.size() + 1);
  for (const auto& a : additions) added.push_back(a);
  added.push_back("RINGFENCE_SANDBOX=1");
  auto is_added = [&](std::string_view name) {
    for (std::string_view a : added)
      if (name_of(a) == name) return true;
    return false;
  };
  std::vector<std::string> out;
  for (char** e = environ_in; e && *e; ++e) {
    std::string_view name = name_of(*e);
    if (name.substr(0, 10) == "RINGFENCE_" || is_added(name)) continue;
    out.emplace_back(*e);
  }
  for (size_t i = 0; i < added.size(); ++i) {
    bool overridden = false;
    for (size_t j = i + 1; j < added.size() && !overridden; ++j)
      overridden = name_of(added[j]) == name_of(added[i]);
    if (!overridden) out.emplace_back(added[i]);
  }
  return out;
}

}  // namespace rf
