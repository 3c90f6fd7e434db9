#include "policy/l7_rules.h"

namespace rf {

bool Inspected(const Endpoint& e) {
  return e.protocol == "rest" || e.protocol == "websocket" || e.protocol == "mcp" ||
         e.protocol == "json-rpc" || e.protocol == "graphql";
}

bool PolicyInspects(const Policy& p) {
  for (const auto& np : p.network_policies)
    for (const auto& ep : np.endpoints)
      if (Inspected(ep)) return true;
  return false;
}

l7::EndpointRules ToL7Rules(const Endpoint& e, const std::string& where) {
  l7::EndpointRules r;
  r.protocol = e.protocol == "websocket"  ? l7::Protocol::kWebSocket
               : e.protocol == "mcp"      ? l7::Protocol::kMcp
               : e.protocol == "json-rpc" ? l7::Protocol::kJsonRpc
               : e.protocol == "graphql"  ? l7::Protocol::kGraphql
                                          : l7::Protocol::kRest;
  r.access = e.access == "read-only"    ? l7::Access::kReadOnly
             : e.access == "read-write" ? l7::Access::kReadWrite
             : e.access == "full"       ? l7::Access::kFull
                                        : l7::Access::kNone;
  // GraphQL rules go to their own lists, keeping their place in the
  // policy's list for messages.
  auto convert = [](const std::vector<L7Rule>& in, std::vector<l7::GraphqlRule>* graphql,
                    std::vector<size_t>* at) {
    std::vector<l7::Rule> out;
    for (size_t i = 0; i < in.size(); ++i) {
      const L7Rule& x = in[i];
      if (x.graphql) {
        graphql->push_back({x.operation_type, x.operation_name, x.fields, i});
        continue;
      }
      at->push_back(i);
      l7::Rule y{x.method, x.path, {}, x.tool, x.params_name};
      for (const auto& q : x.query) y.query.push_back({q.name, q.globs});
      out.push_back(std::move(y));
    }
    return out;
  };
  r.allow = convert(e.rules, &r.graphql_allow, &r.allow_at);
  r.deny = convert(e.deny_rules, &r.graphql_deny, &r.deny_at);
  r.audit_only = e.enforcement == "audit";
  r.allow_encoded_slash = e.allow_encoded_slash;
  r.max_body_bytes = static_cast<size_t>(e.rpc.max_body_bytes);
  r.strict_tool_names = e.rpc.strict_tool_names;
  r.allow_all_known_methods = e.rpc.allow_all_known_methods;
  r.where = where;
  r.persisted_allow_registered = e.graphql.persisted_queries == "allow_registered";
  for (const auto& p : e.graphql.registry) {
    const L7Rule& o = p.operation;
    r.persisted.push_back({p.key, {o.operation_type, o.operation_name, o.fields, 0}});
  }
  r.graphql_max_body = static_cast<size_t>(e.graphql.max_body_bytes);
  return r;
}

}  // namespace rf
