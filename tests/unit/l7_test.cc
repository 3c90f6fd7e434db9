#include <gtest/gtest.h>

#include <string>

#include "l7/glob.h"
#include "l7/message.h"
#include "l7/rules.h"
#include "l7/target.h"
#include "l7/websocket.h"

namespace rf::l7 {
namespace {

TEST(L7Glob, Syntax) {
  EXPECT_TRUE(GlobMatch("/repos/*/pulls", "/repos/a/b/pulls"));  // `*` crosses '/'
  EXPECT_TRUE(GlobMatch("/repos/**", "/repos/"));
  EXPECT_TRUE(GlobMatch("**", ""));
  EXPECT_FALSE(GlobMatch("/repos/*", "/repo"));
  EXPECT_TRUE(GlobMatch("/v?/x", "/v1/x"));
  EXPECT_FALSE(GlobMatch("/v?/x", "/v/x"));
  EXPECT_TRUE(GlobMatch("/v[0-9]/x", "/v7/x"));
  EXPECT_FALSE(GlobMatch("/v[!0]/x", "/v0/x"));
  EXPECT_TRUE(GlobMatch("/v[^0]/x", "/v1/x"));
  EXPECT_TRUE(GlobMatch("[]]", "]"));
  EXPECT_TRUE(GlobMatch("/a\\*b", "/a*b"));
  EXPECT_FALSE(GlobMatch("/a\\*b", "/axb"));
  EXPECT_FALSE(GlobMatch("/A", "/a"));    // paths are case-sensitive
  EXPECT_FALSE(GlobMatch("/a[", "/a["));  // malformed: matches nothing
  EXPECT_FALSE(ValidateGlob("/a[").ok());
  EXPECT_FALSE(ValidateGlob("/a\\").ok());
  EXPECT_FALSE(ValidateGlob("[z-a]").ok());
  EXPECT_TRUE(ValidateGlob("/repos/*/pulls/[0-9]*").ok());
}

TEST(L7Glob, HostileInputIsLinear) {
  std::string text(20000, 'a'), pattern;
  for (int i = 0; i < 200; ++i) pattern += "*a";
  pattern += "b";
  EXPECT_FALSE(GlobMatch(pattern, text));  // returns promptly (no backtracking blow-up)
}

TEST(L7Target, Normalises) {
  auto t = NormalizeTarget("/a/./b/../c//d/?x=1&y=a%20b+c&flag", false);
  ASSERT_TRUE(t.ok()) << t.status().reason();
  EXPECT_EQ(t->path, "/a/c/d/");
  EXPECT_EQ(t->forward, "/a/c/d/?x=1&y=a%20b+c&flag");
  ASSERT_EQ(t->query.size(), 3u);
  EXPECT_EQ(t->query[1].name, "y");
  EXPECT_EQ(t->query[1].value, "a b c");
  EXPECT_EQ(t->query[2].value, "");
  EXPECT_EQ(NormalizeTarget("/%61dmin", false)->path, "/admin");
  EXPECT_EQ(NormalizeTarget("/x/%2e%2e/admin", false)->path, "/admin");
  EXPECT_EQ(NormalizeTarget("/a/..", false)->path, "/");
  EXPECT_EQ(NormalizeTarget("/", false)->path, "/");
  EXPECT_EQ(NormalizeTarget("/a%25b", false)->path, "/a%25b");
  EXPECT_EQ(NormalizeTarget("/a b", false).ok(), false);
  EXPECT_FALSE(NormalizeTarget("/..", false).ok());
  EXPECT_FALSE(NormalizeTarget("/a/%2e%2e/%2e%2e", false).ok());
  EXPECT_FALSE(NormalizeTarget("/a#frag", false).ok());
  EXPECT_FALSE(NormalizeTarget("/a%2", false).ok());
  EXPECT_FALSE(NormalizeTarget("/a%zz", false).ok());
  EXPECT_FALSE(NormalizeTarget("/a%00", false).ok());
  EXPECT_FALSE(NormalizeTarget("/a%5cb", false).ok());
  EXPECT_FALSE(NormalizeTarget("http://h/a", false).ok());
  EXPECT_FALSE(NormalizeTarget("*", false).ok());
  EXPECT_FALSE(NormalizeTarget("/\xc3\xa9", false).ok());
  EXPECT_FALSE(NormalizeTarget("/?a=%zz", false).ok());
}

TEST(L7Target, EncodedSlash) {
  EXPECT_FALSE(NormalizeTarget("/@scope%2Fname", false).ok());
  auto t = NormalizeTarget("/@scope%2fname", true);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/@scope%2Fname");
  EXPECT_EQ(t->forward, "/@scope%2Fname");
  // A literal "%2F" spelled %252F is not an encoded slash.
  EXPECT_EQ(NormalizeTarget("/a%252Fb", false)->path, "/a%252Fb");
  // Re-encoding: what goes upstream is what was checked.
  EXPECT_EQ(NormalizeTarget("/caf%C3%A9/%22x%22", false)->forward, "/caf%C3%A9/%22x%22");
}

EndpointRules RestRules() {
  EndpointRules e;
  e.where = "policy p endpoint 0";
  e.allow.push_back({"GET", "/repos/**", {}});
  e.allow.push_back({"POST", "/search", {{"tag", {"foo-*", "bar-*"}}}});
  e.deny.push_back({"*", "/repos/*/rulesets", {}});
  e.deny.push_back({"GET", "/export", {{"format", {"raw"}}}});
  return e;
}

Target T(const char* s) {
  auto t = NormalizeTarget(s, false);
  EXPECT_TRUE(t.ok()) << s;
  return *t;
}

TEST(L7Rules, AllowDenyAndQuery) {
  EndpointRules e = RestRules();
  ASSERT_TRUE(Validate(e).ok());
  EXPECT_TRUE(Evaluate(e, "GET", T("/repos/a/b")).allowed);
  EXPECT_TRUE(Evaluate(e, "get", T("/repos/a/b")).allowed);
  auto v = Evaluate(e, "POST", T("/repos/a/b"));
  EXPECT_FALSE(v.allowed);
  EXPECT_NE(v.hint.find("method: POST"), std::string::npos);
  v = Evaluate(e, "GET", T("/repos/x/rulesets"));
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rule, "deny_rules[0]");
  EXPECT_TRUE(v.hint.empty());
  // Encoded or dotted spellings reach the same verdict.
  EXPECT_FALSE(Evaluate(e, "GET", T("/repos/x/%72ulesets")).allowed);
  EXPECT_FALSE(Evaluate(e, "GET", T("/repos/x/y/../rulesets")).allowed);
  EXPECT_TRUE(Evaluate(e, "POST", T("/search?tag=foo-1")).allowed);
  EXPECT_TRUE(Evaluate(e, "POST", T("/search?tag=foo-1&tag=bar-2")).allowed);
  EXPECT_FALSE(Evaluate(e, "POST", T("/search?tag=foo-1&tag=evil")).allowed);
  EXPECT_FALSE(Evaluate(e, "POST", T("/search")).allowed);
  EXPECT_FALSE(Evaluate(e, "POST", T("/search?tag=%66oo")).allowed);
  EXPECT_TRUE(Evaluate(e, "POST", T("/search?tag=%66oo-x")).allowed);
  // A deny query matcher fires on any value.
  EXPECT_TRUE(Evaluate(e, "GET", T("/repos/export?format=json")).allowed);
  e.allow.push_back({"GET", "/export", {}});
  EXPECT_TRUE(Evaluate(e, "GET", T("/export?format=json")).allowed);
  EXPECT_FALSE(Evaluate(e, "GET", T("/export?format=json&format=raw")).allowed);
}

TEST(L7Rules, PresetsAndAudit) {
  EndpointRules e;
  e.access = Access::kReadOnly;
  EXPECT_TRUE(Evaluate(e, "HEAD", T("/x")).allowed);
  EXPECT_FALSE(Evaluate(e, "POST", T("/x")).allowed);
  e.access = Access::kReadWrite;
  EXPECT_TRUE(Evaluate(e, "PATCH", T("/x")).allowed);
  EXPECT_FALSE(Evaluate(e, "DELETE", T("/x")).allowed);
  e.access = Access::kFull;
  EXPECT_TRUE(Evaluate(e, "DELETE", T("/x")).allowed);
  e.deny.push_back({"DELETE", "/keep/**", {}});
  EXPECT_FALSE(Evaluate(e, "DELETE", T("/keep/a")).allowed);
  e.audit_only = true;
  auto v = Evaluate(e, "DELETE", T("/keep/a"));
  EXPECT_TRUE(v.allowed);
  EXPECT_TRUE(v.would_deny);
  EndpointRules ws;
  ws.protocol = Protocol::kWebSocket;
  ws.access = Access::kReadOnly;
  EXPECT_TRUE(Evaluate(ws, "GET", T("/ws")).allowed);
  EXPECT_FALSE(Evaluate(ws, kWebSocketText, T("/ws")).allowed);
  ws.access = Access::kReadWrite;
  EXPECT_TRUE(Evaluate(ws, kWebSocketText, T("/ws")).allowed);
}

TEST(L7Rules, Validation) {
  EndpointRules e;
  EXPECT_FALSE(Validate(e).ok());  // neither access nor rules
  e.access = Access::kFull;
  e.allow.push_back({"GET", "/", {}});
  EXPECT_FALSE(Validate(e).ok());  // both
  e.access = Access::kNone;
  e.allow[0].path = "/a[";
  EXPECT_FALSE(Validate(e).ok());
  e.allow[0].path = "/a";
  e.allow[0].method = "GE T";
  EXPECT_FALSE(Validate(e).ok());
  e.allow[0].method = "POST";
  e.protocol = Protocol::kWebSocket;
  EXPECT_FALSE(Validate(e).ok());
  e.allow[0].method = "WEBSOCKET_TEXT";
  EXPECT_TRUE(Validate(e).ok());
}

TEST(L7Message, RequestHeadRebuilt) {
  std::string in =
      "GET /a/../b?q=1 HTTP/1.1\r\nHost: api.test\r\nProxy-Authorization: x\r\n"
      "Connection: keep-alive, Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAA\r\n"
      "Accept: */*\r\n\r\nNEXT";
  auto r = ParseInspectedRequest(in, 8192, false);
  ASSERT_EQ(r.state, proxy::ParseState::kDone) << r.message;
  EXPECT_EQ(r.request.target.path, "/b");
  EXPECT_EQ(r.request.host, "api.test");
  EXPECT_EQ(r.request.head_length, in.size() - 4);
  EXPECT_EQ(r.request.forward_head,
            "GET /b?q=1 HTTP/1.1\r\nHost: api.test\r\nConnection: keep-alive\r\n"
            "Accept: */*\r\n\r\n");
  EXPECT_FALSE(r.request.websocket_upgrade);
}

TEST(L7Message, RequestRefusals) {
  auto St = [](const std::string& s) { return ParseInspectedRequest(s, 8192, false).status; };
  EXPECT_EQ(St("GET / HTTP/1.1\r\n\r\n"), 400);  // no Host
  EXPECT_EQ(St("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  EXPECT_EQ(St("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"), 405);
  EXPECT_EQ(St("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(
      St("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
      400);
  EXPECT_EQ(St("POST / HTTP/1.1\r\nHost: a\r\nConnection: content-length\r\n\r\n"), 400);
  EXPECT_EQ(St("POST / HTTP/1.1\r\nHost: a\r\nExpect: nope\r\n\r\n"), 417);
  EXPECT_EQ(St("GET /%2F HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ParseInspectedRequest("GET / HTTP/1.1\r\nHost: a\r\n", 8192, false).state,
            proxy::ParseState::kIncomplete);
}

TEST(L7Message, WebSocketUpgradeKeepsUpgradeDropsExtensions) {
  std::string in =
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Key: k\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
  auto r = ParseInspectedRequest(in, 8192, false);
  ASSERT_EQ(r.state, proxy::ParseState::kDone);
  EXPECT_TRUE(r.request.websocket_upgrade);
  EXPECT_NE(r.request.forward_head.find("Upgrade: websocket\r\n"), std::string::npos);
  EXPECT_EQ(r.request.forward_head.find("Extensions"), std::string::npos);
  auto resp = ParseResponseHead("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
                                8192, "GET", true);
  ASSERT_EQ(resp.state, proxy::ParseState::kDone);
  EXPECT_TRUE(resp.response.switched);
  EXPECT_EQ(ParseResponseHead("HTTP/1.1 101 Switching\r\n\r\n", 8192, "GET", false).state,
            proxy::ParseState::kError);
}

TEST(L7Message, ResponseLengths) {
  auto L = [](const char* head, const char* method) {
    auto r = ParseResponseHead(head, 8192, method, false);
    EXPECT_EQ(r.state, proxy::ParseState::kDone) << head << r.message;
    return r.response;
  };
  EXPECT_EQ(L("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET").body_length, 5);
  EXPECT_EQ(L("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD").body_length, 0);
  EXPECT_EQ(L("HTTP/1.1 204 No Content\r\n\r\n", "GET").body_length, 0);
  EXPECT_EQ(L("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", "GET").body_length, 0);
  EXPECT_TRUE(L("HTTP/1.1 100 Continue\r\n\r\n", "POST").interim);
  EXPECT_EQ(L("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET").body_length,
            BodyCounter::kChunked);
  auto until_close = L("HTTP/1.1 200 OK\r\n\r\n", "GET");
  EXPECT_EQ(until_close.body_length, BodyCounter::kUntilClose);
  EXPECT_TRUE(until_close.close);
  EXPECT_EQ(L("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "GET").status, 200);
  EXPECT_EQ(ParseResponseHead("HTTP/1.1 2000 OK\r\n\r\n", 8192, "GET", false).state,
            proxy::ParseState::kError);
  EXPECT_EQ(ParseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                              8192, "GET", false)
                .state,
            proxy::ParseState::kError);
}

TEST(L7Message, BodyCounter) {
  BodyCounter fixed(5);
  auto s = fixed.Feed("abc");
  EXPECT_EQ(s.used, 3u);
  EXPECT_FALSE(s.done);
  s = fixed.Feed("deGET");
  EXPECT_EQ(s.used, 2u);
  EXPECT_TRUE(s.done);
  BodyCounter chunked(BodyCounter::kChunked);
  s = chunked.Feed("3\r\nabc\r\n0\r\n\r\nGET");
  EXPECT_TRUE(s.done);
  EXPECT_EQ(s.used, 13u);
  BodyCounter bad(BodyCounter::kChunked);
  EXPECT_TRUE(bad.Feed("zz\r\n").error);
}

std::string ClientFrame(uint8_t b0, const std::string& payload, bool mask = true) {
  std::string f;
  f.push_back(static_cast<char>(b0));
  uint8_t m = mask ? 0x80 : 0;
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(m | payload.size()));
  } else {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  }
  if (mask) f += std::string("\x01\x02\x03\x04", 4);
  return f + payload;
}

TEST(L7WebSocket, ScansFramesAcrossPieces) {
  ClientFrameScanner sc(true);
  std::string stream = ClientFrame(0x81, "hello") + ClientFrame(0x02, std::string(300, 'b')) +
                       ClientFrame(0x80, "end") + ClientFrame(0x89, "p");
  size_t relayed = 0, texts = 0, binaries = 0;
  std::string pending;
  for (char c : stream) {  // byte by byte: headers split everywhere
    pending.push_back(c);
    auto s = sc.Feed(pending);
    ASSERT_FALSE(s.error) << sc.why();
    relayed += s.used;
    texts += s.text_messages;
    binaries += s.binary_messages;
    pending.erase(0, s.used);
  }
  EXPECT_EQ(relayed, stream.size());
  EXPECT_EQ(texts, 1u);
  EXPECT_EQ(binaries, 1u);
}

TEST(L7WebSocket, RefusedTextStopsBeforeItsHeader) {
  ClientFrameScanner sc(false);
  std::string bin = ClientFrame(0x82, "bin");
  std::string stream = bin + ClientFrame(0x81, "secret");
  auto s = sc.Feed(stream);
  EXPECT_TRUE(s.refused);
  EXPECT_EQ(s.used, bin.size());
  EXPECT_TRUE(sc.Feed("x").error);  // nothing more after a refusal
}

TEST(L7WebSocket, ProtocolViolations) {
  EXPECT_TRUE(ClientFrameScanner(true).Feed(ClientFrame(0x81, "x", false)).error);  // unmasked
  EXPECT_TRUE(ClientFrameScanner(true).Feed(ClientFrame(0xC1, "x")).error);  // RSV1 (deflate)
  EXPECT_TRUE(ClientFrameScanner(true).Feed(ClientFrame(0x80, "x")).error);  // stray continuation
  EXPECT_TRUE(ClientFrameScanner(true).Feed(ClientFrame(0x09, "x")).error);  // fragmented ping
  EXPECT_TRUE(ClientFrameScanner(true).Feed(ClientFrame(0x83, "x")).error);  // reserved opcode
  EXPECT_TRUE(ClientFrameScanner(true).Feed(ClientFrame(0x01, "a") + ClientFrame(0x81, "b")).error);
  auto close = CloseFrame(1008, "policy");
  EXPECT_EQ(static_cast<unsigned char>(close[0]), 0x88);
  EXPECT_EQ(close.size(), 2u + 2u + 6u);
}

}  // namespace
}  // namespace rf::l7

namespace rf::l7 {
namespace {

TEST(L7TargetReview, DotsBehindEncodedSlashRefused) {
  EXPECT_FALSE(NormalizeTarget("/pub/..%2F..%2Fadmin", true).ok());
  EXPECT_FALSE(NormalizeTarget("/pub/a%2F.%2Fb", true).ok());
  EXPECT_TRUE(NormalizeTarget("/@scope%2Fname", true).ok());
  // Path parameters are dropped; an encoded ';' is refused.
  EXPECT_EQ(NormalizeTarget("/a;v=1/b", false)->path, "/a/b");
  EXPECT_FALSE(NormalizeTarget("/a%3Bb/c", false).ok());  // servers disagree on it
}

}  // namespace
}  // namespace rf::l7
