#include "sandbox/user_lookup.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

namespace rf {
namespace {

TEST(UserLookup, IdOfTheFirstEntryWithThatName) {
  const char* passwd =
      "root:x:0:0:root:/root:/bin/bash\n"
      "nobodyx:x:7:7::/:/bin/false\n"
      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
      "nobody:x:99:99::/:/bin/false\n"
      "broken:x:12a:0::/:\n"
      "short:x\n";
  EXPECT_EQ(IdInFilesDatabase(passwd, "nobody"), 65534u);
  EXPECT_EQ(IdInFilesDatabase(passwd, "root"), 0u);
  EXPECT_EQ(IdInFilesDatabase(passwd, "nobodyx"), 7u);
  EXPECT_EQ(IdInFilesDatabase(passwd, "nobod"), std::nullopt);
  EXPECT_EQ(IdInFilesDatabase(passwd, "broken"), std::nullopt);  // malformed
  EXPECT_EQ(IdInFilesDatabase(passwd, "short"), std::nullopt);
  EXPECT_EQ(IdInFilesDatabase(passwd, "absent"), std::nullopt);
  EXPECT_EQ(IdInFilesDatabase("nogroup:x:65534:\n", "nogroup"), 65534u);
  EXPECT_EQ(IdInFilesDatabase("big:x:99999999999:\n", "big"), std::nullopt);
}

// The unit tests are linked dynamically, so NSS may be asked here: for the
// accounts in /etc/passwd, reading the file gives NSS's answer.
TEST(UserLookup, AgreesWithNss) {
  for (const char* name : {"root", "nobody", "daemon"}) {
    struct passwd pw, *res = nullptr;
    char buf[4096];
    if (getpwnam_r(name, &pw, buf, sizeof buf, &res) != 0 || !res) continue;
    auto uid = LookupUser(name);
    ASSERT_TRUE(uid.ok()) << uid.status().reason();
    EXPECT_EQ(*uid, pw.pw_uid) << name;
  }
  EXPECT_EQ(*LookupUser("1234"), 1234u);
  // Out of range: an error, not a truncated id.
  for (const char* bad : {"4294967295", "4294968296", "99999999999999999999999"}) {
    auto r = LookupUser(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().reason().find("not a valid id"), std::string::npos);
    EXPECT_FALSE(LookupGroup(bad).ok()) << bad;
  }
  // A name with a field separator never matches another user's line.
  EXPECT_FALSE(LookupUser("root:x").ok());
  EXPECT_FALSE(LookupUser("root\n").ok());
  auto missing = LookupUser("no-such-user-rf");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().reason().find("run_as_user 'no-such-user-rf'"), std::string::npos);
  EXPECT_FALSE(LookupGroup("no-such-group-rf").ok());
}

}  // namespace
}  // namespace rf

TEST(PrimaryGidInPasswd, FindsTheEntryByUid) {
  const std::string text = "root:x:0:0::/root:/bin/sh\nme:x:1000:1001::/home/me:/bin/bash\n";
  EXPECT_EQ(rf::PrimaryGidInPasswd(text, 1000), std::optional<unsigned long>(1001));
  EXPECT_EQ(rf::PrimaryGidInPasswd(text, 0), std::optional<unsigned long>(0));
  EXPECT_EQ(rf::PrimaryGidInPasswd(text, 42), std::nullopt);
  EXPECT_EQ(rf::PrimaryGidInPasswd("bad:x:7:notanumber::/:/bin/sh\n", 7), std::nullopt);
}
