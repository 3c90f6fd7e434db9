#include "landlock/ruleset.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "landlock/resolve.h"
#include "landlock/uapi.h"

namespace rf::landlock {

namespace {

struct RightName {
  uint64_t bit;
  const char* name;
  int abi;  // first ABI that handles it
};

constexpr RightName kFsRights[] = {
    {kFsExecute, "execute", 1},          {kFsWriteFile, "write_file", 1},
    {kFsReadFile, "read_file", 1},       {kFsReadDir, "read_dir", 1},
    {kFsRemoveDir, "remove_dir", 1},     {kFsRemoveFile, "remove_file", 1},
    {kFsMakeChar, "make_char", 1},       {kFsMakeDir, "make_dir", 1},
    {kFsMakeReg, "make_reg", 1},         {kFsMakeSock, "make_sock", 1},
    {kFsMakeFifo, "make_fifo", 1},       {kFsMakeBlock, "make_block", 1},
    {kFsMakeSym, "make_sym", 1},         {kFsRefer, "refer", 2},
    {kFsTruncate, "truncate", 3},        {kFsIoctlDev, "ioctl_dev", 5},
    {kFsResolveUnix, "resolve_unix", 9},
};
constexpr RightName kNetRights[] = {
    {kNetBindTcp, "bind_tcp", 4},
    {kNetConnectTcp, "connect_tcp", 4},
};
constexpr RightName kScopes[] = {
    {kScopeAbstractUnixSocket, "abstract_unix_socket", 6},
    {kScopeSignal, "signal", 6},
};

template <size_t N>
std::vector<std::string> Names(const RightName (&table)[N], uint64_t mask) {
  std::vector<std::string> out;
  for (const auto& r : table)
    if (mask & r.bit) out.push_back(r.name);
  return out;
}

// One "degraded" line per right in `wanted` that `handled` lacks.
template <size_t N>
void Degrade(const RightName (&table)[N], const char* what, uint64_t wanted, uint64_t handled,
             int abi, std::vector<std::string>& out) {
  for (const auto& r : table) {
    if (!(wanted & r.bit) || (handled & r.bit)) continue;
    std::string line = std::string(what) + " " + r.name + " is not enforced: it needs ABI " +
                       std::to_string(r.abi) + ", ringfence uses ABI " + std::to_string(abi);
    if (r.bit == kFsRefer && std::string(what) == "filesystem right")
      line += " (ABI 1 refuses every rename/link across directories instead)";
    out.push_back(line);
  }
}

}  // namespace

std::string ProbeErrorReason(int err) {
  switch (err) {
    case ENOSYS:
      return "Landlock is not supported by this kernel (ENOSYS: built without "
             "CONFIG_SECURITY_LANDLOCK, or older than Linux 5.13)";
    case EOPNOTSUPP:
      return "Landlock is built into this kernel but not enabled at boot (EOPNOTSUPP: add "
             "'landlock' to the lsm= kernel parameter)";
    case EPERM:
      return "the Landlock system calls are blocked (EPERM), typically by a container's seccomp "
             "profile; allow landlock_create_ruleset, landlock_add_rule and "
             "landlock_restrict_self";
    default:
      return std::string("the Landlock ABI probe failed: ") + std::strerror(err);
  }
}

Abi AbiFromKernelAnswer(long answer, std::optional<int> cap) {
  Abi a;
  a.cap = cap;
  if (answer < 0) {
    a.error = static_cast<int>(-answer);
    a.reason = ProbeErrorReason(a.error);
    return a;
  }
  a.kernel = static_cast<int>(answer);
  a.used = a.kernel;
  if (a.used > kMaxKnownAbi) {
    a.reason = "the kernel reports ABI " + std::to_string(a.kernel) +
               "; ringfence knows up to ABI " + std::to_string(kMaxKnownAbi) + " and uses that";
    a.used = kMaxKnownAbi;
  }
  if (cap && *cap < a.used) {
    a.used = *cap;
    a.reason =
        "ABI capped to " + std::to_string(*cap) + " by RINGFENCE_TEST_LANDLOCK_ABI (test knob)";
  }
  return a;
}

Abi ProbeAbi(std::optional<int> cap) {
  long v = CreateRuleset(nullptr, 0, kCreateRulesetVersion);
  Abi a = AbiFromKernelAnswer(v < 0 ? -static_cast<long>(errno) : v, cap);
  if (a.kernel >= 7) {
    long e = CreateRuleset(nullptr, 0, kCreateRulesetErrata);
    if (e >= 0) a.errata = e;
  }
  return a;
}

Result<std::optional<int>> ParseAbiCap(const char* value) {
  if (!value) return std::optional<int>();
  std::string s(value);
  if (s.empty() || s.size() > 2 || s.find_first_not_of("0123456789") != std::string::npos)
    return Status::Error("RINGFENCE_TEST_LANDLOCK_ABI must be a number (0-99), not '" + s + "'");
  return std::optional<int>(std::stoi(s));
}

uint64_t WantedFsRights(Access a) {
  // RESOLVE_UNIX is never part of a read_write grant: a host socket in a
  // writable directory (/tmp/.X11-unix/X0) is reachable only when listed.
  return a == Access::kReadOnly ? (kFsExecute | kFsReadFile | kFsReadDir)
                                : FsRightsForAbi(kMaxKnownAbi) & ~kFsResolveUnix;
}

std::vector<std::string> UnixResolveRoots(const std::vector<std::string>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) {
    if (e.empty() || e[0] != '/') continue;  // "@name": abstract, no path
    size_t glob = e.find_first_of("*?[");
    std::string root = e;
    if (glob != std::string::npos) {
      // The directory that holds the first globbed component: a superset
      // of what the glob names (the connect notification narrows it).
      size_t slash = e.rfind('/', glob);
      root = slash == 0 ? "/" : e.substr(0, slash);
    }
    if (std::find(out.begin(), out.end(), root) == out.end()) out.push_back(root);
  }
  return out;
}

std::vector<std::string> FsRightNames(uint64_t mask) { return Names(kFsRights, mask); }
std::vector<std::string> NetRightNames(uint64_t mask) { return Names(kNetRights, mask); }
std::vector<std::string> ScopeNames(uint64_t mask) { return Names(kScopes, mask); }

const char* ToString(Enforcement e) {
  switch (e) {
    case Enforcement::kFully:
      return "fully enforced";
    case Enforcement::kPartially:
      return "partially enforced";
    case Enforcement::kNot:
      return "not enforced";
  }
  return "?";
}

std::vector<std::string> LandlockStatus::Degradations(std::vector<std::string>* subjects) const {
  std::vector<std::string> out;
  auto add = [&](const std::string& subject, std::string text) {
    out.push_back(std::move(text));
    if (subjects) subjects->push_back(subject);
  };
  if (abi.used == 0)
    add("landlock", "not enforced: " +
                        (abi.reason.empty() ? std::string("Landlock is unavailable") : abi.reason));
  for (const auto& d : degraded) add("landlock", d);
  for (const auto& s : skipped) add(s.path, "path " + s.path + " skipped: " + s.reason);
  return out;
}

nlohmann::json LandlockStatus::ToJson() const {
  using nlohmann::json;
  json j;
  j["status"] = ToString(enforcement);
  j["abi"] = abi.used;
  j["kernel_abi"] = abi.kernel;
  if (!abi.reason.empty()) j["abi_note"] = abi.reason;
  if (abi.errata >= 0) j["kernel_errata"] = abi.errata;
  j["handled_access_fs"] = FsRightNames(handled_fs);
  if (handled_net) {
    j["handled_access_net"] = NetRightNames(handled_net);
    if (handled_net & kNetConnectTcp) j["connect_ports"] = connect_ports;
    if (handled_net & kNetBindTcp) j["bind_ports"] = bind_ports;
  } else {
    j["handled_access_net"] = "not handled";
  }
  j["scoped"] = ScopeNames(scoped);
  if (abi.used >= 7) {
    j["kernel_audit_logging"] =
        "denials of the sandboxed program (LOG_NEW_EXEC_ON, LOG_SAME_EXEC_OFF)";
  } else if (abi.used > 0) {
    j["kernel_audit_logging"] = "unavailable (needs ABI 7)";
  }
  json rs = json::array();
  for (const auto& r : rules) {
    json one = {{"path", r.path}, {"kind", r.kind}, {"access", FsRightNames(r.access)}};
    if (!r.resolved.empty()) {
      one["resolved"] = r.resolved;
      one["symlinks"] = r.symlinks;
    }
    rs.push_back(one);
  }
  j["rules"] = rs;
  if (!command_rules.empty()) {
    json cr = json::array();
    for (const auto& r : command_rules)
      cr.push_back({{"path", r.path},
                    {"kind", r.kind},
                    {"access", FsRightNames(r.access)},
                    {"binds",
                     "the command's own /proc/<pid>/task (its threads only), added by "
                     "the command before restrict_self"}});
    j["command_rules"] = cr;
  }
  json sk = json::array();
  for (const auto& s : skipped) sk.push_back({{"path", s.path}, {"reason", s.reason}});
  j["skipped_paths"] = sk;
  j["degraded"] = degraded;
  return j;
}

int RestrictStep::Apply() const noexcept {
  for (const LateRule& r : late_) {
    // Closed at exec (O_CLOEXEC), see late_.
    int pfd = open(r.path.c_str(), O_PATH | O_CLOEXEC);
    if (pfd < 0) return errno;
    PathBeneathAttr pb{r.access, pfd};
    if (AddRule(fd_.get(), kRulePathBeneath, &pb) != 0) {
      int err = errno;
      close(pfd);
      return err;
    }
  }
  if (RestrictSelf(fd_.get(), flags_) != 0) return errno;
  return 0;
}

Result<Prepared> Build(const Request& req, const Abi& abi) {
  Prepared out;
  LandlockStatus& st = out.status;
  st.abi = abi;

  // RESOLVE_UNIX (ABI 9) is used where the kernel has it, never reported as
  // degraded below: the connect notification refuses host sockets there.
  const uint64_t want_fs = FsRightsForAbi(kMaxKnownAbi) & ~kFsResolveUnix;
  uint64_t want_net = 0;
  if (req.connect_ports) want_net |= kNetConnectTcp;
  if (req.bind_ports) want_net |= kNetBindTcp;
  uint64_t want_scopes = 0;
  if (req.scope_abstract_unix) want_scopes |= kScopeAbstractUnixSocket;
  if (req.scope_signal) want_scopes |= kScopeSignal;

  if (abi.used <= 0) {
    // Nothing is enforced; every path is "skipped" only in the sense that no
    // rule exists, so they are not listed one by one.
    st.enforcement = Enforcement::kNot;
    return out;
  }

  st.handled_fs = (want_fs | kFsResolveUnix) & FsRightsForAbi(abi.used);
  st.handled_net = want_net & NetRightsForAbi(abi.used);
  st.scoped = want_scopes & ScopesForAbi(abi.used);
  st.restrict_flags = RestrictFlagsForAbi(abi.used);
  Degrade(kFsRights, "filesystem right", want_fs, st.handled_fs, abi.used, st.degraded);
  Degrade(kNetRights, "network right", want_net, st.handled_net, abi.used, st.degraded);
  Degrade(kScopes, "scope", want_scopes, st.scoped, abi.used, st.degraded);

  RulesetAttr attr{st.handled_fs, st.handled_net, st.scoped};
  long rfd = CreateRuleset(&attr, RulesetAttrSize(abi.used), 0);
  if (rfd < 0) return Status::Errno("landlock_create_ruleset");
  UniqueFd ruleset(static_cast<int>(rfd));
  std::vector<LateRule> late;
  auto remounted = [&](const std::string& path) {
    for (const auto& m : req.reopen_after_mount)
      if (path == m || path.rfind(m + "/", 0) == 0) return true;
    return false;
  };

  // The host's root directory, however a rule reaches it (a link, a bind
  // mount): never granted read-write, as the loader refuses `/` there.
  struct stat root_sb;
  const bool have_root = stat("/", &root_sb) == 0;

  // One path rule with the `wanted` rights the ruleset handles; a path that
  // cannot take it is skipped and reported, never fatal. The rule is added
  // with the descriptor the checked walk ended on (src/landlock/resolve.h).
  auto add_path = [&](const std::string& path, uint64_t wanted) {
    auto resolved = ResolveRulePath(path, req.trusted_uid);
    if (!resolved.ok()) {
      st.skipped.push_back({path, resolved.status().reason()});
      return;
    }
    const UniqueFd& pfd = resolved->fd;
    struct stat sb;
    if (fstat(pfd.get(), &sb) != 0) {
      st.skipped.push_back({path, Status::Errno("fstat").reason()});
      return;
    }
    const bool dir = S_ISDIR(sb.st_mode);
    if ((wanted & kFsWriteFile) && have_root && sb.st_dev == root_sb.st_dev &&
        sb.st_ino == root_sb.st_ino) {
      st.skipped.push_back({path, "is the host's root directory '/' (" + resolved->real +
                                      "), which is never granted read-write"});
      return;
    }
    uint64_t access = wanted & st.handled_fs;
    if (!dir) access &= kFsFileRights;  // directory-only rights on a file: EINVAL
    if (access == 0) {
      st.skipped.push_back({path, "no right of this rule applies to it"});
      return;
    }
    PathBeneathAttr pb{access, pfd.get()};
    if (AddRule(ruleset.get(), kRulePathBeneath, &pb) != 0) {
      st.skipped.push_back({path, Status::Errno("landlock_add_rule").reason()});
      return;
    }
    AddedRule rule{path, dir ? "directory" : "file", access, sb.st_dev, sb.st_ino, "", {}};
    if (!resolved->links.empty()) {
      rule.resolved = resolved->real;
      for (const auto& l : resolved->links) rule.symlinks.push_back(l.link + " -> " + l.target);
    }
    st.rules.push_back(std::move(rule));
    if (remounted(resolved->real)) {
      // Reopened in the command after the mount: /proc/self there is the
      // command's own entry (resolving it here named the supervisor's pid,
      // which the sandbox's PID namespace does not have); another
      // process's entry is not visible there at all.
      const bool self = path == "/proc/self" || path.rfind("/proc/self/", 0) == 0 ||
                        path == "/proc/thread-self" || path.rfind("/proc/thread-self/", 0) == 0;
      const std::string& r = resolved->real;
      const bool other_pid = !self && r.size() > 6 && r.rfind("/proc/", 0) == 0 &&
                             isdigit(static_cast<unsigned char>(r[6]));
      if (other_pid) {
        st.skipped.push_back(
            {path, "a host process's /proc entry is not visible in the sandbox's PID namespace"});
      } else {
        late.push_back({self ? path : r, access});
      }
    }
  };
  for (const auto& pr : req.paths)
    add_path(pr.path, pr.rights ? pr.rights : WantedFsRights(pr.access));
  // Host sockets the policy lists (network.unix_sockets) get RESOLVE_UNIX
  // (ABI 9); sockets the sandbox creates itself are reachable without a rule.
  if (st.handled_fs & kFsResolveUnix)
    for (const auto& root : UnixResolveRoots(req.unix_sockets)) add_path(root, kFsResolveUnix);
  if (req.own_task_dir) {
    // Reading, writing and truncating files: what a thread name needs.
    // Nothing is created, removed or linked in procfs.
    const uint64_t access = (kFsReadFile | kFsReadDir | kFsWriteFile | kFsTruncate) & st.handled_fs;
    late.push_back({"/proc/self/task", access});
    st.command_rules.push_back({"/proc/self/task", "directory", access, 0, 0, "", {}});
  }
  if (std::all_of(st.rules.begin(), st.rules.end(), [&](const AddedRule& r) {
        return std::find(req.sandbox_own.begin(), req.sandbox_own.end(), r.path) !=
               req.sandbox_own.end();
      })) {
    std::string why;
    for (const auto& s : st.skipped) why += (why.empty() ? "" : "; ") + s.path + ": " + s.reason;
    return Status::Error("no filesystem rule could be added (" +
                         (why.empty() ? std::string("the policy lists no path") : why) +
                         "); refusing to apply an empty ruleset, which would deny every file "
                         "including the command itself");
  }
  // The sandbox's own mounts (its tmpfs on /tmp) never make an empty policy
  // non-empty: they grant nothing of the host's.
  for (const auto& pr : req.after_mount_only) {
    const uint64_t access = WantedFsRights(pr.access) & st.handled_fs;
    if (access == 0) continue;
    late.push_back({pr.path, access});
    st.rules.push_back({pr.path, "directory (mounted by the sandbox)", access, 0, 0, "", {}});
  }

  auto add_ports = [&](const std::optional<std::vector<uint16_t>>& ports, uint64_t right,
                       std::vector<uint16_t>& record) -> Status {
    if (!ports || !(st.handled_net & right)) return Status::Ok();
    for (uint16_t port : *ports) {
      NetPortAttr np{right, port};
      if (AddRule(ruleset.get(), kRuleNetPort, &np) != 0)
        return Status::Errno("landlock_add_rule (TCP port ", std::to_string(port), ")");
      record.push_back(port);
    }
    return Status::Ok();
  };
  if (Status s = add_ports(req.connect_ports, kNetConnectTcp, st.connect_ports); !s.ok()) return s;
  if (Status s = add_ports(req.bind_ports, kNetBindTcp, st.bind_ports); !s.ok()) return s;

  st.enforcement = st.degraded.empty() ? Enforcement::kFully : Enforcement::kPartially;
  out.step = std::make_unique<RestrictStep>(std::move(ruleset), st.restrict_flags, std::move(late));
  return out;
}

}  // namespace rf::landlock
