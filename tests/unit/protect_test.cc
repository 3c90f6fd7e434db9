// Protected-path patterns, the scan of grants (src/sandbox/protect.h) and
// the Landlock split for deny_read (src/landlock/deny_read.h), against a
// private directory tree.
#include "sandbox/protect.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "landlock/deny_read.h"
#include "landlock/uapi.h"

namespace rf {
namespace {

namespace fs = std::filesystem;

TEST(MatchProtectPattern, RelativePatternsMatchAtAnyDepth) {
  EXPECT_TRUE(MatchProtectPattern(".bashrc", ".bashrc", "/r/.bashrc"));
  EXPECT_TRUE(MatchProtectPattern(".bashrc", "a/b/.bashrc", "/r/a/b/.bashrc"));
  EXPECT_FALSE(MatchProtectPattern(".bashrc", ".bashrc.bak", "/r/.bashrc.bak"));
  EXPECT_TRUE(MatchProtectPattern(".git/hooks/", ".git/hooks", "/r/.git/hooks"));
  EXPECT_TRUE(MatchProtectPattern(".git/hooks/", "sub/.git/hooks", "/r/sub/.git/hooks"));
  EXPECT_FALSE(MatchProtectPattern(".git/hooks/", ".git/hooks/pre-commit", "/r/x"));
  EXPECT_TRUE(MatchProtectPattern("**/*.pem", "k.pem", "/r/k.pem"));
  EXPECT_TRUE(MatchProtectPattern("*.pem", "a/b/k.pem", "/r/a/b/k.pem"));
  EXPECT_FALSE(MatchProtectPattern("*.pem", "a/k.pem.txt", "/r/a/k.pem.txt"));
  EXPECT_TRUE(MatchProtectPattern("secrets/**/id_*", "x/secrets/a/b/id_rsa", "/r"));
}

TEST(MatchProtectPattern, AbsolutePatternsNameHostPaths) {
  EXPECT_TRUE(MatchProtectPattern("/home/u/.aws/", "x", "/home/u/.aws"));
  EXPECT_FALSE(MatchProtectPattern("/home/u/.aws/", ".aws", "/srv/.aws"));
  EXPECT_TRUE(MatchProtectPattern("/home/*/.netrc", "x", "/home/v/.netrc"));
}

class TreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rf-protect-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ + "/repo/.git/hooks");
    fs::create_directories(root_ + "/repo/src/deep");
    for (const char* f : {"/repo/.git/config", "/repo/README", "/repo/.env", "/repo/src/a.c",
                          "/repo/src/deep/k.pem", "/repo/src/deep/notes"})
      std::ofstream(root_ + f) << "x";
    fs::create_symlink("/etc", root_ + "/repo/src/link");
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string root_;
};

TEST_F(TreeTest, ScanFindsExistingAndAbsentEntries) {
  FilesystemPolicy p;
  p.read_write = {root_ + "/repo"};
  p.deny_read = {".env", "*.pem"};
  ProtectScan scan = ScanProtected(p);
  auto find = [&](const std::string& rel) -> const ProtectedEntry* {
    for (const auto& e : scan.entries)
      if (e.path == root_ + "/repo/" + rel) return &e;
    return nullptr;
  };
  ASSERT_NE(find(".git/config"), nullptr);
  EXPECT_EQ(find(".git/config")->type, ProtectedEntry::Type::kFile);
  ASSERT_NE(find(".git/hooks"), nullptr);
  EXPECT_EQ(find(".git/hooks")->type, ProtectedEntry::Type::kDir);
  ASSERT_NE(find(".gitmodules"), nullptr);  // a repository: absent names listed
  EXPECT_EQ(find(".gitmodules")->type, ProtectedEntry::Type::kAbsent);
  ASSERT_NE(find(".env"), nullptr);
  EXPECT_EQ(find(".env")->kind, ProtectedEntry::Kind::kDenyRead);
  ASSERT_NE(find("src/deep/k.pem"), nullptr);
  EXPECT_EQ(find("README"), nullptr);
  EXPECT_EQ(find("src/deep/notes"), nullptr);
}

TEST_F(TreeTest, ScanStopsAtItsLimitsWithAWarning) {
  FilesystemPolicy p;
  p.read_write = {root_ + "/repo"};
  ProtectScan scan = ScanProtected(p, ProtectLimits{12, 3});
  ASSERT_FALSE(scan.warnings.empty());
  EXPECT_NE(scan.warnings.front().find("stopped"), std::string::npos);
}

TEST_F(TreeTest, NoScratchDirectoryGetsPlaceholders) {
  FilesystemPolicy p;
  p.read_write = {root_ + "/repo/src"};  // not a repository root, not a home
  for (const auto& e : ScanProtected(p).entries)
    EXPECT_NE(e.type, ProtectedEntry::Type::kAbsent) << e.path;
}

TEST_F(TreeTest, SplitNeverCoversADeniedPathWithReadFile) {
  std::string repo = root_ + "/repo";
  std::vector<landlock::PathRule> in = {{"/usr", landlock::Access::kReadOnly, 0},
                                        {repo, landlock::Access::kReadWrite, 0}};
  auto out = landlock::SplitForDenyRead(in, {repo + "/.env", repo + "/src/deep/k.pem"});
  ASSERT_TRUE(out.ok()) << out.status().reason();
  auto rights_of = [&](const std::string& path) -> std::optional<uint64_t> {
    for (const auto& r : *out)
      if (r.path == path) return r.rights ? r.rights : landlock::WantedFsRights(r.access);
    return std::nullopt;
  };
  EXPECT_TRUE(rights_of("/usr").has_value());
  for (const std::string& dir : {repo, repo + "/src", repo + "/src/deep"}) {
    ASSERT_TRUE(rights_of(dir).has_value()) << dir;
    EXPECT_EQ(*rights_of(dir) & landlock::kFsReadFile, 0u) << dir;
    EXPECT_NE(*rights_of(dir) & landlock::kFsWriteFile, 0u) << dir;
  }
  EXPECT_FALSE(rights_of(repo + "/.env").has_value());
  EXPECT_FALSE(rights_of(repo + "/src/deep/k.pem").has_value());
  EXPECT_FALSE(rights_of(repo + "/src/link").has_value());  // a link's target is not granted
  for (const std::string& sib :
       {repo + "/README", repo + "/.git", repo + "/src/a.c", repo + "/src/deep/notes"}) {
    ASSERT_TRUE(rights_of(sib).has_value()) << sib;
    EXPECT_NE(*rights_of(sib) & landlock::kFsReadFile, 0u) << sib;
  }
}

TEST_F(TreeTest, SplitRefusesPastItsBound) {
  std::string repo = root_ + "/repo";
  auto out =
      landlock::SplitForDenyRead({{repo, landlock::Access::kReadWrite, 0}}, {repo + "/.env"}, 2);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().reason().find(repo), std::string::npos);
}

}  // namespace
}  // namespace rf
