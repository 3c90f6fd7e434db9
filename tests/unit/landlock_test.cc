#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "landlock/ruleset.h"
#include "landlock/uapi.h"
#include "policy/effective.h"

namespace rf {
namespace {

namespace ll = landlock;

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class TempTree {
 public:
  TempTree() {
    char tmpl[] = "/tmp/rf-ll-unit-XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  ~TempTree() { std::filesystem::remove_all(root_); }
  const std::string& root() const { return root_; }
  std::string Dir(const std::string& rel) {
    std::filesystem::create_directories(root_ + rel);
    return root_ + rel;
  }
  std::string File(const std::string& rel) {
    std::filesystem::create_directories(std::filesystem::path(root_ + rel).parent_path());
    std::ofstream(root_ + rel) << "x";
    return root_ + rel;
  }

 private:
  std::string root_;
};

ll::Abi AbiN(int n) { return ll::AbiFromKernelAnswer(n, std::nullopt); }

TEST(LandlockAbi, ProbeErrorsHaveClearReasons) {
  auto a = ll::AbiFromKernelAnswer(-ENOSYS, std::nullopt);
  EXPECT_EQ(a.used, 0);
  EXPECT_NE(a.reason.find("not supported by this kernel"), std::string::npos) << a.reason;
  a = ll::AbiFromKernelAnswer(-EOPNOTSUPP, std::nullopt);
  EXPECT_EQ(a.used, 0);
  EXPECT_NE(a.reason.find("lsm="), std::string::npos) << a.reason;
  a = ll::AbiFromKernelAnswer(-EPERM, std::nullopt);
  EXPECT_EQ(a.used, 0);
  EXPECT_NE(a.reason.find("seccomp"), std::string::npos) << a.reason;
}

TEST(LandlockAbi, NewerKernelIsMaskedToKnownAbi) {
  auto a = ll::AbiFromKernelAnswer(12, std::nullopt);
  EXPECT_EQ(a.kernel, 12);
  EXPECT_EQ(a.used, ll::kMaxKnownAbi);
  EXPECT_EQ(ll::kMaxKnownAbi, 9);
  EXPECT_NE(a.reason.find("ABI 12"), std::string::npos);
  EXPECT_EQ(ll::AbiFromKernelAnswer(9, std::nullopt).used, 9);
}

TEST(LandlockAbi, CapOnlyLowers) {
  EXPECT_EQ(ll::AbiFromKernelAnswer(7, 3).used, 3);
  EXPECT_EQ(ll::AbiFromKernelAnswer(4, 6).used, 4);
  EXPECT_EQ(ll::AbiFromKernelAnswer(7, 0).used, 0);
}

TEST(LandlockAbi, ParseCap) {
  EXPECT_FALSE(ll::ParseAbiCap(nullptr)->has_value());
  EXPECT_EQ(**ll::ParseAbiCap("3"), 3);
  EXPECT_FALSE(ll::ParseAbiCap("").ok());
  EXPECT_FALSE(ll::ParseAbiCap("-1").ok());
  EXPECT_FALSE(ll::ParseAbiCap("seven").ok());
}

TEST(LandlockAbi, RightsPerAbi) {
  EXPECT_FALSE(ll::FsRightsForAbi(1) & ll::kFsRefer);
  EXPECT_TRUE(ll::FsRightsForAbi(2) & ll::kFsRefer);
  EXPECT_FALSE(ll::FsRightsForAbi(2) & ll::kFsTruncate);
  EXPECT_TRUE(ll::FsRightsForAbi(3) & ll::kFsTruncate);
  EXPECT_FALSE(ll::FsRightsForAbi(4) & ll::kFsIoctlDev);
  EXPECT_TRUE(ll::FsRightsForAbi(5) & ll::kFsIoctlDev);
  EXPECT_EQ(ll::NetRightsForAbi(3), 0u);
  EXPECT_EQ(ll::NetRightsForAbi(4), ll::kNetBindTcp | ll::kNetConnectTcp);
  EXPECT_EQ(ll::ScopesForAbi(5), 0u);
  EXPECT_EQ(ll::ScopesForAbi(6), ll::kScopeSignal | ll::kScopeAbstractUnixSocket);
  EXPECT_EQ(ll::RestrictFlagsForAbi(6), 0u);
  EXPECT_NE(ll::RestrictFlagsForAbi(7), 0u);
  EXPECT_EQ(ll::FsRightNames(ll::kFsIoctlDev | ll::kFsRefer),
            (std::vector<std::string>{"refer", "ioctl_dev"}));
  // ABI 9: RESOLVE_UNIX (bit 16), a right a socket file can carry.
  EXPECT_EQ(ll::kFsResolveUnix, 1ull << 16);
  EXPECT_FALSE(ll::FsRightsForAbi(8) & ll::kFsResolveUnix);
  EXPECT_TRUE(ll::FsRightsForAbi(9) & ll::kFsResolveUnix);
  EXPECT_TRUE(ll::kFsFileRights & ll::kFsResolveUnix);
  EXPECT_EQ(ll::FsRightNames(ll::kFsResolveUnix), (std::vector<std::string>{"resolve_unix"}));
  // Never part of a read_write grant: a host socket in a writable directory
  // must be listed to be reachable.
  EXPECT_FALSE(ll::WantedFsRights(ll::Access::kReadWrite) & ll::kFsResolveUnix);
  EXPECT_FALSE(ll::WantedFsRights(ll::Access::kReadOnly) & ll::kFsResolveUnix);
}

TEST(LandlockAbi, UnixResolveRootsFromPolicyEntries) {
  EXPECT_EQ(ll::UnixResolveRoots({"/run/user/1000/ssh-agent.sock", "@/tmp/.X11-unix/X0",
                                  "/run/user/*/bus", "/tmp/agent-*.sock", "/*.sock",
                                  "/run/user/1000/ssh-agent.sock"}),
            (std::vector<std::string>{"/run/user/1000/ssh-agent.sock", "/run/user", "/tmp", "/"}));
  EXPECT_TRUE(ll::UnixResolveRoots({"@abstract"}).empty());
}

TEST(LandlockBuild, ResolveUnixIsNotADegradationBelowAbi9) {
  // The connect notification refuses host sockets there: no warning, and
  // hard_requirement still holds on this kernel.
  if (ll::ProbeAbi().used < 7) GTEST_SKIP() << "needs Landlock ABI 7";
  TempTree t;
  ll::Request req;
  req.paths = {{t.Dir("/d"), ll::Access::kReadWrite}};
  req.unix_sockets = {t.root() + "/d/agent.sock"};
  auto r = ll::Build(req, AbiN(7));
  ASSERT_TRUE(r.ok()) << r.status().reason();
  EXPECT_EQ(r->status.enforcement, ll::Enforcement::kFully);
  EXPECT_TRUE(r->status.degraded.empty());
  EXPECT_FALSE(r->status.handled_fs & ll::kFsResolveUnix);
  EXPECT_EQ(r->status.rules.size(), 1u);  // no RESOLVE_UNIX rule without ABI 9
}

TEST(LandlockProbe, ThisKernelHasLandlock) {
  // The development host runs ABI 7; elsewhere this only checks consistency.
  auto a = ll::ProbeAbi();
  if (a.kernel == 0) GTEST_SKIP() << a.reason;
  EXPECT_EQ(a.used, std::min(a.kernel, ll::kMaxKnownAbi));
}

TEST(LandlockBuild, FileGetsFileRightsMissingPathSkipped) {
  if (ll::ProbeAbi().used < 7) GTEST_SKIP() << "needs Landlock ABI 7";
  TempTree t;
  std::string dir = t.Dir("/d"), file = t.File("/f");
  ll::Request req;
  req.paths = {{"/app", ll::Access::kReadOnly},
               {dir, ll::Access::kReadWrite},
               {file, ll::Access::kReadWrite},
               {t.root() + "/missing", ll::Access::kReadWrite}};
  auto r = ll::Build(req, AbiN(7));
  ASSERT_TRUE(r.ok()) << r.status().reason();
  const auto& st = r->status;
  ASSERT_TRUE(r->step);
  EXPECT_GE(r->step->fd(), 0);
  EXPECT_EQ(fcntl(r->step->fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ASSERT_EQ(st.rules.size(), 2u);
  EXPECT_EQ(st.rules[0].path, dir);
  EXPECT_EQ(st.rules[0].access, ll::FsRightsForAbi(7));
  EXPECT_EQ(st.rules[1].kind, "file");
  EXPECT_EQ(st.rules[1].access, ll::kFsFileRights & ll::FsRightsForAbi(7));
  ASSERT_EQ(st.skipped.size(), 2u);
  EXPECT_EQ(st.skipped[0].path, "/app");
  EXPECT_EQ(st.skipped[0].reason, "does not exist");
  EXPECT_EQ(st.enforcement, ll::Enforcement::kFully);
  EXPECT_EQ(st.scoped, ll::kScopeSignal | ll::kScopeAbstractUnixSocket);
  EXPECT_EQ(st.handled_net, 0u);
  auto j = st.ToJson();
  EXPECT_EQ(j["status"], "fully enforced");
  EXPECT_EQ(j["handled_access_net"], "not handled");
  EXPECT_EQ(st.Degradations().size(), 2u);  // the two skipped paths
}

TEST(LandlockBuild, ZeroRulesIsRefused) {
  ll::Request req;
  req.paths = {{"/nonexistent-a", ll::Access::kReadOnly},
               {"/nonexistent-b", ll::Access::kReadWrite}};
  if (ll::ProbeAbi().used == 0) GTEST_SKIP();
  auto r = ll::Build(req, AbiN(ll::ProbeAbi().used));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().reason().find("empty ruleset"), std::string::npos);
  EXPECT_NE(r.status().reason().find("/nonexistent-a: does not exist"), std::string::npos);
}

TEST(LandlockBuild, AbiZeroIsNotEnforced) {
  ll::Request req;
  req.paths = {{"/usr", ll::Access::kReadOnly}};
  auto r = ll::Build(req, ll::AbiFromKernelAnswer(-EOPNOTSUPP, std::nullopt));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->step);
  EXPECT_EQ(r->status.enforcement, ll::Enforcement::kNot);
  ASSERT_EQ(r->status.Degradations().size(), 1u);
  EXPECT_NE(r->status.Degradations()[0].find("lsm="), std::string::npos);
}

TEST(LandlockBuild, OldAbiIsPartialWithEachDegradedRight) {
  if (ll::ProbeAbi().used < 3) GTEST_SKIP();
  ll::Request req;
  req.paths = {{"/usr", ll::Access::kReadOnly}};
  req.connect_ports = std::vector<uint16_t>{443};
  auto r = ll::Build(req, AbiN(3));
  ASSERT_TRUE(r.ok()) << r.status().reason();
  const auto& st = r->status;
  EXPECT_EQ(st.enforcement, ll::Enforcement::kPartially);
  auto has = [&](const std::string& s) {
    return std::any_of(st.degraded.begin(), st.degraded.end(),
                       [&](const std::string& d) { return d.find(s) != std::string::npos; });
  };
  EXPECT_TRUE(has("ioctl_dev"));
  EXPECT_TRUE(has("connect_tcp"));
  EXPECT_FALSE(has("bind_tcp"));  // not requested
  EXPECT_TRUE(has("scope signal"));
  EXPECT_TRUE(has("abstract_unix_socket"));
  EXPECT_FALSE(has("truncate"));
  EXPECT_EQ(st.restrict_flags, 0u);
}

// Applies `step` in a forked child and returns what `fn` returns there.
template <typename F>
int InChild(const ll::RestrictStep& step, F fn) {
  pid_t pid = fork();
  if (pid == 0) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(100);
    if (step.Apply() != 0) _exit(101);
    _exit(fn());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

int ConnectErrno(uint16_t port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return 102;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int r = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  int err = r == 0 ? 0 : errno;
  close(s);
  return err;
}

int BindErrno(uint16_t port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return 102;
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int r = bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  int err = r == 0 ? 0 : errno;
  close(s);
  return err;
}

// Port rules for the network modes: the builder really enforces them.
TEST(LandlockBuild, PortRulesAreEnforced) {
  if (ll::ProbeAbi().used < 4) GTEST_SKIP() << "needs Landlock ABI 4";
  // A listener on an ephemeral loopback port: the allowed connect target.
  int lsock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lsock, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lsock, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(lsock, 4), 0);
  socklen_t len = sizeof a;
  getsockname(lsock, reinterpret_cast<sockaddr*>(&a), &len);
  const uint16_t allowed = ntohs(a.sin_port);
  const uint16_t other = allowed == 65535 ? 65534 : allowed + 1;

  ll::Request req;
  req.paths = {{"/usr", ll::Access::kReadOnly}};
  req.connect_ports = std::vector<uint16_t>{allowed};
  req.bind_ports = std::vector<uint16_t>{};  // handled, nothing allowed
  auto r = ll::Build(req, AbiN(ll::ProbeAbi().used));
  ASSERT_TRUE(r.ok()) << r.status().reason();
  EXPECT_EQ(r->status.handled_net, ll::kNetBindTcp | ll::kNetConnectTcp);
  EXPECT_EQ(r->status.connect_ports, std::vector<uint16_t>{allowed});
  auto j = r->status.ToJson();
  EXPECT_EQ(j["connect_ports"][0], allowed);
  EXPECT_TRUE(j["bind_ports"].empty());

  EXPECT_EQ(InChild(*r->step, [&] { return ConnectErrno(allowed); }), 0);
  EXPECT_EQ(InChild(*r->step, [&] { return ConnectErrno(other); }), EACCES);
  EXPECT_EQ(InChild(*r->step, [&] { return BindErrno(0); }), EACCES);
  // Without the ruleset, the other port is merely closed.
  EXPECT_EQ(ConnectErrno(other), ECONNREFUSED);
  close(lsock);
}

TEST(LandlockBuild, StepConfinesFilesystem) {
  if (ll::ProbeAbi().used < 3) GTEST_SKIP();
  TempTree t;
  std::string ok = t.File("/ok/file"), denied = t.File("/denied/file");
  ll::Request req;
  req.paths = {{t.root() + "/ok", ll::Access::kReadOnly}};
  auto r = ll::Build(req, AbiN(ll::ProbeAbi().used));
  ASSERT_TRUE(r.ok()) << r.status().reason();
  auto open_errno = [](const std::string& p, int flags) {
    int fd = open(p.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return errno;
    close(fd);
    return 0;
  };
  EXPECT_EQ(InChild(*r->step, [&] { return open_errno(ok, O_RDONLY); }), 0);
  EXPECT_EQ(InChild(*r->step, [&] { return open_errno(ok, O_WRONLY); }), EACCES);
  EXPECT_EQ(InChild(*r->step, [&] { return open_errno(denied, O_RDONLY); }), EACCES);
  EXPECT_EQ(open_errno(denied, O_RDONLY), 0);
}

// --- Enrich: baselines ---

Policy MinimalPolicy(GpuMode gpu) {
  Policy p;
  p.filesystem.include_workdir = false;
  p.filesystem.read_only = {"/proc"};
  p.gpu = gpu;
  return p;
}

TEST(LandlockEnrich, GpuBaselineFromStandInTree) {
  TempTree t;
  for (const char* f : {"/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia12", "/dev/nvidiaX",
                        "/dev/nvidia0a", "/dev/nvidia-uvm", "/dev/nvidia-caps/nvidia-cap1",
                        "/dev/sdz", "/run/nvidia-persistenced/socket"})
    t.File(f);
  t.Dir("/proc/self");
  t.Dir("/sys/devices/pci0000:00");
  t.Dir("/sys/devices/system/cpu");
  t.Dir("/sys/devices/virtual");
  auto e = Enrich(MinimalPolicy(GpuMode::kAuto),
                  EnrichContext{"", NetMode::kNone, t.root(), /*own_proc=*/true});
  const auto& rw = e.policy.filesystem.read_write;
  const auto& ro = e.policy.filesystem.read_only;
  for (const char* p : {"/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia12", "/dev/nvidia-uvm",
                        "/dev/nvidia-caps/nvidia-cap1", "/proc"})
    EXPECT_TRUE(Has(rw, p)) << p;
  EXPECT_FALSE(e.policy.filesystem.own_task_dir_writable);
  for (const char* p : {"/dev/nvidiaX", "/dev/nvidia0a", "/dev/sdz"}) {
    EXPECT_FALSE(Has(rw, p)) << p;
    EXPECT_FALSE(Has(ro, p)) << p;
  }
  EXPECT_FALSE(Has(ro, "/proc"));  // promoted, never listed twice
  EXPECT_TRUE(Has(ro, "/run/nvidia-persistenced"));
  EXPECT_TRUE(Has(ro, "/sys/devices/pci0000:00"));
  EXPECT_TRUE(Has(ro, "/sys/devices/system/cpu"));
  EXPECT_FALSE(Has(ro, "/sys/devices/virtual"));
  EXPECT_FALSE(Has(ro, "/usr/lib/wsl"));  // absent in the tree
}

TEST(LandlockEnrich, GpuBaselineOnTheHostsProcWritesOnlyTheCommandsTasks) {
  TempTree t;
  t.File("/dev/nvidiactl");
  t.Dir("/proc/self");
  auto e = Enrich(MinimalPolicy(GpuMode::kAuto), EnrichContext{"", NetMode::kPlatform, t.root()});
  EXPECT_FALSE(Has(e.policy.filesystem.read_write, "/proc"));
  EXPECT_TRUE(Has(e.policy.filesystem.read_only, "/proc"));
  EXPECT_TRUE(e.policy.filesystem.own_task_dir_writable);
  bool warned = false;
  for (const auto& w : e.warnings) warned = warned || w.find("cuInit") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(LandlockEnrich, NoGpuNoBaseline) {
  TempTree t;
  t.File("/dev/kfd");  // AMD alone does not trigger `gpu: auto`
  t.Dir("/proc");
  auto e = Enrich(MinimalPolicy(GpuMode::kAuto), EnrichContext{"", NetMode::kNone, t.root()});
  EXPECT_TRUE(e.policy.filesystem.read_write.empty());
  EXPECT_EQ(e.policy.filesystem.read_only, std::vector<std::string>{"/proc"});
  // `gpu: on` adds what exists, AMD included.
  auto on = Enrich(MinimalPolicy(GpuMode::kOn), EnrichContext{"", NetMode::kNone, t.root()});
  EXPECT_TRUE(Has(on.policy.filesystem.read_write, "/dev/kfd"));
  EXPECT_FALSE(Has(on.policy.filesystem.read_write, "/proc"));
  EXPECT_TRUE(on.policy.filesystem.own_task_dir_writable);
  auto own = Enrich(MinimalPolicy(GpuMode::kOn),
                    EnrichContext{"", NetMode::kNone, t.root(), /*own_proc=*/true});
  EXPECT_TRUE(Has(own.policy.filesystem.read_write, "/proc"));
  // `gpu: off` never.
  t.File("/dev/nvidiactl");
  auto off = Enrich(MinimalPolicy(GpuMode::kOff), EnrichContext{"", NetMode::kNone, t.root()});
  EXPECT_TRUE(off.policy.filesystem.read_write.empty());
}

TEST(LandlockEnrich, GpuOnWithoutDevicesWarns) {
  TempTree t;
  auto e = Enrich(MinimalPolicy(GpuMode::kOn), EnrichContext{"", NetMode::kNone, t.root()});
  ASSERT_EQ(e.warnings.size(), 1u);
  EXPECT_NE(e.warnings[0].find("no GPU device node"), std::string::npos);
}

TEST(LandlockEnrich, ProxyBaselineOnlyWithTheProxyAndOnlyExistingPaths) {
  TempTree t;
  for (const char* d : {"/usr", "/lib", "/etc", "/proc", "/tmp"}) t.Dir(d);
  t.File("/dev/null");
  Policy p = MinimalPolicy(GpuMode::kOff);
  p.filesystem.read_only.clear();
  for (NetMode m : {NetMode::kPlatform, NetMode::kNamespace}) {
    auto e = Enrich(p, EnrichContext{"", m, t.root()});
    EXPECT_EQ(e.policy.filesystem.read_only,
              (std::vector<std::string>{"/usr", "/lib", "/etc", "/proc"}));
    // The host's /tmp is never part of it: the sandbox gets its own.
    EXPECT_EQ(e.policy.filesystem.read_write, (std::vector<std::string>{"/dev/null"}));
  }
  for (NetMode m : {NetMode::kNone, NetMode::kHost}) {
    auto e = Enrich(p, EnrichContext{"", m, t.root()});
    EXPECT_TRUE(e.policy.filesystem.read_only.empty());
    EXPECT_TRUE(e.policy.filesystem.read_write.empty());
  }
}

TEST(LandlockEnrich, ProxyBaselineIsEveryPathWithItsAccess) {
  TempTree t;
  for (const char* d : {"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/proc", "/tmp"})
    t.Dir(d);
  for (const char* f : {"/dev/urandom", "/dev/null", "/dev/zero"}) t.File(f);
  Policy p = MinimalPolicy(GpuMode::kOff);
  p.filesystem.read_only.clear();
  for (NetMode m : {NetMode::kPlatform, NetMode::kNamespace}) {
    auto e = Enrich(p, EnrichContext{"", m, t.root()});
    EXPECT_EQ(e.policy.filesystem.read_only,
              (std::vector<std::string>{"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/proc",
                                        "/dev/urandom"}));
    // Only /dev/null is writable; /dev/zero is not part of it, nor the
    // host's /tmp (the sandbox gets its own).
    EXPECT_EQ(e.policy.filesystem.read_write, (std::vector<std::string>{"/dev/null"}));
  }
}

TEST(LandlockEnrich, WslDxgAloneTurnsGpuAutoOn) {
  TempTree t;
  for (const char* f : {"/dev/dxg", "/dev/kfd", "/dev/dri/renderD128", "/dev/dri/card0"}) t.File(f);
  t.Dir("/proc");
  t.Dir("/usr/lib/wsl");
  auto e = Enrich(MinimalPolicy(GpuMode::kAuto),
                  EnrichContext{"", NetMode::kNone, t.root(), /*own_proc=*/true});
  const auto& rw = e.policy.filesystem.read_write;
  const auto& ro = e.policy.filesystem.read_only;
  for (const char* p : {"/dev/dxg", "/dev/kfd", "/dev/dri/renderD128", "/proc"})
    EXPECT_TRUE(Has(rw, p)) << p;
  EXPECT_FALSE(Has(rw, "/dev/dri/card0"));  // display control, never
  EXPECT_FALSE(Has(ro, "/dev/dri/card0"));
  EXPECT_TRUE(Has(ro, "/usr/lib/wsl"));
  EXPECT_TRUE(e.warnings.empty());
  auto off = Enrich(MinimalPolicy(GpuMode::kOff), EnrichContext{"", NetMode::kNone, t.root()});
  EXPECT_TRUE(off.policy.filesystem.read_write.empty());
}

TEST(LandlockEnrich, NvidiaModesetAndUvmToolsGrantedWhenPresent) {
  TempTree t;
  t.File("/dev/nvidiactl");
  auto without = Enrich(MinimalPolicy(GpuMode::kAuto), EnrichContext{"", NetMode::kNone, t.root()});
  EXPECT_FALSE(Has(without.policy.filesystem.read_write, "/dev/nvidia-modeset"));
  EXPECT_FALSE(Has(without.policy.filesystem.read_write, "/dev/nvidia-uvm-tools"));
  t.File("/dev/nvidia-modeset");
  t.File("/dev/nvidia-uvm-tools");
  auto e = Enrich(MinimalPolicy(GpuMode::kAuto), EnrichContext{"", NetMode::kNone, t.root()});
  for (const char* p : {"/dev/nvidiactl", "/dev/nvidia-modeset", "/dev/nvidia-uvm-tools"})
    EXPECT_TRUE(Has(e.policy.filesystem.read_write, p)) << p;
}

TEST(LandlockEnrich, WorkdirAndDedup) {
  TempTree t;
  t.Dir("/tmp");
  Policy p = MinimalPolicy(GpuMode::kOff);
  p.filesystem.include_workdir = true;
  p.filesystem.read_only = {"/work", "/tmp"};
  p.filesystem.read_write = {"/tmp"};
  auto e = Enrich(p, EnrichContext{"/work", NetMode::kPlatform, t.root()});
  EXPECT_EQ(e.policy.filesystem.read_write, (std::vector<std::string>{"/tmp", "/work"}));
  EXPECT_TRUE(e.policy.filesystem.read_only.empty());
}

}  // namespace
}  // namespace rf
