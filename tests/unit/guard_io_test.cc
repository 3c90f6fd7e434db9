// The connect guard's reading of a caller's address and sockets, on this
// process as the caller.
#include "net/guard_io.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/fd.h"

namespace rf {
namespace {

TEST(ReadSockaddr, AppliesTheKernelsLengthRulesBeforeReading) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  const auto ptr = reinterpret_cast<uint64_t>(&un);
  EXPECT_EQ(ReadSockaddr(getpid(), ptr, sizeof(sockaddr_storage) + 1).err, EINVAL);
  EXPECT_EQ(ReadSockaddr(getpid(), ptr, 0xffffffffu).err, EINVAL);  // -1 as an int
  // The upper half of the register is not part of the int length.
  SockaddrCopy c = ReadSockaddr(getpid(), ptr, (uint64_t{1} << 32) | sizeof un);
  EXPECT_EQ(c.err, 0);
  EXPECT_EQ(c.len, sizeof un);
  EXPECT_EQ(c.addr.ss_family, AF_UNIX);
  EXPECT_EQ(ReadSockaddr(getpid(), 0, 16).err, EFAULT);
  EXPECT_EQ(ReadSockaddr(getpid(), ptr, 0).len, 0u);
}

TEST(RandomAbstractPrefix, FreshForEachSandbox) {
  const std::string a = RandomAbstractPrefix(), b = RandomAbstractPrefix();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 20u);
  EXPECT_EQ(a.rfind("rf-", 0), 0u);
  EXPECT_EQ(a.back(), '/');
}

}  // namespace
}  // namespace rf
