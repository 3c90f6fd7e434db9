#include <gtest/gtest.h>

#include <utility>

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

// Feeds `body` to a fresh decoder in pieces of `piece` bytes; returns the
// final state and the bytes the decoder said belong to the body.
std::pair<ChunkDecoder::State, std::string> Chunks(std::string_view body, size_t piece) {
  ChunkDecoder d;
  std::string used;
  ChunkDecoder::State st = ChunkDecoder::State::kMore;
  for (size_t off = 0; off < body.size() && st == ChunkDecoder::State::kMore; off += piece) {
    auto part = body.substr(off, piece);
    auto step = d.Feed(part);
    EXPECT_LE(step.used, part.size());
    used += part.substr(0, step.used);
    st = step.state;
  }
  return {st, used};
}

TEST(ChunkDecoder, ValidBodiesEndExactlyAtTheirEnd) {
  using S = ChunkDecoder::State;
  const std::string ok[] = {
      "0\r\n\r\n",
      "4\r\nabcd\r\n0\r\n\r\n",
      "A;name=value\r\n0123456789\r\n00\r\n\r\n",
      "1f\r\n" + std::string(31, 'x') + "\r\n0\r\nX-Sum: 1\r\nX-Two:\tb\r\n\r\n",
      "3;ext=\"quoted; too\"\r\nabc\r\n0;last\r\n\r\n",
  };
  for (const auto& body : ok) {
    for (size_t piece : {size_t{1}, size_t{2}, size_t{7}, body.size()}) {
      auto [st, used] = Chunks(body + "GET http://smuggled/ HTTP/1.1\r\n\r\n", piece);
      EXPECT_EQ(st, S::kDone) << body << " piece " << piece;
      EXPECT_EQ(used, body) << body << " piece " << piece;  // nothing past the end
    }
  }
  auto [st, used] = Chunks("4\r\nab", 1);
  EXPECT_EQ(st, S::kMore);
  EXPECT_EQ(used, "4\r\nab");
}

TEST(ChunkDecoder, MalformedBodiesAreRefused) {
  const std::string bad[] = {
      "zz\r\nabcd\r\n0\r\n\r\n",                                 // not hex
      "\r\n",                                                    // no size
      "-1\r\n",                                                  // sign
      "0x4\r\nabcd\r\n0\r\n\r\n",                                // prefix
      " 4\r\nabcd\r\n",                                          // leading space
      "4 \r\nabcd\r\n",                                          // trailing space
      "4\nabcd\r\n",                                             // bare LF after size
      "4\rXabcd\r\n",                                            // bare CR
      "4\r\nabcde\r\n0\r\n\r\n",                                 // data longer than the size
      "4\r\nabcd\n0\r\n\r\n",                                    // bare LF after data
      "4\r\nabcd\rX",                                            // bare CR after data
      "11111111111111111\r\n",                                   // 17 hex digits
      "4;a\x01b\r\nabcd\r\n",                                    // CTL in extension
      "0\r\nX: a\r\n b\r\n\r\n",                                 // obs-fold in trailers
      "0\r\nBad Name: x\r\n\r\n",                                // space in field name
      "0\r\n: x\r\n\r\n",                                        // empty field name
      "0\r\nX: a\nY: b\r\n\r\n",                                 // bare LF in trailers
      "0\r\nX: a\x7f\r\n\r\n",                                   // DEL in trailer value
      "0\r\n\rX",                                                // bare CR at the end
      "1;" + std::string(ChunkDecoder::kMaxLine, 'e') + "\r\n",  // long line
      "0\r\nX: " + std::string(ChunkDecoder::kMaxTrailers, 'v') + "\r\n",  // trailers
  };
  for (const auto& body : bad) {
    for (size_t piece : {size_t{1}, size_t{3}, body.size()}) {
      auto [st, used] = Chunks(body, piece);
      EXPECT_EQ(st, ChunkDecoder::State::kError) << "'" << body << "' piece " << piece;
    }
  }
  ChunkDecoder d;
  EXPECT_EQ(d.Feed("zz").state, ChunkDecoder::State::kError);
  EXPECT_FALSE(d.error().empty());
  EXPECT_EQ(d.Feed("0\r\n\r\n").state, ChunkDecoder::State::kError);  // stays refused
}

TEST(ChunkDecoder, LargeSizesDoNotOverflow) {
  ChunkDecoder d;
  auto step = d.Feed("ffffffffffffffff\r\n");  // 16 digits: accepted as a size
  EXPECT_EQ(step.state, ChunkDecoder::State::kMore);
  EXPECT_EQ(d.Feed(std::string(1000, 'x')).used, 1000u);  // still inside the chunk
}

}  // namespace
}  // namespace rf::proxy
