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

TEST(RemoteSocketState, TellsBoundListeningAndNeverBound) {
  UniqueFd tcp(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(tcp.valid());
  const int64_t ino = RemoteSocketIno(getpid(), tcp.get());
  ASSERT_GT(ino, 0);
  EXPECT_FALSE(RemoteSocketStateOf(getpid(), static_cast<uint64_t>(ino)).bound);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(tcp.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  // Merely bound: not listed (bind hash only), as the header says.
  RemoteSocketState st = RemoteSocketStateOf(getpid(), static_cast<uint64_t>(ino));
  EXPECT_FALSE(st.listening);
  ASSERT_EQ(listen(tcp.get(), 1), 0);
  st = RemoteSocketStateOf(getpid(), static_cast<uint64_t>(ino));
  EXPECT_TRUE(st.bound);
  EXPECT_TRUE(st.listening);

  UniqueFd unx(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(unx.valid());
  const int64_t uino = RemoteSocketIno(getpid(), unx.get());
  st = RemoteSocketStateOf(getpid(), static_cast<uint64_t>(uino));
  EXPECT_TRUE(st.is_unix);
  EXPECT_FALSE(st.bound);
  EXPECT_EQ(RemoteUnixSocket(getpid(), unx.get()).type, SOCK_SEQPACKET);
  const std::string name = "rf-unit-" + std::to_string(getpid());
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  memcpy(un.sun_path + 1, name.data(), name.size());
  ASSERT_EQ(bind(unx.get(), reinterpret_cast<sockaddr*>(&un),
                 static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())),
            0);
  EXPECT_TRUE(RemoteUnixSocket(getpid(), unx.get()).bound);
  ASSERT_EQ(listen(unx.get(), 1), 0);
  EXPECT_TRUE(RemoteSocketStateOf(getpid(), static_cast<uint64_t>(uino)).listening);

  EXPECT_EQ(RemoteSocketIno(getpid(), 0x7ffffff), -1);
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
