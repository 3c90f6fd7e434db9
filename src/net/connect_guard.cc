#include "net/connect_guard.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

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

// O_NONBLOCK / O_CLOEXEC of the command's descriptor, from fdinfo ("flags:
// 02004002", octal).
int RemoteFdFlags(pid_t pid, int fd) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(fd));
  std::string key;
  while (in >> key) {
    if (key == "flags:") {
      std::string v;
      in >> v;
      return static_cast<int>(std::stol(v, nullptr, 8));
    }
  }
  return -1;
}

bool IdValid(int listener, uint64_t id) {
  return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

void Respond(int listener, uint64_t id, int error, bool cont) {
  struct seccomp_notif_resp resp;
  memset(&resp, 0, sizeof resp);
  resp.id = id;
  resp.error = error ? -error : 0;
  resp.val = 0;
  resp.flags = cont ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
  // ENOENT: the call was interrupted or the process died; nothing to do.
  ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
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

Result<std::unique_ptr<ConnectGuard>> ConnectGuard::Start(UniqueFd listener, ConnectGuardConfig cfg,
                                                          AuditSink* audit) {
  std::unique_ptr<ConnectGuard> g(new ConnectGuard());
  g->listener_ = std::move(listener);
  g->stop_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!g->stop_.valid()) return Status::Errno("eventfd");
  g->cfg_ = std::move(cfg);
  g->audit_ = audit;
  g->thread_ = std::thread([p = g.get()] { p->Loop(); });
  return g;
}

ConnectGuard::~ConnectGuard() { Stop(); }

void ConnectGuard::Stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  ssize_t ignored = write(stop_.get(), &one, sizeof one);
  (void)ignored;
  thread_.join();
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
  if (req.data.nr != __NR_connect) {
    // Nothing else is routed here; refuse rather than guess.
    Respond(listener, req.id, EPERM, false);
    return;
  }
  const int fd = static_cast<int>(req.data.args[0]);
  const uint64_t addr_ptr = req.data.args[1];
  const size_t addr_len =
      std::min<uint64_t>(req.data.args[2] & 0xffffffffu, sizeof(sockaddr_storage));
  sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  struct iovec local = {&ss, addr_len};
  struct iovec remote = {reinterpret_cast<void*>(addr_ptr), addr_len};
  ssize_t got = addr_len ? process_vm_readv(req.pid, &local, 1, &remote, 1, 0) : 0;
  // The id check after reading: if the process died and its pid was reused,
  // what we read belongs to someone else and must not be acted upon.
  if (!IdValid(listener, req.id)) return;
  if (got < static_cast<ssize_t>(sizeof(sa_family_t)) || static_cast<size_t>(got) != addr_len) {
    Respond(listener, req.id, addr_len < sizeof(sa_family_t) ? EINVAL : EFAULT, false);
    return;
  }
  if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
    // unix, netlink, AF_UNSPEC: the kernel decides (Landlock, socket rules).
    Respond(listener, req.id, 0, true);
    return;
  }
  const std::string target = Describe(&ss, addr_len);
  if (!ConnectAllowed(cfg_, &ss, addr_len)) {
    ++denied_;
    audit_->Emit(
        {"network",
         "deny",
         target,
         "platform mode: only the proxy and the policy's loopback ports may be connected to",
         {{"pid", req.pid}}});
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
  struct seccomp_notif_addfd add;
  memset(&add, 0, sizeof add);
  add.id = req.id;
  add.flags = SECCOMP_ADDFD_FLAG_SETFD;
  add.srcfd = static_cast<uint32_t>(sock.get());
  add.newfd = static_cast<uint32_t>(fd);
  add.newfd_flags = (flags & O_CLOEXEC) ? O_CLOEXEC : 0;
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0) {
    Respond(listener, req.id, errno == ENOENT ? EINTR : errno, false);
    return;
  }
  ++allowed_;
  Respond(listener, req.id, connect_err, false);
}

}  // namespace rf
