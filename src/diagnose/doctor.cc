#include "diagnose/doctor.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

#include "audit/kernel_audit.h"
#include "common/fd.h"
#include "common/path.h"
#include "gpu/devices.h"
#include "gpu/host_files.h"
#include "net/mode.h"

namespace rf {

namespace {

constexpr char kSelinuxBuild[] =
    "ringfence selinux module --flavor container-selinux --out nvidia-selinux, then build and "
    "install it as its README says (checkmodule, semodule_package, semodule -i)";

bool Exists(const std::string& p) {
  struct stat st;
  return lstat(p.c_str(), &st) == 0;
}

// First line of a small file, trimmed; nullopt when unreadable.
std::optional<std::string> ReadLine(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  std::string line;
  std::getline(f, line);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ' || line.back() == '\r'))
    line.pop_back();
  return line;
}

std::optional<std::string> ReadAll(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
      out.push_back(e->d_name);
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool EndsWith(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::string Errno(int e) { return e == 0 ? "ok" : std::strerror(e); }

DoctorCheck LandlockCheck(const HostProbe& p) {
  DoctorCheck c{"landlock", CheckStatus::kOk, "", ""};
  const int abi = p.landlock.used;
  if (abi <= 0 && p.landlock.kernel > 0) {
    // The test knob: what `run` uses here is what this check reports.
    c.status = CheckStatus::kMissing;
    c.detail = "Landlock is not used: " + p.landlock.reason + ": no filesystem confinement";
    c.fix = "unset RINGFENCE_TEST_LANDLOCK_ABI";
    return c;
  }
  if (abi <= 0) {
    c.status = CheckStatus::kMissing;
    if (p.landlock.error == EOPNOTSUPP) {
      c.detail = "Landlock is built in but disabled at boot: no filesystem confinement";
      c.fix =
          "prepend landlock to the lsm= boot parameter (see cat /sys/kernel/security/lsm), "
          "e.g. lsm=landlock,lockdown,yama,integrity,apparmor,bpf, and reboot";
    } else {
      c.detail =
          "the kernel has no Landlock (" + Errno(p.landlock.error) + "): no filesystem confinement";
      c.fix = "use Linux 5.13+ built with CONFIG_SECURITY_LANDLOCK=y (6.12+ for every feature)";
    }
    return c;
  }
  struct Level {
    int abi;
    const char* cost;
  };
  static constexpr Level kLevels[] = {
      {2, "ABI 2 (5.19): renames/links across directories are always refused"},
      {3, "ABI 3 (6.2): truncate is not restricted"},
      {4,
       "ABI 4 (6.7): no TCP port rules, platform mode cannot pin connect/bind to the proxy "
       "port"},
      {5, "ABI 5 (6.10): no ioctl rights on devices, granted GPU nodes allow every ioctl"},
      {6,
       "ABI 6 (6.12): no scopes, abstract unix sockets and signals to host processes stay "
       "open"},
      {7, "ABI 7 (6.15): no Landlock audit records"}};
  std::string costs;
  for (const auto& l : kLevels)
    if (abi < l.abi) costs += std::string(costs.empty() ? "" : "; ") + "missing " + l.cost;
  c.detail = "Landlock ABI " + std::to_string(abi);
  if (p.landlock.cap && abi < p.landlock.kernel) c.detail += " (" + p.landlock.reason + ")";
  if (costs.empty()) {
    c.detail += ": filesystem, TCP ports, device ioctl and scopes all enforced";
  } else {
    c.detail += ": " + costs;
    if (abi < 6) {
      c.status = CheckStatus::kDegraded;
      c.fix = p.landlock.cap && abi < p.landlock.kernel
                  ? "unset RINGFENCE_TEST_LANDLOCK_ABI (a test knob)"
                  : "upgrade to Linux 6.12+ (Landlock ABI 6) for full enforcement";
    }
  }
  return c;
}

DoctorCheck FileDenialsCheck(const HostProbe& p) {
  DoctorCheck c{"file_denials", CheckStatus::kOk, "", ""};
  const FileDenialReporting& r = *p.file_denials;
  c.detail = "file denials: " + r.Describe();
  if (r.available) return c;
  c.status = CheckStatus::kDegraded;
  const int abi = p.landlock.used;
  if (r.can_enable) {
    c.fix =
        "turn kernel auditing on (`auditctl -e 1`), or run with `ringfence run --kernel-audit`, "
        "which does it host-wide";
  } else if (abi > 0 && abi < 7) {
    c.fix = "upgrade to Linux 6.15+ (Landlock ABI 7)";
  } else if (r.reason.find("CAP_AUDIT_READ") != std::string::npos) {
    c.fix = "run ringfence as root on the host (CAP_AUDIT_READ) to see file denials";
  }
  return c;
}

std::vector<DoctorCheck> SeccompChecks(const HostProbe& p) {
  std::vector<DoctorCheck> out;
  DoctorCheck s{"seccomp", CheckStatus::kOk, "", ""};
  if (!p.seccomp_filter) {
    s.status = CheckStatus::kMissing;
    s.detail = "seccomp filters are unavailable: no syscall or socket-family filtering";
    s.fix = "use a kernel built with CONFIG_SECCOMP_FILTER=y";
  } else {
    s.detail = "seccomp filters available";
    if (p.seccomp_mode == 2)
      s.detail += " (this process already runs under a filter, e.g. a container profile)";
  }
  out.push_back(s);
  DoctorCheck n{"seccomp_user_notif", CheckStatus::kOk, "", ""};
  if (p.user_notification.ok()) {
    n.detail = "seccomp user notification available: platform mode checks every connect()";
  } else {
    // What `run` does without it (src/sandbox/network_layer.cc).
    n.status = CheckStatus::kDegraded;
    n.detail = "seccomp user notification unavailable (" + p.user_notification.reason() +
               "): platform mode cannot check connect() destinations, only Landlock's port "
               "rule applies (best_effort runs degraded, hard_requirement refuses to start)";
    if (p.landlock.used < 4)
      n.detail += "; with Landlock ABI " + std::to_string(p.landlock.used) +
                  " (no TCP port rules) platform mode cannot run at all";
    n.fix = "use Linux 5.9+ and a container seccomp profile that allows seccomp(2)";
  }
  out.push_back(n);
  DoctorCheck g{"pidfd_getfd", CheckStatus::kOk, "", ""};
  if (p.pidfd_getfd_errno == 0 && p.pidfd_getfd) {
    g.detail = "pidfd_getfd allowed";
  } else {
    // The connect guard takes the command's sockets with it: namespace mode
    // needs it (src/net/mode.h, NamespaceModeSupport).
    g.status = CheckStatus::kDegraded;
    g.detail = (p.pidfd_getfd_errno != 0 ? "pidfd_getfd fails (" + Errno(p.pidfd_getfd_errno) +
                                               "): usually a container's default seccomp profile"
                                         : "pidfd_getfd is refused by kernel.yama.ptrace_scope=" +
                                               std::to_string(p.yama_ptrace_scope)) +
               ": namespace mode is unavailable (the connect guard takes the command's sockets "
               "with it; auto uses platform mode), and platform mode checks listen() on a socket "
               "the supervisor bound";
    g.fix = p.pidfd_getfd_errno == ENOSYS ? "use Linux 5.6+"
            : p.pidfd_getfd_errno != 0
                ? "give the container CAP_SYS_PTRACE (docker run --cap-add=SYS_PTRACE) or a "
                  "seccomp profile that allows pidfd_getfd"
                : "sudo sysctl -w kernel.yama.ptrace_scope=1";
  }
  out.push_back(g);
  return out;
}

DoctorCheck UsernsCheck(const std::string& root, const HostProbe& p) {
  DoctorCheck c{"userns", CheckStatus::kOk, "", ""};
  std::vector<std::string> limits, fixes;
  if (ReadLine(UnderRoot(root, "/proc/sys/kernel/unprivileged_userns_clone")) == "0") {
    limits.push_back("kernel.unprivileged_userns_clone=0");
    fixes.push_back("sudo sysctl -w kernel.unprivileged_userns_clone=1");
  }
  if (ReadLine(UnderRoot(root, "/proc/sys/user/max_user_namespaces")) == "0") {
    limits.push_back("user.max_user_namespaces=0");
    fixes.push_back("sudo sysctl -w user.max_user_namespaces=15000");
  }
  if (ReadLine(UnderRoot(root, "/proc/sys/kernel/apparmor_restrict_unprivileged_userns")) == "1") {
    limits.push_back("kernel.apparmor_restrict_unprivileged_userns=1 (AppArmor)");
    fixes.push_back(
        "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor "
        "profile with `userns,` for ringfence)");
  }
  if (!limits.empty()) {
    c.status = CheckStatus::kDegraded;
    c.detail = "unprivileged user namespaces restricted by ";
    for (size_t i = 0; i < limits.size(); ++i) c.detail += (i ? ", " : "") + limits[i];
    c.detail += ": non-root users get platform mode only";
    for (size_t i = 0; i < fixes.size(); ++i) c.fix += (i ? "; " : "") + fixes[i];
    c.fix += "; persist it in /etc/sysctl.d/";
    return c;
  }
  // What `run` decides by: the set-up and what the connect guard needs.
  const std::optional<NamespaceSupport> ns = NamespaceMode(p);
  if (ns && !ns->possible) {
    c.status = CheckStatus::kDegraded;
    c.detail =
        "namespace mode cannot be set up here: " + ns->reason + "; auto mode uses platform mode";
    // The namespaces can be made, but the connect guard cannot work there.
    const bool guard = p.namespaces && p.namespaces->possible;
    c.fix = guard ? "none needed: platform mode enforces the policy here. For namespace mode "
                    "allow pidfd_getfd (see the pidfd_getfd check) and, as root, keep "
                    "CAP_SYS_PTRACE"
                  : "none needed: platform mode enforces the policy here. For namespace mode the "
                    "runtime must allow every step (a masked /proc forbids mounting a new one: "
                    "--security-opt unmask=/proc/*, which weakens the container's own isolation)";
    return c;
  }
  if (p.userns_errno > 0) {
    c.status = CheckStatus::kDegraded;
    c.detail = "unshare(user+net) fails here (" + Errno(p.userns_errno) +
               "): namespace mode needs root, platform mode works";
    c.fix =
        "allow user namespaces in the container runtime/seccomp profile, or use --mode platform";
  } else if (p.userns_nobody_errno > 0) {
    c.status = CheckStatus::kDegraded;
    c.detail = "user+net namespaces work as root but not for unprivileged users (" +
               Errno(p.userns_nobody_errno) + ")";
    c.fix = "check sysctl user.max_user_namespaces and kernel.unprivileged_userns_clone";
  } else {
    c.detail = "user and network namespaces work";
    c.detail += p.userns_nobody_errno == 0
                    ? " (also for unprivileged users): namespace mode available"
                    : ": namespace mode available";
  }
  return c;
}

DoctorCheck IdentityCheck(const HostProbe& p) {
  char buf[256];
  snprintf(buf, sizeof buf,
           "uid %u, effective capabilities 0x%llx, no_new_privs %d, seccomp mode %d",
           static_cast<unsigned>(p.uid), static_cast<unsigned long long>(p.cap_eff),
           p.no_new_privs ? 1 : 0, p.seccomp_mode);
  DoctorCheck c{"identity", CheckStatus::kOk, buf, ""};
  if (p.uid == 0)
    c.detail += ": root, commands run as process.run_as_user";
  else if (p.cap_eff == 0)
    c.detail +=
        ": unprivileged, namespace mode needs user namespaces, platform mode works anywhere";
  return c;
}

bool IsNvidiaNode(const GpuNode& n) { return n.vendor == GpuVendor::kNvidia; }

std::vector<DoctorCheck> GpuChecks(const std::string& root) {
  std::vector<DoctorCheck> out;
  auto nodes = FindGpuDeviceNodes(root);
  bool nvidia = std::any_of(nodes.begin(), nodes.end(), IsNvidiaNode);
  auto has = [&](const std::string& p) {
    return std::any_of(nodes.begin(), nodes.end(), [&](const GpuNode& n) { return n.path == p; });
  };
  DoctorCheck g{"gpu_nodes", CheckStatus::kOk, "", ""};
  if (nodes.empty()) {
    g.detail = "no GPU device nodes: `gpu: auto` leaves the GPU baseline off";
  } else {
    std::string list;
    for (const auto& n : nodes) list += (list.empty() ? "" : " ") + n.path;
    if (nvidia && !has("/dev/nvidiactl")) {
      g.status = CheckStatus::kDegraded;
      g.detail = "NVIDIA nodes without /dev/nvidiactl (" + list +
                 "): driver not loaded, the GPU baseline will not apply";
      g.fix = "sudo nvidia-modprobe -c=0 -u (or modprobe nvidia)";
    } else if (nvidia && !has("/dev/nvidia-uvm")) {
      g.status = CheckStatus::kDegraded;
      g.detail = "/dev/nvidia-uvm missing (" + list + "): CUDA fails with cuInit error 304";
      g.fix = "sudo nvidia-modprobe -u -c=0";
    } else if (GpuPresent(root)) {
      g.detail = std::to_string(nodes.size()) + " GPU nodes (" + list +
                 "): `gpu: auto` turns the GPU baseline on";
    } else {
      g.detail =
          std::to_string(nodes.size()) + " GPU nodes (" + list +
          "): no NVIDIA/WSL control node, `gpu: auto` leaves the baseline off; set `gpu: on`";
    }
  }
  out.push_back(g);
  DoctorCheck s{"persistenced", CheckStatus::kOk, "", ""};
  const std::string sock = "/run/nvidia-persistenced/socket";
  if (!nvidia) {
    s.detail = "not applicable (no NVIDIA GPU)";
  } else if (Exists(UnderRoot(root, sock)) || Exists(UnderRoot(root, "/var" + sock))) {
    s.detail = "nvidia-persistenced socket present (" + sock +
               "); sandboxed NVML clients reach it when network.unix_sockets lists it";
  } else {
    s.status = CheckStatus::kDegraded;
    s.detail = "NVIDIA GPU present but no " + sock +
               ": nvidia-persistenced is not running, every NVML client re-initialises the GPU";
    s.fix = "sudo systemctl enable --now nvidia-persistenced";
  }
  out.push_back(s);
  return out;
}

DoctorCheck CdiCheck(const std::string& root) {
  DoctorCheck c{"cdi", CheckStatus::kOk, "", ""};
  std::vector<std::string> configured;
  std::vector<std::string> dirs;
  bool custom_dirs = false;
  if (auto daemon = ReadAll(UnderRoot(root, "/etc/docker/daemon.json"))) {
    auto j = nlohmann::json::parse(*daemon, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      c.status = CheckStatus::kDegraded;
      c.detail = "/etc/docker/daemon.json is not valid JSON: Docker will not start";
      c.fix = "fix the syntax (python3 -m json.tool /etc/docker/daemon.json)";
      return c;
    }
    if (j.is_object() && j.contains("features") && j["features"].is_object() &&
        j["features"].value("cdi", false))
      configured.push_back("Docker (/etc/docker/daemon.json features.cdi)");
    if (j.is_object() && j.contains("cdi-spec-dirs") && j["cdi-spec-dirs"].is_array()) {
      custom_dirs = true;
      for (const auto& d : j["cdi-spec-dirs"])
        if (d.is_string()) dirs.push_back(d.get<std::string>());
    }
  }
  std::vector<std::string> containerd_files = {"/etc/containerd/config.toml"};
  for (const auto& n : ListDir(UnderRoot(root, "/etc/containerd/conf.d")))
    if (EndsWith(n, ".toml")) containerd_files.push_back("/etc/containerd/conf.d/" + n);
  static const std::regex kEnable(R"(^\s*enable_cdi\s*=\s*true\b)");
  static const std::regex kDirs(R"re(^\s*cdi_spec_dirs\s*=\s*\[([^\]]*)\])re");
  static const std::regex kQuoted(R"re("([^"]+)")re");
  for (const auto& f : containerd_files) {
    auto text = ReadAll(UnderRoot(root, f));
    if (!text) continue;
    std::istringstream lines(*text);
    std::string l;
    while (std::getline(lines, l)) {
      std::smatch m;
      if (std::regex_search(l, kEnable)) configured.push_back("containerd (" + f + " enable_cdi)");
      if (std::regex_search(l, m, kDirs)) {
        std::string inner = m[1].str();
        for (std::sregex_iterator it(inner.begin(), inner.end(), kQuoted), end; it != end; ++it) {
          if (!custom_dirs) dirs.clear();
          custom_dirs = true;
          dirs.push_back((*it)[1].str());
        }
      }
    }
  }
  if (!custom_dirs) dirs = {"/etc/cdi", "/var/run/cdi"};
  std::vector<std::string> specs;
  for (const auto& d : dirs) {
    auto real = ResolveInRoot(root, d);
    if (!real) continue;
    for (const auto& n : ListDir(UnderRoot(root, *real)))
      if (EndsWith(n, ".yaml") || EndsWith(n, ".yml") || EndsWith(n, ".json"))
        specs.push_back(d + "/" + n);
  }
  std::string dir_list;
  for (const auto& d : dirs) dir_list += (dir_list.empty() ? "" : " or ") + d;
  std::string who;
  for (const auto& w : configured) who += (who.empty() ? "" : ", ") + w;
  if (configured.empty()) {
    c.detail = "no container runtime configured for CDI";
    if (!specs.empty()) c.detail += " (" + std::to_string(specs.size()) + " spec(s) present)";
  } else if (specs.empty()) {
    c.status = CheckStatus::kMissing;
    c.detail = "CDI specs missing: " + who + " uses CDI but no spec exists in " + dir_list +
               ": `--device nvidia.com/gpu=all` fails with \"unresolvable CDI devices\"";
    c.fix = "sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml, then nvidia-ctk cdi list";
  } else {
    std::string list;
    for (const auto& s : specs) list += (list.empty() ? "" : " ") + s;
    c.detail = "CDI enabled in " + who + "; spec(s): " + list;
  }
  return c;
}

std::vector<DoctorCheck> SelinuxChecks(const std::string& root) {
  std::vector<DoctorCheck> out;
  DoctorCheck c{"selinux", CheckStatus::kOk, "", ""};
  DoctorCheck l{"selinux_labels", CheckStatus::kOk, "", ""};
  auto enforce = ReadLine(UnderRoot(root, "/sys/fs/selinux/enforce"));
  if (!enforce) {
    c.detail = "SELinux not enabled";
    l.detail = "not applicable (SELinux not enabled)";
    out.push_back(c);
    out.push_back(l);
    return out;
  }
  bool enforcing = *enforce == "1";
  std::string type = "targeted";
  if (auto cfg = ReadAll(UnderRoot(root, "/etc/selinux/config"))) {
    static const std::regex kType(R"(^\s*SELINUXTYPE\s*=\s*([A-Za-z0-9_-]+))");
    std::istringstream lines(*cfg);
    std::string line;
    std::smatch m;
    while (std::getline(lines, line))
      if (std::regex_search(line, m, kType)) type = m[1].str();
  }
  std::string module_at;
  const std::string modules = "/var/lib/selinux/" + type + "/active/modules";
  for (const auto& prio : ListDir(UnderRoot(root, modules)))
    for (const char* name : {"nvidia-container", "nvidia_container"})
      if (module_at.empty() && Exists(UnderRoot(root, modules + "/" + prio + "/" + name)))
        module_at = modules + "/" + prio + "/" + name;
  auto nodes = FindGpuDeviceNodes(root);
  bool nvidia = std::any_of(nodes.begin(), nodes.end(), IsNvidiaNode);
  std::string mode = enforcing ? "enforcing" : "permissive";
  if (!module_at.empty()) {
    c.detail =
        "SELinux " + mode + " (policy " + type + "); nvidia_container_t loaded (" + module_at + ")";
  } else if (enforcing && nvidia) {
    c.status = CheckStatus::kMissing;
    c.detail = "SELinux enforcing (policy " + type +
               ") and nvidia_container_t is not loaded: GPU containers need --privileged or "
               "fail with AVC denials on xserver_misc_device_t";
    c.fix = kSelinuxBuild;
  } else {
    c.detail = "SELinux " + mode + " (policy " + type + "); nvidia_container_t not loaded" +
               (enforcing ? " (not needed without an NVIDIA GPU)" : " (denials are only logged)");
  }
  out.push_back(c);

  std::string labels, wrong;
  for (const auto& n : nodes) {
    if (!IsNvidiaNode(n)) continue;
    char buf[512];
    ssize_t len =
        lgetxattr(UnderRoot(root, n.path).c_str(), "security.selinux", buf, sizeof buf - 1);
    std::string ctx =
        len > 0 ? std::string(buf, strnlen(buf, static_cast<size_t>(len))) : "unlabeled";
    // user:role:type:level -> type
    std::string t = ctx;
    size_t a = ctx.find(':'), b = a == std::string::npos ? a : ctx.find(':', a + 1);
    if (b != std::string::npos) t = ctx.substr(b + 1, ctx.find(':', b + 1) - b - 1);
    labels += (labels.empty() ? "" : " ") + n.path + "=" + t;
    if (t != "xserver_misc_device_t") wrong += (wrong.empty() ? "" : " ") + n.path;
  }
  if (labels.empty()) {
    l.detail = "not applicable (no NVIDIA device nodes)";
  } else if (!wrong.empty()) {
    l.status = CheckStatus::kDegraded;
    l.detail = "GPU nodes not labelled xserver_misc_device_t: " + labels;
    l.fix = "ringfence gpu list | sudo restorecon -v -f -";
  } else {
    l.detail = "GPU nodes labelled: " + labels;
  }
  out.push_back(l);
  return out;
}

}  // namespace

const char* ToString(CheckStatus s) {
  switch (s) {
    case CheckStatus::kOk:
      return "ok";
    case CheckStatus::kDegraded:
      return "degraded";
    case CheckStatus::kMissing:
      return "missing";
  }
  return "?";
}

std::vector<DoctorCheck> RunDoctor(const std::string& root, const HostProbe& probe) {
  std::vector<DoctorCheck> out;
  out.push_back(LandlockCheck(probe));
  if (probe.file_denials) out.push_back(FileDenialsCheck(probe));
  for (auto& c : SeccompChecks(probe)) out.push_back(std::move(c));
  out.push_back(UsernsCheck(root, probe));
  out.push_back(IdentityCheck(probe));
  for (auto& c : GpuChecks(root)) out.push_back(std::move(c));
  out.push_back(CdiCheck(root));
  for (auto& c : SelinuxChecks(root)) out.push_back(std::move(c));
  return out;
}

int DoctorExitCode(const std::vector<DoctorCheck>& checks) {
  return std::any_of(checks.begin(), checks.end(),
                     [](const DoctorCheck& c) { return c.status == CheckStatus::kMissing; })
             ? 1
             : 0;
}

std::string FormatDoctor(const std::vector<DoctorCheck>& checks) {
  std::string out;
  int counts[3] = {0, 0, 0};
  for (const auto& c : checks) {
    ++counts[static_cast<int>(c.status)];
    char head[64];
    snprintf(head, sizeof head, "%-9s %-19s ", ToString(c.status), c.id.c_str());
    out += head + c.detail;
    if (!c.fix.empty()) out += " | fix: " + c.fix;
    out += "\n";
  }
  out += std::to_string(counts[0]) + " ok, " + std::to_string(counts[1]) + " degraded, " +
         std::to_string(counts[2]) + " missing\n";
  return out;
}

nlohmann::json DoctorToJson(const std::vector<DoctorCheck>& checks) {
  nlohmann::json out;
  out["checks"] = nlohmann::json::array();
  int counts[3] = {0, 0, 0};
  for (const auto& c : checks) {
    ++counts[static_cast<int>(c.status)];
    nlohmann::json j = {{"id", c.id}, {"status", ToString(c.status)}, {"detail", c.detail}};
    j["fix"] = c.fix.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.fix);
    out["checks"].push_back(j);
  }
  out["summary"] = {{"ok", counts[0]}, {"degraded", counts[1]}, {"missing", counts[2]}};
  out["exit_code"] = DoctorExitCode(checks);
  return out;
}

}  // namespace rf
