#include "l7/jsonrpc.h"

#include <gtest/gtest.h>

#include <string>

#include "l7/json.h"

namespace rf::l7 {
namespace {

Rule Method(std::string m) {
  Rule r;
  r.method = std::move(m);
  return r;
}

Rule Tool(std::string t, std::string method = "tools/call") {
  Rule r;
  r.method = std::move(method);
  r.tool = {std::move(t)};
  return r;
}

EndpointRules Mcp() {
  EndpointRules e;
  e.protocol = Protocol::kMcp;
  e.where = "ep";
  e.allow = {Method("initialize"), Tool("read_*")};
  e.deny = {Tool("read_secret")};
  return e;
}

RpcCall Call(std::string tool) {
  RpcCall c;
  c.method = "tools/call";
  c.tool_call = true;
  c.tool = std::move(tool);
  return c;
}

TEST(JsonRpc, Classifies) {
  auto b = ClassifyRpcBody(
      R"([{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"read_file","arguments":{}}},)"
      R"({"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":3,"result":{}}])",
      Protocol::kMcp);
  ASSERT_TRUE(b.ok) << b.error;
  EXPECT_TRUE(b.batch);
  ASSERT_EQ(b.calls.size(), 2u);
  EXPECT_EQ(b.calls[0].tool, "read_file");
  EXPECT_TRUE(b.calls[1].notification);
  EXPECT_EQ(b.responses, 1u);
  ASSERT_EQ(b.ids.size(), 1u);
  EXPECT_EQ(b.ids[0], "\"x\"");
}

TEST(JsonRpc, RefusesMalformed) {
  struct Case {
    const char* body;
    int code;
  } cases[] = {
      {"", kRpcParseError},
      {"{", kRpcParseError},
      {R"({"jsonrpc":"2.0","id":1,"method":"a","method":"b"})", kRpcParseError},  // duplicate
      {"[]", kRpcInvalidRequest},
      {"[1]", kRpcInvalidRequest},
      {R"({"id":1,"method":"a"})", kRpcInvalidRequest},
      {R"({"jsonrpc":"1.0","id":1,"method":"a"})", kRpcInvalidRequest},
      {R"({"jsonrpc":"2.0","id":1,"method":7})", kRpcInvalidRequest},
      {R"({"jsonrpc":"2.0","id":{},"method":"a"})", kRpcInvalidRequest},
      {R"({"jsonrpc":"2.0","id":null,"method":"a"})", kRpcInvalidRequest},  // MCP: no null id
      {R"({"jsonrpc":"2.0","id":1,"method":"a","result":1})", kRpcInvalidRequest},
      {R"({"jsonrpc":"2.0","id":1,"result":1,"error":{}})", kRpcInvalidRequest},
      {R"({"jsonrpc":"2.0","result":1})", kRpcInvalidRequest},
      {R"({"jsonrpc":"2.0","id":1,"method":"a","params":[1]})", kRpcInvalidRequest},
      {R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}})", kRpcInvalidParams},
      {R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":1}})", kRpcInvalidParams},
      {R"({"jsonrpc":"2.0","method":"tools/call","params":{"name":"a"}})", kRpcInvalidParams},
      {R"([{"jsonrpc":"2.0","id":1,"method":"a"},[]])", kRpcInvalidRequest},
  };
  for (const auto& c : cases) {
    auto b = ClassifyRpcBody(c.body, Protocol::kMcp);
    EXPECT_FALSE(b.ok) << c.body;
    EXPECT_EQ(b.code, c.code) << c.body << ": " << b.error;
  }
  // Generic JSON-RPC: array params and a null id are valid.
  EXPECT_TRUE(ClassifyRpcBody(R"({"jsonrpc":"2.0","id":null,"method":"a","params":[1]})",
                              Protocol::kJsonRpc)
                  .ok);
}

TEST(JsonRpc, Evaluates) {
  EndpointRules e = Mcp();
  ASSERT_TRUE(ValidateRpc(e).ok()) << ValidateRpc(e).reason();
  EXPECT_TRUE(EvaluateCall(e, Call("read_file")).verdict.allowed);
  auto secret = EvaluateCall(e, Call("read_secret"));
  EXPECT_FALSE(secret.verdict.allowed);
  EXPECT_EQ(secret.verdict.rule, "deny_rules[0]");
  auto send = EvaluateCall(e, Call("send_email"));
  EXPECT_FALSE(send.verdict.allowed);
  EXPECT_NE(send.verdict.hint.find("send_email"), std::string::npos);
  RpcCall list;
  list.method = "tools/list";
  EXPECT_FALSE(EvaluateCall(e, list).verdict.allowed);
  auto bad = EvaluateCall(e, Call("read file"));
  EXPECT_TRUE(bad.hard);
  e.audit_only = true;
  EXPECT_TRUE(EvaluateCall(e, Call("send_email")).verdict.would_deny);
  EXPECT_TRUE(EvaluateCall(e, Call("read file")).hard);  // strict names hold in audit mode
  e.audit_only = false;
  e.strict_tool_names = false;
  e.allow = {Method("initialize"), Tool("read file")};
  e.deny.clear();
  EXPECT_TRUE(EvaluateCall(e, Call("read file")).verdict.allowed);
}

TEST(JsonRpc, MethodProfile) {
  EndpointRules e;
  e.protocol = Protocol::kMcp;
  e.allow_all_known_methods = true;
  e.deny = {Tool("send_*", "")};
  ASSERT_TRUE(ValidateRpc(e).ok()) << ValidateRpc(e).reason();
  RpcCall init;
  init.method = "initialize";
  EXPECT_TRUE(EvaluateCall(e, init).verdict.allowed);
  EXPECT_TRUE(EvaluateCall(e, Call("anything")).verdict.allowed);
  EXPECT_FALSE(EvaluateCall(e, Call("send_email")).verdict.allowed);
  RpcCall ext;
  ext.method = "vendor/extension";
  EXPECT_FALSE(EvaluateCall(e, ext).verdict.allowed);
}

TEST(JsonRpc, JsonRpcMethodsAreExact) {
  EndpointRules e;
  e.protocol = Protocol::kJsonRpc;
  e.allow = {Method("reports.list")};
  ASSERT_TRUE(ValidateRpc(e).ok());
  RpcCall c;
  c.method = "reports.list";
  EXPECT_TRUE(EvaluateCall(e, c).verdict.allowed);
  c.method = "reports.listx";
  EXPECT_FALSE(EvaluateCall(e, c).verdict.allowed);
  e.allow = {Method("*")};
  e.deny = {Method("reports.delete")};
  EXPECT_TRUE(EvaluateCall(e, c).verdict.allowed);
  c.method = "reports.delete";
  EXPECT_FALSE(EvaluateCall(e, c).verdict.allowed);
  e.allow = {Method("reports.*")};
  EXPECT_FALSE(ValidateRpc(e).ok());
}

TEST(JsonRpc, Validation) {
  auto refused = [](EndpointRules e, const char* words) {
    Status s = ValidateRpc(e);
    EXPECT_FALSE(s.ok()) << words;
    EXPECT_NE(s.reason().find(words), std::string::npos) << s.reason();
  };
  EndpointRules e = Mcp();
  e.access = Access::kFull;
  refused(e, "presets are not valid");
  e = Mcp();
  e.allow.clear();
  refused(e, "needs rules unless");
  e = Mcp();
  e.allow.push_back(Method("*"));
  refused(e, "`*` is not valid");
  e = Mcp();
  e.allow.push_back(Method("resources/*"));
  refused(e, "only for the tools/ method family");
  e = Mcp();
  e.allow.push_back(Tool("x", "tools/list"));
  refused(e, "need method: tools/call");
  e = Mcp();
  e.allow.push_back(Method("tools/call"));
  refused(e, "cannot be combined");
  e = Mcp();
  e.deny.push_back(Method("tools/*"));
  refused(e, "cannot be combined");
  e = Mcp();
  e.strict_tool_names = false;
  refused(e, "needs mcp.strict_tool_names");
  e = Mcp();
  e.allow.push_back(Tool(""));
  refused(e, "empty tool name");
}

TEST(JsonRpc, ErrorBody) {
  auto b =
      ClassifyRpcBody(R"([{"jsonrpc":"2.0","id":1,"method":"a"},)"
                      R"({"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":"z","method":"b"}])",
                      Protocol::kJsonRpc);
  ASSERT_TRUE(b.ok);
  auto doc = ParseJson(RpcErrorBody(b, kRpcPolicyDenied, "no \"way\"", R"({"rule":"r"})"));
  ASSERT_TRUE(doc.ok()) << doc.status().reason();
  ASSERT_EQ(doc->items().size(), 2u);  // notifications get no answer
  EXPECT_EQ(doc->items()[1].Find("id")->text(), "z");
  EXPECT_EQ(doc->items()[0].Find("error")->Find("code")->text(), "-32001");
  EXPECT_EQ(doc->items()[0].Find("error")->Find("data")->Find("rule")->text(), "r");
  auto bad = ClassifyRpcBody("nope", Protocol::kMcp);
  auto one = ParseJson(RpcErrorBody(bad, bad.code, bad.error, ""));
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(one->Find("id")->is_null());
}

}  // namespace
}  // namespace rf::l7
