#include <gtest/gtest.h>

#include "proxy/upstream.h"

namespace rf::proxy {
namespace {

TEST(UpstreamProxy, ParsesHttpUrlsOnly) {
  auto up = ParseUpstreamProxyUrl("http://alice:s%40cret@proxy.corp:3128/", "x");
  ASSERT_TRUE(up.ok()) << up.status().reason();
  EXPECT_EQ(up->host, "proxy.corp");
  EXPECT_EQ(up->port, 3128);
  EXPECT_EQ(up->authorization, "Basic YWxpY2U6c0BjcmV0");  // alice:s@cret
  EXPECT_EQ(up->Shown(), "proxy.corp:3128");
  auto v6 = ParseUpstreamProxyUrl("HTTP://[::1]:8080", "x");
  ASSERT_TRUE(v6.ok()) << v6.status().reason();
  EXPECT_EQ(v6->Shown(), "[::1]:8080");
  EXPECT_EQ(v6->authorization, "");
  EXPECT_EQ(ParseUpstreamProxyUrl("http://proxy", "x")->port, 1080);  // curl's default
  for (const char* bad : {"https://p:1", "socks5://p:1", "p:3128", "http://p:0", "http://p:99999",
                          "http://p:1/path", "http://:1", "http://u:%zz@p:1", "http://[p]:1"}) {
    auto r = ParseUpstreamProxyUrl(bad, "HTTPS_PROXY");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().reason().find("HTTPS_PROXY is not an http://"), std::string::npos);
    EXPECT_EQ(r.status().reason().find("zz"), std::string::npos);  // never the URL itself
  }
}

TEST(UpstreamProxy, FromEnvironmentOrOff) {
  std::map<std::string, std::string> env = {{"HTTPS_PROXY", "http://u:p@127.0.0.1:3128"},
                                            {"NO_PROXY", " .corp.test, 10.0.0.0/8 ,Intra.TEST"}};
  auto up = ConfigureUpstreamProxy("from_env", env, "", 1000);
  ASSERT_TRUE(up.ok()) << up.status().reason();
  ASSERT_TRUE(up->has_value());
  EXPECT_EQ((*up)->addrs.size(), 1u);
  EXPECT_EQ((*up)->no_proxy, (std::vector<std::string>{".corp.test", "10.0.0.0/8", "intra.test"}));
  env["https_proxy"] = "http://127.0.0.2:1";  // lower case first, as curl
  EXPECT_EQ((*ConfigureUpstreamProxy("from_env", env, "", 1000))->port, 1);
  EXPECT_FALSE(ConfigureUpstreamProxy("from_env", {}, "", 1000)->has_value());
  EXPECT_FALSE(ConfigureUpstreamProxy("", env, "", 1000)->has_value());
  EXPECT_FALSE(ConfigureUpstreamProxy("from_env", {{"HTTPS_PROXY", "ftp://x"}}, "", 1000).ok());
}

TEST(UpstreamProxy, BypassForLoopbackAndNoProxy) {
  UpstreamProxy up;
  up.no_proxy = {".corp.test", "intra.test", "10.0.0.0/8", "192.0.2.7"};
  auto at = [](const char* ip) { return *ParseIpLiteral(ip); };
  EXPECT_TRUE(BypassesUpstream(up, "anything.test", at("127.0.0.1")));
  EXPECT_TRUE(BypassesUpstream(up, "a.corp.test", at("203.0.113.1")));
  EXPECT_TRUE(BypassesUpstream(up, "corp.test", at("203.0.113.1")));
  EXPECT_TRUE(BypassesUpstream(up, "x.intra.test", at("203.0.113.1")));
  EXPECT_FALSE(BypassesUpstream(up, "xintra.test", at("203.0.113.1")));
  EXPECT_TRUE(BypassesUpstream(up, "db.test", at("10.1.2.3")));
  EXPECT_TRUE(BypassesUpstream(up, "db.test", at("::ffff:10.1.2.3")));
  EXPECT_TRUE(BypassesUpstream(up, "db.test", at("192.0.2.7")));
  EXPECT_FALSE(BypassesUpstream(up, "api.github.com", at("140.82.112.6")));
  up.no_proxy = {"*"};
  EXPECT_TRUE(BypassesUpstream(up, "api.github.com", at("140.82.112.6")));
}

TEST(UpstreamProxy, ConnectRequestNamesTheCheckedAddress) {
  UpstreamProxy up;
  up.authorization = "Basic dTpw";
  EXPECT_EQ(UpstreamConnectRequest(up, *ParseIpLiteral("203.0.113.5"), 443),
            "CONNECT 203.0.113.5:443 HTTP/1.1\r\nHost: 203.0.113.5:443\r\n"
            "Proxy-Authorization: Basic dTpw\r\n\r\n");
  up.authorization.clear();
  EXPECT_EQ(UpstreamConnectRequest(up, *ParseIpLiteral("2001:db8::1"), 80),
            "CONNECT [2001:db8::1]:80 HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n");
  EXPECT_EQ(UpstreamStatus("HTTP/1.1 200 Connection established\r\n\r\n"), 200);
  EXPECT_EQ(UpstreamStatus("HTTP/1.0 407 Proxy Authentication Required\r\n"), 407);
  EXPECT_EQ(UpstreamStatus("SSH-2.0-x\r\n"), -1);
}

}  // namespace
}  // namespace rf::proxy
