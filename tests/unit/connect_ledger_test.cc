#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

#include "process/caller.h"

namespace rf {
namespace {

sockaddr_storage V4(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  inet_pton(AF_INET, ip, &in->sin_addr);
  return ss;
}

sockaddr_storage V6(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &in6->sin6_addr);
  return ss;
}

CallerIdentity Id(pid_t pid, const char* exe) {
  CallerIdentity id;
  id.pid = pid;
  id.chain = {pid};
  id.exes = {exe};
  return id;
}

TEST(ConnectLedger, TakenOnceByTheClientAddress) {
  ConnectLedger ledger;
  ledger.Record(V4("127.0.0.1", 40000), Id(10, "/usr/bin/curl"));
  CallerIdentity got;
  EXPECT_FALSE(ledger.Take(V4("127.0.0.1", 40001), &got));
  EXPECT_FALSE(ledger.Take(V4("127.0.0.2", 40000), &got));
  ASSERT_TRUE(ledger.Take(V4("127.0.0.1", 40000), &got));
  EXPECT_EQ(got.pid, 10);
  EXPECT_EQ(got.exes.front(), "/usr/bin/curl");
  EXPECT_FALSE(ledger.Take(V4("127.0.0.1", 40000), &got));  // once
}

TEST(ConnectLedger, BothSpellingsOfAnIpv4ClientMeet) {
  ConnectLedger ledger;
  ledger.Record(V4("127.0.0.1", 40000), Id(10, "/usr/bin/curl"));
  CallerIdentity got;
  EXPECT_TRUE(ledger.Take(V6("::ffff:127.0.0.1", 40000), &got));
  ledger.Record(V6("::1", 40000), Id(11, "/usr/bin/git"));
  EXPECT_FALSE(ledger.Take(V4("127.0.0.1", 40000), &got));
  EXPECT_TRUE(ledger.Take(V6("::1", 40000), &got));
  EXPECT_EQ(got.pid, 11);
}

TEST(ConnectLedger, ALaterConnectionFromTheSamePortReplacesTheEntry) {
  ConnectLedger ledger;
  ledger.Record(V4("127.0.0.1", 40000), Id(10, "/usr/bin/curl"));
  ledger.Record(V4("127.0.0.1", 40000), Id(20, "/tmp/evil"));
  CallerIdentity got;
  ASSERT_TRUE(ledger.Take(V4("127.0.0.1", 40000), &got));
  EXPECT_EQ(got.exes.front(), "/tmp/evil");
  EXPECT_EQ(ledger.size(), 0u);
}

TEST(ConnectLedger, DroppedEntriesAreGone) {
  ConnectLedger ledger;
  ledger.Record(V4("127.0.0.1", 40000), Id(10, "/usr/bin/curl"));
  ledger.Drop(V4("127.0.0.1", 40000));
  CallerIdentity got;
  EXPECT_FALSE(ledger.Take(V4("127.0.0.1", 40000), &got));
}

TEST(ConnectLedger, BoundedOldestFirst) {
  ConnectLedger ledger;
  const int n = static_cast<int>(ConnectLedger::kMaxEntries) + 100;
  for (int i = 0; i < n; ++i)
    ledger.Record(V4("127.0.0.1", static_cast<uint16_t>(1000 + i)), Id(i, "/x"));
  EXPECT_EQ(ledger.size(), ConnectLedger::kMaxEntries);
  CallerIdentity got;
  EXPECT_FALSE(ledger.Take(V4("127.0.0.1", 1000), &got));  // the oldest went
  EXPECT_TRUE(ledger.Take(V4("127.0.0.1", static_cast<uint16_t>(1000 + n - 1)), &got));
  // Taking and recording many times over keeps the order list bounded too.
  for (int i = 0; i < 5 * n; ++i) {
    const auto a = V4("127.0.0.2", static_cast<uint16_t>(1000 + i % 3000));
    ledger.Record(a, Id(i, "/y"));
    ASSERT_TRUE(ledger.Take(a, &got));
  }
  EXPECT_LE(ledger.size(), ConnectLedger::kMaxEntries);
}

}  // namespace
}  // namespace rf
