#include <gtest/gtest.h>

#include "control/control.h"
#include "control/live_policy.h"

namespace rf::control {
namespace {

const char* kRunning = R"(version: 1
filesystem_policy:
  read_only: [/usr, /etc]
network:
  mode: auto
network_policies:
  a:
    endpoints: [{ host: a.test, port: 443 }]
  b:
    endpoints: [{ host: b.test, port: 443 }]
)";

TEST(LivePolicy, SameStaticSectionsInAnotherStyleAreNoDifference) {
  auto d = StaticDifference(kRunning, R"(# a comment
version: 1
network: {mode: auto}
filesystem_policy:
  read_only:
    - /usr
    - "/etc"
network_policies: {}
)");
  ASSERT_TRUE(d.ok()) << d.status().reason();
  EXPECT_EQ(*d, "");
}

TEST(LivePolicy, FirstStaticDifferenceIsNamed) {
  auto d = StaticDifference(kRunning, R"(version: 1
filesystem_policy:
  read_only: [/usr, /etc]
  read_write: [/var/tmp]
network:
  mode: auto
)");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "filesystem_policy.read_write");
  d = StaticDifference(kRunning, R"(version: 1
filesystem_policy:
  read_only: [/usr, /etc]
network:
  mode: platform
)");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "network.mode");
  // A default spelt out counts: the comparison is of what the files say.
  d = StaticDifference(kRunning,
                       std::string(kRunning) + "landlock: {compatibility: best_effort}\n");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "landlock");
}

TEST(LivePolicy, SetReplacesAndRefusesStaticChanges) {
  auto p = PlanSet(kRunning, R"(version: 1
filesystem_policy:
  read_only: [/usr, /etc]
network:
  mode: auto
network_policies:
  c:
    endpoints: [{ host: c.test, port: 443 }]
)",
                   "new.yaml");
  ASSERT_TRUE(p.ok()) << p.status().reason();
  ASSERT_EQ(p->policy.network_policies.size(), 1u);
  EXPECT_EQ(p->policy.network_policies[0].name, "c");

  auto refused = PlanSet(kRunning, "version: 1\nprocess: {sysv_ipc: true}\n", "p.yaml");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().reason().find("p.yaml: "), std::string::npos);
  EXPECT_NE(refused.status().reason().find("is static"), std::string::npos);

  auto invalid =
      PlanSet(kRunning, "version: 1\nnetwork_policies: {a: {colour: red}}\n", "bad.yaml");
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.status().reason().find("bad.yaml:2:"), std::string::npos)
      << invalid.status().reason();
}

TEST(LivePolicy, UpdateMergesEntriesByName) {
  auto p = PlanUpdate(kRunning, R"(network_policies:
  b:
    endpoints: [{ host: b2.test, port: 8443 }]
  c:
    endpoints: [{ host: c.test, port: 443 }]
)",
                      "upd.yaml");
  ASSERT_TRUE(p.ok()) << p.status().reason();
  std::map<std::string, std::string> hosts;
  for (const auto& np : p->policy.network_policies) hosts[np.name] = np.endpoints.at(0).host;
  EXPECT_EQ(hosts, (std::map<std::string, std::string>{
                       {"a", "a.test"}, {"b", "b2.test"}, {"c", "c.test"}}));
  // The merged text keeps the static sections as they were.
  auto d = StaticDifference(kRunning, p->text);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "");
}

TEST(LivePolicy, UpdateRefusesStaticSectionsAndBadEntries) {
  auto s =
      PlanUpdate(kRunning, "filesystem_policy: {read_only: [/]}\nnetwork_policies: {}\n", "u.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().reason().find("filesystem_policy.read_only differs"), std::string::npos)
      << s.status().reason();
  // Equal static sections may be repeated.
  EXPECT_TRUE(PlanUpdate(kRunning,
                         "network: {mode: auto}\nnetwork_policies:\n  d:\n    endpoints: [{host: "
                         "d.test, port: 80}]\n",
                         "u.yaml")
                  .ok());
  auto none = PlanUpdate(kRunning, "version: 1\n", "u.yaml");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().reason().find("no network_policies"), std::string::npos);
  auto bad =
      PlanUpdate(kRunning, "network_policies:\n  x:\n    endpoints: [{port: 0}]\n", "u.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().reason().find("u.yaml:3:"), std::string::npos) << bad.status().reason();
}

TEST(LivePolicy, DigestIsSha256) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(SandboxId, FormIsTwelveHexDigits) {
  auto id = NewSandboxId();
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(ValidSandboxId(*id)) << *id;
  EXPECT_FALSE(ValidSandboxId("../../etc/x"));
  EXPECT_FALSE(ValidSandboxId("ABCDEF123456"));
  EXPECT_FALSE(ValidSandboxId("abc"));
}

}  // namespace
}  // namespace rf::control
