// The connect guard's inet destinations: in platform mode only the proxy
// and the policy's loopback ports, connected on the command's behalf with a
// socket of the guard's; in namespace mode the command's own socket,
// connected with the address the guard read (ConnectOwnSocket, also used
// for abstract and unix addresses there). Callers of the proxy are
// recorded for its binary rules.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "net/connect_guard.h"
#include "net/guard_io.h"
#include "net/inet_diag.h"
#include "net/sockaddr_parse.h"
#include "process/caller.h"

namespace rf {

void ConnectGuard::HandleInet(const struct seccomp_notif& req, sockaddr_storage ss,
                              size_t addr_len) {
  const int listener = listener_.get();
  const int fd = static_cast<int>(req.data.args[0]);
  uint16_t port = 0;
  const int loopback = LoopbackKind(&ss, addr_len, &port);
  if (HandleSynthetic(req, ss)) return;
  if (!cfg_.check_inet) {
    // Namespace mode: the command's own socket, connected by the kernel
    // after the checks in ConnectOwnSocket.
    ConnectOwnSocket(req, ss, static_cast<socklen_t>(addr_len));
    return;
  }
  const std::string target = DescribeSockaddr(&ss, addr_len);
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
  ProxyCallerInfo caller = ProxyCaller(req, ss);
  if (caller.gone) return;  // nothing pending to answer
  sockaddr_storage recorded{};
  const bool record = caller.id.has_value();
  if (!RecordProxyCaller(sock.get(), ss, std::move(caller), &recorded)) {
    Respond(listener, req.id, EADDRNOTAVAIL, false);
    return;
  }
  int rc = connect(sock.get(), reinterpret_cast<sockaddr*>(&ss), static_cast<socklen_t>(addr_len));
  int connect_err = rc == 0 ? 0 : errno;
  if (rc != 0 && connect_err != EINPROGRESS) {
    if (record) cfg_.ledger->Drop(recorded);
    Respond(listener, req.id, connect_err, false);
    return;
  }
  if (InstallAndRespond(listener, req.id, sock.get(), fd, flags, connect_err) != 0) return;
  ++allowed_;
}

ConnectGuard::ProxyCallerInfo ConnectGuard::ProxyCaller(const struct seccomp_notif& req,
                                                        const sockaddr_storage& to) {
  ProxyCallerInfo info;
  if (!cfg_.ledger || cfg_.proxy_port == 0) return info;
  // Only the proxy's own address: the sandbox may serve the same port on
  // another loopback address (namespace mode), and a record for a
  // connection the proxy never accepts must not exist.
  if (!IsProxyAddress(to, cfg_.proxy_port)) return info;
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

bool ConnectGuard::RecordProxyCaller(int sock, const sockaddr_storage& to, ProxyCallerInfo caller,
                                     sockaddr_storage* recorded) {
  if (!caller.id) return true;
  // Recorded before the connect, under the address the socket connects
  // from (bound now when it is not): once connected, another thread
  // holding the socket could send before a record made afterwards.
  if (LocalAddressForProxy(sock, to, recorded) != 0) return false;
  cfg_.ledger->Record(*recorded, std::move(*caller.id));
  return true;
}

bool ConnectGuard::ListensInSandbox(pid_t pid, uint16_t port) const {
  // The sandbox's own sock_diag socket answers from the listeners alone;
  // /proc/<pid>/net/tcp lists every connection of the namespace, TIME_WAIT
  // ones included, and grows with each connect the command makes.
  if (cfg_.sandbox_diag.valid()) {
    auto listens = WithDiag([&](int diag) { return TcpListensOn(diag, port); });
    if (listens.ok()) return *listens;
  }
  return ListensInNamespaceOf(pid, port);
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
  if (loopback != 0 && port != 0 && port != cfg_.proxy_port && !ListensInSandbox(req.pid, port)) {
    ++denied_;
    const std::string hint =
        cfg_.proxy_port == 0
            ? "network.mode none: the sandbox has no network"
            : "the sandbox's loopback is its own; for a service of the host add an endpoint " +
                  LoopbackEndpoint(loopback, port) +
                  " to network_policies and let the client use the proxy (HTTP_PROXY)";
    audit_->Emit({"network",
                  "deny",
                  DescribeSockaddr(&to, to_len),
                  "nothing in the sandbox listens there (the host's loopback is not the "
                  "sandbox's)",
                  {{"pid", req.pid}, {"hint", hint}}});
    if (IdValid(listener, req.id)) Respond(listener, req.id, ECONNREFUSED, false);
    return true;
  }
  return false;
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
  if (!sock.valid()) {
    RefuseUntaken(req, err, DescribeSockaddr(&to, to_len), "to connect it", EACCES);
    return;
  }
  if (!InSandboxNetns(sock.get())) {
    ++denied_;
    audit_->Emit({"network",
                  "deny",
                  DescribeSockaddr(&to, to_len),
                  "a socket of another network namespace than the sandbox's",
                  {{"pid", req.pid}}});
    Respond(listener, req.id, EACCES, false);
    return;
  }
  // "Nothing listens there" is a stream notion: a datagram socket (the
  // resolver's clients on 127.0.0.1:53) connects to an address, not to a
  // listener.
  int type = 0;
  socklen_t type_len = sizeof type;
  const bool stream =
      getsockopt(sock.get(), SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type == SOCK_STREAM;
  if (!cfg_.check_inet && stream && (to.ss_family == AF_INET || to.ss_family == AF_INET6) &&
      RefusedUnservedLoopback(req, to, to_len))
    return;
  // Who is calling, read before the socket is connected: a signal that
  // interrupts the call during these reads leaves nothing connected.
  ProxyCallerInfo caller = stream ? ProxyCaller(req, to) : ProxyCallerInfo{};
  if (caller.gone) return;  // nothing pending to answer
  sockaddr_storage recorded{};
  const bool record = caller.id.has_value();
  if (!RecordProxyCaller(sock.get(), to, std::move(caller), &recorded)) {
    Respond(listener, req.id, EADDRNOTAVAIL, false);
    return;
  }
  // With the sandbox's credentials (peers of unix sockets see them).
  int connect_err = EACCES;  // stays so if the connector thread is gone
  OnConnector([&] {
    connect_err =
        connect(sock.get(), reinterpret_cast<const sockaddr*>(&to), to_len) == 0 ? 0 : errno;
  });
  const bool connected = connect_err == 0 || connect_err == EINPROGRESS;
  if (!connected && record) cfg_.ledger->Drop(recorded);
  Respond(listener, req.id, connect_err, false);
  if (!connected) return;
  ++allowed_;
  if (allowed_event) audit_->Emit(*allowed_event);
}

}  // namespace rf
