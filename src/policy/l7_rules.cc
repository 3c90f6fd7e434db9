#include "policy/l7_rules.h"

namespace rf {

bool Inspected(const Endpoint& e) { return e.protocol == "rest" || e.protocol == "websocket"; }

bool PolicyInspects(const Policy& p) {
  for (const auto& np : p.network_policies)
    for (const auto& ep : np.endpoints)
      if (Inspected(ep)) return true;
  return false;
}

l7::EndpointRules ToL7Rules(const Endpoint& e, const std::string& where) {
  l7::EndpointRules r;
  r.protocol = e.protocol == "websocket" ? l7::Protocol::kWebSocket : l7::Protocol::kRest;
  r.access = e.access == "read-only"    ? l7::Access::kReadOnly
             : e.access == "read-write" ? l7::Access::kReadWrite
             : e.access == "full"       ? l7::Access::kFull
                                        : l7::Access::kNone;
  auto convert = [](const std::vector<L7Rule>& in) {
    std::vector<l7::Rule> out;
    for (const auto& x : in) {
      l7::Rule y{x.method, x.path, {}};
      for (const auto& q : x.query) y.query.push_back({q.name, q.globs});
      out.push_back(std::move(y));
    }
    return out;
  };
  r.allow = convert(e.rules);
  r.deny = convert(e.deny_rules);
  r.audit_only = e.enforcement == "audit";
  r.allow_encoded_slash = e.allow_encoded_slash;
  r.where = where;
  return r;
}

}  // namespace rf
