#include <ftw.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <fstream>

#include "diagnose/doctor.h"

namespace rf {
namespace {

class TempTree {
 public:
  TempTree() {
    char tmpl[] = "/tmp/rf-doctor-unit-XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  ~TempTree() {
    nftw(
        root_.c_str(),
        [](const char* p, const struct stat*, int, struct FTW*) { return remove(p); }, 16,
        FTW_DEPTH | FTW_PHYS);
  }
  const std::string& root() const { return root_; }
  void Dir(const std::string& p) {
    size_t i = 1;
    while (i <= p.size()) {
      size_t j = p.find('/', i);
      if (j == std::string::npos) j = p.size();
      mkdir((root_ + p.substr(0, j)).c_str(), 0755);
      i = j + 1;
    }
  }
  void File(const std::string& p, const std::string& content = "") {
    Dir(p.substr(0, p.rfind('/')));
    std::ofstream(root_ + p) << content;
  }

 private:
  std::string root_;
};

// A kernel where everything works, so only the tree decides.
HostProbe GoodKernel() {
  HostProbe p;
  p.landlock = landlock::AbiFromKernelAnswer(7, std::nullopt);
  p.seccomp_filter = true;
  p.user_notification = Status::Ok();
  p.userns_errno = 0;
  p.userns_nobody_errno = 0;
  return p;
}

const DoctorCheck& Get(const std::vector<DoctorCheck>& checks, const std::string& id) {
  for (const auto& c : checks)
    if (c.id == id) return c;
  static DoctorCheck none{"<none>", CheckStatus::kMissing, "no such check", ""};
  ADD_FAILURE() << "no check " << id;
  return none;
}

void AddNvidia(TempTree& t) {
  for (const char* n : {"/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia-uvm"}) t.File(n);
}

TEST(Doctor, CleanTreeAndGoodKernelIsAllOk) {
  TempTree t;
  auto checks = RunDoctor(t.root(), GoodKernel());
  for (const auto& c : checks) {
    EXPECT_EQ(c.status, CheckStatus::kOk) << c.id << ": " << c.detail;
    EXPECT_TRUE(c.fix.empty()) << c.id;
  }
  EXPECT_EQ(DoctorExitCode(checks), 0);
  EXPECT_EQ(Get(checks, "gpu_nodes").detail.find("no GPU device nodes"), 0u);
}

TEST(Doctor, LandlockLevels) {
  TempTree t;
  HostProbe p = GoodKernel();
  p.landlock = landlock::AbiFromKernelAnswer(-EOPNOTSUPP, std::nullopt);
  auto c = Get(RunDoctor(t.root(), p), "landlock");
  EXPECT_EQ(c.status, CheckStatus::kMissing);
  EXPECT_NE(c.fix.find("lsm="), std::string::npos);
  p.landlock = landlock::AbiFromKernelAnswer(3, std::nullopt);
  c = Get(RunDoctor(t.root(), p), "landlock");
  EXPECT_EQ(c.status, CheckStatus::kDegraded);
  for (const char* cost : {"ABI 4", "TCP port", "ABI 5", "ioctl", "ABI 6", "scopes"})
    EXPECT_NE(c.detail.find(cost), std::string::npos) << cost << " in " << c.detail;
  EXPECT_EQ(c.detail.find("ABI 3 ("), std::string::npos);
  p.landlock = landlock::AbiFromKernelAnswer(6, std::nullopt);
  c = Get(RunDoctor(t.root(), p), "landlock");
  EXPECT_EQ(c.status, CheckStatus::kOk);
  EXPECT_NE(c.detail.find("ABI 7"), std::string::npos);  // audit records missing, still ok
  // The test knob lowers what run uses: the doctor reports that, and says so.
  p.landlock = landlock::AbiFromKernelAnswer(7, 3);
  c = Get(RunDoctor(t.root(), p), "landlock");
  EXPECT_EQ(c.status, CheckStatus::kDegraded);
  EXPECT_EQ(c.detail.find("Landlock ABI 3 (ABI capped to 3 by RINGFENCE_TEST_LANDLOCK_ABI"), 0u)
      << c.detail;
  EXPECT_NE(c.fix.find("unset RINGFENCE_TEST_LANDLOCK_ABI"), std::string::npos);
  p.landlock = landlock::AbiFromKernelAnswer(7, 0);
  c = Get(RunDoctor(t.root(), p), "landlock");
  EXPECT_EQ(c.status, CheckStatus::kMissing);
  EXPECT_NE(c.detail.find("not used"), std::string::npos) << c.detail;
}

TEST(Doctor, SeccompAndPidfdGetfd) {
  TempTree t;
  HostProbe p = GoodKernel();
  p.user_notification = Status::Error("no listener");
  p.pidfd_getfd_errno = EPERM;
  auto checks = RunDoctor(t.root(), p);
  EXPECT_EQ(Get(checks, "seccomp").status, CheckStatus::kOk);
  EXPECT_EQ(Get(checks, "seccomp_user_notif").status, CheckStatus::kDegraded);
  EXPECT_EQ(Get(checks, "pidfd_getfd").status, CheckStatus::kDegraded);
  EXPECT_NE(Get(checks, "pidfd_getfd").fix.find("SYS_PTRACE"), std::string::npos);
  EXPECT_EQ(DoctorExitCode(checks), 0);  // degraded is not missing
  p.seccomp_filter = false;
  EXPECT_EQ(DoctorExitCode(RunDoctor(t.root(), p)), 1);
}

TEST(Doctor, UserNamespaceSysctls) {
  TempTree t;
  t.File("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1\n");
  t.File("/proc/sys/kernel/unprivileged_userns_clone", "0\n");
  auto c = Get(RunDoctor(t.root(), GoodKernel()), "userns");
  EXPECT_EQ(c.status, CheckStatus::kDegraded);
  EXPECT_NE(c.detail.find("apparmor_restrict_unprivileged_userns=1"), std::string::npos);
  EXPECT_NE(c.fix.find("kernel.unprivileged_userns_clone=1"), std::string::npos);
  EXPECT_NE(c.fix.find("apparmor_restrict_unprivileged_userns=0"), std::string::npos);
  TempTree ok;
  ok.File("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "0\n");
  HostProbe p = GoodKernel();
  EXPECT_EQ(Get(RunDoctor(ok.root(), p), "userns").status, CheckStatus::kOk);
  p.userns_nobody_errno = EPERM;
  EXPECT_EQ(Get(RunDoctor(ok.root(), p), "userns").status, CheckStatus::kDegraded);
}

TEST(Doctor, NamespaceModeAsRunDecidesIt) {
  TempTree t;
  HostProbe p = GoodKernel();
  p.uid = 1000;
  p.namespaces = NamespaceSupport{true, true, ""};
  auto c = Get(RunDoctor(t.root(), p), "userns");
  EXPECT_EQ(c.status, CheckStatus::kOk);
  EXPECT_NE(c.detail.find("namespace mode available"), std::string::npos) << c.detail;
  // The namespaces can be made, the connect guard cannot take the sockets.
  p.pidfd_getfd = false;
  c = Get(RunDoctor(t.root(), p), "userns");
  EXPECT_EQ(c.status, CheckStatus::kDegraded);
  EXPECT_NE(c.detail.find("pidfd_getfd"), std::string::npos) << c.detail;
  EXPECT_NE(c.fix.find("allow pidfd_getfd"), std::string::npos) << c.fix;
  EXPECT_EQ(Get(RunDoctor(t.root(), p), "pidfd_getfd").status, CheckStatus::kDegraded);
  // Root without CAP_SYS_PTRACE: the same decision as run's.
  p.pidfd_getfd = true;
  p.uid = 0;
  p.cap_eff = 1ULL << 21;  // CAP_SYS_ADMIN only
  c = Get(RunDoctor(t.root(), p), "userns");
  EXPECT_EQ(c.status, CheckStatus::kDegraded);
  EXPECT_NE(c.detail.find("CAP_SYS_PTRACE"), std::string::npos) << c.detail;
  // The set-up itself refused.
  p.namespaces = NamespaceSupport{false, true, "mounting /proc fails here"};
  c = Get(RunDoctor(t.root(), p), "userns");
  EXPECT_NE(c.detail.find("mounting /proc fails here"), std::string::npos) << c.detail;
  EXPECT_NE(c.fix.find("masked /proc"), std::string::npos) << c.fix;
}

TEST(Doctor, CdiDockerWithoutAndWithSpec) {
  TempTree t;
  t.File(
      "/etc/docker/daemon.json",
      R"({"runtimes": {"nvidia": {"path": "nvidia-container-runtime"}}, "features": {"cdi": true}})");
  auto checks = RunDoctor(t.root(), GoodKernel());
  auto c = Get(checks, "cdi");
  EXPECT_EQ(c.status, CheckStatus::kMissing);
  EXPECT_NE(c.detail.find("CDI specs missing"), std::string::npos);
  EXPECT_NE(c.fix.find("nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"), std::string::npos);
  EXPECT_EQ(DoctorExitCode(checks), 1);
  t.File("/etc/cdi/nvidia.yaml", "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n");
  checks = RunDoctor(t.root(), GoodKernel());
  EXPECT_EQ(Get(checks, "cdi").status, CheckStatus::kOk);
  EXPECT_NE(Get(checks, "cdi").detail.find("/etc/cdi/nvidia.yaml"), std::string::npos);
  EXPECT_EQ(DoctorExitCode(checks), 0);
}

TEST(Doctor, CdiContainerdAndCustomDirs) {
  TempTree t;
  t.File("/etc/containerd/config.toml",
         "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  enable_cdi = true\n"
         "  cdi_spec_dirs = [\"/opt/cdi\"]\n");
  t.File("/etc/cdi/nvidia.yaml");  // not where containerd looks
  EXPECT_EQ(Get(RunDoctor(t.root(), GoodKernel()), "cdi").status, CheckStatus::kMissing);
  t.File("/opt/cdi/nvidia.json", "{}");
  EXPECT_EQ(Get(RunDoctor(t.root(), GoodKernel()), "cdi").status, CheckStatus::kOk);
  TempTree off;
  off.File("/etc/docker/daemon.json", R"({"features": {"cdi": false}})");
  EXPECT_EQ(Get(RunDoctor(off.root(), GoodKernel()), "cdi").status, CheckStatus::kOk);
  off.File("/etc/docker/daemon.json", "{ not json");
  EXPECT_EQ(Get(RunDoctor(off.root(), GoodKernel()), "cdi").status, CheckStatus::kDegraded);
}

TEST(Doctor, IdentityReportsUidCapabilitiesAndNoNewPrivs) {
  TempTree t;
  HostProbe root = GoodKernel();
  root.uid = 0;
  root.cap_eff = 0x1ffffffffffULL;
  root.no_new_privs = false;
  root.seccomp_mode = 0;
  const auto checks = RunDoctor(t.root(), root);
  const auto& r = Get(checks, "identity");
  EXPECT_EQ(r.status, CheckStatus::kOk);
  EXPECT_EQ(r.detail,
            "uid 0, effective capabilities 0x1ffffffffff, no_new_privs 0, seccomp mode 0: root, "
            "commands run as process.run_as_user");
  EXPECT_TRUE(r.fix.empty());

  HostProbe nobody = GoodKernel();
  nobody.uid = 65534;
  nobody.cap_eff = 0;
  nobody.no_new_privs = true;
  nobody.seccomp_mode = 2;
  EXPECT_EQ(Get(RunDoctor(t.root(), nobody), "identity").detail,
            "uid 65534, effective capabilities 0x0, no_new_privs 1, seccomp mode 2: unprivileged, "
            "namespace mode needs user namespaces, platform mode works anywhere");

  // Not root but holding capabilities: neither label applies.
  HostProbe capable = nobody;
  capable.uid = 1000;
  capable.cap_eff = 0x200000;  // CAP_SYS_ADMIN
  EXPECT_EQ(Get(RunDoctor(t.root(), capable), "identity").detail,
            "uid 1000, effective capabilities 0x200000, no_new_privs 1, seccomp mode 2");
}

TEST(Doctor, GpuNodesAndPersistenced) {
  TempTree t;
  t.File("/dev/nvidiactl");
  t.File("/dev/nvidia0");
  auto checks = RunDoctor(t.root(), GoodKernel());
  EXPECT_EQ(Get(checks, "gpu_nodes").status, CheckStatus::kDegraded);
  EXPECT_NE(Get(checks, "gpu_nodes").fix.find("nvidia-modprobe -u"), std::string::npos);
  EXPECT_EQ(Get(checks, "persistenced").status, CheckStatus::kDegraded);
  t.File("/dev/nvidia-uvm");
  t.File("/run/nvidia-persistenced/socket");
  checks = RunDoctor(t.root(), GoodKernel());
  EXPECT_EQ(Get(checks, "gpu_nodes").status, CheckStatus::kOk);
  EXPECT_NE(Get(checks, "gpu_nodes").detail.find("GPU baseline on"), std::string::npos);
  EXPECT_EQ(Get(checks, "persistenced").status, CheckStatus::kOk);
}

TEST(Doctor, SelinuxEnforcingWithAndWithoutModule) {
  TempTree t;
  AddNvidia(t);
  t.File("/run/nvidia-persistenced/socket");
  t.File("/sys/fs/selinux/enforce", "1");
  t.File("/etc/selinux/config", "SELINUX=enforcing\nSELINUXTYPE=targeted\n");
  auto checks = RunDoctor(t.root(), GoodKernel());
  EXPECT_EQ(Get(checks, "selinux").status, CheckStatus::kMissing);
  EXPECT_NE(Get(checks, "selinux").fix.find("ringfence selinux module"), std::string::npos);
  EXPECT_EQ(DoctorExitCode(checks), 1);
  t.Dir("/var/lib/selinux/targeted/active/modules/400/nvidia-container");
  checks = RunDoctor(t.root(), GoodKernel());
  EXPECT_EQ(Get(checks, "selinux").status, CheckStatus::kOk);
  EXPECT_NE(Get(checks, "selinux").detail.find("nvidia_container_t loaded"), std::string::npos);
  EXPECT_EQ(DoctorExitCode(checks), 0);
}

TEST(Doctor, SelinuxLabelsOfGpuNodes) {
  TempTree t;
  AddNvidia(t);
  t.File("/sys/fs/selinux/enforce", "0");
  const char kGood[] = "system_u:object_r:xserver_misc_device_t:s0";
  const char kBad[] = "system_u:object_r:device_t:s0";
  for (const char* n : {"/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia-uvm"}) {
    if (setxattr((t.root() + n).c_str(), "security.selinux", kGood, sizeof kGood, 0) != 0)
      GTEST_SKIP() << "cannot set security.selinux here: " << strerror(errno);
  }
  EXPECT_EQ(Get(RunDoctor(t.root(), GoodKernel()), "selinux_labels").status, CheckStatus::kOk);
  ASSERT_EQ(setxattr((t.root() + "/dev/nvidia0").c_str(), "security.selinux", kBad, sizeof kBad, 0),
            0);
  auto c = Get(RunDoctor(t.root(), GoodKernel()), "selinux_labels");
  EXPECT_EQ(c.status, CheckStatus::kDegraded);
  EXPECT_NE(c.detail.find("/dev/nvidia0=device_t"), std::string::npos) << c.detail;
  EXPECT_NE(c.fix.find("restorecon -v -f -"), std::string::npos);
}

TEST(Doctor, JsonAndTextAgree) {
  TempTree t;
  t.File("/etc/docker/daemon.json", R"({"features": {"cdi": true}})");
  auto checks = RunDoctor(t.root(), GoodKernel());
  auto j = DoctorToJson(checks);
  EXPECT_EQ(j["checks"].size(), checks.size());
  EXPECT_EQ(j["summary"]["missing"].get<int>(), 1);
  EXPECT_EQ(j["exit_code"].get<int>(), 1);
  std::string text = FormatDoctor(checks);
  EXPECT_NE(text.find("missing   cdi"), std::string::npos) << text;
  EXPECT_NE(text.find("| fix: sudo nvidia-ctk"), std::string::npos);
}

TEST(Doctor, FileDenialsSaysWhyNotAndTheFix) {
  TempTree t;
  HostProbe p = GoodKernel();
  p.file_denials = FileDenialReporting{false, "kernel auditing is off", true};
  auto c = Get(RunDoctor(t.root(), p), "file_denials");
  EXPECT_EQ(c.status, CheckStatus::kDegraded);
  EXPECT_EQ(c.detail, "file denials: not reported (kernel auditing is off)");
  EXPECT_NE(c.fix.find("auditctl -e 1"), std::string::npos);
  p.file_denials = FileDenialReporting{true, "", false};
  c = Get(RunDoctor(t.root(), p), "file_denials");
  EXPECT_EQ(c.status, CheckStatus::kOk);
  EXPECT_EQ(c.detail, "file denials: reported (kernel audit records)");
}

}  // namespace
}  // namespace rf
