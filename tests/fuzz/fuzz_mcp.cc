// libFuzzer target: the MCP / JSON-RPC classifier (rf::l7::ClassifyRpcBody,
// EvaluateCall) and the inspector holding and judging such bodies.
//
// Input: a request body. Properties checked beyond "no crash, no leak, no
// sanitizer report":
//  - an accepted body is JSON, every message in it is a call or a response,
//    and each request id echoed into an error object is JSON;
//  - the error body of a refusal is JSON whatever the input (ids, reasons);
//  - through the inspector (an MCP endpoint allowing initialize and
//    tools/call of read_file only, denying send_*): the body reaches the
//    upstream only when it classifies and every call in it is allowed, and
//    then byte for byte; a forwarded body never holds a send_email call;
//    fed whole or in two pieces, the inspector does the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "l7/inspector.h"
#include "l7/json.h"
#include "l7/jsonrpc.h"

namespace {

using rf::fuzz::Check;
namespace l7 = rf::l7;

l7::InspectorConfig Config() {
  l7::InspectedEndpoint e;
  e.path = "/mcp";
  e.label = "fuzz";
  e.policy = "fuzz";
  e.rules.protocol = l7::Protocol::kMcp;
  e.rules.max_body_bytes = 4096;
  l7::Rule init;
  init.method = "initialize";
  l7::Rule read;
  read.method = "tools/call";
  read.tool = {"read_file"};
  l7::Rule deny;
  deny.method = "tools/call";
  deny.tool = {"send_*"};
  e.rules.allow = {init, read};
  e.rules.deny = {deny};
  l7::InspectorConfig c;
  c.endpoints.push_back(e);
  c.host = "mcp.test";
  c.port = 8080;
  return c;
}

bool Allowed(const l7::RpcBody& b) {
  const l7::EndpointRules rules = Config().endpoints[0].rules;
  for (const auto& call : b.calls)
    if (!l7::EvaluateCall(rules, call).verdict.allowed) return false;
  return true;
}

std::string Run(const std::string& request, size_t split) {
  l7::Inspector in(Config());
  l7::InspectorOutput out;
  in.FromClient(std::string_view(request).substr(0, split), &out);
  in.FromClient(std::string_view(request).substr(split), &out);
  return out.to_upstream + "\n--\n" + out.to_client;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 6000) return 0;
  const std::string body(reinterpret_cast<const char*>(data), size);
  for (auto protocol : {l7::Protocol::kMcp, l7::Protocol::kJsonRpc}) {
    const l7::RpcBody b = l7::ClassifyRpcBody(body, protocol);
    if (b.ok) {
      Check(l7::ParseJson(body).ok());
      Check(!b.calls.empty() || b.responses > 0);
      for (const auto& id : b.ids) Check(l7::ParseJson(id).ok());
      for (const auto& call : b.calls) Check(!call.method.empty());
    } else {
      Check(b.code == l7::kRpcParseError || b.code == l7::kRpcInvalidRequest ||
            b.code == l7::kRpcInvalidParams);
    }
    Check(l7::ParseJson(l7::RpcErrorBody(b, l7::kRpcPolicyDenied, b.error, "{}")).ok());
  }

  const std::string head = "POST /mcp HTTP/1.1\r\nHost: mcp.test:8080\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n";
  const std::string request = head + body;
  const std::string whole = Run(request, request.size());
  const std::string upstream = whole.substr(0, whole.find("\n--\n"));
  const l7::RpcBody b = l7::ClassifyRpcBody(body, l7::Protocol::kMcp);
  const bool pass = b.ok && Allowed(b) && body.size() <= 4096;
  if (pass) {
    Check(upstream.size() >= body.size() &&
          upstream.compare(upstream.size() - body.size(), body.size(), body) == 0);
    for (const auto& call : b.calls) Check(!(call.tool_call && call.tool == "send_email"));
  } else {
    Check(upstream.empty());
  }
  Check(Run(request, size % (request.size() + 1)) == whole);
  return 0;
}
