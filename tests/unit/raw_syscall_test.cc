#include "common/raw_syscall.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace rf {
namespace {

// Init runs on the supervisor's thread pointer: its system calls must report
// failures in the return value and leave errno (the supervisor's) alone.
TEST(RawSyscall, ReturnsMinusErrnoAndLeavesErrnoAlone) {
  errno = 1234;
  EXPECT_EQ(RawSyscall(SYS_close, -1), -EBADF);
  EXPECT_EQ(RawSyscall(SYS_kill, 0x7fffffff, 0), -ESRCH);
  EXPECT_EQ(RawSyscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/nonexistent/rf"), O_RDONLY),
            -ENOENT);
  EXPECT_EQ(errno, 1234);
  EXPECT_EQ(RawSyscall(SYS_getpid), getpid());
  // Six arguments reach the kernel in order (mmap uses all of them).
  long m =
      RawSyscall(SYS_mmap, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_GT(m, 0);
  static_cast<char*>(reinterpret_cast<void*>(m))[8191] = 1;
  EXPECT_EQ(RawSyscall(SYS_munmap, m, 8192), 0);
  EXPECT_EQ(RawSyscall(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, 12345, 1),
            -EINVAL);
  int fds[2] = {-1, -1};
  ASSERT_EQ(RawSyscall(SYS_pipe2, reinterpret_cast<long>(fds), O_CLOEXEC), 0);
  EXPECT_EQ(RawSyscall(SYS_write, fds[1], reinterpret_cast<long>("rf"), 2), 2);
  char buf[4] = {};
  EXPECT_EQ(RawSyscall(SYS_read, fds[0], reinterpret_cast<long>(buf), sizeof buf), 2);
  EXPECT_STREQ(buf, "rf");
  EXPECT_EQ(fcntl(fds[0], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace rf
