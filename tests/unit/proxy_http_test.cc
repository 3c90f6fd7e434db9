#include <gtest/gtest.h>

#include "proxy/http.h"

namespace rf::proxy {
namespace {

ParseResult P(const std::string& s) { return ParseRequestHead(s, 8192); }

TEST(ProxyHttp, Connect) {
  auto r = P("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nEXTRA");
  ASSERT_EQ(r.state, ParseState::kDone) << r.message;
  EXPECT_EQ(r.request.kind, ReqKind::kConnect);
  EXPECT_EQ(r.request.host, "example.com");
  EXPECT_EQ(r.request.port, 443);
  EXPECT_EQ(r.request.head_length, r.request.head_length);
  EXPECT_EQ(std::string("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n").size(),
            r.request.head_length);
  auto v6 = P("CONNECT [::1]:8443 HTTP/1.1\r\n\r\n");
  ASSERT_EQ(v6.state, ParseState::kDone);
  EXPECT_EQ(v6.request.host, "::1");
  EXPECT_EQ(P("CONNECT example.com HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(P("CONNECT example.com:0 HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(P("CONNECT example.com:70000 HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(P("CONNECT ::1:443 HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(P("CONNECT ex%41mple.com:443 HTTP/1.1\r\n\r\n").status, 400);
}

TEST(ProxyHttp, Incomplete) {
  EXPECT_EQ(P("CONNECT example.com:443 HTTP/1.1\r\n").state, ParseState::kIncomplete);
  EXPECT_EQ(P("PR").state, ParseState::kIncomplete);
}

TEST(ProxyHttp, ForwardRewritesHead) {
  auto r =
      P("GET http://Example.com:8080/a/b?x=1 HTTP/1.1\r\nHost: evil.test\r\nUser-Agent: t\r\n"
        "Proxy-Connection: keep-alive\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\n"
        "Keep-Alive: 5\r\nTE: trailers\r\nUpgrade: h2c\r\nProxy-Authorization: Basic x\r\n"
        "Accept: */*\r\n\r\n");
  ASSERT_EQ(r.state, ParseState::kDone) << r.message;
  EXPECT_EQ(r.request.kind, ReqKind::kForward);
  EXPECT_EQ(r.request.host, "Example.com");
  EXPECT_EQ(r.request.port, 8080);
  EXPECT_EQ(r.request.upstream_head,
            "GET /a/b?x=1 HTTP/1.1\r\nHost: Example.com:8080\r\nUser-Agent: t\r\nAccept: */*\r\n"
            "Connection: close\r\n\r\n");
  auto root = P("HEAD http://example.com HTTP/1.0\r\n\r\n");
  ASSERT_EQ(root.state, ParseState::kDone);
  EXPECT_EQ(root.request.port, 80);
  EXPECT_EQ(root.request.upstream_head,
            "HEAD / HTTP/1.0\r\nHost: example.com\r\nConnection: close\r\n\r\n");
}

TEST(ProxyHttp, Bodies) {
  auto cl = P("POST http://a.test/ HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
  ASSERT_EQ(cl.state, ParseState::kDone);
  EXPECT_EQ(cl.request.body_length, 5);
  auto ch = P("POST http://a.test/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_EQ(ch.state, ParseState::kDone);
  EXPECT_EQ(ch.request.body_length, -1);
  EXPECT_NE(ch.request.upstream_head.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_EQ(
      P("POST http://a.test/ HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
          .status,
      400);
  EXPECT_EQ(
      P("POST http://a.test/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").status,
      400);
  EXPECT_EQ(P("POST http://a.test/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n").status, 400);
  EXPECT_EQ(P("POST http://a.test/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").status, 501);
}

TEST(ProxyHttp, Refusals) {
  EXPECT_EQ(P("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);        // origin-form
  EXPECT_EQ(P("OPTIONS * HTTP/1.1\r\n\r\n").status, 400);               // asterisk-form
  EXPECT_EQ(P("GET https://a.test/ HTTP/1.1\r\n\r\n").status, 400);     // use CONNECT
  EXPECT_EQ(P("GET http://u:p@a.test/ HTTP/1.1\r\n\r\n").status, 400);  // userinfo
  EXPECT_EQ(P("BREW http://a.test/ HTTP/1.1\r\n\r\n").status, 405);     // unknown method
  EXPECT_EQ(P("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").status, 400);         // HTTP/2 preface
  EXPECT_EQ(P("GET http://a.test/ HTTP/2.0\r\n\r\n").status, 400);
  EXPECT_EQ(P("GET http://a.test/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n").status, 400);  // folding
  EXPECT_EQ(P("GET http://a.test/ HTTP/1.1\nHost: a\n\n").status, 400);           // bare LF
  EXPECT_EQ(P("GET http://a.test/ HTTP/1.1\r\nBad Name: x\r\n\r\n").status, 400);
  EXPECT_EQ(P("GET  http://a.test/ HTTP/1.1\r\n\r\n").status, 400);
}

TEST(ProxyHttp, HeadLimit) {
  std::string big = "GET http://a.test/ HTTP/1.1\r\nX: " + std::string(9000, 'a');
  EXPECT_EQ(P(big).status, 431);
  std::string exact = "GET http://a.test/ HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n";
  EXPECT_EQ(P(exact).status, 431);
}

TEST(ProxyHttp, HostSyntax) {
  EXPECT_TRUE(ValidHostSyntax("a.example.com"));
  EXPECT_TRUE(ValidHostSyntax("a.example.com."));
  EXPECT_TRUE(ValidHostSyntax("::1"));
  EXPECT_FALSE(ValidHostSyntax("a..b"));
  EXPECT_FALSE(ValidHostSyntax("a b"));
  EXPECT_FALSE(ValidHostSyntax(std::string(64, 'a') + ".com"));
}

}  // namespace
}  // namespace rf::proxy
