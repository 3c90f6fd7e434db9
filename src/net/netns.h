// Namespace mode: the command gets fresh namespaces (network: only loopback,
// up; IPC: private System V objects), optionally inside a user namespace when
// ringfence is not privileged. The proxy's listening socket is created
// inside the new network namespace by the command's process, before exec, and
// handed to the supervisor over a socketpair: a socket keeps the namespace it
// was created in, so the proxy accepts from the sandbox's namespace while its
// upstream sockets live in the host's.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/fd.h"
#include "common/status.h"
#include "process/spawn.h"

namespace rf {

class NamespaceStep : public ChildStep {
 public:
  // `to_supervisor`: the command's end of a socketpair (the step sends the
  // listener over it). The user namespace of unprivileged mode is not this
  // step's: init is created in it (SpawnSpec's namespace fields).
  // `with_listener`: create the proxy listener on 127.0.0.1:proxy_port and
  // send it (false for mode none: an empty namespace, nothing listening).
  // The namespaces are made by init (kInitNamespaces, plus the user
  // namespace when unprivileged): this step, in the command, mounts a /proc
  // of the sandbox's PID namespace over /proc, brings loopback up and sends
  // the listener and a sock_diag socket of the namespace.
  // `with_dns`: also create the sandbox resolver's UDP socket on
  // 127.0.0.1:53 and send it last (src/dns/resolver.h).
  static Result<std::unique_ptr<NamespaceStep>> Create(uint16_t proxy_port, UniqueFd to_supervisor,
                                                       bool with_listener, bool with_dns = false);
  const char* name() const override { return "network namespace"; }
  int Apply() const noexcept override;
  int SendListener() const noexcept;

 private:
  NamespaceStep() = default;
  int SendDnsSocket() const noexcept;
  bool with_listener_ = true;
  bool with_dns_ = false;
  uint16_t proxy_port_ = 0;
  UniqueFd sock_;
};

// The namespaces init is created in for namespace mode (and mode none with a
// namespace). Init is PID 1 of the sandbox: whatever /proc/1 shows must be
// the sandbox's own network and mounts.
constexpr int kInitNamespaces = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWNS;

// What NamespaceStep::Apply does before the listener, in the namespaces init
// was created in (kInitNamespaces): mounts private, a /proc of the current PID namespace
// (refused where a container runtime masks parts of /proc), loopback up.
// The namespace probe (ProbeNamespaceSetup) runs this same function in a
// throwaway child, so it passes exactly when the set-up would.
// Async-signal-safe. `step` names what failed when `err` is not 0.
struct NsSetup {
  int err = 0;
  const char* step = "";
};
NsSetup EnterSandboxNamespaces() noexcept;

// "uid uid 1\n": the caller's uid (gid) mapped to itself.
std::string IdentityMap(unsigned id);

// Picks a port for the proxy inside a fresh namespace (nothing else listens
// there): `configured` when non-zero, else a random unprivileged one.
uint16_t NamespaceProxyPort(uint16_t configured);

}  // namespace rf
