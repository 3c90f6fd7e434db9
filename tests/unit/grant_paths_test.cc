// The checked walk of rule paths (src/landlock/resolve.h) and the working
// directory test (src/sandbox/workdir.h). The walk runs against a stand-in
// root in a private directory, so "trusted" and "planted" links can be made
// without root; ownership by another uid needs root and is skipped without.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <tuple>

#include "landlock/resolve.h"
#include "landlock/ruleset.h"
#include "sandbox/workdir.h"

namespace rf {
namespace {

namespace ll = landlock;

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A stand-in "/": usr/bin/tool, bin -> usr/bin (merged /usr), and
// directories of various modes to put links in.
class Root {
 public:
  Root() {
    char tmpl[] = "/tmp/rf-resolve-unit-XXXXXX";
    path_ = mkdtemp(tmpl);
    chmod(path_.c_str(), 0755);
    Mkdir("/usr", 0755);
    Mkdir("/usr/bin", 0755);
    std::ofstream(path_ + "/usr/bin/tool") << "x";
    Link("usr/bin", "/bin");
    Mkdir("/safe", 0755);
    fd_ = UniqueFd(open(path_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  }
  ~Root() { std::filesystem::remove_all(path_); }
  void Mkdir(const std::string& rel, mode_t mode) {
    mkdir((path_ + rel).c_str(), mode);
    chmod((path_ + rel).c_str(), mode);  // umask-proof
  }
  void Link(const std::string& target, const std::string& rel) {
    ASSERT_EQ(symlink(target.c_str(), (path_ + rel).c_str()), 0) << rel;
  }
  Result<ll::ResolvedPath> Resolve(const std::string& p) const {
    return ll::ResolveRulePath(p, getuid(), fd_.get());
  }
  // The inode the walk should have ended on.
  ino_t Ino(const std::string& rel) const {
    struct stat st;
    EXPECT_EQ(stat((path_ + rel).c_str(), &st), 0) << rel;
    return st.st_ino;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  UniqueFd fd_;
};

ino_t FdIno(const UniqueFd& fd) {
  struct stat st;
  EXPECT_EQ(fstat(fd.get(), &st), 0);
  return st.st_ino;
}

// The walk of `path` fails, and its reason mentions `part`.
testing::AssertionResult Refused(const Root& r, const std::string& path, const std::string& part) {
  auto p = r.Resolve(path);
  if (p.ok()) return testing::AssertionFailure() << path << " resolved to " << p->real;
  if (!Contains(p.status().reason(), part))
    return testing::AssertionFailure() << path << ": " << p.status().reason();
  return testing::AssertionSuccess();
}

TEST(ResolveRulePath, PlainPathThroughWritableDirectoriesIsNotChecked) {
  Root r;
  r.Mkdir("/shared", 01777);  // like /tmp
  r.Mkdir("/shared/work", 0777);
  auto p = r.Resolve("/shared/work");
  ASSERT_TRUE(p.ok()) << p.status().reason();
  EXPECT_EQ(p->real, "/shared/work");
  EXPECT_TRUE(p->links.empty());
  EXPECT_EQ(FdIno(p->fd), r.Ino("/shared/work"));
}

TEST(ResolveRulePath, MergedUsrLinkOfATrustedOwnerIsFollowed) {
  Root r;
  auto p = r.Resolve("/bin/tool");
  ASSERT_TRUE(p.ok()) << p.status().reason();
  EXPECT_EQ(p->real, "/usr/bin/tool");
  ASSERT_EQ(p->links.size(), 1u);
  EXPECT_EQ(p->links[0].link, "/bin");
  EXPECT_EQ(p->links[0].target, "usr/bin");
  EXPECT_EQ(FdIno(p->fd), r.Ino("/usr/bin/tool"));
}

TEST(ResolveRulePath, AbsoluteAndDotDotTargetsStayInTheRoot) {
  Root r;
  r.Link("/usr/bin", "/safe/abs");
  r.Link("../usr", "/safe/up");
  auto a = r.Resolve("/safe/abs");
  ASSERT_TRUE(a.ok()) << a.status().reason();
  EXPECT_EQ(a->real, "/usr/bin");
  EXPECT_EQ(FdIno(a->fd), r.Ino("/usr/bin"));
  auto u = r.Resolve("/safe/up/bin/tool");
  ASSERT_TRUE(u.ok()) << u.status().reason();
  EXPECT_EQ(u->real, "/usr/bin/tool");
  auto d = r.Resolve("/../../usr/./bin");
  ASSERT_TRUE(d.ok()) << d.status().reason();
  EXPECT_EQ(d->real, "/usr/bin");
  auto root = r.Resolve("/usr/..");
  ASSERT_TRUE(root.ok()) << root.status().reason();
  EXPECT_EQ(root->real, "/");
}

TEST(ResolveRulePath, LinkInADirectoryOthersCanWriteIsNotFollowed) {
  Root r;
  for (auto [dir, mode, shown] :
       {std::tuple{"/shared", 0777, "0777"}, std::tuple{"/sticky", 01777, "1777"},
        std::tuple{"/group", 0775, "0775"}}) {
    r.Mkdir(dir, static_cast<mode_t>(mode));
    r.Link("/usr", std::string(dir) + "/cache");
    const std::string link = std::string(dir) + "/cache";
    EXPECT_TRUE(Refused(r, link, "symlink " + link + " -> /usr"));
    EXPECT_TRUE(Refused(r, link, "the directory " + std::string(dir) + " is writable by others"));
    EXPECT_TRUE(Refused(r, link, std::string("mode ") + shown));
  }
}

TEST(ResolveRulePath, WritableAncestorOfTheLinkIsEnough) {
  // /tmp/x/agent-cache with /tmp/x safe: /tmp (sticky, world-writable) is
  // still on the way.
  Root r;
  r.Mkdir("/tmp", 01777);
  r.Mkdir("/tmp/x", 0755);
  r.Link("/usr", "/tmp/x/agent-cache");
  EXPECT_TRUE(Refused(r, "/tmp/x/agent-cache", "the directory /tmp is writable by others"));
}

TEST(ResolveRulePath, PlantedLinkAsADirectoryOnTheWayIsNotFollowed) {
  Root r;
  r.Mkdir("/shared", 0777);
  r.Link("/usr", "/shared/proj");
  EXPECT_TRUE(Refused(r, "/shared/proj/bin/tool", "symlink /shared/proj -> /usr"));
}

TEST(ResolveRulePath, LaterDirectoriesAreCheckedForALaterLink) {
  // A trusted link into a writable directory, then a link there: the
  // second is checked against the real chain it was reached through.
  Root r;
  r.Mkdir("/shared", 0777);
  r.Link("/shared", "/safe/to-shared");
  r.Link("/usr", "/shared/evil");
  auto ok = r.Resolve("/safe/to-shared");
  ASSERT_TRUE(ok.ok()) << ok.status().reason();
  EXPECT_EQ(ok->real, "/shared");
  EXPECT_TRUE(Refused(r, "/safe/to-shared/evil", "symlink /shared/evil -> /usr"));
}

TEST(ResolveRulePath, OwnersOtherThanRootOrTheCallerAreNotTrusted) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give files to another uid";
  Root r;
  r.Link("/usr", "/safe/theirs");
  ASSERT_EQ(lchown((r.path() + "/safe/theirs").c_str(), 4242, 4242), 0);
  EXPECT_TRUE(Refused(r, "/safe/theirs", "the link is owned by uid 4242"));
  r.Mkdir("/other", 0755);
  ASSERT_EQ(chown((r.path() + "/other").c_str(), 4242, 4242), 0);
  r.Link("/usr", "/other/link");
  EXPECT_TRUE(Refused(r, "/other/link", "the directory /other is owned by uid 4242"));
}

TEST(ResolveRulePath, ErrorsNameTheCause) {
  Root r;
  r.Link("b", "/safe/a");
  r.Link("a", "/safe/b");
  r.Link("/nowhere", "/safe/dangling");
  EXPECT_EQ(r.Resolve("/safe/a").status().reason(), "too many levels of symbolic links");
  EXPECT_EQ(r.Resolve("/missing").status().reason(), "does not exist");
  EXPECT_EQ(r.Resolve("/safe/dangling").status().reason(), "does not exist");
  EXPECT_EQ(r.Resolve("/usr/bin/tool/x").status().reason(),
            "a component of the path is not a directory");
  EXPECT_EQ(r.Resolve("relative").status().reason(), "is not an absolute path");
}

ll::Abi Abi7() { return ll::AbiFromKernelAnswer(7, std::nullopt); }

TEST(LandlockBuildPaths, PlantedLinkIsSkippedAndReported) {
  if (ll::ProbeAbi().used == 0) GTEST_SKIP() << "no Landlock";
  Root r;  // under /tmp: a sticky world-writable directory on the way
  r.Link(r.path() + "/usr", "/safe/cache");
  ll::Request req;
  req.trusted_uid = getuid();
  req.paths = {{r.path() + "/safe/cache", ll::Access::kReadWrite},
               {r.path() + "/usr", ll::Access::kReadOnly}};
  auto b = ll::Build(req, Abi7());
  ASSERT_TRUE(b.ok()) << b.status().reason();
  ASSERT_EQ(b->status.rules.size(), 1u);
  EXPECT_EQ(b->status.rules[0].path, r.path() + "/usr");
  EXPECT_TRUE(b->status.rules[0].resolved.empty());
  ASSERT_EQ(b->status.skipped.size(), 1u);
  EXPECT_TRUE(Contains(b->status.skipped[0].reason, "the directory /tmp is writable by others"))
      << b->status.skipped[0].reason;
}

TEST(LandlockBuildPaths, FollowedLinksAreShownWithTheirTarget) {
  if (ll::ProbeAbi().used == 0) GTEST_SKIP() << "no Landlock";
  ll::Request req;
  req.trusted_uid = getuid();
  req.paths = {{"/bin", ll::Access::kReadOnly}};
  struct stat st;
  if (lstat("/bin", &st) != 0 || !S_ISLNK(st.st_mode)) GTEST_SKIP() << "/bin is not a link";
  auto b = ll::Build(req, Abi7());
  ASSERT_TRUE(b.ok()) << b.status().reason();
  ASSERT_EQ(b->status.rules.size(), 1u);
  char real[PATH_MAX];
  ASSERT_NE(realpath("/bin", real), nullptr);
  EXPECT_EQ(b->status.rules[0].resolved, real);
  auto j = b->status.ToJson();
  EXPECT_EQ(j["rules"][0]["resolved"], real);
  EXPECT_EQ(j["rules"][0]["symlinks"].size(), 1u);
}

TEST(LandlockBuildPaths, HostRootIsNeverGrantedReadWrite) {
  if (ll::ProbeAbi().used == 0) GTEST_SKIP() << "no Landlock";
  ll::Request req;
  req.trusted_uid = getuid();
  req.paths = {{"/", ll::Access::kReadWrite}, {"/usr", ll::Access::kReadOnly}};
  auto b = ll::Build(req, Abi7());
  ASSERT_TRUE(b.ok()) << b.status().reason();
  ASSERT_EQ(b->status.skipped.size(), 1u);
  EXPECT_EQ(b->status.skipped[0].path, "/");
  EXPECT_TRUE(Contains(b->status.skipped[0].reason, "never granted read-write"));
  req.paths = {{"/", ll::Access::kReadOnly}};
  auto ro = ll::Build(req, Abi7());
  ASSERT_TRUE(ro.ok()) << ro.status().reason();
  EXPECT_TRUE(ro->status.skipped.empty());
}

class HomeEnv {
 public:
  explicit HomeEnv(const std::string& home) {
    if (const char* h = getenv("HOME")) old_ = h;
    setenv("HOME", home.c_str(), 1);
  }
  ~HomeEnv() {
    if (old_) {
      setenv("HOME", old_->c_str(), 1);
    } else {
      unsetenv("HOME");
    }
  }

 private:
  std::optional<std::string> old_;
};

TEST(WorkdirGrant, RootIsRefusedWithTheWayOut) {
  std::vector<std::string> warnings;
  Status s = CheckWorkdirGrant("/", warnings);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.reason(), "must not grant '/' (the whole host)")) << s.reason();
  EXPECT_TRUE(Contains(s.reason(), "--workdir")) << s.reason();
  EXPECT_TRUE(Contains(s.reason(), "include_workdir: false")) << s.reason();
}

TEST(WorkdirGrant, HomeIsAcceptedWithAWarningNamingItsDotfiles) {
  Root home;
  std::ofstream(home.path() + "/.bashrc") << "# rc";
  home.Mkdir("/.ssh", 0700);
  home.Mkdir("/project", 0755);
  HomeEnv env(home.path());
  std::vector<std::string> warnings;
  ASSERT_TRUE(CheckWorkdirGrant(home.path(), warnings).ok());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_TRUE(Contains(warnings[0], "is the caller's home directory")) << warnings[0];
  EXPECT_TRUE(Contains(warnings[0], ".bashrc, .ssh")) << warnings[0];
  warnings.clear();
  ASSERT_TRUE(CheckWorkdirGrant(home.path() + "/project", warnings).ok());
  EXPECT_TRUE(warnings.empty());
  // A directory above the home exposes it as well.
  const std::string parent = std::filesystem::path(home.path()).parent_path();
  ASSERT_TRUE(CheckWorkdirGrant(parent, warnings).ok());
  bool named = false;
  for (const auto& w : warnings) named |= Contains(w, "contains the caller's home directory");
  EXPECT_TRUE(named);
}

}  // namespace
}  // namespace rf
