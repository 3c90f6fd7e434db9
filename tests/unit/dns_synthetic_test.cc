#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "dns/synthetic.h"

namespace rf::dns {
namespace {

std::string Text(in_addr address) {
  char buffer[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address, buffer, sizeof buffer);
  return buffer;
}

TEST(DnsSynthetic, StableAndReversible) {
  SyntheticNames names;
  auto a = names.AddressFor("api.example.com");
  auto b = names.AddressFor("files.example.com");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(Text(*a), "198.18.0.1");
  EXPECT_EQ(Text(*b), "198.18.0.2");
  EXPECT_EQ(names.AddressFor("api.example.com")->s_addr, a->s_addr);
  EXPECT_EQ(names.NameFor(*a), "api.example.com");
  EXPECT_EQ(names.NameFor(*b), "files.example.com");
  EXPECT_EQ(names.size(), 2u);
}

TEST(DnsSynthetic, UnknownAddressesHaveNoName) {
  SyntheticNames names;
  in_addr other{};
  inet_pton(AF_INET, "198.18.0.7", &other);
  EXPECT_TRUE(SyntheticNames::InRange(other));
  EXPECT_FALSE(names.NameFor(other));
  inet_pton(AF_INET, "198.20.0.1", &other);
  EXPECT_FALSE(SyntheticNames::InRange(other));
  inet_pton(AF_INET, "127.0.0.1", &other);
  EXPECT_FALSE(SyntheticNames::InRange(other));
}

TEST(DnsSynthetic, SkipsNetworkAndBroadcastAndStopsAtCapacity) {
  SyntheticNames names(300);
  std::set<std::string> seen;
  for (int i = 0; i < 300; ++i) {
    auto address = names.AddressFor("h" + std::to_string(i) + ".example");
    ASSERT_TRUE(address);
    const uint32_t last = ntohl(address->s_addr) & 0xffu;
    EXPECT_NE(last, 0u);
    EXPECT_NE(last, 255u);
    EXPECT_TRUE(SyntheticNames::InRange(*address));
    EXPECT_TRUE(seen.insert(Text(*address)).second);
  }
  EXPECT_EQ(Text(*names.AddressFor("h254.example")), "198.18.1.1");
  EXPECT_FALSE(names.AddressFor("one-more.example"));
  EXPECT_TRUE(names.AddressFor("h0.example"));
}

}  // namespace
}  // namespace rf::dns
