// `ringfence doctor`: host readiness checks, each with a status and, when
// not ok, the fix. Split in two so tests can drive it:
//  - the HostProbe (src/sandbox/host_probe.h), the one `run` and `policy
//    show` decide by, asks the running kernel and process (Landlock ABI,
//    seccomp, user notification, pidfd_getfd, namespaces, identity).
//  - RunDoctor() renders it and reads every file (sysctls, /sys/fs/selinux,
//    /etc/docker, /etc/containerd, /etc/cdi, /dev, /run, the SELinux store)
//    under `root`, so fixture trees stand in for a host.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/host_probe.h"

namespace rf {

enum class CheckStatus { kOk, kDegraded, kMissing };
const char* ToString(CheckStatus s);

struct DoctorCheck {
  std::string id;  // stable, e.g. "landlock", "cdi"
  CheckStatus status = CheckStatus::kOk;
  std::string detail;  // one line: what was found
  std::string fix;     // empty when ok
};

// The host's checks render `probe` (ProbeHost with the namespace set-up and
// the doctor's extras), the very answers `run` decides by.
std::vector<DoctorCheck> RunDoctor(const std::string& root, const HostProbe& probe);

// Exit code: 0 when no check is missing, 1 otherwise.
int DoctorExitCode(const std::vector<DoctorCheck>& checks);
std::string FormatDoctor(const std::vector<DoctorCheck>& checks);
nlohmann::json DoctorToJson(const std::vector<DoctorCheck>& checks);

}  // namespace rf
