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

// Can this process make the namespaces `run` gives the command? Directly when
// `privileged` (root with CAP_SYS_ADMIN), otherwise through an unprivileged
// user namespace (first the sysctls that disable it). Either way a
// short-lived child then does what `run` does (user and PID namespaces, the
// id maps, network, IPC and mount namespaces, a /proc of its own, loopback
// up), so the answer is the set-up's. Part of the host probe
// (src/sandbox/host_probe.h); NamespaceModeSupport adds what the connect
// guard needs on top.
NamespaceSupport ProbeNamespaceSetup(bool privileged);

// Whether namespace mode can run: the set-up (`setup`) works and the connect
// guard can take the command's sockets, which it needs to make every connect
// on the command's own socket in the command's network namespace
// (docs/unix-sockets.md): pidfd_getfd must work (`pidfd_getfd`, Yama
// included) and, as root (`root`), the command runs as another uid, so
// CAP_SYS_PTRACE is needed too (a container may grant CAP_SYS_ADMIN without
// it). A pure function: `run`, `policy show` and `doctor` all decide by it.
NamespaceSupport NamespaceModeSupport(const NamespaceSupport& setup, bool pidfd_getfd, bool root,
                                      bool cap_sys_ptrace);

struct ModeDecision {
  NetMode mode;  // never kAuto
  bool use_userns = false;
  std::string why;  // "auto: namespace (running as root)"
};

// `auto` becomes namespace when `ns` (NamespaceModeSupport) says possible,
// else platform. An explicit `namespace` that cannot be set up is an error.
// Other modes are kept as requested (`ns` unread).
Result<ModeDecision> ResolveMode(NetMode requested, const NamespaceSupport& ns);

// Whether resolving `requested` needs the namespace probe: auto and
// namespace do, and none (an empty network namespace when one can be had).
bool NeedsNamespaceProbe(NetMode requested);

// The loopback names NO_PROXY lists by default ("localhost", "127.0.0.1",
// "::1") that an endpoint of `policies` names as its host (case-insensitive;
// "[::1]" counts as "::1"), in that order. These are carried by the proxy
// instead: the host's service, not the sandbox's own loopback.
std::vector<std::string> LoopbackHostsCarried(const std::vector<NetworkPolicy>& policies);

// HTTP_PROXY, HTTPS_PROXY, ALL_PROXY (and lowercase), NO_PROXY/no_proxy,
// NODE_USE_ENV_PROXY and friends, pointing at http://127.0.0.1:port, and
// JAVA_TOOL_OPTIONS: `java_tool_options` (the caller's, or null) followed by
// the JVM's proxy properties (docs/proxy.md, "Clients"). NO_PROXY (and the
// JVM's nonProxyHosts) list the loopback names except `carried`.
std::vector<std::string> ProxyEnvironment(uint16_t proxy_port,
                                          const std::vector<std::string>& carried,
                                          const char* java_tool_options = nullptr);

}  // namespace rf
