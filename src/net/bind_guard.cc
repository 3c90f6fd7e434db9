// bind() where abstract unix names are the host's (platform mode, and mode
// none without a network namespace): the connect guard's handler for it.
// docs/unix-sockets.md ("Binding") says what it decides and why.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <set>
#include <string>

#include "common/thread_creds.h"
#include "landlock/uapi.h"
#include "net/connect_guard.h"
#include "net/guard_io.h"
#include "net/unix_diag.h"

namespace rf {

namespace {

// Sockets bound and never listened on that the guard keeps at most (where
// pidfd_getfd is refused): each is one of the supervisor's descriptors.
constexpr size_t kMaxKeptBound = 4096;

sockaddr_un AbstractAddress(const std::string& name, socklen_t* len) {
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  memcpy(to.sun_path + 1, name.data(), name.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return to;
}

// "IP:PORT" of an inet address, for messages.
std::string InetShown(const sockaddr_storage& a, uint16_t* port) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    *port = ntohs(in->sin_port);
    return std::string(buf) + ":" + std::to_string(*port);
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
  inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
  *port = ntohs(in6->sin6_port);
  return "[" + std::string(buf) + "]:" + std::to_string(*port);
}

}  // namespace

void ConnectGuard::AuditInetBindRefusal(const struct seccomp_notif& req, const sockaddr_storage& to,
                                        socklen_t to_len, int err) {
  // Landlock refuses in the kernel without a trace: the binder thread
  // carries the sandbox's rules, so its EACCES is the policy's refusal and
  // is the only place it can be seen.
  if ((to.ss_family != AF_INET && to.ss_family != AF_INET6) || (err != EACCES && err != EPERM))
    return;
  if (to_len < (to.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6))) return;
  uint16_t port = 0;
  const std::string shown = InetShown(to, &port);
  ++denied_;
  audit_->Emit({"network",
                "deny",
                "bind " + shown,
                "bind() to port " + std::to_string(port) + " refused (" +
                    (err == EACCES ? "EACCES" : "EPERM") +
                    "): only the ports in network.bind_ports may be bound (Landlock)" +
                    (port != 0 && port < 1024
                         ? "; a port below 1024 also needs a privilege the sandbox does not have"
                         : ""),
                {{"pid", req.pid}, {"port", port}}});
}

std::string ConnectGuard::AbstractBindName(const std::string& name) const {
  // A listed name is one the policy lets host and sandbox share.
  if (ListedAbstract(cfg_.unix_allowed, ShownAbstract(name))) return name;
  return abstract_prefix_ + name;
}

bool ConnectGuard::ConnectOwnAbstract(const struct seccomp_notif& req, const std::string& name) {
  if (abstract_prefix_.empty()) return false;
  const std::string own = abstract_prefix_ + name;
  if (offsetof(sockaddr_un, sun_path) + 1 + own.size() > sizeof(sockaddr_un)) return false;
  auto listeners = WithDiag([&](int diag) { return ListenersNamed(diag, own); });
  // A listener under the prefix that no sandbox process holds (someone who
  // learnt the prefix) is not the sandbox's: the unprefixed rules decide.
  if (!listeners.ok() || listeners->empty() || !HeldByAny(ProcessTree(root_), *listeners))
    return false;
  socklen_t len = 0;
  const sockaddr_un to = AbstractAddress(own, &len);
  ConnectUnixOnBehalf(req, to, len, "unix:" + ShownAbstract(name), "served by the sandbox");
  return true;
}

SandboxThread* ConnectGuard::Binder() {
  if (binder_ || binder_failed_) return binder_.get();
  const int ruleset = cfg_.landlock_ruleset.get();
  const bool switch_creds = cfg_.switch_creds;
  const uid_t uid = cfg_.uid;
  const gid_t gid = cfg_.gid;
  bool* own_cwd = &binder_own_cwd_;
  auto t = SandboxThread::Start([=]() -> int {
    // A working directory of its own: each relative bind moves it to the
    // caller's, which must not move the rest of the supervisor. A container
    // profile may refuse unshare(): relative paths are then reached through
    // /proc/self/fd/<the caller's cwd>/ instead (see BindOnBehalf).
    *own_cwd = unshare(CLONE_FS) == 0;
    // no_new_privs and Landlock on this thread only (no TSYNC): the kernel
    // then checks a bind's path (make_sock) and TCP port as the sandbox's.
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    if (ruleset >= 0 && landlock::RestrictSelf(ruleset, 0) != 0) return errno;
    // The sandbox's credentials (raw calls: this thread only), so Unix
    // permissions on the directory and the socket file's owner are its own.
    return switch_creds ? SwitchThreadCredentials(uid, gid) : 0;
  });
  if (!t.ok()) {
    binder_failed_ = true;
    audit_->Emit({"network", "degraded", "bind", t.status().reason() + ": binds are refused", {}});
    return nullptr;
  }
  binder_ = std::move(t).value();
  return binder_.get();
}

void ConnectGuard::HandleBind(const struct seccomp_notif& req) {
  const int listener = listener_.get();
  const SockaddrCopy a = ReadSockaddr(req.pid, req.data.args[1], req.data.args[2]);
  // What we read is acted upon only while the call is still the caller's.
  if (!IdValid(listener, req.id)) return;
  if (a.err) {
    Respond(listener, req.id, a.err, false);
    return;
  }
  // Shorter than a family: every family's bind answers EINVAL.
  if (a.len < sizeof(sa_family_t)) {
    Respond(listener, req.id, EINVAL, false);
    return;
  }
  if (a.addr.ss_family != AF_UNIX) {
    // inet (Landlock's TCP rules judge the port on the binder thread),
    // netlink: bound with our copy of the address.
    BindOnBehalf(req, a.addr, a.len, "bind family " + std::to_string(a.addr.ss_family));
    return;
  }
  const size_t off = offsetof(sockaddr_un, sun_path);
  if (a.len > sizeof(sockaddr_un)) {
    Respond(listener, req.id, EINVAL, false);
    return;
  }
  sockaddr_un un;
  memcpy(&un, &a.addr, sizeof un);
  if (a.len == off) {
    // Autobind: the kernel's own choice would be a name of the host's
    // (@xxxxx, 5 hex digits); the guard picks one under the prefix instead.
    BindOnBehalf(req, a.addr, a.len, "unix:(autobind)", !abstract_prefix_.empty());
    return;
  }
  if (un.sun_path[0] != '\0') {
    std::string path(un.sun_path, strnlen(un.sun_path, a.len - off));
    BindOnBehalf(req, a.addr, a.len, "unix:" + path);
    return;
  }
  const std::string name(un.sun_path + 1, a.len - off - 1);
  const std::string real = AbstractBindName(name);
  if (off + 1 + real.size() > sizeof(sockaddr_un)) {
    // Too long once prefixed: what the kernel answers a name too long.
    ++denied_;
    audit_->Emit({"network",
                  "deny",
                  "unix:" + ShownAbstract(name),
                  "abstract name too long for the sandbox's prefix (" +
                      std::to_string(sizeof(un.sun_path) - 1 - abstract_prefix_.size()) +
                      " bytes at most)",
                  {{"pid", req.pid}}});
    Respond(listener, req.id, EINVAL, false);
    return;
  }
  sockaddr_storage to{};
  socklen_t to_len = 0;
  const sockaddr_un mapped = AbstractAddress(real, &to_len);
  memcpy(&to, &mapped, sizeof mapped);
  BindOnBehalf(req, to, to_len, "unix:" + ShownAbstract(name));
}

int ConnectGuard::AutobindUnderPrefix(int sock) const {
  // As the kernel's unix_autobind: five hex digits from a random start,
  // the next one while a name is taken, every one tried at most once.
  sockaddr_storage own{};
  socklen_t own_len = sizeof own;
  if (getsockname(sock, reinterpret_cast<sockaddr*>(&own), &own_len) == 0 &&
      own_len > offsetof(sockaddr_un, sun_path))
    return 0;  // named already: the kernel's autobind does nothing then either
  uint32_t start = 0;
  if (getrandom(&start, sizeof start, GRND_NONBLOCK) != sizeof start)
    start =
        static_cast<uint32_t>(reinterpret_cast<uintptr_t>(&start) ^ static_cast<uint32_t>(sock));
  for (uint32_t i = 0; i <= 0xfffff; ++i) {
    char suffix[8];
    snprintf(suffix, sizeof suffix, "%05x", (start + i) & 0xfffff);
    socklen_t len = 0;
    const sockaddr_un to = AbstractAddress(abstract_prefix_ + suffix, &len);
    if (bind(sock, reinterpret_cast<const sockaddr*>(&to), len) == 0) return 0;
    if (errno != EADDRINUSE) return errno;
  }
  return ENOSPC;  // what the kernel answers once every name is taken
}

int ConnectGuard::AutobindOnBinder(int sock) {
  if (abstract_prefix_.empty()) return 0;
  SandboxThread* binder = Binder();
  if (!binder) return EACCES;
  int err = EACCES;  // stays so if the thread is gone
  binder->Run([&] { err = AutobindUnderPrefix(sock); });
  return err;
}

void ConnectGuard::BindOnBehalf(const struct seccomp_notif& req, const sockaddr_storage& to,
                                socklen_t to_len, const std::string& subject, bool autobind) {
  const int listener = listener_.get();
  const int fd = static_cast<int>(req.data.args[0]);
  const bool is_unix = to.ss_family == AF_UNIX;
  const auto* un = reinterpret_cast<const sockaddr_un*>(&to);
  const bool relative = is_unix && to_len > offsetof(sockaddr_un, sun_path) &&
                        un->sun_path[0] != '\0' && un->sun_path[0] != '/';
  SandboxThread* binder = Binder();
  if (!binder) {
    ++denied_;
    Respond(listener, req.id, EACCES, false);
    return;
  }
  // A relative path is the caller's cwd's: the binder thread moves there
  // (an O_PATH descriptor of it, opened once, so a later chdir of the
  // caller changes nothing).
  UniqueFd cwd;
  if (relative) {
    cwd.reset(open(("/proc/" + std::to_string(req.pid) + "/cwd").c_str(),
                   O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!IdValid(listener, req.id)) return;
    if (!cwd.valid()) {
      Respond(listener, req.id, EACCES, false);
      return;
    }
  }
  sockaddr_storage addr = to;
  socklen_t addr_len = to_len;
  if (relative && !binder_own_cwd_) {
    // The same directory through our descriptor of it (the caller's
    // getsockname() then shows this longer form).
    sockaddr_un via{};
    via.sun_family = AF_UNIX;
    const std::string rel(un->sun_path,
                          strnlen(un->sun_path, to_len - offsetof(sockaddr_un, sun_path)));
    const int n =
        snprintf(via.sun_path, sizeof via.sun_path, "/proc/self/fd/%d/%s", cwd.get(), rel.c_str());
    if (n < 0 || static_cast<size_t>(n) >= sizeof via.sun_path) {
      Respond(listener, req.id, ENAMETOOLONG, false);
      return;
    }
    memcpy(&addr, &via, sizeof via);
    addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + 1);
  }
  auto enter_cwd = [&]() {
    return !cwd.valid() || !binder_own_cwd_ || fchdir(cwd.get()) == 0 ? 0 : errno;
  };

  int err = 0;
  UniqueFd sock = TakeSocket(req, fd, &err);
  if (err == ENOENT) return;  // the caller is gone
  if (sock.valid()) {
    // The command's own socket object, our copy of the address: neither a
    // rewritten address nor another socket dup2()ed onto the number can
    // change what is bound. The kernel decides as for the command.
    int bind_err = EACCES;  // stays so if the thread is gone
    binder->Run([&] {
      bind_err = enter_cwd();
      if (bind_err != 0) return;
      if (autobind)
        bind_err = AutobindUnderPrefix(sock.get());
      else
        bind_err =
            bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), addr_len) == 0 ? 0 : errno;
    });
    Respond(listener, req.id, bind_err, false);
    AuditInetBindRefusal(req, to, to_len, bind_err);
    if (bind_err == 0 && is_unix)
      audit_->Emit({"network", "allow", subject, "bind made by the guard", {{"pid", req.pid}}});
    return;
  }
  if (err == EBADF) {
    Respond(listener, req.id, EBADF, false);
    return;
  }
  // The socket cannot be taken (pidfd_getfd refused here, or a caller that
  // made itself non-dumpable): a new socket like it, bound here, installed
  // over the command's descriptor once bound. Options the command set on
  // its own socket are not carried over (docs/unix-sockets.md).
  const int flags = RemoteFdFlags(req.pid, fd);
  if (flags < 0) {
    Respond(listener, req.id, EBADF, false);
    return;
  }
  if (!RemoteIsSocket(req.pid, fd)) {
    Respond(listener, req.id, ENOTSOCK, false);
    return;
  }
  const RemoteUnix ru = RemoteUnixSocket(req.pid, fd);
  int domain = to.ss_family, type = SOCK_STREAM, protocol = 0;
  int refuse = 0;
  if (is_unix) {
    // The kernel's answers: another family's socket refuses a unix
    // address; a unix socket binds once.
    refuse = ru.type == 0 ? EAFNOSUPPORT : ru.bound ? EINVAL : 0;
    type = ru.type;
    if (autobind && ru.type != 0 && ru.bound) {
      Respond(listener, req.id, 0, false);  // the kernel's autobind of a named socket
      return;
    }
  } else if (ru.type != 0) {
    refuse = EINVAL;  // a unix socket given another family's address
  } else if (domain == AF_NETLINK) {
    type = SOCK_RAW;  // the only netlink protocol the filter lets the command create
    protocol = NETLINK_ROUTE;
  } else if (domain != AF_INET && domain != AF_INET6) {
    refuse = EAFNOSUPPORT;
  }
  if (refuse) {
    Respond(listener, req.id, refuse, false);
    return;
  }
  const bool keep = cfg_.notify_listen && !PidfdGetfdUsable();
  if (keep) {
    // Before binding: a socket we still keep although the command closed it
    // would hold its name or port.
    DropUnheldBound();
    if (bound_.size() >= kMaxKeptBound) {
      // Each kept socket is a descriptor of the supervisor's.
      ++denied_;
      audit_->Emit(
          {"network",
           "deny",
           subject,
           "more than " + std::to_string(kMaxKeptBound) + " sockets bound and never listened on",
           {{"pid", req.pid}}});
      Respond(listener, req.id, EMFILE, false);
      return;
    }
  }
  UniqueFd mine;
  int bind_err = EACCES;
  binder->Run([&] {
    bind_err = enter_cwd();
    if (bind_err) return;
    mine.reset(
        socket(domain, type | SOCK_CLOEXEC | ((flags & O_NONBLOCK) ? SOCK_NONBLOCK : 0), protocol));
    if (!mine.valid()) {
      bind_err = errno;
      return;
    }
    if (domain == AF_INET || domain == AF_INET6) {
      // Servers set it before bind() on the socket we replace; without it a
      // restarted server would find its port in TIME_WAIT.
      int one = 1;
      setsockopt(mine.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (autobind)
      bind_err = AutobindUnderPrefix(mine.get());
    else
      bind_err =
          bind(mine.get(), reinterpret_cast<const sockaddr*>(&addr), addr_len) == 0 ? 0 : errno;
  });
  if (!mine.valid() || bind_err) {
    Respond(listener, req.id, bind_err ? bind_err : EACCES, false);
    AuditInetBindRefusal(req, to, to_len, bind_err);
    return;
  }
  if (InstallAndRespond(listener, req.id, mine.get(), fd, flags, 0) != 0) return;
  struct stat st;
  if (keep && fstat(mine.get(), &st) == 0) {
    // Kept for listen(): without pidfd_getfd this is the only way the guard
    // can act on the socket object rather than on a descriptor number.
    bound_[st.st_ino] = std::move(mine);
  }
  if (is_unix)
    audit_->Emit({"network", "allow", subject, "bind made by the guard", {{"pid", req.pid}}});
}

void ConnectGuard::DropUnheldBound() {
  if (bound_.empty()) return;
  // One pass over the sandbox's descriptors, whatever the number kept.
  std::set<uint64_t> held;
  for (pid_t pid : ProcessTree(root_))
    ForEachSocketOf(pid, [&](uint64_t ino) {
      held.insert(ino);
      return false;
    });
  for (auto it = bound_.begin(); it != bound_.end();)
    it = held.count(it->first) ? std::next(it) : bound_.erase(it);
}

void ConnectGuard::ListenWithoutTaking(const struct seccomp_notif& req) {
  const int listener = listener_.get();
  const int fd = static_cast<int>(req.data.args[0]);
  const int backlog = static_cast<int>(req.data.args[1]);
  const int64_t ino = RemoteSocketIno(req.pid, fd);
  if (!IdValid(listener, req.id)) return;
  if (ino <= 0) {
    Respond(listener, req.id, ino < 0 ? EBADF : ENOTSOCK, false);
    return;
  }
  // The inode read above names one socket object for good: if another
  // thread has since put a different socket under this number, we still
  // act on (or judge) the object we looked at, never on what the number
  // names when the kernel would look again.
  auto it = bound_.find(static_cast<uint64_t>(ino));
  if (it != bound_.end()) {
    int listen_err = EACCES;  // stays so if the connector thread is gone
    OnConnector([&] { listen_err = listen(it->second.get(), backlog) == 0 ? 0 : errno; });
    Respond(listener, req.id, listen_err, false);
    // Listening now: the command's descriptor is what keeps it open, so
    // closing it frees the port or name as it would without the guard.
    if (listen_err == 0) bound_.erase(it);
    return;
  }
  const RemoteSocketState st = RemoteSocketStateOf(req.pid, static_cast<uint64_t>(ino));
  if (st.listening) {
    // Already listening (a second listen() changes only the backlog, which
    // is left as it was): nothing to do, nothing a swap could redirect.
    Respond(listener, req.id, 0, false);
    return;
  }
  if (st.is_unix && !st.bound) {
    Respond(listener, req.id, EINVAL, false);  // the kernel's answer: no listen while unbound
    return;
  }
  ++denied_;
  audit_->Emit({"network",
                "deny",
                "listen",
                st.is_unix ? "listen() on a unix socket the guard did not bind (pidfd_getfd is "
                             "refused here: it cannot be acted upon)"
                           : "listen() on a TCP socket the guard did not bind (one never bound "
                             "would get an ephemeral port on every address); bind it to a "
                             "network.bind_ports port first",
                {{"pid", req.pid}}});
  Respond(listener, req.id, EACCES, false);
}

}  // namespace rf
