#include "net/connect_guard.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/file.h"
#include "common/thread_creds.h"
#include "net/guard_io.h"
#include "net/sockaddr_parse.h"
#include "net/unix_diag.h"
#include "seccomp/notify.h"

namespace rf {

namespace {

// Connects under way at once (each may block), and notifications received
// but waiting for one of them; beyond that the kernel holds them.
constexpr size_t kGuardWorkers = 16;
constexpr size_t kGuardQueue = 256;

// The network namespace (inode of its nsfs file) that socket `sock` belongs
// to. Needs CAP_NET_ADMIN over that namespace: the supervisor has it for the
// sandbox's (it owns the sandbox's user namespace, or is root), not for a
// host namespace it does not administer, which then fails as it should.
Result<ino_t> SocketNetns(int sock) {
  UniqueFd ns(ioctl(sock, SIOCGSKNS));
  if (!ns.valid()) return Status::Errno("SIOCGSKNS");
  struct stat st;
  if (fstat(ns.get(), &st) != 0) return Status::Errno("fstat on a network namespace");
  return st.st_ino;
}

}  // namespace

bool ConnectAllowed(const ConnectGuardConfig& cfg, const void* addr, size_t len) {
  uint16_t port = 0;
  int kind = LoopbackKind(addr, len, &port);
  if (kind == 0 || port == 0) return false;
  // The proxy listens on 127.0.0.1 only: the same port on ::1 is someone else.
  if (port == cfg.proxy_port && kind == 4) return true;
  // Dev servers: the policy's loopback ports, on 127.0.0.1 or ::1.
  return std::find(cfg.loopback_ports.begin(), cfg.loopback_ports.end(), port) !=
         cfg.loopback_ports.end();
}

bool PidfdGetfdWorks() {
  // On ourselves it can only fail when something refuses the call itself
  // (a seccomp profile)...
  UniqueFd self(static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0)));
  UniqueFd any(eventfd(0, EFD_CLOEXEC));
  UniqueFd copy(self.valid() && any.valid()
                    ? static_cast<int>(syscall(SYS_pidfd_getfd, self.get(), any.get(), 0))
                    : -1);
  if (!copy.valid()) return false;
  // ...and Yama does not look at a process's own threads: scope 3 refuses
  // every attach, scope 2 all but CAP_SYS_PTRACE (here: root).
  auto yama = ReadSmallFile("/proc/sys/kernel/yama/ptrace_scope", 64);
  if (yama.ok()) {
    const int scope = atoi(yama->c_str());
    if (scope >= 3) return false;
    if (scope == 2 && geteuid() != 0) return false;
  }
  return true;
}

Result<std::unique_ptr<ConnectGuard>> ConnectGuard::Start(UniqueFd listener, ConnectGuardConfig cfg,
                                                          AuditSink* audit, pid_t sandbox_root) {
  std::unique_ptr<ConnectGuard> g(new ConnectGuard());
  g->listener_ = std::move(listener);
  g->root_ = sandbox_root;
  if (!cfg.sandbox_diag.valid()) {
    auto d = OpenUnixDiag();
    if (!d.ok()) return d.status();
    g->own_diag_ = std::move(d).value();
  }
  g->stop_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!g->stop_.valid()) return Status::Errno("eventfd");
  // The sandbox's init (the command's parent), where callers' chains stop,
  // also once the command itself has exited.
  g->init_ = ParentOfPid(sandbox_root);
  g->cfg_ = std::move(cfg);
  if (g->cfg_.sandbox_diag.valid()) {
    auto ns = SocketNetns(g->cfg_.sandbox_diag.get());
    if (!ns.ok()) return ns.status().With("the sandbox's network namespace");
    g->sandbox_netns_ = *ns;
  }
  g->audit_ = audit;
  if (g->cfg_.check_abstract) g->abstract_prefix_ = RandomAbstractPrefix();
  // The connectors: threads with the sandbox's credentials when the
  // supervisor is root (raw system calls change the calling thread only;
  // glibc's wrappers would change every thread's), started when first
  // needed. Without one no unix connect is made (OnConnector runs nothing).
  g->connectors_ = std::make_unique<ConnectorPool>(
      [switch_creds = g->cfg_.switch_creds, uid = g->cfg_.uid, gid = g->cfg_.gid] {
        return switch_creds ? SwitchThreadCredentials(uid, gid) : 0;
      },
      kGuardWorkers + 1);
  g->workers_ = std::make_unique<WorkPool>(kGuardWorkers, kGuardQueue);
  MetadataGuardConfig meta = g->cfg_.metadata;
  ResolveSandboxGrants(meta.grants, sandbox_root);
  meta.switch_creds = g->cfg_.switch_creds;
  meta.uid = g->cfg_.uid;
  meta.gid = g->cfg_.gid;
  auto metadata = MetadataGuard::Create(g->listener_.get(), std::move(meta), audit);
  if (metadata.ok()) g->metadata_ = std::move(metadata).value();
  g->thread_ = std::thread([p = g.get()] { p->Loop(); });
  return g;
}

void ConnectGuard::OnConnector(const std::function<void()>& fn) {
  if (connectors_) connectors_->Run(fn);
}

ConnectGuard::~ConnectGuard() { Stop(); }

void ConnectGuard::Stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  ssize_t ignored = write(stop_.get(), &one, sizeof one);
  (void)ignored;
  thread_.join();
  workers_->Stop();
  connectors_.reset();
}

void ConnectGuard::Loop() {
  for (;;) {
    struct pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    int n = poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) return;  // the sandbox is gone
    if (!(fds[0].revents & POLLIN)) continue;
    struct seccomp_notif req;
    memset(&req, 0, sizeof req);
    if (ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) continue;  // ENOENT: gone
    if (req.data.nr == __NR_connect) {
      if (!workers_->Submit([this, req] { Handle(req); })) return;
    } else {
      Handle(req);
    }
  }
}

void ConnectGuard::Handle(const struct seccomp_notif& req) {
  const int listener = listener_.get();
  if (IsMetadataCall(req.data.nr)) {
    if (metadata_) {
      metadata_->Handle(req);
    } else {
      ++denied_;
      Respond(listener, req.id, EACCES, false);
    }
    return;
  }
  if (req.data.nr == __NR_listen) {
    HandleListen(req);
    return;
  }
  if (req.data.nr == __NR_bind) {
    HandleBind(req);
    return;
  }
  if (req.data.nr == __NR_setsockopt && static_cast<int>(req.data.args[1]) == SOL_SOCKET &&
      IsPassCredentialsOption(static_cast<int>(req.data.args[2]))) {
    HandleSetsockopt(req);
    return;
  }
  // MSG_FASTOPEN sends are refusals sent here to be audited (below).
  if (req.data.nr == __NR_sendto && !(req.data.args[3] & MSG_FASTOPEN)) {
    HandleSendto(req);
    return;
  }
  if (req.data.nr != __NR_connect) {
    // A refusal sent here to be audited (run --audit); anything else is not
    // routed here: refuse rather than guess.
    const auto& d = cfg_.audited_denials;
    auto it =
        std::find_if(d.begin(), d.end(), [&](const auto& e) { return e.first == req.data.nr; });
    const int err = it != d.end() ? it->second : EPERM;
    Respond(listener, req.id, err, false);
    ++denied_;
    // The sink caps what a command looping on a refused call can write.
    if (it != d.end() && audit_) audit_->Emit(seccomp::DenialEvent(seccomp::FromRequest(req), err));
    return;
  }
  const uint64_t addr_ptr = req.data.args[1];
  // The kernel's length rules first: nothing is read past what they allow.
  const SockaddrCopy read = ReadSockaddr(req.pid, addr_ptr, req.data.args[2]);
  // The id check after reading: if the process died and its pid was reused,
  // what we read belongs to someone else and must not be acted upon.
  if (!IdValid(listener, req.id)) return;
  if (read.err) {
    Respond(listener, req.id, read.err, false);
    return;
  }
  sockaddr_storage ss = read.addr;
  size_t addr_len = read.len;
  const ConnectAddress parsed = ClassifyConnectAddress(&ss, addr_len);
  switch (parsed.kind) {
    case ConnectAddress::Kind::kInvalid:
      Respond(listener, req.id, parsed.err, false);
      return;
    case ConnectAddress::Kind::kUnixAbstract:
      if (cfg_.check_abstract) {
        HandleAbstract(req, parsed.name);
      } else {
        // The sandbox's own network namespace: abstract names are per
        // namespace, and the command's socket must be of that namespace.
        ConnectOwnSocket(req, ss, static_cast<socklen_t>(addr_len));
      }
      return;
    case ConnectAddress::Kind::kUnixPath:
      HandleUnix(req, parsed.name);
      return;
    case ConnectAddress::Kind::kInet:
      // IPv6 without a scope id: the rest of our copy is zero, as the
      // kernel reads it.
      if (ss.ss_family == AF_INET6) addr_len = std::max(addr_len, sizeof(sockaddr_in6));
      break;
    case ConnectAddress::Kind::kOther:
      break;
  }
  if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
    if (!cfg_.check_inet || (ss.ss_family == AF_UNSPEC && PidfdGetfdUsable())) {
      // AF_UNSPEC dissolves an association and connects nothing.
      // Namespace mode: the kernel decides, on our copy of the address.
      ConnectOwnSocket(req, ss, static_cast<socklen_t>(addr_len));
      return;
    }
    // Never "continue": the kernel would read the address again, and a
    // racing thread could have turned it into an inet or unix address we
    // never checked. netlink and AF_UNSPEC connects are refused.
    ++denied_;
    audit_->Emit({"network",
                  "deny",
                  DescribeSockaddr(&ss, addr_len),
                  "connect() with an address family other than AF_UNIX, AF_INET and AF_INET6",
                  {{"pid", req.pid}}});
    Respond(listener, req.id, EAFNOSUPPORT, false);
    return;
  }
  HandleInet(req, ss, addr_len);
}

bool ConnectGuard::PidfdGetfdUsable() {
  // Asked from several threads: probed once.
  std::call_once(pidfd_probe_, [this] {
    if (!cfg_.pidfd_getfd_works) cfg_.pidfd_getfd_works = PidfdGetfdWorks();
  });
  return *cfg_.pidfd_getfd_works;
}

UniqueFd ConnectGuard::TakeSocket(const struct seccomp_notif& req, int fd, int* err) {
  // The id check after pidfd_open: the pid is still the caller's.
  long pidfd = syscall(SYS_pidfd_open, req.pid, O_EXCL /* PIDFD_THREAD, Linux 6.9 */);
  if (pidfd < 0 && errno == EINVAL) {
    // An older kernel: a pidfd of the thread's process (its threads share
    // the descriptor table).
    pid_t tgid = ThreadGroupOf(req.pid);
    pidfd = syscall(SYS_pidfd_open, tgid > 0 ? tgid : req.pid, 0);
  }
  UniqueFd pid_fd(static_cast<int>(pidfd));
  *err = pid_fd.valid() ? 0 : errno;
  if (!IdValid(listener_.get(), req.id)) {
    *err = ENOENT;
    return UniqueFd();
  }
  if (!pid_fd.valid()) return UniqueFd();
  UniqueFd sock(static_cast<int>(syscall(SYS_pidfd_getfd, pid_fd.get(), fd, 0)));
  if (!sock.valid()) *err = errno;
  return sock;
}

void ConnectGuard::RefuseUntaken(const struct seccomp_notif& req, int err,
                                 const std::string& subject, const std::string& purpose,
                                 int answer) {
  if (err == ENOENT) return;  // the caller is gone
  if (err == EBADF) {
    Respond(listener_.get(), req.id, EBADF, false);
    return;
  }
  DenySend(req, subject,
           "the command's socket could not be taken " + purpose +
               " (pidfd_getfd: " + std::string(strerror(err)) + ")",
           answer);
}

bool ConnectGuard::InSandboxNetns(int sock) const {
  if (sandbox_netns_ == 0) return true;
  auto ns = SocketNetns(sock);
  return ns.ok() && *ns == sandbox_netns_;
}

}  // namespace rf
