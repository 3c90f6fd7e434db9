// The proxy's decision without sockets: host, port, caller and addresses in,
// a verdict out (src/proxy/decision.h).
#include <gtest/gtest.h>

#include "policy/loader.h"
#include "proxy/decision.h"
#include "proxy/epoll_tag.h"
#include "proxy/shared.h"

namespace rf::proxy {
namespace {

const char* kPolicy = R"(version: 1
network_policies:
  gh:
    name: github
    endpoints:
      - { host: api.github.com, port: 443 }
    binaries:
      - { path: /usr/bin/git }
  any:
    endpoints:
      - { host: pypi.org, port: 443 }
      - { host: "*.cdn.test", port: 443 }
      - { host: owned.test, port: 443, allowed_ips: [140.82.112.0/24] }
  local:
    endpoints:
      - { host: local.test, port: 8080, allowed_ips: [127.0.0.1/32] }
      - { host: localhost, port: 5173, allowed_ips: [127.0.0.1/32, "::1/128"] }
      - { host: nolocal.test, port: 8080 }
)";

Matcher Compile() {
  auto p = LoadPolicyString(kPolicy, "p.yaml");
  EXPECT_TRUE(p.ok()) << p.status().reason();
  return Matcher(p.ok() ? p->network_policies : std::vector<NetworkPolicy>{});
}

Caller Bin(const std::string& exe) { return Caller{true, {exe}, exe}; }

Address At(const char* ip, bool host_address = false) {
  return Address{*ParseIpLiteral(ip), host_address};
}

Verdict Decided(const Matcher& m, const std::string& host, uint16_t port, Caller caller,
                std::vector<Address> addrs, bool sandbox_only = false) {
  return Decide(m, DecisionInput{host, port, std::move(caller), sandbox_only, std::move(addrs)});
}

TEST(ProxyDecision, Allowed) {
  Matcher m = Compile();
  Verdict v = Decided(m, "pypi.org", 443, Bin("/usr/bin/pip"), {At("151.101.0.223")});
  EXPECT_TRUE(v.allowed()) << v.reason;
  EXPECT_EQ(v.policy, "any");
  EXPECT_FALSE(v.endpoints.empty());
  EXPECT_TRUE(v.reason.empty());
  // An unknown caller is fine where no rule names binaries.
  EXPECT_TRUE(Decided(m, "pypi.org", 443, Caller{}, {At("151.101.0.223")}).allowed());
}

TEST(ProxyDecision, DeniedByHost) {
  Matcher m = Compile();
  Verdict v = Decided(m, "example.com", 443, Bin("/usr/bin/curl"), {At("93.184.216.34")});
  EXPECT_FALSE(v.allowed());
  EXPECT_NE(v.reason.find("no network policy allows host example.com"), std::string::npos)
      << v.reason;
  EXPECT_NE(v.hint.find("host: example.com"), std::string::npos) << v.hint;
  EXPECT_EQ(v.policy, "");
  EXPECT_TRUE(v.address.empty());
  EXPECT_TRUE(v.endpoints.empty());
}

TEST(ProxyDecision, DeniedByPort) {
  Matcher m = Compile();
  Verdict v = Decided(m, "pypi.org", 80, Bin("/usr/bin/pip"), {At("151.101.0.223")});
  EXPECT_FALSE(v.allowed());
  EXPECT_NE(v.reason.find("port 80"), std::string::npos) << v.reason;
}

TEST(ProxyDecision, DeniedByBinary) {
  Matcher m = Compile();
  Verdict v = Decided(m, "api.github.com", 443, Bin("/usr/bin/python3"), {At("140.82.112.6")});
  EXPECT_FALSE(v.allowed());
  EXPECT_EQ(v.policy, "github");  // the entry that would have allowed the host
  EXPECT_NE(v.hint.find("/usr/bin/python3"), std::string::npos) << v.hint;
  EXPECT_FALSE(Decided(m, "api.github.com", 443, Caller{}, {At("140.82.112.6")}).allowed());
  EXPECT_TRUE(
      Decided(m, "api.github.com", 443, Bin("/usr/bin/git"), {At("140.82.112.6")}).allowed());
  // An ancestor counts: a helper started by git.
  Caller helper{true,
                {"/usr/lib/git-core/git-remote-https", "/usr/bin/git"},
                "/usr/lib/git-core/git-remote-https"};
  EXPECT_TRUE(Decided(m, "api.github.com", 443, helper, {At("140.82.112.6")}).allowed());
}

TEST(ProxyDecision, SsrfRefusedAddresses) {
  Matcher m = Compile();
  const Caller pip = Bin("/usr/bin/pip");
  for (const char* bad : {"127.0.0.1", "::1", "169.254.169.254", "0.0.0.0", "224.0.0.1",
                          "::ffff:127.0.0.1", "64:ff9b::7f00:1"}) {
    Verdict v = Decided(m, "pypi.org", 443, pip, {At(bad)});
    EXPECT_FALSE(v.allowed()) << bad;
    EXPECT_EQ(v.address, ParseIpLiteral(bad)->ToString()) << bad;
    EXPECT_EQ(v.policy, "any") << bad;
  }
  // A pattern reaches public addresses only; an exact host private ones too.
  EXPECT_FALSE(Decided(m, "a.cdn.test", 443, pip, {At("10.0.0.5")}).allowed());
  EXPECT_TRUE(Decided(m, "a.cdn.test", 443, pip, {At("151.101.0.223")}).allowed());
  EXPECT_TRUE(Decided(m, "pypi.org", 443, pip, {At("10.0.0.5")}).allowed());
  // Every address must pass: the refusal names the first that does not.
  Verdict mixed = Decided(m, "pypi.org", 443, pip, {At("151.101.0.223"), At("169.254.169.254")});
  EXPECT_FALSE(mixed.allowed());
  EXPECT_EQ(mixed.address, "169.254.169.254");
  EXPECT_NE(mixed.reason.find("link-local"), std::string::npos) << mixed.reason;
}

TEST(ProxyDecision, HostsOwnAddresses) {
  Matcher m = Compile();
  const Caller pip = Bin("/usr/bin/pip");
  // One of this host's addresses reaches its services: refused unless an
  // exact host's allowed_ips names it.
  Verdict v = Decided(m, "pypi.org", 443, pip, {At("140.82.112.6", true)});
  EXPECT_FALSE(v.allowed());
  EXPECT_NE(v.reason.find("an address of this host"), std::string::npos) << v.reason;
  EXPECT_TRUE(Decided(m, "owned.test", 443, pip, {At("140.82.112.6", true)}).allowed());
}

TEST(ProxyDecision, LoopbackEndpointsWithAllowedIps) {
  Matcher m = Compile();
  const Caller node = Bin("/usr/bin/node");
  EXPECT_TRUE(Decided(m, "local.test", 8080, node, {At("127.0.0.1")}).allowed());
  EXPECT_FALSE(Decided(m, "local.test", 8080, node, {At("127.0.0.2")}).allowed());
  EXPECT_FALSE(Decided(m, "local.test", 8080, node, {At("151.101.0.223")}).allowed());
  EXPECT_TRUE(Decided(m, "localhost", 5173, node, {At("127.0.0.1"), At("::1")}).allowed());
  // Without allowed_ips an exact host does not reach loopback.
  Verdict v = Decided(m, "nolocal.test", 8080, node, {At("127.0.0.1")});
  EXPECT_FALSE(v.allowed());
  EXPECT_NE(v.hint.find("allowed_ips"), std::string::npos) << v.hint;
}

TEST(ProxyDecision, SandboxOnlyAndNonCanonicalLiterals) {
  Matcher m = Compile();
  Caller stranger = Bin("/usr/bin/pip");
  stranger.attributed = false;
  Verdict v = Decided(m, "pypi.org", 443, stranger, {At("151.101.0.223")}, /*sandbox_only=*/true);
  EXPECT_FALSE(v.allowed());
  EXPECT_NE(v.reason.find("not made by the sandboxed command"), std::string::npos) << v.reason;
  EXPECT_TRUE(Decided(m, "pypi.org", 443, stranger, {At("151.101.0.223")}).allowed());
  EXPECT_TRUE(
      Decided(m, "pypi.org", 443, Bin("/usr/bin/pip"), {At("151.101.0.223")}, true).allowed());
  for (const char* literal : {"0x7f.1", "2130706433", "0177.0.0.1"}) {
    Verdict lit = Decided(m, literal, 443, Bin("/usr/bin/curl"), {});
    EXPECT_FALSE(lit.allowed()) << literal;
    EXPECT_NE(lit.reason.find("non-canonical"), std::string::npos) << lit.reason;
    EXPECT_FALSE(CallerMatters(m, literal, 443)) << literal;
  }
}

TEST(ProxyDecision, StagesAndWhenTheCallerMatters) {
  Matcher m = Compile();
  EXPECT_TRUE(CallerMatters(m, "api.github.com", 443));  // a binary rule
  EXPECT_FALSE(CallerMatters(m, "pypi.org", 443));       // any binary
  EXPECT_TRUE(CallerMatters(m, "example.com", 443));     // the refusal names it
  // Stage 1 alone allows; the addresses decide after the lookup.
  Verdict t = DecideTarget(m, "pypi.org", 443, Bin("/usr/bin/pip"), false);
  ASSERT_TRUE(t.allowed());
  EXPECT_TRUE(DecideAddresses(m, t, "pypi.org", {At("151.101.0.223")}).allowed());
  EXPECT_FALSE(DecideAddresses(m, t, "pypi.org", {At("127.0.0.1")}).allowed());
  // A refused target stays refused whatever the addresses.
  Verdict no = DecideTarget(m, "example.com", 443, Bin("/usr/bin/pip"), false);
  EXPECT_FALSE(DecideAddresses(m, no, "example.com", {At("151.101.0.223")}).allowed());
}

TEST(ProxyEpollTag, RoundTrips) {
  for (uint64_t id : {uint64_t{1}, uint64_t{42}, (uint64_t{1} << 61) + 3}) {
    EpollTag c = EpollTag::FromData(EpollTag::Client(id).data());
    EXPECT_EQ(c.kind(), EpollTag::Kind::kClient);
    EXPECT_EQ(c.conn(), id);
    EpollTag u = EpollTag::FromData(EpollTag::Upstream(id).data());
    EXPECT_EQ(u.kind(), EpollTag::Kind::kUpstream);
    EXPECT_EQ(u.conn(), id);
    EXPECT_NE(c.data(), u.data());
  }
  EXPECT_EQ(EpollTag::FromData(EpollTag::Listener().data()).kind(), EpollTag::Kind::kListener);
  EXPECT_EQ(EpollTag::FromData(EpollTag::Wake().data()).kind(), EpollTag::Kind::kWake);
  for (int fd : {0, 3, 1 << 20}) {
    EpollTag r = EpollTag::FromData(EpollTag::Resolver(fd).data());
    EXPECT_EQ(r.kind(), EpollTag::Kind::kResolver);
    EXPECT_EQ(r.fd(), fd);
  }
  // Words no tag produces are ignored, never taken for a connection.
  EXPECT_EQ(EpollTag::FromData(2).kind(), EpollTag::Kind::kUnknown);
  EXPECT_EQ(EpollTag::FromData(0x3f << 2 | 3).kind(), EpollTag::Kind::kUnknown);
  EXPECT_EQ(EpollTag::FromData(3).kind(), EpollTag::Kind::kUnknown);
  // The layout is the documented one (epoll_tag.h).
  static_assert(EpollTag::Client(5).data() == (5 << 2 | 0));
  static_assert(EpollTag::Upstream(5).data() == (5 << 2 | 1));
  static_assert(EpollTag::Listener().data() == (1 << 2 | 3));
  static_assert(EpollTag::Resolver(7).data() == (uint64_t{7} << 8 | 3 << 2 | 3));
}

}  // namespace
}  // namespace rf::proxy

namespace rf::proxy {
namespace {

// The summary's map is keyed by what the sandbox chooses (host names,
// request paths): bounded, with the rest counted on one line.
TEST(ProxyShared, DenialSummaryIsBounded) {
  Proxy::Shared s(ProxyConfig{}, Policy{});
  for (size_t i = 0; i < Proxy::Shared::kMaxDenialKeys + 500; ++i)
    s.CountDenial("GET a.test:443/p" + std::to_string(i), "/usr/bin/curl");
  s.CountDenial("GET a.test:443/p0", "/usr/bin/curl");  // a known key still counts as itself
  EXPECT_EQ(s.denials.size(), Proxy::Shared::kMaxDenialKeys + 1);
  auto other = s.denials.find({"(further destinations and requests)", "-"});
  ASSERT_NE(other, s.denials.end());
  EXPECT_EQ(other->second, 500u);
  EXPECT_EQ((s.denials[{"GET a.test:443/p0", "/usr/bin/curl"}]), 2u);
}

}  // namespace
}  // namespace rf::proxy
