#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "net/connect_guard.h"
#include "net/mode.h"
#include "sandbox/plan.h"

namespace rf {
namespace {

sockaddr_in V4(const char* a, uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  inet_pton(AF_INET, a, &in.sin_addr);
  return in;
}

sockaddr_in6 V6(const char* a, uint16_t port) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  inet_pton(AF_INET6, a, &in6.sin6_addr);
  return in6;
}

TEST(ConnectGuard, OnlyTheProxyAddressAndLoopbackPorts) {
  ConnectGuardConfig cfg;
  cfg.proxy_port = 40000;
  cfg.loopback_ports = {5173};
  auto ok4 = V4("127.0.0.1", 40000);
  EXPECT_TRUE(ConnectAllowed(cfg, &ok4, sizeof ok4));
  auto mapped = V6("::ffff:127.0.0.1", 40000);
  EXPECT_TRUE(ConnectAllowed(cfg, &mapped, sizeof mapped));
  // The proxy port anywhere else is not the proxy.
  for (const char* a : {"127.0.0.2", "10.0.0.1", "0.0.0.0", "192.168.1.1"}) {
    auto x = V4(a, 40000);
    EXPECT_FALSE(ConnectAllowed(cfg, &x, sizeof x)) << a;
  }
  auto v6lo = V6("::1", 40000);
  EXPECT_FALSE(ConnectAllowed(cfg, &v6lo, sizeof v6lo));
  // Dev-server ports on either loopback.
  auto dev4 = V4("127.0.0.1", 5173);
  auto dev6 = V6("::1", 5173);
  EXPECT_TRUE(ConnectAllowed(cfg, &dev4, sizeof dev4));
  EXPECT_TRUE(ConnectAllowed(cfg, &dev6, sizeof dev6));
  auto other = V4("127.0.0.1", 22);
  EXPECT_FALSE(ConnectAllowed(cfg, &other, sizeof other));
  // Truncated addresses are refused.
  EXPECT_FALSE(ConnectAllowed(cfg, &ok4, 4));
}

bool Has(const std::vector<std::string>& env, const std::string& kv) {
  return std::find(env.begin(), env.end(), kv) != env.end();
}

TEST(ProxyEnvironment, JavaKeepsTheCallersOptionsAndEndsWithTheProxy) {
  auto env = ProxyEnvironment(3129, {}, "-Xmx1g -Dhttp.proxyHost=elsewhere");
  EXPECT_TRUE(Has(env,
                  "JAVA_TOOL_OPTIONS=-Xmx1g -Dhttp.proxyHost=elsewhere -Dhttp.proxyHost=127.0.0.1 "
                  "-Dhttp.proxyPort=3129 -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=3129 "
                  "-Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1]"));
  auto bare = ProxyEnvironment(3129, {});
  EXPECT_TRUE(Has(bare,
                  "JAVA_TOOL_OPTIONS=-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=3129 "
                  "-Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=3129 "
                  "-Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1]"));
}

TEST(ProxyEnvironment, PointsEveryClientAtTheProxy) {
  auto env = ProxyEnvironment(3129, {});
  EXPECT_TRUE(Has(env, "HTTP_PROXY=http://127.0.0.1:3129"));
  EXPECT_TRUE(Has(env, "https_proxy=http://127.0.0.1:3129"));
  EXPECT_TRUE(Has(env, "ALL_PROXY=http://127.0.0.1:3129"));
  EXPECT_TRUE(Has(env, "NODE_USE_ENV_PROXY=1"));
  EXPECT_TRUE(Has(env, "NO_PROXY=localhost,127.0.0.1,::1"));
}

TEST(ProxyEnvironment, LoopbackHostsAnEndpointNamesAreCarriedByTheProxy) {
  NetworkPolicy p;
  p.endpoints.push_back({});
  p.endpoints.back().host = "127.0.0.1";
  p.endpoints.push_back({});
  p.endpoints.back().host = "LocalHost";
  EXPECT_EQ(LoopbackHostsCarried({p}), (std::vector<std::string>{"localhost", "127.0.0.1"}));
  auto env = ProxyEnvironment(3129, LoopbackHostsCarried({p}));
  EXPECT_TRUE(Has(env, "NO_PROXY=::1"));
  EXPECT_TRUE(Has(env, "no_proxy=::1"));
  p.endpoints.push_back({});
  p.endpoints.back().host = "[::1]";
  env = ProxyEnvironment(3129, LoopbackHostsCarried({p}));
  EXPECT_TRUE(Has(env, "NO_PROXY="));
  // The JVM's own default (127.*) must not come back: an empty list.
  auto java = std::find_if(env.begin(), env.end(), [](const std::string& kv) {
    return kv.rfind("JAVA_TOOL_OPTIONS=", 0) == 0;
  });
  ASSERT_NE(java, env.end());
  EXPECT_TRUE(java->ends_with(" -Dhttp.nonProxyHosts=")) << *java;
  NetworkPolicy other;
  other.endpoints.push_back({});
  other.endpoints.back().host = "api.local";  // a name in network.hosts: never in NO_PROXY
  EXPECT_TRUE(LoopbackHostsCarried({other}).empty());
}

TEST(ChildEnvironment, DropsOursAddsTheProxyAndLetsLaterAdditionsWin) {
  std::vector<std::string> caller = {"PATH=/usr/bin",
                                     "HTTP_PROXY=http://evil:1",
                                     "RINGFENCE_PROXY=x",
                                     "RINGFENCE_SANDBOX=0",
                                     "RINGFENCE_OTHER=1",
                                     "HOME=/root",
                                     "EMPTY=",
                                     "NOEQUALS",
                                     "HTTP_PROXY_EXTRA=keep",
                                     "DUP=1",
                                     "http_proxy=lower",
                                     "DUP=2"};
  std::vector<char*> environ_in;
  for (auto& kv : caller) environ_in.push_back(kv.data());
  environ_in.push_back(nullptr);
  auto env = ChildEnvironment(environ_in.data(), {"HTTP_PROXY=http://127.0.0.1:1", "A=1", "A=2",
                                                  "RINGFENCE_PROXY=http://127.0.0.1:1"});
  auto count = [&](const std::string& name) {
    return std::count_if(env.begin(), env.end(),
                         [&](const std::string& kv) { return kv.substr(0, kv.find('=')) == name; });
  };
  EXPECT_TRUE(Has(env, "PATH=/usr/bin"));
  EXPECT_TRUE(Has(env, "HOME=/root"));
  EXPECT_TRUE(Has(env, "EMPTY="));
  EXPECT_TRUE(Has(env, "NOEQUALS"));
  EXPECT_TRUE(Has(env, "HTTP_PROXY_EXTRA=keep"));
  EXPECT_TRUE(Has(env, "HTTP_PROXY=http://127.0.0.1:1"));
  EXPECT_TRUE(Has(env, "A=2"));
  EXPECT_TRUE(Has(env, "RINGFENCE_PROXY=http://127.0.0.1:1"));
  EXPECT_TRUE(Has(env, "RINGFENCE_SANDBOX=1"));
  EXPECT_FALSE(Has(env, "RINGFENCE_OTHER=1"));
  for (const char* name : {"HTTP_PROXY", "A", "RINGFENCE_PROXY", "RINGFENCE_SANDBOX"})
    EXPECT_EQ(count(name), 1) << name;
  // The caller's own repeats are passed on as they were, in order; names
  // are compared case-sensitively (http_proxy is not HTTP_PROXY).
  EXPECT_TRUE(Has(env, "http_proxy=lower"));
  auto dup1 = std::find(env.begin(), env.end(), "DUP=1");
  auto dup2 = std::find(env.begin(), env.end(), "DUP=2");
  ASSERT_NE(dup1, env.end());
  ASSERT_NE(dup2, env.end());
  EXPECT_LT(dup1, dup2);
  EXPECT_EQ(env.size(), 12u);
}

TEST(ResolveMode, ExplicitModesAreKept) {
  const NamespaceSupport yes{true, true, ""}, no{false, true, "refused"};
  for (NetMode m : {NetMode::kPlatform, NetMode::kNone, NetMode::kHost}) {
    auto d = ResolveMode(m, yes);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->mode, m);
  }
  for (const auto& ns : {yes, no}) {
    auto a = ResolveMode(NetMode::kAuto, ns);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->mode, ns.possible ? NetMode::kNamespace : NetMode::kPlatform);
  }
  auto n = ResolveMode(NetMode::kNamespace, no);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().reason().find("refused"), std::string::npos);
}

}  // namespace
}  // namespace rf
