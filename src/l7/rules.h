// L7 rules of one endpoint and their verdict on one request, with
// OpenShell's semantics (its policy-schema reference is the authority):
//
// - `access` presets: read-only = GET, HEAD, OPTIONS; read-write adds POST,
//   PUT, PATCH; full = every method. For WebSocket endpoints the upgrade is
//   the method GET and each client text message the synthetic method
//   WEBSOCKET_TEXT: read-only allows the upgrade only, read-write and full
//   the upgrade and text messages.
// - `rules`: allow entries {method, path, query}; `deny_rules` win over any
//   allow. Methods compare case-insensitively, `*` is any method.
// - Query matchers, keyed by decoded name, a list of globs (one glob, or
//   `{any: [...]}`). An allow matcher needs the parameter present and every
//   one of its values to match (a second `tag=` cannot smuggle a value); a
//   deny matcher matches when any value matches.
// - `enforcement: audit` forwards what would be refused and says so.
//
// Everything here is a pure function of the request: no sockets, so it is
// unit-tested directly and cheap to call per request.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "l7/target.h"

namespace rf::l7 {

enum class Protocol { kRest, kWebSocket, kMcp, kJsonRpc, kGraphql };
enum class Access { kNone, kReadOnly, kReadWrite, kFull };

inline constexpr std::string_view kWebSocketText = "WEBSOCKET_TEXT";

struct QueryMatcher {
  std::string name;
  std::vector<std::string> globs;  // the value must match one of them
};

struct Rule {
  std::string method;  // "*" or a method name (MCP: empty is the method profile)
  std::string path;    // glob
  std::vector<QueryMatcher> query;
  // MCP: globs for tools/call's params.name, from `tool` and `params.name`
  // (each, when given, must match); empty: any tool.
  std::vector<std::string> tool = {};
  std::vector<std::string> params_name = {};
};

// A GraphQL operation rule (l7/graphql.h), judged on operations instead of
// HTTP requests.
struct GraphqlRule {
  std::string operation_type;       // query, mutation, subscription or "*"
  std::string operation_name;       // glob; empty: any
  std::vector<std::string> fields;  // root-field globs; empty: any
  size_t index = 0;                 // its place in the policy's rules/deny_rules list
};

// A `graphql_persisted_queries` entry: the operation a hash stands for.
struct PersistedQuery {
  std::string key;  // sha256Hash or saved-query id
  GraphqlRule operation;
};

struct EndpointRules {
  Protocol protocol = Protocol::kRest;
  Access access = Access::kNone;
  std::vector<Rule> allow;
  std::vector<Rule> deny;
  bool audit_only = false;  // enforcement: audit
  bool allow_encoded_slash = false;
  // MCP and JSON-RPC (l7/jsonrpc.h).
  size_t max_body_bytes = 65536;
  bool strict_tool_names = true;
  bool allow_all_known_methods = false;
  std::string where;  // "policy NAME endpoint N", for messages
  // GraphQL (protocol: graphql, or a websocket endpoint with GraphQL rules).
  std::vector<GraphqlRule> graphql_allow, graphql_deny;
  // The policy-list position of each allow/deny entry when GraphQL rules
  // were split off (empty: the same as in `allow`/`deny`), for messages.
  std::vector<size_t> allow_at, deny_at;
  bool persisted_allow_registered = false;  // persisted_queries: allow_registered
  std::vector<PersistedQuery> persisted;
  size_t graphql_max_body = 65536;
  // Whether client messages are judged as GraphQL operations: a graphql
  // endpoint, or a websocket endpoint with GraphQL rules or a registry.
  bool GraphqlPolicy() const;
};

// OpenShell's load-time checks: access xor rules, one of them present, no
// empty lists, deny needs a base allow set, globs well formed, methods are
// tokens, WebSocket rule methods are GET, WEBSOCKET_TEXT or `*`. MCP and
// JSON-RPC endpoints: ValidateRpc (l7/jsonrpc.h).
Status Validate(const EndpointRules& rules);

inline bool IsRpc(Protocol p) { return p == Protocol::kMcp || p == Protocol::kJsonRpc; }

struct Verdict {
  bool allowed = false;     // forwarded (also true for an audit-mode would-deny)
  bool would_deny = false;  // enforcement: audit and the rules refuse it
  std::string rule;         // which rule decided: "access: read-only", "rules[2]", "deny_rules[0]"
  std::string reason;       // why it was refused (empty when allowed)
  std::string hint;         // a rule that would allow it (empty when a deny rule refused)
};

Verdict Evaluate(const EndpointRules& rules, std::string_view method, const Target& target);

std::string AccessName(Access a);

}  // namespace rf::l7
