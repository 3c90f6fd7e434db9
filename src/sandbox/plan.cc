#include "sandbox/plan.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "landlock/resolve.h"
#include "landlock/ruleset.h"
#include "net/connect_guard.h"
#include "net/mode.h"
#include "net/netns.h"
#include "sandbox/access_as.h"
#include "sandbox/layers.h"
#include "sandbox/user_lookup.h"
#include "sandbox/workdir.h"
#include "seccomp/notify.h"

namespace rf {

namespace {

Result<UniqueFd> PlatformListener(uint16_t port, uint16_t* bound) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::Errno("proxy socket");
  // A fixed proxy_port must be reusable while earlier connections linger in
  // TIME_WAIT; SO_REUSEADDR never lets two listeners share it.
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd.get(), reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0)
    return Status::Errno(
        "proxy listener on 127.0.0.1:",
        std::to_string(port) +
            (port ? " (network.proxy_port in use? use 0 for an ephemeral port)" : ""));
  if (listen(fd.get(), 4096) != 0) return Status::Errno("proxy listen");
  socklen_t len = sizeof a;
  getsockname(fd.get(), reinterpret_cast<struct sockaddr*>(&a), &len);
  *bound = ntohs(a.sin_port);
  return fd;
}

// Network mode, proxy listener and the child's proxy environment.
Status AddNetworkLayer(const ModeDecision& d, bool none_in_namespace, LayerContext& ctx,
                       Plan& plan) {
  const Policy& p = ctx.policy;
  NetworkSetup& net = plan.net;
  net.mode = d.mode;
  nlohmann::json st = {{"mode", ToString(d.mode)}, {"decision", d.why}};
  switch (d.mode) {
    case NetMode::kNamespace:
    case NetMode::kNone: {
      if (d.mode == NetMode::kNone && !none_in_namespace) {
        ctx.landlock_connect_ports = std::vector<uint16_t>{};
        ctx.landlock_bind_ports = std::vector<uint16_t>{};
        ctx.seccomp_notify_connect = true;
        ctx.seccomp_listener_channel = &net.seccomp_channel;
        // No inet socket at all: nothing to connect or bind, and no listen()
        // whose implicit bind Landlock would not check.
        ctx.seccomp_inet_sockets = false;
        net.guard = true;
        net.guard_config.check_inet =
            true;  // no proxy, no loopback port: every inet connect refused
        st["status"] = "enforced (no TCP connect or bind: Landlock; no inet sockets: seccomp)";
        break;
      }
      int sp[2];
      if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
        return Status::Errno("socketpair");
      net.listener_channel.reset(sp[0]);
      UniqueFd child_end(sp[1]);
      net.proxy = d.mode == NetMode::kNamespace;
      net.proxy_port = net.proxy ? NamespaceProxyPort(p.network.proxy_port) : 0;
      auto step = NamespaceStep::Create(net.proxy_port, std::move(child_end), net.proxy);
      // init is PID 1 of the sandbox's namespaces (and owns the user
      // namespace when ringfence is not privileged).
      plan.init_namespaces = kInitNamespaces | (d.use_userns ? CLONE_NEWUSER : 0);
      plan.uid_map = IdentityMap(geteuid());
      plan.gid_map = IdentityMap(getegid());
      ctx.proc_remounted = true;
      // Unix connects are checked by the supervisor here too (inet ones are
      // made on the command's own socket: the namespace confines them).
      ctx.seccomp_notify_connect = true;
      ctx.seccomp_listener_channel = &net.seccomp_channel;
      net.guard = true;
      net.guard_config.check_inet = false;
      net.guard_config.proxy_port = net.proxy_port;
      // Checked by the mode's probe (ProbeNamespaceSupport).
      net.guard_config.pidfd_getfd_works = true;
      if (!step.ok()) return step.status();
      plan.privileged_steps.push_back(std::move(step).value());
      st["status"] =
          net.proxy ? "enforced (fresh network namespace: loopback only; egress through the proxy)"
                    : "enforced (empty network namespace: loopback only)";
      st["ipc_namespace"] = true;
      st["pid_namespace"] = "own /proc: host processes are invisible";
      if (d.use_userns) st["user_namespace"] = "uid/gid mapped 1:1 (no root inside)";
      break;
    }
    case NetMode::kPlatform: {
      auto l = PlatformListener(p.network.proxy_port, &net.proxy_port);
      if (!l.ok()) return l.status();
      net.listener = std::move(l).value();
      net.proxy = true;
      std::vector<uint16_t> connect_ports = p.network.loopback_ports;
      connect_ports.push_back(net.proxy_port);
      ctx.landlock_connect_ports = connect_ports;
      ctx.landlock_bind_ports = p.network.bind_ports;
      // connect() goes to the supervisor's ConnectGuard (src/net/connect_guard.h).
      ctx.seccomp_notify_connect = true;
      ctx.seccomp_listener_channel = &net.seccomp_channel;
      net.guard = true;
      net.guard_config.check_inet = true;
      net.guard_config.proxy_port = net.proxy_port;
      net.guard_config.loopback_ports = p.network.loopback_ports;
      st["status"] = "enforced (proxy on 127.0.0.1, Landlock TCP port rules, seccomp socket rules)";
      net.guard_config.pidfd_getfd_works = PidfdGetfdWorks();
      net.guard_config.notify_listen = true;  // the profile's listen rule (platform)
      // Landlock (ABI <= 7) does not check the implicit bind of listen():
      // the guard refuses it, on the command's socket where it can take it,
      // else on the socket it bound itself (src/net/bind_guard.cc).
      st["listen"] = *net.guard_config.pidfd_getfd_works
                         ? "checked by the supervisor: refused on a TCP socket never bound"
                         : "checked by the supervisor (pidfd_getfd refused here: made on the "
                           "socket the supervisor bound): refused on a TCP socket never bound";
      st["bind"] =
          "made by the supervisor with the sandbox's Landlock rules and credentials; abstract unix "
          "names under a per-run prefix unless network.unix_sockets lists them, autobound ones "
          "too (bind() with the family alone; SO_PASSCRED/SO_PASSPIDFD named by the supervisor "
          "first)";
      break;
    }
    case NetMode::kHost:
      st["status"] = "not enforced (network.mode host: unrestricted network)";
      plan.effective.warnings.push_back(
          "network: mode host: the sandbox has unrestricted network access");
      break;
    case NetMode::kAuto:
      return Status::Error("internal: unresolved network mode");
  }
  if (net.guard) {
    // The connect guard needs seccomp user notification with on-behalf
    // connects. Where it cannot exist (old kernel, a container profile that
    // refuses the listener) the mode runs degraded only under best_effort,
    // with the residual gap said in a warning and the effective policy.
    if (Status n = seccomp::ProbeUserNotification(); !n.ok()) {
      auto cap = landlock::ParseAbiCap(getenv("RINGFENCE_TEST_LANDLOCK_ABI"));
      const int abi = landlock::ProbeAbi(cap.ok() ? *cap : std::nullopt).used;
      std::vector<std::string> residual;
      if (d.mode == NetMode::kPlatform) {
        if (abi < 4)
          return Status::Error(
              "platform mode cannot confine TCP here: seccomp user notification is unavailable (" +
              n.reason() + ") and Landlock has no TCP port rules (ABI " + std::to_string(abi) +
              " < 4); use namespace mode (root or unprivileged user namespaces)");
        residual.push_back(
            "connect() is confined by Landlock's TCP port rules only: the proxy port and "
            "network.loopback_ports are reachable on every address (127.0.0.2, ::1, other local "
            "and remote hosts), not only on 127.0.0.1/::1");
        if (abi < 6)
          residual.push_back(
              "host abstract unix sockets are reachable (no Landlock scope below ABI 6)");
        // What the guard's bind() and listen() handling closes.
        residual.push_back(
            "abstract unix names the command binds are the host's (host clients connecting to "
            "a well-known name reach them)");
        residual.push_back(
            "listen() on a TCP socket never bound gets an ephemeral port on every address");
      }
      residual.push_back(abi >= 9
                             ? "host pathname unix sockets: refused by Landlock RESOLVE_UNIX only"
                             : "host pathname unix sockets (docker.sock, D-Bus, X11, agents) are "
                               "NOT refused (Landlock ABI < 9 cannot, and the connect check "
                               "is missing)");
      std::string gap;
      for (const auto& r : residual) gap += "; " + r;
      if (p.compatibility == Compatibility::kHardRequirement)
        return Status::Error("seccomp user notification is unavailable (" + n.reason() +
                             "): the connect() check cannot run" + gap +
                             "; landlock.compatibility is hard_requirement");
      net.guard = false;
      ctx.seccomp_notify_connect = false;
      ctx.seccomp_listener_channel = nullptr;
      st["degraded"] = "best_effort: seccomp user notification unavailable: " + n.reason();
      st["residual"] = residual;
      st["unix_sockets"] = {{"allowed", p.network.unix_sockets}, {"mechanism", residual.back()}};
      plan.effective.warnings.push_back(
          "network: degraded: seccomp user notification unavailable (" + n.reason() + ")" + gap);
    }
  }
  if (net.guard) {
    auto& g = net.guard_config;
    g.unix_allowed = p.network.unix_sockets;
    g.visible_roots = p.filesystem.read_only;
    g.visible_roots.insert(g.visible_roots.end(), p.filesystem.read_write.begin(),
                           p.filesystem.read_write.end());
    if (plan.run_as) {
      g.switch_creds = true;
      g.uid = plan.run_as->uid;
      g.gid = plan.run_as->gid;
    }
    if (ctx.describe)
      st["unix_sockets"] = {
          {"allowed", p.network.unix_sockets},
          {"rule",
           "host pathname sockets only when listed in network.unix_sockets; sockets bound "
           "by the sandbox itself are allowed; abstract sockets: see 'abstract'"},
          {"mechanism",
           "seccomp user notification on connect(): the supervisor resolves the path "
           "itself (no magic links) and connects on the command's behalf (Landlock ABI "
           "< 9 cannot refuse it)"},
          {"datagram", p.network.unix_datagram
                           ? "allowed (network.unix_datagram: weakened boundary)"
                           : "AF_UNIX SOCK_DGRAM refused (seccomp)"}};
    if (p.network.unix_datagram)
      plan.effective.warnings.push_back(
          "network.unix_datagram: true: datagrams can reach any host pathname socket the sandbox's "
          "uid may write (e.g. /dev/log)");
  }
  if (net.proxy) {
    st["proxy"] = "http://127.0.0.1:" + std::to_string(net.proxy_port);
    auto env = ProxyEnvironment(net.proxy_port, LoopbackHostsCarried(p.network_policies),
                                getenv("JAVA_TOOL_OPTIONS"));
    plan.env_additions.insert(plan.env_additions.end(), env.begin(), env.end());
  }
  // The layer descriptions are for `policy show`; a run does not read them.
  if (ctx.describe) {
    plan.effective.layers["network"] = st;
    plan.effective.layers["process"]["visibility"] =
        plan.init_namespaces & CLONE_NEWPID
            ? "own PID namespace and /proc: only the sandbox's processes are visible"
            : "host processes are visible in /proc (pids, command lines, status); their environ, "
              "mem and fds are refused by Landlock's ptrace restriction, signals by its scope";
  }
  plan.summary += std::string(", network: ") + d.why;
  return Status::Ok();
}

// The sandbox's own /tmp (src/sandbox/private_tmp.h), decided after the
// network layer (which says whether there is a mount namespace) and before
// Landlock (which grants it).
Status AddPrivateTmp(const PlanOptions& opts, LayerContext& ctx, Plan& plan) {
  FilesystemPolicy& fs = plan.effective.policy.filesystem;
  nlohmann::json st;
  if (PolicyListsTmp(fs)) {
    st = {{"kind", "host"},
          {"status", "the host's /tmp, as the policy lists it (shared with every host process)"}};
  } else {
    struct stat tmp;
    const bool tmp_dir = lstat("/tmp", &tmp) == 0 && S_ISDIR(tmp.st_mode);
    std::vector<std::string> visible;  // host paths under /tmp the sandbox must see
    if ((plan.init_namespaces & CLONE_NEWNS) && tmp_dir) {
      std::vector<std::string> needed = fs.read_only;
      needed.insert(needed.end(), fs.read_write.begin(), fs.read_write.end());
      for (auto& r : landlock::UnixResolveRoots(ctx.policy.network.unix_sockets))
        needed.push_back(std::move(r));
      if (!opts.workdir.empty()) needed.push_back(opts.workdir);
      // A grant reached through a link into /tmp counts by what Landlock's
      // rule binds (the link's target, when the checked walk follows it).
      for (size_t i = 0, n = needed.size(); i < n; ++i)
        if (auto r = landlock::ResolveRulePath(needed[i], getuid()); r.ok())
          needed.push_back(r->real);
      visible = PathsUnderTmp(needed);
    }
    if ((plan.init_namespaces & CLONE_NEWNS) && tmp_dir && visible.empty()) {
      st = {{"kind", "tmpfs"},
            {"status", "a fresh tmpfs on /tmp in the sandbox's mount namespace (nosuid, nodev)"},
            {"size", fs.tmp_size.empty() ? "tmpfs default (half of RAM)" : fs.tmp_size}};
      plan.privileged_steps.push_back(PrivateTmpfsStep::Create(fs.tmp_size));
      ctx.tmp_mounted = true;
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
  if (ctx.describe) plan.effective.layers["tmp"] = st;
  return Status::Ok();
}

// The command's home: made for a run (policy show only describes it),
// granted read-write, in HOME and the XDG base directories.
Status AddHome(const PlanOptions& opts, Plan& plan) {
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
    st["path"] = PersistentHomePath(opts.workdir, plan.run_as ? plan.run_as->uid : geteuid());
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
  if (opts.describe) plan.effective.layers["process"]["home"] = st;
  return Status::Ok();
}

// A read-write grant the sandbox's user cannot write fails at the first
// write, with a bare "Permission denied" the user cannot trace: said at
// start, with the fix (fatal under hard_requirement).
Status CheckWritableGrants(const PlanOptions& opts, Plan& plan) {
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
  const uid_t uid = plan.run_as ? plan.run_as->uid : geteuid();
  const gid_t gid = plan.run_as ? plan.run_as->gid : getegid();
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

Result<Plan> BuildPlan(const Policy& policy, const PlanOptions& opts) {
  Plan plan;
  Policy p = policy;
  ModeDecision decision{NetMode::kNone, false, ""};
  bool none_in_namespace = false;
  if (!opts.mode.empty()) {
    auto m = ParseNetMode(opts.mode);
    if (!m)
      return Status::Error("--mode must be auto, namespace, platform, none or host, not '" +
                           opts.mode + "'");
    p.network.mode = *m;
  }
  NetMode requested = p.network.mode;
  if (requested == NetMode::kNone) {
    // `none` wants an empty network namespace when one can be had.
    auto ns = ResolveMode(NetMode::kAuto);
    if (!ns.ok()) return ns.status();
    decision = {NetMode::kNone, ns->mode == NetMode::kNamespace && ns->use_userns, ""};
    none_in_namespace = ns->mode == NetMode::kNamespace;
    decision.why = none_in_namespace ? "none (empty network namespace)"
                                     : "none (Landlock + seccomp: no sockets)";
  } else {
    auto d = ResolveMode(requested);
    if (!d.ok()) return d.status();
    decision = *d;
  }
  const NetMode mode = decision.mode;
  std::vector<std::string> workdir_warnings;
  if (p.filesystem.include_workdir && !opts.workdir.empty())
    if (Status s = CheckWorkdirGrant(opts.workdir, workdir_warnings); !s.ok()) return s;
  EnrichContext enrich{opts.workdir, mode};
  // Where the command mounts its own /proc (AddNetworkLayer: proc_remounted).
  enrich.own_proc = mode == NetMode::kNamespace || (mode == NetMode::kNone && none_in_namespace);
  plan.effective = Enrich(std::move(p), enrich);
  for (auto& w : workdir_warnings) plan.effective.warnings.push_back(std::move(w));
  const ProcessPolicy& process = plan.effective.policy.process;

  if (geteuid() == 0) {
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
  if (opts.describe) {
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
          "caller (uid " + std::to_string(geteuid()) + "; run_as_user applies only as root)";
      proc["capabilities"] = "none gained (no_new_privs)";
    }
    proc["no_new_privs"] = true;
    proc["rlimit_core"] = 0;
    proc["status"] = "enforced";
    plan.effective.layers["process"] = proc;
  }
  plan.summary =
      std::string("process: ") +
      (plan.run_as
           ? "uid " + std::to_string(plan.run_as->uid) +
                 (plan.run_as_why == "process.run_as_user" ? "" : " (" + plan.run_as_why + ")")
           : "caller uid") +
      ", no_new_privs";

  AuditSink no_audit;
  LayerContext ctx{plan.effective.policy, mode, opts.workdir, opts.has_terminal,
                   opts.audit ? opts.audit : &no_audit};
  ctx.describe = opts.describe;
  if (Status s = AddHome(opts, plan); !s.ok()) return s.With("process.home");
  if (Status s = AddNetworkLayer(decision, none_in_namespace, ctx, plan); !s.ok())
    return s.With("network");
  if (Status s = AddPrivateTmp(opts, ctx, plan); !s.ok()) return s.With("private /tmp");
  if (Status s = CheckWritableGrants(opts, plan); !s.ok()) return s;
  // Protected paths and deny_read are found before the Landlock layer:
  // without a mount namespace, Landlock itself keeps deny_read unreadable.
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
    const bool mount_ns = (plan.init_namespaces & CLONE_NEWNS) != 0;
    if (!mount_ns)
      for (const auto& e : scan.entries)
        if (e.kind == ProtectedEntry::Kind::kDenyRead) ctx.landlock_deny_read.push_back(e.path);
    plan.protection = std::make_unique<Protection>(std::move(scan), mount_ns);
    if (opts.describe)
      plan.effective.layers["filesystem"]["protected"] = plan.protection->Describe();
  }
  if (Status s = AddLandlockLayer(ctx, plan); !s.ok()) return s.With("landlock");
  if (plan.net.guard) {
    // Abstract unix sockets: who confines them on this kernel and mode.
    const bool own_netns = plan.net.listener_channel.valid();
    plan.net.guard_config.check_abstract = !own_netns;
    plan.net.guard_config.abstract_scoped = !own_netns && plan.landlock_abstract_scope;
    if (!own_netns && !plan.landlock_abstract_scope && ctx.policy.network.unix_datagram) {
      // A datagram's destination is in memory: sendto() is notified and
      // mapped, but sendmsg() cannot be (the command hands the listener to
      // the supervisor with sendmsg() itself), so only Landlock's scope
      // keeps one off host abstract names. Without it: no datagram sockets.
      ctx.seccomp_refuse_unix_dgram = true;
      plan.effective.warnings.push_back(
          "network.unix_datagram: AF_UNIX datagram sockets stay refused: without Landlock's "
          "abstract-socket scope (ABI 6) a datagram could reach the host's abstract unix "
          "sockets in this mode");
      if (opts.describe)
        plan.effective.layers["network"]["unix_sockets"]["datagram"] =
            "AF_UNIX SOCK_DGRAM refused (seccomp): network.unix_datagram needs Landlock's "
            "abstract-socket scope (ABI 6) in this mode";
    } else if (!own_netns && ctx.policy.network.unix_datagram && opts.describe) {
      plan.effective.layers["network"]["unix_sockets"]["datagram"] =
          "allowed (network.unix_datagram: weakened boundary); sendto(@NAME) goes to the "
          "sandbox's own prefixed name (seccomp user notification)";
    }
  }
  if (plan.net.guard && opts.describe) {
    const bool own_netns = plan.net.listener_channel.valid();
    plan.effective.layers["network"]["unix_sockets"]["mechanism"] =
        std::string(plan.landlock_resolve_unix
                        ? "Landlock RESOLVE_UNIX (ABI 9): host pathname sockets only where "
                          "network.unix_sockets grants them; and "
                        : "") +
        "seccomp user notification on connect(): the supervisor resolves the path itself (no "
        "magic links) and connects on the command's behalf" +
        (plan.landlock_resolve_unix ? "" : " (Landlock ABI < 9 cannot refuse it)");
    plan.effective.layers["network"]["unix_sockets"]["abstract"] =
        own_netns ? "the sandbox's own network namespace: host abstract sockets do not exist there"
        : plan.landlock_abstract_scope
            ? "Landlock scope (ABI 6): only abstract sockets created inside the sandbox"
            : "seccomp user notification on connect() (no Landlock scope on this kernel): "
              "refused unless listed as @name in network.unix_sockets or served by the "
              "sandbox; connected on the command's behalf";
  }
  if (opts.audit_denials) {
    // run --audit: refused system calls go to the supervisor, which answers
    // with the rule's errno and writes an audit event (docs/seccomp.md).
    // A listener kept by the network layer means its probe passed already.
    Status s = ctx.seccomp_listener_channel ? Status::Ok() : seccomp::ProbeUserNotification();
    if (s.ok()) {
      ctx.seccomp_notify_denials = true;
      if (!ctx.seccomp_listener_channel) ctx.seccomp_listener_channel = &plan.net.seccomp_channel;
    } else {
      plan.effective.warnings.push_back(
          "seccomp: refused system calls are not written to the audit log: " + s.reason());
    }
  }
  if (Status s = AddSeccompLayer(ctx, plan); !s.ok()) return s.With("seccomp");
  const ProcessLimits& limits = plan.effective.policy.process.limits;
  if (!limits.empty()) {
    plan.limits = SandboxLimits::Prepare(limits, (plan.init_namespaces & CLONE_NEWUSER) != 0,
                                         opts.default_processes);
    if (opts.describe) plan.effective.layers["limits"] = plan.limits->Describe();
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
