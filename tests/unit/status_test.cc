#include "common/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "sandbox/command_lookup.h"

namespace rf {
namespace {

TEST(Status, OkHasNoKindNoErrnoNoReason) {
  Status s = Status::Ok();
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kOk);
  EXPECT_EQ(s.err(), 0);
  EXPECT_EQ(s.reason(), "");
}

TEST(Status, KindsAndWithKeepTheKindAndErrno) {
  EXPECT_EQ(Status::NotFound("x").code(), Status::Code::kNotFound);
  EXPECT_EQ(Status::Permission("x").code(), Status::Code::kPermission);
  EXPECT_EQ(Status::Invalid("x").code(), Status::Code::kInvalid);
  EXPECT_EQ(Status::Unavailable("x").code(), Status::Code::kUnavailable);
  EXPECT_EQ(Status::Error("x").code(), Status::Code::kInternal);
  Status s = Status::Errno("open /nowhere", ENOENT).With("loading");
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_EQ(s.reason(), std::string("loading: open /nowhere: ") + strerror(ENOENT));
  EXPECT_EQ(Status::Errno("x", EACCES).code(), Status::Code::kPermission);
  EXPECT_EQ(Status::Errno("x", EBUSY).code(), Status::Code::kUnavailable);
  EXPECT_EQ(Status::Errno("x", EIO).code(), Status::Code::kInternal);
}

// A message part whose conversion clobbers errno, as building a string
// (an allocation) may: Errno must have read errno before.
struct Clobbering {
  operator std::string_view() const {  // NOLINT: implicit on purpose
    errno = EBADF;
    return "part";
  }
};

TEST(Status, ErrnoIsReadBeforeTheMessageIsFormatted) {
  errno = ENOENT;
  Status s = Status::Errno("open ", Clobbering(), " here");
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_EQ(s.reason(), std::string("open part here: ") + strerror(ENOENT));
}

TEST(Status, ReadingTheValueOfAFailedResultAborts) {
  Result<int> r = Status::Invalid("no value here");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalid);
  EXPECT_DEATH((void)r.value(), "the value of a failed result was read: no value here");
}

TEST(CommandLookup, NotFoundAndNotRunnableAreKinds) {
  CommandLookup how;
  auto missing = LookupCommand("rf-no-such-command-anywhere", "/nonexistent", how);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  // A file that exists on PATH but is not executable.
  auto not_exec = LookupCommand("passwd", "/etc", how);
  ASSERT_FALSE(not_exec.ok());
  EXPECT_EQ(not_exec.status().code(), Status::Code::kPermission);
  auto found = LookupCommand("sh", "/bin", how);
  ASSERT_TRUE(found.ok()) << found.status().reason();
  EXPECT_EQ(*found, "/bin/sh");
}

}  // namespace
}  // namespace rf
