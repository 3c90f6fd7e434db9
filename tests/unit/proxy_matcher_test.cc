#include <gtest/gtest.h>

#include <chrono>

#include "policy/loader.h"
#include "proxy/matcher.h"
#include "proxy/ssrf.h"

namespace rf::proxy {
namespace {

Policy Load(const std::string& yaml) {
  auto r = LoadPolicyString(yaml, "p.yaml");
  EXPECT_TRUE(r.ok()) << r.status().reason();
  return r.ok() ? *r : Policy{};
}

const char* kPolicy = R"(version: 1
network_policies:
  gh:
    name: github
    endpoints:
      - { host: API.GitHub.com, port: 443 }
      - { host: "*.githubusercontent.com", ports: [443, 8443] }
      - { host: "**.deep.test", port: 80 }
      - { host: local.test, port: 8080, allowed_ips: [127.0.0.1/32] }
    binaries:
      - { path: /usr/bin/git }
      - { path: "/usr/lib/git-core/**" }
  any:
    endpoints:
      - { host: pypi.org, port: 443 }
)";

TEST(ProxyMatcher, ExactHostCaseAndTrailingDot) {
  Matcher m(Load(kPolicy).network_policies);
  EXPECT_FALSE(m.MatchHostPort(NormalizeHost("api.github.com"), 443).endpoints.empty());
  EXPECT_FALSE(m.MatchHostPort(NormalizeHost("API.GITHUB.COM."), 443).endpoints.empty());
  EXPECT_TRUE(m.MatchHostPort(NormalizeHost("xapi.github.com"), 443).endpoints.empty());
  EXPECT_TRUE(m.MatchHostPort(NormalizeHost("github.com"), 443).endpoints.empty());
}

TEST(ProxyMatcher, WildcardWholeLabelsOnly) {
  Matcher m(Load(kPolicy).network_policies);
  EXPECT_FALSE(m.MatchHostPort("raw.githubusercontent.com", 443).endpoints.empty());
  EXPECT_TRUE(m.MatchHostPort("githubusercontent.com", 443).endpoints.empty());
  EXPECT_TRUE(m.MatchHostPort("evilgithubusercontent.com", 443).endpoints.empty());
  EXPECT_TRUE(m.MatchHostPort("a.b.githubusercontent.com", 443).endpoints.empty());
  EXPECT_FALSE(m.MatchHostPort("a.b.deep.test", 80).endpoints.empty());
  EXPECT_FALSE(m.MatchHostPort("a.deep.test", 80).endpoints.empty());
  EXPECT_TRUE(m.MatchHostPort("deep.test", 80).endpoints.empty());
  EXPECT_TRUE(m.MatchHostPort("adeep.test", 80).endpoints.empty());
}

TEST(ProxyMatcher, Ports) {
  Matcher m(Load(kPolicy).network_policies);
  EXPECT_FALSE(m.MatchHostPort("x.githubusercontent.com", 8443).endpoints.empty());
  auto s = m.MatchHostPort("api.github.com", 80);
  EXPECT_TRUE(s.endpoints.empty());
  EXPECT_NE(s.reason.find("port 80"), std::string::npos) << s.reason;
  EXPECT_NE(s.hint.find("github"), std::string::npos) << s.hint;
  auto none = m.MatchHostPort("example.com", 443);
  EXPECT_NE(none.hint.find("host: example.com"), std::string::npos) << none.hint;
}

TEST(ProxyMatcher, Binaries) {
  Matcher m(Load(kPolicy).network_policies);
  auto hp = m.MatchHostPort("api.github.com", 443);
  ASSERT_FALSE(hp.endpoints.empty());
  EXPECT_FALSE(m.AnyBinary(hp.endpoints));
  EXPECT_FALSE(m.MatchBinary(hp.endpoints, {"/usr/bin/git"}, "/usr/bin/git").endpoints.empty());
  EXPECT_FALSE(m.MatchBinary(hp.endpoints, {"/usr/lib/git-core/git-remote-http", "/usr/bin/git"},
                             "/usr/lib/git-core/git-remote-http")
                   .endpoints.empty());
  // Ancestors count: python started by git.
  EXPECT_FALSE(m.MatchBinary(hp.endpoints, {"/usr/bin/python3", "/usr/bin/git"}, "/usr/bin/python3")
                   .endpoints.empty());
  auto denied = m.MatchBinary(hp.endpoints, {"/usr/bin/python3", "/bin/bash"}, "/usr/bin/python3");
  EXPECT_TRUE(denied.endpoints.empty());
  EXPECT_NE(denied.hint.find("/usr/bin/python3"), std::string::npos);
  EXPECT_TRUE(m.MatchBinary(hp.endpoints, {}, "").endpoints.empty());
  auto any = m.MatchHostPort("pypi.org", 443);
  EXPECT_TRUE(m.AnyBinary(any.endpoints));
  EXPECT_FALSE(m.MatchBinary(any.endpoints, {}, "").endpoints.empty());
}

// MatchAddress for host:port and the literal `ip` (the endpoint index, or
// a negative value with *reason and *hint set).
int AddressVerdict(const Matcher& m, const std::string& host, uint16_t port, const char* ip,
                   std::string* reason, std::string* hint, bool host_address = false) {
  auto hp = m.MatchHostPort(host, port);
  EXPECT_FALSE(hp.endpoints.empty()) << host;
  if (hp.endpoints.empty()) return -2;
  return m.MatchAddress(hp.endpoints, host, *ParseIpLiteral(ip), reason, hint, host_address);
}

// AddressVerdict with the reason and hint of the last call kept.
struct AddressVerdicts {
  const Matcher& m;
  std::string reason, hint;
  int operator()(const std::string& host, uint16_t port, const char* ip) {
    return AddressVerdict(m, host, port, ip, &reason, &hint);
  }
};

TEST(ProxyMatcher, SsrfAllowedIps) {
  Matcher m(Load(kPolicy).network_policies);
  std::string reason, hint;
  auto at = [&](const std::string& host, uint16_t port, const char* ip) {
    return AddressVerdict(m, host, port, ip, &reason, &hint);
  };
  EXPECT_GE(at("local.test", 8080, "127.0.0.1"), 0);
  EXPECT_GE(at("local.test", 8080, "::ffff:127.0.0.1"), 0);
  EXPECT_LT(at("local.test", 8080, "127.0.0.2"), 0);
  EXPECT_LT(at("local.test", 8080, "8.8.8.8"), 0);
  EXPECT_GE(at("api.github.com", 443, "140.82.112.6"), 0);
  // An exact host may resolve to a private address (OpenShell); a wildcard
  // needs allowed_ips for it.
  EXPECT_GE(at("api.github.com", 443, "10.0.0.1"), 0);
  EXPECT_GE(at("api.github.com", 443, "fd00::1"), 0);
  EXPECT_LT(at("raw.githubusercontent.com", 443, "10.0.0.1"), 0);
  EXPECT_NE(reason.find("private"), std::string::npos) << reason;
  EXPECT_NE(hint.find("allowed_ips"), std::string::npos) << hint;
  EXPECT_LT(at("api.github.com", 443, "169.254.169.254"), 0);
  EXPECT_NE(reason.find("link-local"), std::string::npos) << reason;
  // Documentation addresses too (OpenShell: all but loopback, link-local and
  // unspecified); loopback still needs allowed_ips.
  EXPECT_GE(at("api.github.com", 443, "203.0.113.9"), 0);
  EXPECT_LT(at("api.github.com", 443, "127.0.0.1"), 0);
  EXPECT_LT(at("raw.githubusercontent.com", 443, "203.0.113.9"), 0);
}

// OpenShell's L4 forms: hostless endpoints, in-label wildcards, allowed_ips
// on patterns, reserved ranges named by allowed_ips; link-local never.
TEST(ProxyMatcher, OpenShellL4Forms) {
  Matcher m(Load(R"(version: 1
network_policies:
  a:
    endpoints:
      - { port: 8443, allowed_ips: [10.0.5.0/24, 198.18.0.0/15] }
      - { host: "*-aiplatform.googleapis.com", port: 443 }
      - { host: "*.corp.test", port: 443, allowed_ips: [10.0.0.0/8, 127.0.0.0/8] }
      - { host: registry.test, port: 443, allowed_ips: [203.0.113.0/24, 169.254.0.0/16] }
)")
                .network_policies);
  AddressVerdicts at{m, "", ""};
  EXPECT_GE(at("anything.example", 8443, "10.0.5.7"), 0);
  EXPECT_GE(at("fake-ip.vpn", 8443, "198.18.3.4"), 0);
  EXPECT_LT(at("anything.example", 8443, "10.0.6.1"), 0);
  EXPECT_LT(at("anything.example", 8443, "140.82.112.6"), 0);
  EXPECT_TRUE(m.MatchHostPort("anything.example", 443).endpoints.empty());
  EXPECT_FALSE(m.MatchHostPort("us-central1-aiplatform.googleapis.com", 443).endpoints.empty());
  EXPECT_TRUE(m.MatchHostPort("aiplatform.googleapis.com", 443).endpoints.empty());
  EXPECT_TRUE(m.MatchHostPort("a.b-aiplatform.googleapis.com", 443).endpoints.empty());
  EXPECT_TRUE(m.MatchHostPort("x-aiplatform.googleapis.com.evil", 443).endpoints.empty());
  EXPECT_GE(at("us-aiplatform.googleapis.com", 443, "142.250.1.1"), 0);
  EXPECT_LT(at("us-aiplatform.googleapis.com", 443, "10.0.0.1"), 0);  // pattern: needs allowed_ips
  EXPECT_GE(at("db.corp.test", 443, "10.1.2.3"), 0);
  EXPECT_LT(at("db.corp.test", 443, "127.0.0.1"), 0);  // loopback: exact hosts only
  EXPECT_GE(at("registry.test", 443, "203.0.113.9"), 0);
  EXPECT_LT(at("registry.test", 443, "169.254.169.254"), 0);
  EXPECT_NE(at.hint.find("no policy can allow a link-local"), std::string::npos) << at.hint;
}

// Found by review: documentation ranges passed as public; an IPv6 CIDR
// granted IPv4-mapped loopback; the host's own addresses passed as public.
TEST(ProxyMatcher, SsrfDocumentationRangesMappedFormsAndHostAddresses) {
  for (const char* doc : {"192.0.2.2", "198.51.100.7", "203.0.113.9", "::ffff:192.0.2.2"})
    EXPECT_EQ(Classify(*ParseIpLiteral(doc)), AddrClass::kReserved) << doc;
  Matcher m(Load(R"(version: 1
network_policies:
  v6:
    endpoints:
      - { host: six.test, port: 443, allowed_ips: ["::/0"] }
  any:
    endpoints:
      - { host: public.test, port: 443 }
)")
                .network_policies);
  std::string reason, hint;
  auto at = [&](const std::string& host, const char* ip, bool host_address = false) {
    return AddressVerdict(m, host, 443, ip, &reason, &hint, host_address);
  };
  EXPECT_GE(at("six.test", "2606:4700::1"), 0);
  EXPECT_LT(at("six.test", "::ffff:127.0.0.1"), 0);
  EXPECT_GE(at("public.test", "140.82.112.6"), 0);
  EXPECT_LT(at("public.test", "140.82.112.6", /*host_address=*/true), 0);
  EXPECT_NE(reason.find("an address of this host"), std::string::npos) << reason;
  // The kernel's answer: loopback is ours, a documentation address is not.
  EXPECT_TRUE(IsHostAddress(*ParseIpLiteral("127.0.0.1")));
  EXPECT_FALSE(IsHostAddress(*ParseIpLiteral("198.51.100.77")));
}

TEST(ProxyMatcher, CostDoesNotGrowWithRules) {
  auto build = [](int n) {
    std::vector<NetworkPolicy> ps(1);
    ps[0].name = "many";
    for (int i = 0; i < n; ++i) {
      Endpoint e;
      e.host = (i % 2 ? "*.w" : "h") + std::to_string(i) + ".example.com";
      e.ports = {443};
      ps[0].endpoints.push_back(e);
    }
    return Matcher(ps);
  };
  auto time = [](const Matcher& m) {
    auto t0 = std::chrono::steady_clock::now();
    size_t hits = 0;
    for (int i = 0; i < 20000; ++i)
      hits += m.MatchHostPort("a.b.miss" + std::to_string(i % 7) + ".example.com", 443)
                  .endpoints.size();
    EXPECT_EQ(hits, 0u);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  Matcher small = build(10), big = build(100000);
  EXPECT_FALSE(big.MatchHostPort("h99998.example.com", 443).endpoints.empty());
  EXPECT_FALSE(big.MatchHostPort("x.w99999.example.com", 443).endpoints.empty());
  double ts = time(small), tb = time(big);
  // A linear scan would be 10,000x slower; allow generous noise.
  EXPECT_LT(tb, ts * 10 + 0.05) << ts << " vs " << tb;
}

}  // namespace
}  // namespace rf::proxy
