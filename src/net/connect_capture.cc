// Transparent TCP and capture (docs/transparent-tcp.md): a connect to an
// address the run's policy DNS handed out for a policy name is decided as
// the proxy decides a CONNECT to that name (host, port, calling binary) and,
// when allowed, redirected to the proxy, which carries it to the real,
// pinned destination. The destination is recorded in the connect ledger
// under the socket's inode before the socket is connected, so the proxy
// finds it the moment it accepts; the sandbox cannot write an entry.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "net/connect_guard.h"
#include "net/guard_io.h"
#include "net/sockaddr_parse.h"

namespace rf {

namespace {

// The IPv4 address of `ss` (also in IPv4-mapped IPv6 form) and its port.
bool Ipv4Of(const sockaddr_storage& ss, in_addr* addr, uint16_t* port) {
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    *addr = in->sin_addr;
    *port = ntohs(in->sin_port);
    return true;
  }
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return false;
    memcpy(&addr->s_addr, in6->sin6_addr.s6_addr + 12, 4);
    *port = ntohs(in6->sin6_port);
    return true;
  }
  return false;
}

}  // namespace

void ConnectGuard::RefuseCapture(const struct seccomp_notif& req, const std::string& target,
                                 const std::string& why, const std::string& hint,
                                 const std::string& binary) {
  ++denied_;
  AuditEvent e{"network", "deny", target, why, {{"pid", req.pid}}};
  if (!hint.empty()) e.extra["hint"] = hint;
  if (!binary.empty()) e.extra["binary"] = binary;
  audit_->Emit(e);
  // As a refused destination is answered in each mode: Landlock's EACCES
  // where the guard checks destinations, ECONNREFUSED where the sandbox has
  // a network namespace of its own (nothing answers there).
  if (IdValid(listener_.get(), req.id))
    Respond(listener_.get(), req.id, cfg_.check_inet ? EACCES : ECONNREFUSED, false);
}

bool ConnectGuard::HandleSynthetic(const struct seccomp_notif& req, const sockaddr_storage& ss) {
  in_addr addr{};
  uint16_t port = 0;
  if (!Ipv4Of(ss, &addr, &port) || !dns::SyntheticNames::InRange(addr)) return false;
  char shown[INET_ADDRSTRLEN] = "";
  inet_ntop(AF_INET, &addr, shown, sizeof shown);
  const std::string address = std::string(shown) + ":" + std::to_string(port);
  std::optional<std::string> name;
  if (cfg_.synthetic) name = cfg_.synthetic->NameFor(addr);
  if (!name || !cfg_.capture || !cfg_.ledger || cfg_.proxy_port == 0) {
    RefuseCapture(req, address,
                  "an address of the synthetic range (198.18.0.0/15) this run's policy DNS never "
                  "handed out",
                  "connect to a policy name, resolved inside the sandbox", "");
    return true;
  }
  const std::string target = *name + ":" + std::to_string(port);
  // The caller as it is now, while it waits in connect().
  auto id = ChainOf(req.pid, root_, "/proc", init_);
  if (!IdValid(listener_.get(), req.id)) return true;
  CallerIdentity caller;
  if (id.ok()) caller = std::move(*id);
  caller.pid = req.pid;
  const std::string binary = caller.exes.empty() ? "" : caller.exes.front();
  const CaptureDecision d = cfg_.capture(*name, port, caller.exes);
  if (!d.allowed) {
    RefuseCapture(req, target, d.reason, d.hint, binary.empty() ? "unknown" : binary);
    return true;
  }
  const int fd = static_cast<int>(req.data.args[0]);
  sockaddr_in proxy{};
  proxy.sin_family = AF_INET;
  proxy.sin_port = htons(cfg_.proxy_port);
  proxy.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sockaddr_storage to{};
  socklen_t to_len = sizeof proxy;
  memcpy(&to, &proxy, sizeof proxy);
  if (ss.ss_family == AF_INET6) {
    // The command's socket is IPv6 (an IPv4-mapped destination): the proxy
    // as ::ffff:127.0.0.1.
    sockaddr_in6 p6{};
    p6.sin6_family = AF_INET6;
    p6.sin6_port = proxy.sin_port;
    p6.sin6_addr.s6_addr[10] = p6.sin6_addr.s6_addr[11] = 0xff;
    memcpy(p6.sin6_addr.s6_addr + 12, &proxy.sin_addr, 4);
    memcpy(&to, &p6, sizeof p6);
    to_len = sizeof p6;
  }
  UniqueFd sock;
  int flags = 0;
  if (cfg_.check_inet) {
    // Platform mode: a socket of ours, installed over the command's once
    // connected (as HandleInet connects to the proxy).
    flags = RemoteFdFlags(req.pid, fd);
    if (flags < 0) {
      Respond(listener_.get(), req.id, EBADF, false);
      return true;
    }
    sock.reset(socket(to.ss_family,
                      SOCK_STREAM | SOCK_CLOEXEC | ((flags & O_NONBLOCK) ? SOCK_NONBLOCK : 0), 0));
    if (!sock.valid()) {
      Respond(listener_.get(), req.id, errno, false);
      return true;
    }
  } else {
    // Namespace mode: the command's own socket, to the proxy's listener in
    // the sandbox's namespace.
    int err = 0;
    sock = TakeSocket(req, fd, &err);
    if (!sock.valid()) {
      RefuseUntaken(req, err, target, "to connect it", ECONNREFUSED);
      return true;
    }
    if (!InSandboxNetns(sock.get())) {
      RefuseCapture(req, target, "a socket of another network namespace than the sandbox's", "",
                    binary);
      return true;
    }
    // Only a stream socket is carried: a datagram socket "connected" to the
    // proxy's listener would carry nothing, and leave a ledger entry.
    int type = 0;
    socklen_t type_len = sizeof type;
    if (getsockopt(sock.get(), SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type != SOCK_STREAM) {
      RefuseCapture(req, target, "only TCP is carried to a policy name (protocol: tcp)", "",
                    binary);
      return true;
    }
  }
  // Recorded before the connect, under the socket's local address: the
  // proxy may accept before we answer. A socket not bound yet is bound to
  // the loopback address it will connect from, so that address is known.
  sockaddr_storage local{};
  if (int err = LocalAddressForProxy(sock.get(), to, &local); err != 0) {
    Respond(listener_.get(), req.id, err, false);
    return true;
  }
  cfg_.ledger->Record(local, caller);
  cfg_.ledger->RecordCapture(local, {*name, port, d.raw});
  int connect_err = 0;
  if (cfg_.check_inet) {
    connect_err = connect(sock.get(), reinterpret_cast<sockaddr*>(&to), to_len) == 0 ? 0 : errno;
  } else {
    connect_err = EACCES;  // stays so if the connector thread is gone
    OnConnector([&] {
      connect_err =
          connect(sock.get(), reinterpret_cast<const sockaddr*>(&to), to_len) == 0 ? 0 : errno;
    });
  }
  if (connect_err != 0 && connect_err != EINPROGRESS) {
    CapturedDestination dropped;
    cfg_.ledger->TakeCapture(local, &dropped);
    cfg_.ledger->Drop(local);
    Respond(listener_.get(), req.id, connect_err, false);
    return true;
  }
  if (cfg_.check_inet) {
    if (InstallAndRespond(listener_.get(), req.id, sock.get(), fd, flags, connect_err) != 0)
      return true;
  } else {
    Respond(listener_.get(), req.id, connect_err, false);
  }
  ++allowed_;
  return true;
}

}  // namespace rf
