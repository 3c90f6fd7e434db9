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
//   - unix addresses: see HandleUnix (docs/unix-sockets.md);
//   - other families (netlink, AF_UNSPEC): EAFNOSUPPORT.
// In namespace mode inet (and abstract, and other) addresses are connected
// by the guard on the command's own socket (pidfd_getfd), with the address
// it read. The guard never answers "continue": the kernel would read the
// address and look the descriptor up again, after a racing thread changed
// them.
#pragma once

#include <linux/seccomp.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit.h"
#include "common/fd.h"
#include "common/status.h"
#include "dns/synthetic.h"
#include "landlock/metadata_guard.h"
#include "net/sandbox_thread.h"
#include "net/work_pool.h"
#include "process/caller.h"

namespace rf {

struct ConnectGuardConfig {
  uint16_t proxy_port = 0;
  std::vector<uint16_t> loopback_ports;
  // Platform (and none without a namespace): inet connects are checked.
  // Namespace mode: the network namespace confines them; the guard connects
  // the command's own socket to the address it read (ConnectOwnSocket).
  bool check_inet = true;
  // Pathname unix sockets (docs/unix-sockets.md): network.unix_sockets
  // entries (exact paths or globs) the sandbox may reach; sockets bound by
  // sandbox processes are always allowed; everything else is refused.
  std::vector<std::string> unix_allowed;
  // The directory of ringfence's control sockets (docs/live-policy.md): a
  // socket in it (by device and inode: a link or another path to it counts)
  // is never connected, whatever unix_allowed says. Empty: none.
  std::string control_dir;
  // Abstract unix addresses. With a network namespace of its own (abstract
  // names are per namespace) the kernel confines them (ConnectOwnSocket).
  // Otherwise (platform mode) the guard checks them and connects
  // on the command's behalf: allowed when a sandbox process holds the
  // listener, or, below Landlock ABI 6 (no abstract-socket scope), when an
  // "@name" entry of unix_allowed matches (exactly or as a glob). Never
  // "continue" here: the kernel would read the address again, and a racing
  // thread could have turned the name into a host socket's path.
  bool check_abstract = false;
  // Landlock's abstract-socket scope (ABI 6) confines the sandbox: only the
  // sandbox's own listeners, as the kernel would allow.
  bool abstract_scoped = false;
  // Paths the sandbox can see (Landlock rules): below them a path that is
  // not a socket answers ECONNREFUSED as the kernel would; elsewhere EACCES.
  std::vector<std::string> visible_roots;
  // A sock_diag socket made inside the sandbox's own network namespace
  // (namespace mode): a listener it reports belongs to the sandbox. Invalid:
  // the guard uses its own and checks which process holds the listener.
  // Valid, it also names the sandbox's namespace: the guard then makes no
  // socket for the sandbox at all (the supervisor's threads live in the
  // host's namespace, where abstract names are the host's) and acts only on
  // the command's own sockets that belong to that namespace.
  UniqueFd sandbox_diag;
  // When the supervisor is root: unix paths are resolved and connected with
  // the sandbox's uid/gid and no groups, so Unix permissions apply as they
  // would to the sandbox itself (and peers see its credentials).
  bool switch_creds = false;
  uid_t uid = 0;
  gid_t gid = 0;
  // run --audit: system calls whose refusals the filter sends here (profile
  // option notify_denials), each with the errno to answer. Each is answered
  // and written to the audit log as a seccomp "deny" event.
  std::vector<std::pair<int, int>> audited_denials;
  // Where the identity of each process that connects to the proxy
  // (proxy_port, on loopback) is recorded for the proxy; may be null.
  std::shared_ptr<ConnectLedger> ledger;
  // PidfdGetfdWorks(), as the host probe answered it (src/sandbox/host_probe.h;
  // namespace mode needs it to be chosen at all); asked on first use when
  // unset.
  std::optional<bool> pidfd_getfd_works;
  // The Landlock ruleset the command is restricted with (a duplicate of its
  // descriptor; invalid when Landlock is not enforced). binds the guard makes
  // on the command's behalf are made on a thread restricted by it, so the
  // kernel judges their paths and ports as it would the command's.
  UniqueFd landlock_ruleset;
  // listen() is notified (platform mode): where pidfd_getfd is refused, the
  // guard keeps the sockets it binds until the command listens on them.
  bool notify_listen = false;
  // chmod, chown, utimes, the xattr calls and inotify_add_watch are sent
  // here too: decided against the Landlock rules (src/landlock/metadata_guard.h).
  // The credentials are switch_creds/uid/gid above.
  MetadataGuardConfig metadata;
  // Transparent TCP and capture (docs/transparent-tcp.md): a connect to an
  // address of the run's synthetic range is mapped back to the policy name
  // it was handed out for, decided by `capture` (the proxy's policy code),
  // and redirected to the proxy (proxy_port on 127.0.0.1) with the
  // destination recorded in `ledger`. Null: such connects are refused like
  // any other destination.
  std::shared_ptr<dns::SyntheticNames> synthetic;
  std::function<CaptureDecision(const std::string& host, uint16_t port,
                                const std::vector<std::string>& caller)>
      capture;
};

// Whether pidfd_getfd works in this process at all (a container profile may
// refuse it): without it the guard cannot check listen() (docs/threat-model.md).
bool PidfdGetfdWorks();

// SO_PASSCRED or SO_PASSPIDFD: the socket options (level SOL_SOCKET) with
// which the kernel autobinds an unbound unix socket on its next connect or
// send (src/net/send_guard.cc).
bool IsPassCredentialsOption(int optname);

// What the guard decides for one inet destination (exposed for unit tests).
// `addr` points at a sockaddr_in or sockaddr_in6 of `len` bytes.
bool ConnectAllowed(const ConnectGuardConfig& cfg, const void* addr, size_t len);

class ConnectGuard {
 public:
  // `sandbox_root`: the command's pid (its process tree is the sandbox).
  static Result<std::unique_ptr<ConnectGuard>> Start(UniqueFd listener, ConnectGuardConfig cfg,
                                                     AuditSink* audit, pid_t sandbox_root);
  ~ConnectGuard();
  void Stop();
  uint64_t allowed() const { return allowed_; }
  uint64_t denied() const { return denied_; }

 private:
  ConnectGuard() = default;
  void Loop();
  void Handle(const struct seccomp_notif& req);
  // An inet destination (src/net/connect_inet.cc): checked and connected
  // on the command's behalf in platform mode, the command's own socket
  // connected in namespace mode.
  void HandleInet(const struct seccomp_notif& req, sockaddr_storage ss, size_t addr_len);
  // A destination in the synthetic range (src/net/connect_capture.cc):
  // refused, or redirected to the proxy for the name it stands for. False
  // when `ss` is not in the range.
  bool HandleSynthetic(const struct seccomp_notif& req, const sockaddr_storage& ss);
  // Refuses a connect to a policy name's address, audited.
  void RefuseCapture(const struct seccomp_notif& req, const std::string& target,
                     const std::string& why, const std::string& hint, const std::string& binary);
  // A pathname unix address (relative ones are the caller's cwd's).
  void HandleUnix(const struct seccomp_notif& req, std::string path);
  // Namespace mode, where the kernel confines the destination (inet and
  // abstract addresses in the sandbox's own network namespace): connects
  // the command's own socket (taken with pidfd_getfd) to the address we
  // read, instead of letting the kernel read it again.
  // listen() in platform mode: refused on a TCP socket never bound (the
  // kernel would bind an ephemeral port on every address, unchecked by
  // Landlock); otherwise made on the command's own socket.
  void HandleListen(const struct seccomp_notif& req);
  // bind() where abstract names are the host's (platform mode, mode none
  // without a namespace; src/net/bind_guard.cc, docs/unix-sockets.md): never
  // "continue". The guard binds, with the address it read, either the
  // command's own socket (pidfd_getfd) or a new socket like it that it then
  // installs over the command's descriptor, on a thread restricted like the
  // sandbox (Binder()). Abstract names get the sandbox's prefix unless
  // network.unix_sockets lists them.
  void HandleBind(const struct seccomp_notif& req);
  // `autobind`: `to` is the family alone, and the socket gets a fresh name
  // under the prefix (AutobindUnderPrefix) instead of the kernel's.
  void BindOnBehalf(const struct seccomp_notif& req, const struct sockaddr_storage& to,
                    socklen_t to_len, const std::string& subject, bool autobind = false);
  // Binds unbound unix socket `sock` to a fresh name under the prefix, of
  // the form the kernel's autobind picks ("%05x"): 0 or an errno. Runs on
  // the binder thread.
  int AutobindUnderPrefix(int sock) const;
  // The same from the guard's thread (through the binder); 0 without a
  // prefix (the sandbox's own network namespace).
  int AutobindOnBinder(int sock);
  // setsockopt(SOL_SOCKET, SO_PASSCRED or SO_PASSPIDFD) where abstract
  // names are the host's (src/net/send_guard.cc): the kernel autobinds an
  // unbound unix socket with either option on its next connect or send,
  // outside the prefix; the guard names it under the prefix first, then
  // sets the option on the command's own socket.
  void HandleSetsockopt(const struct seccomp_notif& req);
  // sendto() with an address where abstract names are the host's and
  // network.unix_datagram allows datagram sockets (src/net/send_guard.cc):
  // a datagram to @NAME goes to the sandbox's own @<prefix>NAME, never
  // elsewhere. Other destinations: "continue", which Landlock's abstract
  // scope (required for datagram sockets here) makes safe.
  void HandleSendto(const struct seccomp_notif& req);
  // Sends `data` on the command's own socket (pidfd_getfd) to `to` (none
  // when null), with the sandbox's credentials, and answers the call.
  void SendOnBehalf(const struct seccomp_notif& req, const std::string& data, int flags,
                    const struct sockaddr_storage* to, socklen_t to_len,
                    const std::string& subject);
  // Refuses the call with `err`, counted and written to the audit log as a
  // network deny event (any call, not only sends).
  void DenySend(const struct seccomp_notif& req, const std::string& subject, const std::string& why,
                int err);
  // The abstract name a bind of `name` (no leading NUL) really gets.
  // A refused inet bind() made on the command's behalf, as a network deny
  // event (nothing for other families and errors).
  void AuditInetBindRefusal(const struct seccomp_notif& req, const sockaddr_storage& to,
                            socklen_t to_len, int err);
  std::string AbstractBindName(const std::string& name) const;
  // A connect to abstract `name` that a listener of the sandbox holds under
  // its prefix: connected on the command's behalf to the prefixed name and
  // answered (true); false when there is none.
  bool ConnectOwnAbstract(const struct seccomp_notif& req, const std::string& name);
  // listen() where pidfd_getfd is refused: made on the socket the guard
  // bound (bound_), found by the inode the descriptor names; never on the
  // descriptor number, which another thread can point elsewhere.
  void ListenWithoutTaking(const struct seccomp_notif& req);
  // Forgets the sockets of bound_ that no process of the sandbox holds.
  void DropUnheldBound();
  // The thread binds are made on, started on first use; null when it cannot
  // be set up (binds are then refused).
  SandboxThread* Binder();
  // The command's descriptor `fd` as a socket of ours (pidfd_getfd), after
  // the id check; invalid with *err set when it cannot be had.
  UniqueFd TakeSocket(const struct seccomp_notif& req, int fd, int* err);
  // Answers a call whose socket TakeSocket could not take (`err`): nothing
  // when the caller is gone, EBADF passed on, otherwise refused with
  // `answer` and a deny event about `subject` saying the socket could not
  // be taken `purpose` ("to connect it").
  void RefuseUntaken(const struct seccomp_notif& req, int err, const std::string& subject,
                     const std::string& purpose, int answer);
  // cfg_.pidfd_getfd_works, probed here the first time when the plan did not.
  bool PidfdGetfdUsable();
  // Namespace mode: whether the command's socket `sock` belongs to the
  // sandbox's network namespace. A socket of another namespace (passed in
  // over a unix socket, say) is refused: connecting or listening on it would
  // act on that namespace's addresses and abstract names.
  bool InSandboxNetns(int sock) const;

  // Who calls, for a connect to the proxy (to_proxy false for any other
  // destination). `id` is empty when the caller cannot be read (nobody is
  // recorded: binary rules refuse); `gone` when the call is no longer
  // pending (nothing to answer).
  struct ProxyCallerInfo {
    bool to_proxy = false;
    bool gone = false;
    std::optional<CallerIdentity> id;
  };
  ProxyCallerInfo ProxyCaller(const struct seccomp_notif& req, const sockaddr_storage& to);
  // Records the caller for the connection `sock` is about to make to `to`
  // (the proxy), under the local address it will connect from (bound now
  // when it is not yet), returned in *recorded; false when that address
  // cannot be had. Nothing is recorded when `caller` names no one.
  bool RecordProxyCaller(int sock, const sockaddr_storage& to, ProxyCallerInfo caller,
                         sockaddr_storage* recorded);
  // `allowed_event`, when given, is written to the audit log once connected.
  // Namespace mode: a connect to a loopback port nothing in the sandbox
  // listens on is answered ECONNREFUSED (as the kernel would) and audited
  // with the hint for a host service. True when it answered.
  // Whether a TCP socket of the sandbox's network namespace listens on
  // `port` (namespace mode; `pid` is the caller, for the /proc fallback).
  bool ListensInSandbox(pid_t pid, uint16_t port) const;
  bool RefusedUnservedLoopback(const struct seccomp_notif& req, const struct sockaddr_storage& to,
                               socklen_t to_len);
  void ConnectOwnSocket(const struct seccomp_notif& req, const struct sockaddr_storage& to,
                        socklen_t to_len, const AuditEvent* allowed_event = nullptr);
  void HandleAbstract(const struct seccomp_notif& req, const std::string& name);
  // The allowed end of both: in namespace mode connects the command's own
  // socket (ConnectOwnSocket); otherwise connects a socket like the
  // command's to `to` and, once connected, installs it over the command's
  // descriptor (ADDFD + SETFD). A connect that fails installs nothing.
  void ConnectUnixOnBehalf(const struct seccomp_notif& req, const struct sockaddr_un& to,
                           socklen_t to_len, const std::string& subject,
                           const std::string& why_allowed);
  // Runs `fn` on a connector thread (sandbox credentials) and waits.
  void OnConnector(const std::function<void()>& fn);
  // Runs `f(fd)` on the guard's sock_diag socket (the sandbox's own in
  // namespace mode), one query at a time: its threads share the socket, and
  // replies to two queries made at once would interleave.
  template <typename F>
  auto WithDiag(F f) const {
    std::lock_guard<std::mutex> lock(diag_mu_);
    return f(cfg_.sandbox_diag.valid() ? cfg_.sandbox_diag.get() : own_diag_.get());
  }

  UniqueFd listener_;
  UniqueFd stop_;  // eventfd
  ConnectGuardConfig cfg_;
  AuditSink* audit_ = nullptr;
  // The thread that receives notifications: connects go to workers_ (each
  // may block on a full listener or a slow peer without holding up the
  // others); every other call is handled on this thread, in order, as it
  // touches the guard's own state (bound_, the binder, the metadata guard).
  std::thread thread_;
  std::unique_ptr<WorkPool> workers_;
  std::atomic<uint64_t> allowed_{0}, denied_{0};
  pid_t root_ = 0;
  UniqueFd own_diag_;           // platform: sock_diag in the supervisor's (= sandbox's) namespace
  mutable std::mutex diag_mu_;  // WithDiag
  // The connectors: run unix connects and listens with the sandbox's
  // credentials (OnConnector), one per connect under way. When their set-up
  // fails nothing runs on them.
  std::unique_ptr<ConnectorPool> connectors_;
  std::once_flag pidfd_probe_;
  // Null when its set-up failed: metadata calls are then refused.
  std::unique_ptr<MetadataGuard> metadata_;
  pid_t init_ = 0;
  // The sandbox's network namespace (inode of its nsfs file); 0 when the
  // sandbox shares the supervisor's (platform mode).
  ino_t sandbox_netns_ = 0;
  // Abstract names the sandbox binds live under this per-run random prefix
  // (no leading NUL), so that no host client expecting a well-known name
  // reaches them.
  std::string abstract_prefix_;
  std::unique_ptr<SandboxThread> binder_;
  bool binder_failed_ = false;
  bool binder_own_cwd_ = false;  // the binder thread could unshare(CLONE_FS)
  // Where pidfd_getfd is refused: the sockets the guard bound and installed
  // in the sandbox, by inode, until it listens on them or no sandbox
  // process holds them any more.
  std::map<uint64_t, UniqueFd> bound_;
};

}  // namespace rf
