// Platform mode's connect() check (DESIGN.md "Platform-mode connect check").
//
// The command's seccomp filter returns USER_NOTIF for connect(); this guard,
// a thread of the supervisor, receives each notification, reads the sockaddr
// with process_vm_readv, validates the notification id (pid reuse), and
//   - inet/inet6 to 127.0.0.1 or ::1 on the proxy port or a policy
//     loopback port: creates its own socket, connects it, installs it over
//     the command's descriptor (SECCOMP_IOCTL_NOTIF_ADDFD with
//     SECCOMP_ADDFD_FLAG_SETFD) and answers with the connect result. The
//     command never connects anything itself, so a thread that rewrites the
//     sockaddr after the check changes nothing;
//   - any other inet destination: EACCES (the same errno Landlock gives);
//   - other families (unix, netlink, AF_UNSPEC): continue in the kernel,
//     where Landlock and the socket rules apply.
#pragma once

#include <linux/seccomp.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "audit/audit.h"
#include "common/fd.h"
#include "common/status.h"

namespace rf {

struct ConnectGuardConfig {
  uint16_t proxy_port = 0;
  std::vector<uint16_t> loopback_ports;
};

// What the guard decides for one inet destination (exposed for unit tests).
// `addr` points at a sockaddr_in or sockaddr_in6 of `len` bytes.
bool ConnectAllowed(const ConnectGuardConfig& cfg, const void* addr, size_t len);

class ConnectGuard {
 public:
  static Result<std::unique_ptr<ConnectGuard>> Start(UniqueFd listener, ConnectGuardConfig cfg,
                                                     AuditSink* audit);
  ~ConnectGuard();
  void Stop();
  uint64_t allowed() const { return allowed_; }
  uint64_t denied() const { return denied_; }

 private:
  ConnectGuard() = default;
  void Loop();
  void Handle(const struct seccomp_notif& req);

  UniqueFd listener_;
  UniqueFd stop_;  // eventfd
  ConnectGuardConfig cfg_;
  AuditSink* audit_ = nullptr;
  std::thread thread_;
  std::atomic<uint64_t> allowed_{0}, denied_{0};
};

}  // namespace rf
