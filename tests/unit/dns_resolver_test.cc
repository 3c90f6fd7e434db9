#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/message.h"
#include "dns/resolver.h"
#include "dns/sandbox_files.h"
#include "dns/synthetic.h"

namespace rf::dns {
namespace {

TEST(DnsMessage, ParsesAQueryAndAnswersIt) {
  auto m = WriteQuery(0x1234, "API.Example.com", kTypeA, true);
  Parsed p = ParseQuery(m);
  ASSERT_TRUE(p.query) << p.error.what;
  EXPECT_EQ(p.query->name, "api.example.com");
  EXPECT_TRUE(p.query->hostname_syntax);
  EXPECT_TRUE(p.query->edns);
  EXPECT_EQ(p.query->qtype, kTypeA);
  in_addr a{};
  inet_pton(AF_INET, "198.18.0.7", &a);
  auto answer = WriteAnswer(*p.query, Rcode::kNoError, a, 60);
  auto v = ReadAnswer(answer);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->id, 0x1234);
  EXPECT_EQ(v->rcode, Rcode::kNoError);
  ASSERT_EQ(v->addresses.size(), 1u);
  EXPECT_EQ(v->addresses[0].s_addr, a.s_addr);
  // The question is echoed with the case it was sent in.
  EXPECT_NE(std::string(answer.begin(), answer.end()).find("API"), std::string::npos);
}

TEST(DnsMessage, RefusesMalformedQueries) {
  auto m = WriteQuery(7, "a.test", kTypeA);
  // A compression pointer in the question.
  auto ptr = m;
  ptr[12] = 0xc0;
  ptr[13] = 0x0c;
  Parsed p = ParseQuery(ptr);
  EXPECT_FALSE(p.query);
  EXPECT_EQ(p.error.kind, ParseError::kFormErr);
  EXPECT_EQ(p.error.id, 7);
  // Truncated anywhere: never a query, never a read past the end.
  for (size_t n = 0; n < m.size(); ++n) {
    Parsed t = ParseQuery(std::span<const uint8_t>(m.data(), n));
    EXPECT_FALSE(t.query) << n;
  }
  // Two questions.
  auto two = m;
  two[5] = 2;
  EXPECT_FALSE(ParseQuery(two).query);
  // A response is dropped, not answered (no reflection loops).
  auto resp = m;
  resp[2] |= 0x80;
  Parsed r = ParseQuery(resp);
  EXPECT_FALSE(r.query);
  EXPECT_EQ(r.error.kind, ParseError::kDrop);
  // A label of 64 bytes is not a label.
  auto longlabel = WriteQuery(1, std::string(64, 'a') + ".test", kTypeA);
  EXPECT_FALSE(ParseQuery(longlabel).query);
  // Trailing bytes.
  auto trailing = m;
  trailing.push_back(0);
  EXPECT_FALSE(ParseQuery(trailing).query);
}

TEST(DnsMessage, NonHostnameBytesNeverMatch) {
  auto m = WriteQuery(1, "a\x01.test", kTypeA);
  Parsed p = ParseQuery(m);
  ASSERT_TRUE(p.query);
  EXPECT_FALSE(p.query->hostname_syntax);
  EXPECT_EQ(Printable(p.query->name), "a\\001.test");
}

Policy TestPolicy() {
  Policy p;
  NetworkPolicy np;
  np.key = np.name = "t";
  Endpoint e1;
  e1.host = "api.allowed.test";
  e1.ports = {443};
  Endpoint e2;
  e2.host = "*.wild.test";
  e2.ports = {443};
  Endpoint e3;
  e3.host = "**.deep.test";
  e3.ports = {443};
  Endpoint hostless;
  hostless.allowed_ips = {"10.0.0.0/8"};
  hostless.ports = {443};
  np.endpoints = {e1, e2, e3, hostless};
  p.network_policies.push_back(np);
  p.network.hosts["static.test"] = "127.0.0.1";
  return p;
}

struct Fixture {
  std::shared_ptr<SyntheticNames> names = std::make_shared<SyntheticNames>();
  AuditSink audit;
  std::unique_ptr<Resolver> r;
  explicit Fixture(WildcardBudget b = {}) {
    auto made = Resolver::Create(TestPolicy(), names, &audit, b);
    EXPECT_TRUE(made.ok());
    r = std::move(made).value();
  }
  AnswerView Ask(const std::string& name, uint16_t type = kTypeA) {
    auto a = r->Answer(WriteQuery(9, name, type), {});
    auto v = ReadAnswer(a);
    EXPECT_TRUE(v);
    return v.value_or(AnswerView{});
  }
};

TEST(DnsResolver, PolicyNamesGetSyntheticAddressesOthersNxdomain) {
  Fixture f;
  auto a = f.Ask("api.allowed.test");
  EXPECT_EQ(a.rcode, Rcode::kNoError);
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_TRUE(SyntheticNames::InRange(a.addresses[0]));
  EXPECT_EQ(f.names->NameFor(a.addresses[0]), "api.allowed.test");
  EXPECT_EQ(f.Ask("API.allowed.test.").addresses.size(), 1u);
  EXPECT_EQ(f.Ask("static.test").addresses.size(), 1u);
  EXPECT_EQ(f.Ask("x.wild.test").addresses.size(), 1u);
  EXPECT_EQ(f.Ask("a.b.deep.test").addresses.size(), 1u);
  // AAAA: no data, not NXDOMAIN (the name exists).
  auto aaaa = f.Ask("api.allowed.test", kTypeAaaa);
  EXPECT_EQ(aaaa.rcode, Rcode::kNoError);
  EXPECT_EQ(aaaa.answers, 0);
  for (const char* other : {"other.test", "wild.test", "a.b.wild.test", "allowed.test", "10.1.2.3",
                            "api.allowed.test.evil"}) {
    EXPECT_EQ(f.Ask(other).rcode, Rcode::kNxDomain) << other;
    EXPECT_EQ(f.Ask(other, kTypeAaaa).rcode, Rcode::kNxDomain) << other;
  }
  EXPECT_EQ(f.r->Classify("other.test"), Resolver::Verdict::kDenied);
  EXPECT_EQ(f.r->Classify("x.wild.test"), Resolver::Verdict::kWildcard);
}

TEST(DnsResolver, WildcardNamesAreBudgeted) {
  WildcardBudget b;
  b.names_per_minute = 5;
  b.shaped_per_minute = 2;
  Fixture f(b);
  // Shaped: a long label under the wildcard.
  const std::string long1 = std::string(41, 'a') + ".wild.test";
  const std::string long2 = std::string(41, 'b') + ".wild.test";
  const std::string long3 = std::string(41, 'c') + ".wild.test";
  EXPECT_EQ(f.Ask(long1).rcode, Rcode::kNoError);
  EXPECT_EQ(f.Ask(long2).rcode, Rcode::kNoError);
  EXPECT_EQ(f.Ask(long3).rcode, Rcode::kRefused);
  // Many labels under a ** wildcard are shaped too.
  EXPECT_EQ(f.Ask("a.b.c.d.e.f.g.deep.test").rcode, Rcode::kRefused);
  // A name answered before stays free.
  EXPECT_EQ(f.Ask(long1).rcode, Rcode::kNoError);
  EXPECT_EQ(f.Ask("n1.wild.test").rcode, Rcode::kNoError);
  EXPECT_EQ(f.Ask("n2.wild.test").rcode, Rcode::kNoError);
  EXPECT_EQ(f.Ask("n3.wild.test").rcode, Rcode::kNoError);
  EXPECT_EQ(f.Ask("n4.wild.test").rcode, Rcode::kRefused);
  // Exact policy names are never budgeted.
  EXPECT_EQ(f.Ask("api.allowed.test").rcode, Rcode::kNoError);
  EXPECT_EQ(f.Ask("n1.wild.test").rcode, Rcode::kNoError);
}

TEST(DnsResolver, MalformedGetsFormerrAndGarbageNothing) {
  Fixture f;
  EXPECT_TRUE(f.r->Answer(std::vector<uint8_t>{1, 2, 3}, {}).empty());
  auto m = WriteQuery(5, "x.test", kTypeA);
  m[12] = 0xc0;
  auto v = ReadAnswer(f.r->Answer(m, {}));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->rcode, Rcode::kFormErr);
  EXPECT_EQ(v->id, 5);
}

TEST(DnsSandboxFiles, PointAtTheSandboxResolverOnly) {
  const std::string conf = SandboxResolvConf();
  EXPECT_NE(conf.find("nameserver 127.0.0.1\n"), std::string::npos);
  EXPECT_EQ(conf.find("nameserver"), conf.rfind("nameserver"));
  EXPECT_EQ(conf.find("search"), std::string::npos);
  const std::string hosts = SandboxHosts();
  EXPECT_EQ(hosts.rfind("127.0.0.1\tlocalhost\n", 0), 0u);
  EXPECT_EQ(hosts.find("198.18."), std::string::npos);
}

}  // namespace
}  // namespace rf::dns
