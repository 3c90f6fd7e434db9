// Network enforcement modes (DESIGN.md "Network enforcement modes"):
// resolving `auto`, probing what this host allows, and the environment that
// points the command's clients at the proxy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "policy/policy.h"

namespace rf {

struct NamespaceSupport {
  bool possible = false;
  bool needs_userns = false;  // not root (or root without CAP_SYS_ADMIN)
  std::string reason;         // why not, when !possible
};

// Can this process give the command a fresh network namespace? As root with
// CAP_SYS_ADMIN: yes. Otherwise through an unprivileged user namespace,
// which is checked with the sysctls that disable it and then for real
// (a short-lived child tries unshare(CLONE_NEWUSER|CLONE_NEWNET)).
NamespaceSupport ProbeNamespaceSupport();

struct ModeDecision {
  NetMode mode;  // never kAuto
  bool use_userns = false;
  std::string why;  // "auto: namespace (running as root)"
};

// `auto` becomes namespace when possible, else platform. An explicit
// `namespace` that cannot be set up is an error.
Result<ModeDecision> ResolveMode(NetMode requested);

// HTTP_PROXY, HTTPS_PROXY, ALL_PROXY (and lowercase), NO_PROXY/no_proxy,
// NODE_USE_ENV_PROXY and friends, pointing at http://127.0.0.1:port.
std::vector<std::string> ProxyEnvironment(uint16_t proxy_port,
                                          const std::vector<uint16_t>& loopback_ports);

}  // namespace rf
