#include <gtest/gtest.h>

#include "proxy/ssrf.h"

namespace rf::proxy {
namespace {

AddrClass C(const std::string& s) {
  auto a = ParseIpLiteral(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a ? Classify(*a) : AddrClass::kReserved;
}

TEST(ProxySsrf, Loopback) {
  EXPECT_EQ(C("127.0.0.1"), AddrClass::kLoopback);
  EXPECT_EQ(C("127.255.1.2"), AddrClass::kLoopback);
  EXPECT_EQ(C("::1"), AddrClass::kLoopback);
}
TEST(ProxySsrf, LinkLocalAndMetadata) {
  EXPECT_EQ(C("169.254.169.254"), AddrClass::kLinkLocal);
  EXPECT_EQ(C("169.254.0.1"), AddrClass::kLinkLocal);
  EXPECT_EQ(C("fe80::1"), AddrClass::kLinkLocal);
  EXPECT_EQ(C("febf::1"), AddrClass::kLinkLocal);
}
TEST(ProxySsrf, Unspecified) {
  EXPECT_EQ(C("0.0.0.0"), AddrClass::kUnspecified);
  EXPECT_EQ(C("0.1.2.3"), AddrClass::kUnspecified);
  EXPECT_EQ(C("::"), AddrClass::kUnspecified);
  EXPECT_TRUE(NeverAllowed(AddrClass::kUnspecified));
}
TEST(ProxySsrf, MulticastAndBroadcast) {
  EXPECT_EQ(C("224.0.0.1"), AddrClass::kMulticast);
  EXPECT_EQ(C("239.255.255.250"), AddrClass::kMulticast);
  EXPECT_EQ(C("ff02::1"), AddrClass::kMulticast);
  EXPECT_EQ(C("255.255.255.255"), AddrClass::kBroadcast);
  EXPECT_TRUE(NeverAllowed(AddrClass::kMulticast));
  EXPECT_TRUE(NeverAllowed(AddrClass::kBroadcast));
}
TEST(ProxySsrf, PrivateRanges) {
  EXPECT_EQ(C("10.1.2.3"), AddrClass::kPrivate);
  EXPECT_EQ(C("172.16.0.1"), AddrClass::kPrivate);
  EXPECT_EQ(C("172.31.255.255"), AddrClass::kPrivate);
  EXPECT_EQ(C("172.32.0.1"), AddrClass::kPublic);
  EXPECT_EQ(C("192.168.1.1"), AddrClass::kPrivate);
  EXPECT_EQ(C("100.64.0.1"), AddrClass::kPrivate);
  EXPECT_EQ(C("100.127.255.255"), AddrClass::kPrivate);
  EXPECT_EQ(C("100.128.0.1"), AddrClass::kPublic);
  EXPECT_EQ(C("fc00::1"), AddrClass::kPrivate);
  EXPECT_EQ(C("fdff:1::1"), AddrClass::kPrivate);
}
TEST(ProxySsrf, Ipv4MappedForms) {
  EXPECT_EQ(C("::ffff:127.0.0.1"), AddrClass::kLoopback);
  EXPECT_EQ(C("::ffff:169.254.169.254"), AddrClass::kLinkLocal);
  EXPECT_EQ(C("::ffff:10.0.0.1"), AddrClass::kPrivate);
  EXPECT_EQ(C("::ffff:0.0.0.0"), AddrClass::kUnspecified);
  EXPECT_EQ(C("::ffff:224.0.0.1"), AddrClass::kMulticast);
  EXPECT_EQ(C("::ffff:255.255.255.255"), AddrClass::kBroadcast);
  EXPECT_EQ(C("::ffff:7f00:1"), AddrClass::kLoopback);
  EXPECT_EQ(C("::ffff:8.8.8.8"), AddrClass::kPublic);
}
TEST(ProxySsrf, Ipv4CompatibleForms) {
  EXPECT_EQ(C("::127.0.0.1"), AddrClass::kLoopback);
  EXPECT_EQ(C("::169.254.169.254"), AddrClass::kLinkLocal);
  EXPECT_EQ(C("::10.0.0.1"), AddrClass::kPrivate);
  EXPECT_EQ(C("::8.8.8.8"), AddrClass::kReserved);  // deprecated form: never allowed
}
TEST(ProxySsrf, Nat64Forms) {
  EXPECT_EQ(C("64:ff9b::127.0.0.1"), AddrClass::kLoopback);
  EXPECT_EQ(C("64:ff9b::a9fe:a9fe"), AddrClass::kLinkLocal);
  EXPECT_EQ(C("64:ff9b::10.0.0.1"), AddrClass::kPrivate);
  EXPECT_EQ(C("64:ff9b::255.255.255.255"), AddrClass::kBroadcast);
  EXPECT_EQ(C("64:ff9b::224.0.0.1"), AddrClass::kMulticast);
  EXPECT_EQ(C("64:ff9b::8.8.8.8"), AddrClass::kPublic);
  EXPECT_EQ(C("64:ff9b:1::1"), AddrClass::kPrivate);
}
TEST(ProxySsrf, SixToFour) {
  EXPECT_EQ(C("2002:7f00:1::"), AddrClass::kLoopback);
  EXPECT_EQ(C("2002:a9fe:a9fe::1"), AddrClass::kLinkLocal);
}
TEST(ProxySsrf, Public) {
  EXPECT_EQ(C("8.8.8.8"), AddrClass::kPublic);
  EXPECT_EQ(C("2606:4700::1111"), AddrClass::kPublic);
}
TEST(ProxySsrf, NonCanonicalLiteralsRefused) {
  for (const char* h :
       {"0x7f.1", "0177.0.0.1", "2130706433", "127.1", "0x7f000001", "127.0.1", "017700000001",
        "127.0.0.01", "1.2.3.4.5", "0x", "a.b.0x10", "::1%lo", "fe80::1%eth0", "1::2::3"}) {
    EXPECT_TRUE(IsNonCanonicalIpLiteral(h)) << h;
  }
  for (const char* h : {"127.0.0.1", "::1", "example.com", "a1.example", "x-1.test", "1a.com"}) {
    EXPECT_FALSE(IsNonCanonicalIpLiteral(h)) << h;
  }
}

}  // namespace
}  // namespace rf::proxy
