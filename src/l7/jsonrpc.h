// JSON-RPC 2.0 request bodies on inspected endpoints: `protocol: mcp` (MCP
// Streamable HTTP) and `protocol: json-rpc`, with OpenShell's semantics (its
// policy-schema reference is the authority; docs/policy.md says where
// ringfence decided what it leaves open).
//
// A client-to-server POST body is one message or a batch (a non-empty
// array). Each message is a request (method and id), a notification (method,
// no id) or a response to a request the server sent (result or error, and
// an id). Requests and notifications are calls, judged one by one; one
// refused call refuses the whole body. Responses carry no method: MCP relays
// them (they answer the server's own sampling, elicitation and ping
// requests), generic JSON-RPC refuses them.
//
// The body is parsed with l7/json.h (strict: a duplicate member such as a
// second "method" or "name" is refused, so the proxy cannot check one value
// while the server runs another).
//
// Rules (l7/rules.h Rule):
//  - MCP: `method` exact, or a glob within the `tools/` family only; empty
//    (allowed only with allow_all_known_mcp_methods) is the method profile:
//    the MCP methods a client sends (KnownMcpMethod). `tool` and
//    `params.name` are globs on tools/call's params.name; each given one
//    must match. With allow_all_known_mcp_methods and no rules, every known
//    method and every tool is allowed before deny_rules.
//  - JSON-RPC: `method` exact, or `*` for every method.
//  - deny_rules win; `enforcement: audit` forwards what would be refused,
//    except what is malformed or breaks strict_tool_names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "l7/rules.h"

namespace rf::l7 {

struct RpcCall {
  std::string method;
  bool notification = false;  // no id
  std::string tool;           // MCP tools/call: params.name
  bool tool_call = false;     // MCP tools/call
};

struct RpcBody {
  bool ok = false;
  // When !ok: the JSON-RPC error code (-32700 not JSON, -32600 not a valid
  // message, -32602 invalid params of a known MCP method) and why.
  int code = 0;
  std::string error;
  bool batch = false;
  std::vector<RpcCall> calls;
  size_t responses = 0;  // response objects sent by the client
  // The ids of the requests, as JSON text, for the error objects of a
  // refusal (a batch answers each request; notifications get nothing).
  std::vector<std::string> ids;
};

RpcBody ClassifyRpcBody(std::string_view body, Protocol protocol);

// OpenShell's load-time rules for MCP and JSON-RPC endpoints (messages name
// `e.where`).
Status ValidateRpc(const EndpointRules& e);

// The verdict of endpoint `e` on one call (Verdict as in l7/rules.h). A tool
// name outside `^[A-Za-z0-9_.-]{1,128}$` under strict_tool_names is refused
// even in audit mode (`hard` set).
struct RpcVerdict {
  Verdict verdict;
  bool hard = false;
};
RpcVerdict EvaluateCall(const EndpointRules& e, const RpcCall& call);

bool ValidToolName(std::string_view name);
// The methods a client sends to an MCP server (2025-11-25 revision):
// the endpoint method profile of allow_all_known_mcp_methods.
bool KnownMcpMethod(std::string_view method);

// The body of the proxy's answer to a refused body: a JSON-RPC error
// response per request id (an array for a batch), or one with id null when
// the body held no request. `data_json` is a JSON object (error.data).
std::string RpcErrorBody(const RpcBody& body, int code, const std::string& message,
                         const std::string& data_json);

// JSON-RPC error codes the proxy answers with. -32001 is in the range the
// specification leaves to implementations (server errors).
inline constexpr int kRpcParseError = -32700;
inline constexpr int kRpcInvalidRequest = -32600;
inline constexpr int kRpcInvalidParams = -32602;
inline constexpr int kRpcPolicyDenied = -32001;

}  // namespace rf::l7
