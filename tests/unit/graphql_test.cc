#include "l7/graphql.h"

#include <gtest/gtest.h>

#include "l7/inspector.h"

namespace rf::l7 {
namespace {

graphql::Operation Op(std::string_view doc, std::string_view name = "") {
  auto r = graphql::ClassifyDocument(doc, name);
  EXPECT_TRUE(r.ok()) << doc << ": " << (r.ok() ? "" : r.status().reason());
  return r.ok() ? *r : graphql::Operation{};
}

std::string Error(std::string_view doc, std::string_view name = "") {
  auto r = graphql::ClassifyDocument(doc, name);
  EXPECT_FALSE(r.ok()) << doc;
  return r.ok() ? "" : r.status().reason();
}

using Fields = std::vector<std::string>;

TEST(Graphql, RootFieldsByRealNameThroughFragments) {
  EXPECT_EQ(Op("{ viewer }").type, "query");
  EXPECT_EQ(Op("mutation { q: deleteRepository(name: \"x\") }").fields, Fields{"deleteRepository"});
  EXPECT_EQ(Op("mutation M { ...F } fragment F on Mutation { a ... on Mutation { b } ...G } "
               "fragment G on Mutation { c { nested } }")
                .fields,
            (Fields{"a", "b", "c"}));
  EXPECT_EQ(Op("query { a { b c } d }").fields, (Fields{"a", "d"}));
  EXPECT_EQ(Op("# mutation { x }\n{ viewer # , secret\n }").fields, Fields{"viewer"});
  EXPECT_EQ(
      Op("query($v: [Int!]! = [1, 2], $o: In = {a: {b: [\"s\"]}}) @d(x: 1) "
         "{ a(x: $v, y: {z: [1.5e3, -0, ENUM, null, true]}, s: \"\"\"blo\"ck\"\"\") @skip(if: "
         "false) }")
          .fields,
      Fields{"a"});
  EXPECT_EQ(Op("{ __typename __schema { types { name } } }").fields,
            (Fields{"__schema", "__typename"}));
}

TEST(Graphql, OperationSelection) {
  EXPECT_EQ(Op("query A { a } mutation B { b }", "B").type, "mutation");
  EXPECT_EQ(Op("query A { a } mutation B { b }", "A").fields, Fields{"a"});
  EXPECT_NE(Error("query A { a } mutation B { b }").find("several operations"), std::string::npos);
  EXPECT_NE(Error("query A { a }", "B").find("not in the document"), std::string::npos);
  EXPECT_NE(Error("{ a } mutation B { b }", "B").find("anonymous"), std::string::npos);
  EXPECT_NE(Error("query A { a } mutation A { b }", "A").find("twice"), std::string::npos);
}

TEST(Graphql, RefusesWhatAServerWouldNotRun) {
  EXPECT_NE(
      Error("mutation { ...F } fragment F on M { a ...G } fragment G on M { ...F }").find("cycle"),
      std::string::npos);
  EXPECT_NE(Error("mutation { ...F } fragment F on M { ...F }").find("cycle"), std::string::npos);
  EXPECT_NE(Error("{ ...Missing }").find("unknown fragment"), std::string::npos);
  EXPECT_NE(Error("fragment F on M { a } fragment F on M { b } { ...F }").find("twice"),
            std::string::npos);
  Error("type Query { a: String }");
  Error("");
  Error("{ }");
  Error("{ a(x: 01) }");
  Error("{ a(x: \"unterminated) }");
  Error("{ a(x: \"line\nbreak\") }");
  Error("{ a(x: 1, x: 2) }");
  Error("{ a }}");
  Error("query ($v: Int = $w) { a }");
  std::string deep(200, '{');
  Error("{ a(x: " + std::string(200, '[') + std::string(200, ']') + ") }");
  Error(deep + "a" + std::string(200, '}'));
  graphql::Limits small;
  small.max_tokens = 10;
  EXPECT_FALSE(graphql::ClassifyDocument("{ a b c d e f g h i j k }", "", small).ok());
}

Target T(std::string_view t) {
  auto r = NormalizeTarget(t, false);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : Target{};
}

const char kJsonHead[] =
    "POST /graphql HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n\r\n";

TEST(Graphql, HttpEnvelopes) {
  auto r = graphql::ClassifyHttp("GET", T("/graphql?query=mutation%7Bx%7D"), "", "");
  ASSERT_EQ(r.operations.size(), 1u) << r.error;
  EXPECT_EQ(r.operations[0].type, "mutation");
  EXPECT_FALSE(graphql::ClassifyHttp("GET", T("/g?query=%7Ba%7D&query=mutation%7Bx%7D"), "", "")
                   .error.empty());
  r = graphql::ClassifyHttp("POST", T("/graphql"), kJsonHead,
                            R"([{"query":"{a}"},{"query":"mutation{b}"}])");
  ASSERT_EQ(r.operations.size(), 2u) << r.error;
  // Duplicate members, URL parameters on a POST, unknown media types and
  // encoded bodies are not judged at all.
  EXPECT_FALSE(graphql::ClassifyHttp("POST", T("/graphql"), kJsonHead,
                                     R"({"query":"{a}","query":"mutation{b}"})")
                   .error.empty());
  EXPECT_FALSE(graphql::ClassifyHttp("POST", T("/graphql?query=%7Ba%7D"), kJsonHead,
                                     R"({"query":"mutation{b}"})")
                   .error.empty());
  EXPECT_FALSE(graphql::ClassifyHttp("POST", T("/graphql"),
                                     "POST / HTTP/1.1\r\nContent-Type: text/plain\r\n\r\n",
                                     R"({"query":"{a}"})")
                   .error.empty());
  EXPECT_FALSE(graphql::ClassifyHttp("POST", T("/graphql"),
                                     "POST / HTTP/1.1\r\nContent-Type: application/json\r\n"
                                     "Content-Encoding: gzip\r\n\r\n",
                                     R"({"query":"{a}"})")
                   .error.empty());
  r = graphql::ClassifyHttp("POST", T("/graphql"), kJsonHead,
                            R"({"extensions":{"persistedQuery":{"sha256Hash":"abc"}}})");
  ASSERT_EQ(r.operations.size(), 1u) << r.error;
  EXPECT_TRUE(r.operations[0].persisted);
  EXPECT_EQ(r.operations[0].type, "");
  EXPECT_EQ(r.operations[0].persisted_key, "abc");
}

EndpointRules ReadWriteDenyDelete() {
  EndpointRules e;
  e.protocol = Protocol::kGraphql;
  e.access = Access::kReadWrite;
  e.graphql_deny.push_back({"mutation", "", {"delete*"}, 0});
  return e;
}

graphql::Request Req(std::string_view doc) {
  graphql::Request r;
  auto op = graphql::ClassifyDocument(doc, "");
  if (op.ok())
    r.operations.push_back(*op);
  else
    r.error = op.status().reason();
  return r;
}

TEST(Graphql, Evaluate) {
  EndpointRules e = ReadWriteDenyDelete();
  EXPECT_TRUE(graphql::Evaluate(e, Req("{ a }")).allowed);
  EXPECT_TRUE(graphql::Evaluate(e, Req("mutation { create }")).allowed);
  EXPECT_FALSE(graphql::Evaluate(e, Req("mutation { x: deleteRepo }")).allowed);
  EXPECT_FALSE(graphql::Evaluate(e, Req("subscription { s }")).allowed);
  EXPECT_FALSE(graphql::Evaluate(e, Req("{ ")).allowed);
  e.audit_only = true;
  auto v = graphql::Evaluate(e, Req("mutation { deleteRepo }"));
  EXPECT_TRUE(v.allowed && v.would_deny);
  EXPECT_FALSE(graphql::Evaluate(e, Req("{ ")).allowed);  // unreadable: refused even in audit

  EndpointRules f;
  f.protocol = Protocol::kGraphql;
  f.graphql_allow.push_back({"query", "", {"viewer"}, 0});
  f.graphql_allow.push_back({"mutation", "Issue*", {"createIssue"}, 1});
  EXPECT_TRUE(graphql::Evaluate(f, Req("{ viewer }")).allowed);
  EXPECT_FALSE(graphql::Evaluate(f, Req("{ viewer secret }")).allowed);
  EXPECT_FALSE(graphql::Evaluate(f, Req("{ viewer: secret }")).allowed);
  EXPECT_TRUE(graphql::Evaluate(f, Req("mutation IssueNew { createIssue }")).allowed);
  EXPECT_FALSE(graphql::Evaluate(f, Req("mutation Other { createIssue }")).allowed);

  graphql::Request hashed;
  hashed.operations.push_back({"", "", {}, true, "h1"});
  EXPECT_FALSE(graphql::Evaluate(f, hashed).allowed);
  f.persisted_allow_registered = true;
  f.persisted.push_back({"h1", {"query", "", {"viewer"}, 0}});
  EXPECT_TRUE(graphql::Evaluate(f, hashed).allowed);
  hashed.operations[0].persisted_key = "h2";
  EXPECT_FALSE(graphql::Evaluate(f, hashed).allowed);
}

InspectorConfig GqlConfig() {
  InspectorConfig c;
  c.host = "a";
  c.port = 80;
  InspectedEndpoint e;
  e.path = "/graphql";
  e.rules = ReadWriteDenyDelete();
  e.rules.graphql_max_body = 200;
  e.label = "policy p endpoint 0";
  e.policy = "p";
  c.endpoints.push_back(e);
  return c;
}

std::string Post(std::string_view body, bool close = false) {
  return "POST /graphql HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n" +
         std::string(close ? "Connection: close\r\n" : "") +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

TEST(Graphql, InspectorHoldsTheBodyThenDecides) {
  Inspector in(GqlConfig());
  InspectorOutput out;
  std::string req = Post(R"({"query":"mutation { deleteRepo }"})") + Post(R"({"query":"{ a }"})");
  // Piecewise: nothing is decided (or relayed) before the body is whole.
  in.FromClient(req.substr(0, 90), &out);
  EXPECT_TRUE(out.to_upstream.empty());
  EXPECT_TRUE(out.events.empty());
  in.FromClient(req.substr(90), &out);
  ASSERT_EQ(out.events.size(), 2u) << out.events[0].reason << " / " << out.to_client;
  EXPECT_FALSE(out.events[0].allowed);
  EXPECT_TRUE(out.events[1].allowed);
  EXPECT_EQ(out.to_upstream, Post(R"({"query":"{ a }"})"));
  EXPECT_NE(out.to_client.find("HTTP/1.1 403"), std::string::npos);
  EXPECT_NE(out.to_client.find("\"errors\""), std::string::npos);
  EXPECT_FALSE(out.close);

  Inspector closing(GqlConfig());
  InspectorOutput o2;
  closing.FromClient(Post(R"({"query":"mutation { deleteRepo }"})", true), &o2);
  EXPECT_TRUE(o2.close);
  EXPECT_NE(o2.to_client.find("HTTP/1.1 403"), std::string::npos);

  Inspector big(GqlConfig());
  InspectorOutput o3;
  big.FromClient(Post(std::string(300, ' ')), &o3);
  EXPECT_NE(o3.to_client.find("HTTP/1.1 413"), std::string::npos);
  EXPECT_TRUE(o3.to_upstream.empty());
}

}  // namespace
}  // namespace rf::l7

namespace rf::l7 {
namespace {

std::string MaskedText(std::string_view payload) {
  std::string f;
  f.push_back(static_cast<char>(0x81));
  f.push_back(static_cast<char>(0x80 | payload.size()));  // short messages only
  const char key[4] = {1, 2, 3, 4};
  f.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    f.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
  return f;
}

TEST(Graphql, WebSocketMessagesJudgedWhole) {
  InspectorConfig c;
  c.host = "a";
  c.port = 80;
  InspectedEndpoint e;
  e.rules.protocol = Protocol::kWebSocket;
  e.rules.allow.push_back({"GET", "/graphql", {}});
  e.rules.graphql_allow.push_back({"query", "", {"viewer"}, 1});
  e.label = "policy p endpoint 0";
  c.endpoints.push_back(e);
  Inspector in(c);
  InspectorOutput out;
  in.FromClient(
      "GET /graphql HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      &out);
  in.FromUpstream(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
      &out);
  out = InspectorOutput();
  std::string init = MaskedText(R"({"type":"connection_init"})");
  std::string ok = MaskedText(R"({"type":"subscribe","id":"1","payload":{"query":"{ viewer }"}})");
  std::string bad =
      MaskedText(R"({"type":"subscribe","id":"2","payload":{"query":"{ viewer: secret }"}})");
  std::string all = init + ok + bad;
  // Byte by byte: nothing of a message goes on before all of it is here.
  for (char ch : all) in.FromClient(std::string_view(&ch, 1), &out);
  EXPECT_EQ(out.to_upstream, init + ok);
  EXPECT_TRUE(out.close);
  ASSERT_FALSE(out.to_client.empty());
  EXPECT_EQ(static_cast<unsigned char>(out.to_client[0]), 0x88);  // close frame
  ASSERT_EQ(out.events.size(), 2u);
  EXPECT_TRUE(out.events[0].allowed);
  EXPECT_FALSE(out.events[1].allowed);
  ASSERT_EQ(out.events[1].graphql.size(), 1u);
  EXPECT_EQ(out.events[1].graphql[0].fields, std::vector<std::string>{"secret"});
}

// A live policy change while a GraphQL-over-WebSocket connection is open:
// its messages stay judged by the endpoint that admitted the upgrade, never
// by whatever endpoint now stands at that endpoint's old place in the list.
TEST(Graphql, WebSocketKeepsItsEndpointAcrossALiveChange) {
  InspectorConfig c;
  c.host = "a";
  c.port = 80;
  InspectedEndpoint e;
  e.rules.protocol = Protocol::kWebSocket;
  e.rules.allow.push_back({"GET", "/graphql", {}});
  e.rules.graphql_allow.push_back({"query", "", {"viewer"}, 1});
  e.label = "policy p endpoint 0";
  c.endpoints.push_back(e);
  // The update puts an open REST endpoint first; or the list shrinks to
  // that one alone.
  InspectedEndpoint open;
  open.rules.protocol = Protocol::kRest;
  open.rules.access = Access::kFull;
  open.path = "/other/**";
  open.label = "policy p endpoint 0";
  for (const auto& list :
       {std::vector<InspectedEndpoint>{open, e}, std::vector<InspectedEndpoint>{open}}) {
    Inspector in(c);
    InspectorOutput out;
    in.FromClient(
        "GET /graphql HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        &out);
    in.FromUpstream(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        &out);
    in.SetEndpoints(list);
    out = InspectorOutput();
    in.FromClient(
        MaskedText(R"({"type":"subscribe","id":"1","payload":{"query":"mutation { drop }"}})"),
        &out);
    EXPECT_TRUE(out.to_upstream.empty()) << list.size();
    EXPECT_TRUE(out.close) << list.size();
    ASSERT_FALSE(out.events.empty()) << list.size();
    EXPECT_FALSE(out.events.back().allowed) << list.size();
  }
}

}  // namespace
}  // namespace rf::l7
