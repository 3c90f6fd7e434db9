// listen() in platform mode: refused on a TCP socket never bound (the
// kernel would bind an ephemeral port on every address, unchecked by
// Landlock); otherwise made on the command's own socket, with the
// sandbox's credentials.
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
#include "net/sockaddr_parse.h"

namespace rf {

void ConnectGuard::HandleListen(const struct seccomp_notif& req) {
  const int listener = listener_.get();
  const int fd = static_cast<int>(req.data.args[0]);
  int err = 0;
  UniqueFd sock = TakeSocket(req, fd, &err);
  if (!sock.valid()) {
    if (err != ENOENT && err != EBADF && !PidfdGetfdUsable()) {
      // No pidfd_getfd here at all (a container profile refuses it): the
      // guard made every bind, and listens on the socket it bound.
      ListenWithoutTaking(req);
      return;
    }
    // It works, but not on this caller (it made itself non-dumpable, and
    // we are not root): unchecked, so refused.
    RefuseUntaken(req, err, "listen", "to check it", EPERM);
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

}  // namespace rf
