// setsockopt(SO_PASSCRED / SO_PASSPIDFD) and datagram sends where abstract
// unix names are the host's (platform mode, mode none without a network
// namespace): the connect guard's handlers for them. docs/unix-sockets.md
// ("Autobind" and "Datagrams to abstract names") says what they decide and
// why.
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "common/sockopt.h"
#include "net/connect_guard.h"
#include "net/guard_io.h"
#include "net/unix_diag.h"

namespace rf {

namespace {

// The most a datagram the guard sends for the command may hold (a unix
// datagram is bounded by the socket's send buffer, wmem_max at most).
constexpr size_t kMaxDatagram = size_t{8} << 20;
// A send to a full receiver waits as a blocking send would, at most this
// many 10 ms rounds: the guard answers the sandbox's other calls meanwhile
// only once it gives up.
constexpr int kFullReceiverRounds = 200;

bool Unbound(int sock) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  return getsockname(sock, reinterpret_cast<sockaddr*>(&ss), &len) == 0 &&
         len <= offsetof(sockaddr_un, sun_path);
}

bool PassesCredentials(int sock) {
  for (int opt : {SO_PASSCRED, kSoPassPidfd}) {
    int v = 0;
    socklen_t l = sizeof v;
    if (getsockopt(sock, SOL_SOCKET, opt, &v, &l) == 0 && v) return true;
  }
  return false;
}

int Domain(int sock) {
  int domain = -1;
  socklen_t len = sizeof domain;
  return getsockopt(sock, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 ? domain : -1;
}

bool IsAbstract(const sockaddr_storage& a, socklen_t len) {
  const auto* un = reinterpret_cast<const sockaddr_un*>(&a);
  return a.ss_family == AF_UNIX && len > offsetof(sockaddr_un, sun_path) && un->sun_path[0] == '\0';
}

}  // namespace

bool IsPassCredentialsOption(int optname) {
  return optname == SO_PASSCRED || optname == kSoPassPidfd;
}

void ConnectGuard::HandleSetsockopt(const struct seccomp_notif& req) {
  const int listener = listener_.get();
  const int fd = static_cast<int>(req.data.args[0]);
  const int optname = static_cast<int>(req.data.args[2]);
  const int optlen = static_cast<int>(req.data.args[4]);
  // The kernel's answers: a negative length, then one shorter than an int.
  if (optlen < static_cast<int>(sizeof(int))) {
    Respond(listener, req.id, EINVAL, false);
    return;
  }
  int val = 0;
  const bool read = ReadRemote(req.pid, req.data.args[3], &val, sizeof val);
  if (!IdValid(listener, req.id)) return;
  if (!read) {
    Respond(listener, req.id, EFAULT, false);
    return;
  }
  int err = 0;
  UniqueFd sock = TakeSocket(req, fd, &err);
  if (!sock.valid()) {
    // Set on a socket we cannot look at, the option could make the kernel
    // give it a name of the host's at its next connect or send.
    RefuseUntaken(req, err,
                  optname == SO_PASSCRED ? "setsockopt SO_PASSCRED" : "setsockopt SO_PASSPIDFD",
                  "to name it under the sandbox's prefix first", EPERM);
    return;
  }
  const int domain = Domain(sock.get());
  if (domain < 0) {
    Respond(listener, req.id, ENOTSOCK, false);
    return;
  }
  if (domain == AF_UNIX && val != 0 && Unbound(sock.get())) {
    // Named now, under the prefix: the kernel autobinds only sockets with
    // no name.
    if (int bind_err = AutobindOnBinder(sock.get())) {
      Respond(listener, req.id, bind_err, false);
      return;
    }
  }
  // On the socket object we took and named: another socket put under the
  // descriptor number meanwhile is not the one that gets the option.
  const int set_err =
      setsockopt(sock.get(), SOL_SOCKET, optname, &val, sizeof val) == 0 ? 0 : errno;
  Respond(listener, req.id, set_err, false);
}

void ConnectGuard::DenySend(const struct seccomp_notif& req, const std::string& subject,
                            const std::string& why, int err) {
  ++denied_;
  audit_->Emit({"network", "deny", subject, why, {{"pid", req.pid}}});
  Respond(listener_.get(), req.id, err, false);
}

void ConnectGuard::HandleSendto(const struct seccomp_notif& req) {
  const int listener = listener_.get();
  const SockaddrCopy a = ReadSockaddr(req.pid, req.data.args[4], req.data.args[5]);
  if (!IdValid(listener, req.id)) return;
  if (a.err || !IsAbstract(a.addr, a.len) || !cfg_.abstract_scoped) {
    if (!cfg_.abstract_scoped) {
      // The plan refuses datagram sockets without the scope; should one be
      // here anyway, nothing is left to the kernel's second reading.
      DenySend(req, "sendto", "no Landlock abstract-socket scope to fall back on", EPERM);
      return;
    }
    // Landlock's abstract-socket scope refuses, in the kernel, every
    // abstract name the sandbox did not create: whatever a racing thread
    // turns the address into before the kernel reads it again, no host
    // abstract name is reached. Pathname destinations are what
    // network.unix_datagram allows; bad addresses get the kernel's errno.
    Respond(listener, req.id, 0, true);
    return;
  }
  const auto* un = reinterpret_cast<const sockaddr_un*>(&a.addr);
  const std::string name(un->sun_path + 1, a.len - offsetof(sockaddr_un, sun_path) - 1);
  const std::string subject = "unix:" + ShownAbstract(name);
  // Where a datagram to @NAME goes: the sandbox's own @<prefix>NAME. A name
  // network.unix_sockets lists is bound as it is: with the scope only the
  // sandbox's own socket of that name is reached (as for connect()).
  std::string real = abstract_prefix_ + name;
  if (ListedAbstract(cfg_.unix_allowed, ShownAbstract(name))) real = name;
  bool allowed = false;
  if (offsetof(sockaddr_un, sun_path) + 1 + real.size() <= sizeof(sockaddr_un)) {
    // A socket of that name no sandbox process holds (someone who learnt
    // the prefix) is not the sandbox's.
    auto sockets = WithDiag([&](int diag) { return SocketsBoundNamed(diag, real); });
    allowed = sockets.ok() && !sockets->empty() && HeldByAny(ProcessTree(root_), *sockets);
  }
  if (!IdValid(listener, req.id)) return;
  if (!allowed) {
    DenySend(req, subject, "datagram to an abstract unix socket not served by the sandbox",
             EPERM);  // what Landlock's scope answers
    return;
  }
  const size_t len = req.data.args[2];
  if (len > kMaxDatagram) {
    Respond(listener, req.id, EMSGSIZE, false);
    return;
  }
  std::string data(len, '\0');
  const bool read = ReadRemote(req.pid, req.data.args[1], data.data(), len);
  if (!IdValid(listener, req.id)) return;
  if (!read) {
    Respond(listener, req.id, EFAULT, false);
    return;
  }
  sockaddr_storage to{};
  auto* dst = reinterpret_cast<sockaddr_un*>(&to);
  dst->sun_family = AF_UNIX;
  memcpy(dst->sun_path + 1, real.data(), real.size());
  SendOnBehalf(req, data, static_cast<int>(req.data.args[3]), &to,
               static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + real.size()), subject);
}

void ConnectGuard::SendOnBehalf(const struct seccomp_notif& req, const std::string& data, int flags,
                                const sockaddr_storage* to, socklen_t to_len,
                                const std::string& subject) {
  const int listener = listener_.get();
  const int fd = static_cast<int>(req.data.args[0]);
  int err = 0;
  UniqueFd sock = TakeSocket(req, fd, &err);
  if (!sock.valid()) {
    RefuseUntaken(req, err, subject, "to send on it", EPERM);
    return;
  }
  // The kernel would autobind an unbound socket passing credentials in
  // this very send, outside the prefix: named under it first.
  if (Domain(sock.get()) == AF_UNIX && Unbound(sock.get()) && PassesCredentials(sock.get())) {
    if (int bind_err = AutobindOnBinder(sock.get())) {
      Respond(listener, req.id, bind_err, false);
      return;
    }
  }
  const int fl = fcntl(sock.get(), F_GETFL);
  const bool nonblocking = (flags & MSG_DONTWAIT) || (fl >= 0 && (fl & O_NONBLOCK));
  ssize_t n = -1;
  int send_err = EACCES;  // stays so if the connector thread is gone
  for (int round = 0; round < kFullReceiverRounds; ++round) {
    // Never blocking here (the guard answers every call of the sandbox),
    // never SIGPIPE to the supervisor.
    OnConnector([&] {
      n = sendto(sock.get(), data.data(), data.size(), flags | MSG_DONTWAIT | MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(to), to ? to_len : 0);
      send_err = n < 0 ? errno : 0;
    });
    if (n >= 0 || send_err != EAGAIN || nonblocking) break;
    poll(nullptr, 0, 10);
    if (!IdValid(listener, req.id)) return;
  }
  if (n < 0) {
    Respond(listener, req.id, send_err, false);
    return;
  }
  ++allowed_;
  RespondValue(listener, req.id, n);
}

}  // namespace rf
