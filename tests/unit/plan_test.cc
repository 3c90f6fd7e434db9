// BuildPlan with a fake host probe: the plan follows the probe's answers
// (never the host's), as `run`, `policy show` and `doctor` all read one.
#include "sandbox/plan.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "policy/loader.h"

namespace rf {
namespace {

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (landlock::ProbeAbi().used < 7) GTEST_SKIP() << "needs Landlock ABI 7 on this kernel";
    char tmpl[] = "/var/tmp/rf-plan-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    workdir_ = tmpl;
  }
  void TearDown() override {
    if (!workdir_.empty()) rmdir(workdir_.c_str());
  }

  // A host where everything works, as an ordinary user.
  static HostProbe Host(int abi = 7) {
    HostProbe h;
    h.landlock = landlock::AbiFromKernelAnswer(abi, std::nullopt);
    h.user_notification = Status::Ok();
    h.pidfd_getfd = true;
    h.namespaces = NamespaceSupport{true, true, ""};
    h.uid = h.real_uid = getuid();
    h.gid = getgid();
    if (h.uid == 0) h.uid = h.gid = 1000;  // unprivileged unless a test says root
    return h;
  }
  static HostProbe Root(int abi = 7) {
    HostProbe h = Host(abi);
    h.uid = h.gid = 0;
    h.cap_eff = (1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_SYS_PTRACE);
    h.namespaces = NamespaceSupport{true, false, ""};
    return h;
  }

  Result<Plan> Build(const HostProbe& host, const std::string& mode = "",
                     Compatibility compat = Compatibility::kBestEffort, bool audit = false) {
    Policy p = DefaultPolicy();
    p.process.limits = {};  // no cgroups made by a unit test
    p.compatibility = compat;
    PlanOptions o{workdir_, mode, nullptr};
    o.audit_denials = audit;
    return BuildPlan(p, o, host);
  }

  static bool HasWarning(const Plan& plan, const std::string& text) {
    for (const auto& w : plan.effective.warnings)
      if (w.find(text) != std::string::npos) return true;
    return false;
  }

  std::string workdir_;
};

TEST_F(PlanTest, AutoTakesNamespaceModeWhenTheProbeAllowsIt) {
  auto plan = Build(Host());
  ASSERT_TRUE(plan.ok()) << plan.status().reason();
  EXPECT_EQ(plan->net.mode, NetMode::kNamespace);
  EXPECT_TRUE(plan->init_namespaces & CLONE_NEWNET);
  EXPECT_TRUE(plan->init_namespaces & CLONE_NEWUSER);  // unprivileged: a user namespace
  EXPECT_TRUE(plan->net.listener_channel.valid());
  EXPECT_TRUE(plan->net.seccomp_channel.valid());
  EXPECT_FALSE(plan->net.listener.valid());
}

TEST_F(PlanTest, AutoFallsBackToPlatformForEachMissingPiece) {
  HostProbe no_ns = Host();
  no_ns.namespaces = NamespaceSupport{false, true, "unshare refused by the test"};
  HostProbe no_pidfd = Host();
  no_pidfd.pidfd_getfd = false;
  HostProbe root_no_ptrace = Root();
  root_no_ptrace.cap_eff = 1ULL << CAP_SYS_ADMIN;
  for (const auto& [host, why] :
       {std::pair{no_ns, "unshare refused by the test"}, std::pair{no_pidfd, "pidfd_getfd"},
        std::pair{root_no_ptrace, "CAP_SYS_PTRACE"}}) {
    auto plan = Build(host);
    ASSERT_TRUE(plan.ok()) << plan.status().reason();
    EXPECT_EQ(plan->net.mode, NetMode::kPlatform) << why;
    EXPECT_NE(plan->summary.find(std::string("auto: platform (no network namespace: ")),
              std::string::npos)
        << plan->summary;
    EXPECT_NE(plan->summary.find(why), std::string::npos) << plan->summary;
    EXPECT_TRUE(plan->net.listener.valid());
    EXPECT_EQ(plan->init_namespaces, 0);
  }
  // Root with both capabilities: namespace mode without a user namespace.
  auto root = Build(Root());
  ASSERT_TRUE(root.ok()) << root.status().reason();
  EXPECT_EQ(root->net.mode, NetMode::kNamespace);
  EXPECT_FALSE(root->init_namespaces & CLONE_NEWUSER);
}

TEST_F(PlanTest, ExplicitNamespaceModeTheProbeRefusesIsAnError) {
  HostProbe h = Host();
  h.pidfd_getfd = false;
  auto plan = Build(h, "namespace");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().reason().find("network.mode namespace cannot be set up"),
            std::string::npos);
  EXPECT_NE(plan.status().reason().find("pidfd_getfd"), std::string::npos);
  // A probe that never asked about namespaces cannot decide auto.
  h.namespaces.reset();
  EXPECT_FALSE(Build(h).ok());
  // Platform needs no namespace probe.
  EXPECT_TRUE(Build(h, "platform").ok());
}

TEST_F(PlanTest, NoUserNotificationDegradesPlatformModeUnderBestEffort) {
  HostProbe h = Host();
  h.user_notification = Status::Error("listener refused by the test");
  auto plan = Build(h, "platform");
  ASSERT_TRUE(plan.ok()) << plan.status().reason();
  EXPECT_FALSE(plan->net.guard);
  EXPECT_FALSE(plan->net.seccomp_channel.valid());
  EXPECT_TRUE(HasWarning(*plan,
                         "network: degraded: seccomp user notification unavailable "
                         "(listener refused by the test)"));
  EXPECT_NE(RenderStatus(*plan)["network"]["degraded"].get<std::string>().find("best_effort"),
            std::string::npos);
  // hard_requirement: never started.
  auto hard = Build(h, "platform", Compatibility::kHardRequirement);
  ASSERT_FALSE(hard.ok());
  EXPECT_NE(hard.status().reason().find("hard_requirement"), std::string::npos);
  // --audit: refusals cannot be answered by the supervisor either.
  auto audited = Build(h, "platform", Compatibility::kBestEffort, true);
  ASSERT_TRUE(audited.ok()) << audited.status().reason();
  EXPECT_TRUE(HasWarning(*audited, "refused system calls are not written to the audit log"));
}

TEST_F(PlanTest, NoUserNotificationAndNoTcpPortRulesRefusesPlatformMode) {
  HostProbe h = Host(3);
  h.user_notification = Status::Error("listener refused by the test");
  auto plan = Build(h, "platform");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().reason().find("platform mode cannot confine TCP here"),
            std::string::npos);
  EXPECT_NE(plan.status().reason().find("ABI 3 < 4"), std::string::npos);
}

TEST_F(PlanTest, LandlockAbiDecidesTheAbstractSocketHandling) {
  auto seven = Build(Host(7), "platform");
  ASSERT_TRUE(seven.ok()) << seven.status().reason();
  EXPECT_NE(seven->summary.find("(ABI 7, "), std::string::npos) << seven->summary;
  EXPECT_TRUE(seven->net.guard_config.abstract_scoped);
  EXPECT_NE(RenderStatus(*seven)["network"]["unix_sockets"]["abstract"].get<std::string>().find(
                "Landlock scope"),
            std::string::npos);

  auto three = Build(Host(3), "platform");
  ASSERT_TRUE(three.ok()) << three.status().reason();
  EXPECT_NE(three->summary.find("(ABI 3, "), std::string::npos) << three->summary;
  EXPECT_FALSE(three->net.guard_config.abstract_scoped);
  EXPECT_TRUE(three->net.guard_config.check_abstract);
  EXPECT_TRUE(HasWarning(*three, "landlock: "));  // TCP port rules and scopes missing
  auto st = RenderStatus(*three);
  EXPECT_EQ(st["landlock"]["abi"], 3);
  EXPECT_NE(st["network"]["unix_sockets"]["abstract"].get<std::string>().find("no Landlock scope"),
            std::string::npos);
  // hard_requirement refuses what ABI 3 cannot enforce.
  EXPECT_FALSE(Build(Host(3), "platform", Compatibility::kHardRequirement).ok());
}

TEST_F(PlanTest, RootRunsTheCommandAsAnotherUser) {
  auto root = Build(Root(), "platform");
  ASSERT_TRUE(root.ok()) << root.status().reason();
  ASSERT_TRUE(root->run_as.has_value());
  EXPECT_NE(root->run_as->uid, 0u);
  EXPECT_EQ(root->run_as_why, "process.run_as_user");
  EXPECT_TRUE(root->net.guard_config.switch_creds);
  EXPECT_EQ(root->net.guard_config.uid, root->run_as->uid);

  auto user = Build(Host(), "platform");
  ASSERT_TRUE(user.ok()) << user.status().reason();
  EXPECT_FALSE(user->run_as.has_value());
  EXPECT_FALSE(user->net.guard_config.switch_creds);
  EXPECT_NE(user->summary.find("process: caller uid"), std::string::npos);
  EXPECT_NE(RenderStatus(*user)["process"]["user"].get<std::string>().find(
                "caller (uid " + std::to_string(Host().uid)),
            std::string::npos);
}

TEST_F(PlanTest, StatusIsRenderedOnlyOnRequest) {
  auto plan = Build(Host(), "platform");
  ASSERT_TRUE(plan.ok()) << plan.status().reason();
  EXPECT_TRUE(plan->effective.layers.empty());
  auto st = RenderStatus(*plan);
  for (const char* layer : {"network", "landlock", "seccomp", "process", "tmp", "filesystem"})
    EXPECT_TRUE(st.contains(layer)) << layer;
}

}  // namespace
}  // namespace rf
