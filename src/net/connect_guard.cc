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
#include <fstream>
#include <sstream>
#include <string>

#include "common/file.h"
#include "net/guard_io.h"
#include "net/sockaddr_parse.h"
#include "net/unix_diag.h"
#include "policy/glob.h"
#include "seccomp/notify.h"

namespace rf {

namespace {

// Classifies an inet destination: 4 = 127.0.0.1 (or ::ffff:127.0.0.1),
// 6 = ::1, 0 = anything else. Sets *port.
int LoopbackKind(const void* addr, size_t len, uint16_t* port) {
  sa_family_t fam;
  if (len < sizeof fam) return 0;
  memcpy(&fam, addr, sizeof fam);
  if (fam == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in in;
    memcpy(&in, addr, sizeof in);
    *port = ntohs(in.sin_port);
    return in.sin_addr.s_addr == htonl(INADDR_LOOPBACK) ? 4 : 0;
  }
  if (fam == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 in6;
    memcpy(&in6, addr, sizeof in6);
    *port = ntohs(in6.sin6_port);
    static const uint8_t mapped_lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
    if (memcmp(&in6.sin6_addr, mapped_lo, 16) == 0) return 4;
    return IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr) ? 6 : 0;
  }
  return 0;
}

// The process (thread group) of thread `tid`, from /proc/<tid>/status; 0
// when it cannot be read.
pid_t ThreadGroupOf(pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(tid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "Tgid:") {
      pid_t tgid = 0;
      in >> tgid;
      return tgid;
    }
    in.ignore(4096, '\n');
  }
  return 0;
}

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

std::string Describe(const void* addr, size_t len) {
  char buf[INET6_ADDRSTRLEN] = "?";
  sa_family_t fam;
  memcpy(&fam, addr, sizeof fam);
  if (fam == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in in;
    memcpy(&in, addr, sizeof in);
    inet_ntop(AF_INET, &in.sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(in.sin_port));
  }
  if (fam == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 in6;
    memcpy(&in6, addr, sizeof in6);
    inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(in6.sin6_port));
  }
  return "family " + std::to_string(fam);
}

// The endpoint that lets the proxy carry a connect to the host's loopback
// (kind 4: 127.0.0.1, 6: ::1): the whole recipe, allowed_ips included (the
// SSRF rule refuses loopback without it).
std::string LoopbackEndpoint(int kind, uint16_t port) {
  const bool v6 = kind == 6;
  return std::string("{host: ") + (v6 ? "::1" : "127.0.0.1") + ", port: " + std::to_string(port) +
         ", allowed_ips: [" + (v6 ? "::1/128" : "127.0.0.1/32") + "]}";
}

// Whether a TCP socket of `pid`'s network namespace listens on `port` (any
// address: a wildcard listener answers on loopback too), from its
// /proc/<pid>/net/tcp and tcp6. Unreadable: "yes" (nothing is claimed).
bool ListensInNamespaceOf(pid_t pid, uint16_t port) {
  char want[8];
  snprintf(want, sizeof want, ":%04X", port);
  for (const char* file : {"tcp", "tcp6"}) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/net/" + file);
    if (!in) return true;
    std::string line;
    std::getline(in, line);  // the header
    // Bounded: one line per socket of the namespace.
    for (int n = 0; n < (1 << 20) && std::getline(in, line); ++n) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      if (!(fields >> slot >> local >> remote >> state)) continue;
      if (state == "0A" && local.size() > 5 && local.compare(local.size() - 5, 5, want) == 0)
        return true;
    }
    if (in.bad()) return true;
  }
  return false;
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
  // The connector: a thread with the sandbox's credentials when the
  // supervisor is root (raw system calls change the calling thread only;
  // glibc's wrappers would change every thread's). Without it no unix
  // connect is made (OnConnector runs nothing).
  auto connector = SandboxThread::Start([switch_creds = g->cfg_.switch_creds, uid = g->cfg_.uid,
                                         gid = g->cfg_.gid]() -> int {
    if (switch_creds &&
        (syscall(SYS_setgroups, 0, nullptr) != 0 || syscall(SYS_setresgid, gid, gid, gid) != 0 ||
         syscall(SYS_setresuid, uid, uid, uid) != 0))
      return errno;
    return 0;
  });
  if (connector.ok()) g->connector_ = std::move(connector).value();
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
  if (connector_) connector_->Run(fn);
}

ConnectGuard::~ConnectGuard() { Stop(); }

void ConnectGuard::Stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  ssize_t ignored = write(stop_.get(), &one, sizeof one);
  (void)ignored;
  thread_.join();
  connector_.reset();
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
    Handle(req);
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
  const int fd = static_cast<int>(req.data.args[0]);
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
                  Describe(&ss, addr_len),
                  "connect() with an address family other than AF_UNIX, AF_INET and AF_INET6",
                  {{"pid", req.pid}}});
    Respond(listener, req.id, EAFNOSUPPORT, false);
    return;
  }
  uint16_t port = 0;
  const int loopback = LoopbackKind(&ss, addr_len, &port);
  if (!cfg_.check_inet) {
    // Namespace mode: the command's own socket, connected by the kernel
    // after the checks in ConnectOwnSocket.
    ConnectOwnSocket(req, ss, static_cast<socklen_t>(addr_len));
    return;
  }
  const std::string target = Describe(&ss, addr_len);
  if (!ConnectAllowed(cfg_, &ss, addr_len)) {
    ++denied_;
    const std::string hint =
        loopback != 0 && port != 0
            ? "for a service of the host add an endpoint " + LoopbackEndpoint(loopback, port) +
                  " to network_policies and let the client use the proxy (HTTP_PROXY); for a "
                  "server the sandbox runs itself: network.loopback_ports: [" +
                  std::to_string(port) + "]"
            : "connect through the proxy (HTTP_PROXY, HTTPS_PROXY) with an endpoint for it in "
              "network_policies";
    audit_->Emit(
        {"network",
         "deny",
         target,
         "platform mode: only the proxy and the policy's loopback ports may be connected to",
         {{"pid", req.pid}, {"hint", hint}}});
    Respond(listener, req.id, EACCES, false);
    return;
  }
  // Connect on the command's behalf, with a socket of our own.
  int flags = RemoteFdFlags(req.pid, fd);
  if (flags < 0) {
    Respond(listener, req.id, EBADF, false);
    return;
  }
  UniqueFd sock(socket(ss.ss_family,
                       SOCK_STREAM | SOCK_CLOEXEC | ((flags & O_NONBLOCK) ? SOCK_NONBLOCK : 0), 0));
  if (!sock.valid()) {
    Respond(listener, req.id, errno, false);
    return;
  }
  int rc = connect(sock.get(), reinterpret_cast<sockaddr*>(&ss), static_cast<socklen_t>(addr_len));
  int connect_err = rc == 0 ? 0 : errno;
  if (rc != 0 && connect_err != EINPROGRESS) {
    Respond(listener, req.id, connect_err, false);
    return;
  }
  RecordProxyCaller(sock.get(), ProxyCaller(req, ss));
  if (InstallAndRespond(listener, req.id, sock.get(), fd, flags, connect_err) != 0) return;
  ++allowed_;
}

ConnectGuard::ProxyCallerInfo ConnectGuard::ProxyCaller(const struct seccomp_notif& req,
                                                        const sockaddr_storage& to) {
  ProxyCallerInfo info;
  if (!cfg_.ledger || cfg_.proxy_port == 0) return info;
  uint16_t port = 0;
  if (to.ss_family == AF_INET)
    port = ntohs(reinterpret_cast<const sockaddr_in*>(&to)->sin_port);
  else if (to.ss_family == AF_INET6)
    port = ntohs(reinterpret_cast<const sockaddr_in6*>(&to)->sin6_port);
  if (port != cfg_.proxy_port) return info;
  info.to_proxy = true;
  // The caller as it is now, while it waits in connect(): its executable
  // cannot change before we answer.
  auto id = ChainOf(req.pid, root_, "/proc", init_);
  if (!IdValid(listener_.get(), req.id)) {
    info.gone = true;
    return info;
  }
  if (id.ok()) {
    info.id = std::move(*id);
  } else {
    // Still the sandbox's connection (the proxy serves no other), but
    // nobody is named: binary rules refuse it.
    info.id.emplace();
    info.id->pid = req.pid;
  }
  return info;
}

void ConnectGuard::RecordProxyCaller(int sock, ProxyCallerInfo caller) {
  struct stat st;
  if (!caller.id || fstat(sock, &st) != 0) return;
  cfg_.ledger->Record(st.st_ino, std::move(*caller.id));
}

namespace {

bool HasGlob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

bool Beneath(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || path.rfind(root + "/", 0) == 0;
}

}  // namespace

void ConnectGuard::HandleAbstract(const struct seccomp_notif& req, const std::string& name) {
  const int listener = listener_.get();
  // As written in audit lines and matched by "@..." entries: NULs inside an
  // abstract name (legal) are shown as '@', like /proc/net/unix does.
  std::string shown = "@" + name;
  std::replace(shown.begin() + 1, shown.end(), '\0', '@');
  if (!IdValid(listener, req.id)) return;
  if (ConnectOwnAbstract(req, name)) return;
  std::string why_allowed;
  for (const auto& entry : cfg_.unix_allowed) {
    if (entry.empty() || entry[0] != '@') continue;
    if (entry == shown || (HasGlob(entry) && GlobMatch(entry, shown))) {
      why_allowed = "network.unix_sockets: " + entry;
      break;
    }
  }
  if (why_allowed.empty() || cfg_.abstract_scoped) {
    why_allowed.clear();
    int diag = cfg_.sandbox_diag.valid() ? cfg_.sandbox_diag.get() : own_diag_.get();
    auto listeners = ListenersNamed(diag, name);
    if (listeners.ok() && !listeners->empty() && HeldByAny(ProcessTree(root_), *listeners))
      why_allowed = "served by the sandbox";
  }
  if (why_allowed.empty()) {
    ++denied_;
    audit_->Emit({"network",
                  "deny",
                  "unix:" + shown,
                  cfg_.abstract_scoped
                      ? "abstract unix socket not served by the sandbox (Landlock scope)"
                      : "abstract unix socket not in network.unix_sockets (no Landlock scope on "
                        "this kernel)",
                  {{"pid", req.pid}}});
    Respond(listener, req.id, EPERM, false);  // what Landlock's scope answers
    return;
  }
  // Connect on the command's behalf to the name we checked: a racing thread
  // rewriting the address cannot redirect it.
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  memcpy(to.sun_path + 1, name.data(), name.size());
  ConnectUnixOnBehalf(req, to,
                      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size()),
                      "unix:" + shown, why_allowed);
}

void ConnectGuard::HandleUnix(const struct seccomp_notif& req, std::string path) {
  const int listener = listener_.get();
  if (path[0] != '/') {
    char cwd[4096];
    std::string link = "/proc/" + std::to_string(req.pid) + "/cwd";
    ssize_t n = readlink(link.c_str(), cwd, sizeof cwd - 1);
    if (n <= 0) {
      Respond(listener, req.id, EACCES, false);
      return;
    }
    path = std::string(cwd, static_cast<size_t>(n)) + "/" + path;
  }
  if (!IdValid(listener, req.id)) return;
  auto deny = [&](const std::string& why) {
    ++denied_;
    audit_->Emit({"network", "deny", "unix:" + path, why, {{"pid", req.pid}}});
    Respond(listener, req.id, EACCES, false);
  };
  bool visible = false;
  for (const auto& r : cfg_.visible_roots) visible = visible || Beneath(path, r);

  // The path names what the caller sees: in namespace mode its mount
  // namespace has its own /tmp. Resolved under the caller's root directory
  // (opened here, with the supervisor's rights; the connector thread may
  // not open another process's /proc entries), as the caller would.
  UniqueFd root(open(("/proc/" + std::to_string(req.pid) + "/root").c_str(),
                     O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid() || !IdValid(listener, req.id)) {
    Respond(listener, req.id, EACCES, false);
    return;
  }
  // Resolve once, ourselves (never again by path): no magic links, so
  // /proc/<pid>/root/... and /proc/self/fd/... forms cannot point elsewhere.
  UniqueFd target;
  int resolve_err = 0;
  struct stat st {};
  OnConnector([&] {
    struct open_how how {};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_NO_MAGICLINKS | RESOLVE_IN_ROOT;
    long r = syscall(SYS_openat2, root.get(), path.c_str(), &how, sizeof how);
    if (r < 0) {
      resolve_err = errno;
      return;
    }
    target.reset(static_cast<int>(r));
    if (fstat(target.get(), &st) != 0) resolve_err = errno;
  });
  if (!target.valid() || resolve_err) {
    // Nothing there (or not searchable with the sandbox's credentials): the
    // errno the kernel would give. Like Landlock's own answers, ENOENT vs
    // EACCES tells existence, nothing more (glibc probes nscd's socket on
    // every lookup: no audit noise for that).
    Respond(listener, req.id, resolve_err ? resolve_err : EACCES, false);
    return;
  }
  if (!S_ISSOCK(st.st_mode)) {
    Respond(listener, req.id, visible ? ECONNREFUSED : EACCES, false);
    return;
  }

  // Decide: an allowlisted host socket, or one the sandbox itself serves.
  std::string why_allowed;
  for (const auto& entry : cfg_.unix_allowed) {
    if (entry.empty() || entry[0] != '/') continue;  // "@name": abstract, see HandleAbstract
    if (!HasGlob(entry)) {
      struct stat es;
      bool same = false;
      OnConnector([&] {
        same = stat(entry.c_str(), &es) == 0 && es.st_dev == st.st_dev && es.st_ino == st.st_ino;
      });
      if (same) why_allowed = "network.unix_sockets: " + entry;
    } else if (GlobMatch(entry, path)) {
      // A glob matches the path as written; it must also be the path itself
      // (no symlink redirecting it elsewhere).
      bool same = false;
      OnConnector([&] {
        struct open_how how {};
        how.flags = O_PATH | O_CLOEXEC;
        how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_IN_ROOT;
        long r = syscall(SYS_openat2, root.get(), path.c_str(), &how, sizeof how);
        struct stat gs;
        same = r >= 0 && fstat(static_cast<int>(r), &gs) == 0 && gs.st_dev == st.st_dev &&
               gs.st_ino == st.st_ino;
        if (r >= 0) close(static_cast<int>(r));
      });
      if (same) why_allowed = "network.unix_sockets: " + entry;
    }
    if (!why_allowed.empty()) break;
  }
  if (why_allowed.empty()) {
    int diag = cfg_.sandbox_diag.valid() ? cfg_.sandbox_diag.get() : own_diag_.get();
    auto listeners = ListenersBoundTo(diag, st.st_dev, st.st_ino);
    if (listeners.ok() && !listeners->empty()) {
      if (cfg_.sandbox_diag.valid() || HeldByAny(ProcessTree(root_), *listeners))
        why_allowed = "served by the sandbox";
    }
  }
  if (why_allowed.empty()) return deny("host unix socket not in network.unix_sockets");

  // Connect on the command's behalf through the descriptor we resolved.
  sockaddr_un via{};
  via.sun_family = AF_UNIX;
  snprintf(via.sun_path, sizeof via.sun_path, "/proc/self/fd/%d", target.get());
  ConnectUnixOnBehalf(req, via, sizeof via, "unix:" + path, why_allowed);
}

bool ConnectGuard::PidfdGetfdUsable() {
  if (!cfg_.pidfd_getfd_works) cfg_.pidfd_getfd_works = PidfdGetfdWorks();
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

void ConnectGuard::HandleListen(const struct seccomp_notif& req) {
  const int listener = listener_.get();
  const int fd = static_cast<int>(req.data.args[0]);
  int err = 0;
  UniqueFd sock = TakeSocket(req, fd, &err);
  if (err == ENOENT) return;  // the caller is gone
  if (!sock.valid()) {
    if (err == EBADF) {
      Respond(listener, req.id, EBADF, false);
      return;
    }
    if (!PidfdGetfdUsable()) {
      // No pidfd_getfd here at all (a container profile refuses it): the
      // guard made every bind, and listens on the socket it bound.
      ListenWithoutTaking(req);
      return;
    }
    // It works, but not on this caller (it made itself non-dumpable, and
    // we are not root): unchecked, so refused.
    ++denied_;
    audit_->Emit({"network",
                  "deny",
                  "listen",
                  "the command's socket could not be taken to check it (pidfd_getfd: " +
                      std::string(strerror(err)) + ")",
                  {{"pid", req.pid}}});
    Respond(listener, req.id, EPERM, false);
    return;
  }
  int domain = 0;
  socklen_t dlen = sizeof domain;
  if (getsockopt(sock.get(), SOL_SOCKET, SO_DOMAIN, &domain, &dlen) != 0) {
    Respond(listener, req.id, ENOTSOCK, false);
    return;
  }
  if (domain == AF_INET || domain == AF_INET6) {
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    uint16_t port = 0;
    if (getsockname(sock.get(), reinterpret_cast<sockaddr*>(&local), &len) == 0)
      port = ntohs(domain == AF_INET ? reinterpret_cast<sockaddr_in*>(&local)->sin_port
                                     : reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
    if (port == 0) {
      ++denied_;
      audit_->Emit({"network",
                    "deny",
                    "listen",
                    "listen() on a TCP socket never bound would bind an ephemeral port on every "
                    "address; bind it to a network.bind_ports port first",
                    {{"pid", req.pid}}});
      Respond(listener, req.id, EACCES, false);  // what Landlock answers a bind
      return;
    }
  }
  // Made here, on the socket we checked (with the sandbox's credentials,
  // which a unix listener hands to its peers).
  int listen_err = EACCES;
  OnConnector([&] {
    listen_err = listen(sock.get(), static_cast<int>(req.data.args[1])) == 0 ? 0 : errno;
  });
  Respond(listener, req.id, listen_err, false);
}

bool ConnectGuard::RefusedUnservedLoopback(const struct seccomp_notif& req,
                                           const struct sockaddr_storage& to, socklen_t to_len) {
  const int listener = listener_.get();
  uint16_t port = 0;
  const int loopback = LoopbackKind(&to, to_len, &port);
  // Namespace mode: the network namespace holds nothing but the proxy and
  // the command's own servers. A loopback port nothing listens on is
  // almost always a host service the command expected to see there: say
  // so (the kernel's ECONNREFUSED alone is silent), and how to reach it.
  if (loopback != 0 && port != 0 && port != cfg_.proxy_port &&
      !ListensInNamespaceOf(req.pid, port)) {
    ++denied_;
    const std::string hint =
        cfg_.proxy_port == 0
            ? "network.mode none: the sandbox has no network"
            : "the sandbox's loopback is its own; for a service of the host add an endpoint " +
                  LoopbackEndpoint(loopback, port) +
                  " to network_policies and let the client use the proxy (HTTP_PROXY)";
    audit_->Emit({"network",
                  "deny",
                  Describe(&to, to_len),
                  "nothing in the sandbox listens there (the host's loopback is not the "
                  "sandbox's)",
                  {{"pid", req.pid}, {"hint", hint}}});
    if (IdValid(listener, req.id)) Respond(listener, req.id, ECONNREFUSED, false);
    return true;
  }
  return false;
}

bool ConnectGuard::InSandboxNetns(int sock) const {
  if (sandbox_netns_ == 0) return true;
  auto ns = SocketNetns(sock);
  return ns.ok() && *ns == sandbox_netns_;
}

void ConnectGuard::ConnectOwnSocket(const struct seccomp_notif& req, const sockaddr_storage& to,
                                    socklen_t to_len, const AuditEvent* allowed_event) {
  const int listener = listener_.get();
  const int fd = static_cast<int>(req.data.args[0]);
  // Never "continue": the kernel would read the address (and look the
  // descriptor up) again, after a racing thread changed them. We connect the
  // socket object itself, with the address we read; swapping the descriptor
  // afterwards changes nothing.
  int err = 0;
  UniqueFd sock = TakeSocket(req, fd, &err);
  if (err == ENOENT) return;
  if (!sock.valid()) {
    if (err == EBADF) {
      Respond(listener, req.id, EBADF, false);
      return;
    }
    ++denied_;
    audit_->Emit({"network",
                  "deny",
                  Describe(&to, to_len),
                  "the command's socket could not be taken to connect it (pidfd_getfd: " +
                      std::string(strerror(err)) + ")",
                  {{"pid", req.pid}}});
    Respond(listener, req.id, EACCES, false);
    return;
  }
  if (!InSandboxNetns(sock.get())) {
    ++denied_;
    audit_->Emit({"network",
                  "deny",
                  Describe(&to, to_len),
                  "a socket of another network namespace than the sandbox's",
                  {{"pid", req.pid}}});
    Respond(listener, req.id, EACCES, false);
    return;
  }
  if (!cfg_.check_inet && (to.ss_family == AF_INET || to.ss_family == AF_INET6) &&
      RefusedUnservedLoopback(req, to, to_len))
    return;
  // Who is calling, read before the socket is connected: a signal that
  // interrupts the call during these reads leaves nothing connected.
  ProxyCallerInfo caller = ProxyCaller(req, to);
  if (caller.gone) return;  // nothing pending to answer
  // With the sandbox's credentials (peers of unix sockets see them).
  int connect_err = EACCES;  // stays so if the connector thread is gone
  OnConnector([&] {
    connect_err =
        connect(sock.get(), reinterpret_cast<const sockaddr*>(&to), to_len) == 0 ? 0 : errno;
  });
  const bool connected = connect_err == 0 || connect_err == EINPROGRESS;
  if (connected) RecordProxyCaller(sock.get(), caller);
  Respond(listener, req.id, connect_err, false);
  if (!connected) return;
  ++allowed_;
  if (allowed_event) audit_->Emit(*allowed_event);
}

void ConnectGuard::ConnectUnixOnBehalf(const struct seccomp_notif& req, const sockaddr_un& to,
                                       socklen_t to_len, const std::string& subject,
                                       const std::string& why_allowed) {
  if (sandbox_netns_ != 0) {
    // A socket made here would be the host namespace's: its abstract names
    // are the host's, whatever it is later used for.
    sockaddr_storage ss{};
    memcpy(&ss, &to, std::min<size_t>(to_len, sizeof to));
    const AuditEvent allowed{"network", "allow", subject, why_allowed, {{"pid", req.pid}}};
    ConnectOwnSocket(req, ss, to_len, &allowed);
    return;
  }
  const int listener = listener_.get();
  const int fd = static_cast<int>(req.data.args[0]);
  // A socket of the command's type and flags, connected with the sandbox's
  // credentials (the connector thread), installed over its descriptor.
  int type = RemoteUnixType(req.pid, fd);
  int flags = RemoteFdFlags(req.pid, fd);
  if (type == 0 || flags < 0) {
    Respond(listener, req.id, type == 0 ? ENOTSOCK : EBADF, false);
    return;
  }
  UniqueFd sock;
  int connect_err = 0;
  OnConnector([&] {
    sock.reset(
        socket(AF_UNIX, type | SOCK_CLOEXEC | ((flags & O_NONBLOCK) ? SOCK_NONBLOCK : 0), 0));
    if (!sock.valid()) {
      connect_err = errno;
      return;
    }
    if (connect(sock.get(), reinterpret_cast<const sockaddr*>(&to), to_len) != 0)
      connect_err = errno;
  });
  // Not connected (EAGAIN: the listener's backlog is full): the command
  // keeps its own descriptor and gets the errno, as without the guard.
  if (!sock.valid() || connect_err) {
    Respond(listener, req.id, connect_err ? connect_err : EACCES, false);
    return;
  }
  if (InstallAndRespond(listener, req.id, sock.get(), fd, flags, 0) != 0) return;
  ++allowed_;
  audit_->Emit({"network", "allow", subject, why_allowed, {{"pid", req.pid}}});
}

}  // namespace rf
