// `ringfence doctor`: host readiness checks, each with a status and, when
// not ok, the fix. Split in two so tests can drive it:
//  - ProbeKernel() asks the running kernel (syscalls: Landlock ABI, seccomp,
//    user notification, pidfd_getfd, namespaces; /proc/self/status). These
//    always describe the live kernel and process.
//  - RunDoctor() reads every file (sysctls, /sys/fs/selinux, /etc/docker,
//    /etc/containerd, /etc/cdi, /dev, /run, the SELinux store) under
//    `root`, so fixture trees stand in for a host.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace rf {

enum class CheckStatus { kOk, kDegraded, kMissing };
const char* ToString(CheckStatus s);

struct DoctorCheck {
  std::string id;  // stable, e.g. "landlock", "cdi"
  CheckStatus status = CheckStatus::kOk;
  std::string detail;  // one line: what was found
  std::string fix;     // empty when ok
};

struct KernelProbe {
  int landlock_abi = 0;    // 0 = unavailable
  int landlock_errno = 0;  // errno of the probe when unavailable
  bool seccomp_filter = false;
  bool seccomp_user_notif = false;
  int pidfd_getfd_errno = 0;  // 0 = works
  int userns_errno = -1;      // unshare(USER|NET) as the current user; 0 = works, -1 = not probed
  int userns_nobody_errno = -1;  // same as uid 65534 (only probed when root)
  // Why namespace mode cannot be set up here, from the probe `run` decides
  // with (ProbeNamespaceSupport): "" = it can; nullopt = not probed.
  std::optional<std::string> namespace_mode_error;
  unsigned uid = 0;
  unsigned long long cap_eff = 0;
  bool no_new_privs = false;
  int seccomp_mode = 0;  // of this process: 0 none, 1 strict, 2 filter
  // Whether a run would see the command's file denials (Landlock's kernel
  // audit records); not probed: no check.
  bool file_denials_probed = false;
  bool file_denials = false;
  std::string file_denials_reason;       // why not, or a caveat
  bool file_denials_can_enable = false;  // kernel auditing is off
};

KernelProbe ProbeKernel();

std::vector<DoctorCheck> RunDoctor(const std::string& root, const KernelProbe& probe);

// Exit code: 0 when no check is missing, 1 otherwise.
int DoctorExitCode(const std::vector<DoctorCheck>& checks);
std::string FormatDoctor(const std::vector<DoctorCheck>& checks);
nlohmann::json DoctorToJson(const std::vector<DoctorCheck>& checks);

}  // namespace rf
