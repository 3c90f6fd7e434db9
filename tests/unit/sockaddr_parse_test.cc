#include "net/sockaddr_parse.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <vector>

namespace rf {
namespace {

using Kind = ConnectAddress::Kind;

TEST(SockaddrLength, TheKernelsRules) {
  size_t len = 99;
  EXPECT_EQ(SockaddrLengthError(sizeof(sockaddr_in), &len), 0);
  EXPECT_EQ(len, sizeof(sockaddr_in));
  EXPECT_EQ(SockaddrLengthError(sizeof(sockaddr_storage), &len), 0);
  EXPECT_EQ(SockaddrLengthError(sizeof(sockaddr_storage) + 1, &len), EINVAL);
  EXPECT_EQ(len, 0u);
  EXPECT_EQ(SockaddrLengthError(0, &len), 0);
  EXPECT_EQ(len, 0u);
  // An int: negative values and the upper half of the register.
  EXPECT_EQ(SockaddrLengthError(0xffffffffu, &len), EINVAL);
  EXPECT_EQ(SockaddrLengthError((uint64_t{1} << 32) | sizeof(sockaddr_in), &len), 0);
  EXPECT_EQ(len, sizeof(sockaddr_in));
}

TEST(ConnectAddress, NoFamilyIsInvalid) {
  const unsigned char one = AF_UNIX;
  EXPECT_EQ(ClassifyConnectAddress(&one, 0).err, EINVAL);
  EXPECT_EQ(ClassifyConnectAddress(&one, 1).err, EINVAL);
}

std::vector<unsigned char> Unix(const std::string& path, size_t len) {
  std::vector<unsigned char> b(len, 'X');
  sa_family_t f = AF_UNIX;
  memcpy(b.data(), &f, sizeof f);
  memcpy(b.data() + sizeof f, path.data(), std::min(path.size(), len - sizeof f));
  return b;
}

TEST(ConnectAddress, AbstractNamesStopAtTheLength) {
  const size_t off = offsetof(sockaddr_un, sun_path);
  auto b = Unix(std::string("\0abc", 4), off + 4);
  auto a = ClassifyConnectAddress(b.data(), b.size());
  EXPECT_EQ(a.kind, Kind::kUnixAbstract);
  EXPECT_EQ(a.name, "abc");
  // The longest abstract name sockaddr_un holds.
  b = Unix(std::string(1, '\0'), sizeof(sockaddr_un));
  a = ClassifyConnectAddress(b.data(), b.size());
  EXPECT_EQ(a.kind, Kind::kUnixAbstract);
  EXPECT_EQ(a.name.size(), sizeof(sockaddr_un) - off - 1);
  // One byte more, up to a whole sockaddr_storage: EINVAL, nothing read.
  for (size_t len : {sizeof(sockaddr_un) + 1, sizeof(sockaddr_storage)}) {
    b = Unix(std::string(1, '\0'), len);
    a = ClassifyConnectAddress(b.data(), b.size());
    EXPECT_EQ(a.kind, Kind::kInvalid) << len;
    EXPECT_EQ(a.err, EINVAL);
  }
}

TEST(ConnectAddress, PathsAndUnnamed) {
  const size_t off = offsetof(sockaddr_un, sun_path);
  auto b = Unix(std::string("/run/x.sock\0junk", 16), off + 16);
  auto a = ClassifyConnectAddress(b.data(), b.size());
  EXPECT_EQ(a.kind, Kind::kUnixPath);
  EXPECT_EQ(a.name, "/run/x.sock");
  // Without a NUL the path ends at the length.
  b = Unix("rel", off + 3);
  EXPECT_EQ(ClassifyConnectAddress(b.data(), b.size()).name, "rel");
  b = Unix("", off);
  EXPECT_EQ(ClassifyConnectAddress(b.data(), b.size()).err, EINVAL);
}

TEST(ConnectAddress, InetLengths) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  EXPECT_EQ(ClassifyConnectAddress(&in6, sizeof in6).kind, Kind::kInet);
  EXPECT_EQ(ClassifyConnectAddress(&in6, 24).kind, Kind::kInet);  // without scope id
  EXPECT_EQ(ClassifyConnectAddress(&in6, 23).err, EINVAL);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  EXPECT_EQ(ClassifyConnectAddress(&in, sizeof in).kind, Kind::kInet);
  EXPECT_EQ(ClassifyConnectAddress(&in, sizeof in - 1).err, EINVAL);
  sa_family_t unspec = AF_UNSPEC;
  EXPECT_EQ(ClassifyConnectAddress(&unspec, sizeof unspec).kind, Kind::kOther);
}

}  // namespace
}  // namespace rf
