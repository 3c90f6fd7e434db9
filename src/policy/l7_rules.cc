#include "policy/l7_rules.h"

namespace rf {

bool Inspected(const Endpoint& e) {
  return e.protocol == "rest" || e.protocol == "websocket" || e.protocol == "mcp" ||
         e.protocol == "json-rpc";
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
                                          : l7::Protocol::kRest;
  r.access = e.access == "read-only"    ? l7::Access::kReadOnly
             : e.access == "read-write" ? l7::Access::kReadWrite
             : e.access == "full"       ? l7::Access::kFull
                                        : l7::Access::kNone;
  auto convert = [](const std::vector<L7Rule>& in) {
    std::vector<l7::Rule> out;
    for (const auto& x : in) {
      l7::Rule y{x.method, x.path, {}, x.tool, x.params_name};
      for (const auto& q : x.query) y.query.push_back({q.name, q.globs});
      out.push_back(std::move(y));
    }
    return out;
  };
  r.allow = convert(e.rules);
  r.deny = convert(e.deny_rules);
  r.audit_only = e.enforcement == "audit";
  r.allow_encoded_slash = e.allow_encoded_slash;
  r.max_body_bytes = static_cast<size_t>(e.rpc.max_body_bytes);
  r.strict_tool_names = e.rpc.strict_tool_names;
  r.allow_all_known_methods = e.rpc.allow_all_known_methods;
  r.where = where;
  return r;
}

}  // namespace rf
