#include "policy/glob.h"

#include <gtest/gtest.h>

namespace rf {
namespace {

TEST(PolicyGlob, Components) {
  EXPECT_TRUE(GlobMatch("/usr/bin/git", "/usr/bin/git"));
  EXPECT_FALSE(GlobMatch("/usr/bin/git", "/usr/bin/git2"));
  EXPECT_TRUE(GlobMatch("/usr/bin/*", "/usr/bin/curl"));
  EXPECT_FALSE(GlobMatch("/usr/bin/*", "/usr/bin/x/curl"));
  EXPECT_TRUE(GlobMatch("/usr/lib/**", "/usr/lib/git-core/git"));
  EXPECT_TRUE(GlobMatch("/usr/**/git", "/usr/lib/git-core/git"));
  EXPECT_TRUE(GlobMatch("/usr/**/git", "/usr/git"));
  EXPECT_TRUE(GlobMatch("**/python3*", "/usr/bin/python3.11"));
  EXPECT_FALSE(GlobMatch("/usr/bin/py?", "/usr/bin/py/"));
}

}  // namespace
}  // namespace rf
