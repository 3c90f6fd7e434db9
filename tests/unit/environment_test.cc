// process.environment: the rules of src/sandbox/environment.h, and the
// policy section loading and showing them.
#include "sandbox/environment.h"

#include <gtest/gtest.h>

#include "policy/effective.h"
#include "policy/loader.h"

namespace rf {
namespace {

// Decides `names` (NAME=value each) under `policy`: name -> passed.
std::map<std::string, bool> Decide(std::vector<std::string> entries,
                                   const EnvironmentPolicy& policy) {
  std::vector<char*> ptrs;
  for (auto& e : entries) ptrs.push_back(e.data());
  ptrs.push_back(nullptr);
  FilteredEnvironment f = FilterEnvironment(ptrs.data(), policy);
  std::map<std::string, bool> out;
  for (const auto& c : f.choices) out[c.name] = c.passed;
  // `kept` holds exactly the passed entries, values intact.
  size_t passed = 0;
  for (const auto& [name, ok] : out) passed += ok;
  EXPECT_EQ(f.kept.size(), passed);
  return out;
}

TEST(Environment, SecretShapedHeldBackUnderInheritAll) {
  auto d = Decide({"GITHUB_TOKEN=a", "AWS_REGION=b", "Db_Password=c", "OPENAI_API_KEY=d",
                   "MY_CLIENT_SECRET=e", "SSH_PRIVATE_KEY_PATH=f", "HOME=/h", "PATH=/bin",
                   "TOKENIZERS_PARALLELISM=false", "KEYBOARD=us", "RINGFENCE_X=1", "NOEQUALS"},
                  {});
  for (const char* n : {"GITHUB_TOKEN", "AWS_REGION", "Db_Password", "OPENAI_API_KEY",
                        "MY_CLIENT_SECRET", "SSH_PRIVATE_KEY_PATH", "RINGFENCE_X"})
    EXPECT_FALSE(d.at(n)) << n;
  for (const char* n : {"HOME", "PATH", "TOKENIZERS_PARALLELISM", "KEYBOARD"})
    EXPECT_TRUE(d.at(n)) << n;
  EXPECT_EQ(d.count("NOEQUALS"), 0u);
}

TEST(Environment, ExcludeBeatsIncludeBeatsSecretShapeBeatsInherit) {
  EnvironmentPolicy p;
  p.inherit = EnvInherit::kNone;
  p.include = {"gh_*", "RF_A"};
  p.exclude = {"GH_ENTERPRISE_*"};
  const std::map<std::string, bool> expected = {{"GH_TOKEN", true},
                                                {"GH_ENTERPRISE_TOKEN", false},
                                                {"RF_A", true},
                                                {"RF_B", false},
                                                {"PATH", false}};
  EXPECT_EQ(Decide({"GH_TOKEN=1", "GH_ENTERPRISE_TOKEN=2", "RF_A=3", "RF_B=4", "PATH=/bin"}, p),
            expected);
}

TEST(Environment, CoreSet) {
  EnvironmentPolicy p;
  p.inherit = EnvInherit::kCore;
  const std::map<std::string, bool> expected = {
      {"PATH", true}, {"LC_ALL", true}, {"TERM", true}, {"EDITOR", false}, {"LD_PRELOAD", false}};
  EXPECT_EQ(Decide({"PATH=/bin", "LC_ALL=C", "TERM=x", "EDITOR=vi", "LD_PRELOAD=x"}, p), expected);
}

TEST(Environment, StatusNamesNeverValues) {
  std::vector<std::string> entries = {"GITHUB_TOKEN=value-one", "HOME=value-two",
                                      "PLAIN=value-three"};
  std::vector<char*> ptrs;
  for (auto& e : entries) ptrs.push_back(e.data());
  ptrs.push_back(nullptr);
  EnvironmentPolicy p;
  nlohmann::json j =
      EnvironmentStatus(FilterEnvironment(ptrs.data(), p), p, {"HOME=/run/home", "X=1"});
  const std::string text = j.dump();
  EXPECT_EQ(text.find("value-"), std::string::npos) << text;
  EXPECT_EQ(j["passed"], nlohmann::json::array({"PLAIN"}));
  EXPECT_NE(j["dropped"]["GITHUB_TOKEN"].get<std::string>().find("secret-shaped"),
            std::string::npos);
  EXPECT_NE(j["dropped"]["HOME"].get<std::string>().find("set by ringfence"), std::string::npos);
}

TEST(Environment, PolicySectionLoadsShowsAndReloads) {
  auto r = LoadPolicyString(R"(version: 1
process:
  environment:
    inherit: core
    include: [OPENAI_API_KEY, 'MY_*']
    exclude: ['[A-Z]*_X']
)",
                            "p.yaml");
  ASSERT_TRUE(r.ok()) << r.status().reason();
  EXPECT_EQ(r->process.environment.inherit, EnvInherit::kCore);
  EXPECT_EQ(r->process.environment.include, (std::vector<std::string>{"OPENAI_API_KEY", "MY_*"}));
  auto again = LoadPolicyString(JsonToYaml(PolicyToJson(*r)), "shown.yaml");
  ASSERT_TRUE(again.ok()) << again.status().reason();
  EXPECT_EQ(again->process.environment, r->process.environment);
}

}  // namespace
}  // namespace rf
