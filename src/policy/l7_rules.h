// An endpoint's L7 fields (policy.h) in the form the proxy evaluates
// (l7/rules.h): one conversion, used by the loader for OpenShell's
// validation and by the proxy.
#pragma once

#include <string>

#include "l7/rules.h"
#include "policy/policy.h"

namespace rf {

// Whether the proxy inspects this endpoint's requests (rest, websocket).
bool Inspected(const Endpoint& e);
// Whether it inspects any endpoint of `p` (then it makes a CA, and its
// clients must trust it).
bool PolicyInspects(const Policy& p);

// `where` names the endpoint in messages ("network_policies.P.endpoints[N]").
l7::EndpointRules ToL7Rules(const Endpoint& e, const std::string& where);

}  // namespace rf
