#include "net/netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "common/scm.h"

namespace rf {

Result<std::unique_ptr<NamespaceStep>> NamespaceStep::Create(uint16_t proxy_port,
                                                             UniqueFd to_supervisor,
                                                             bool with_listener, bool with_dns) {
  std::unique_ptr<NamespaceStep> s(new NamespaceStep());
  s->with_listener_ = with_listener;
  s->with_dns_ = with_dns;
  s->proxy_port_ = proxy_port;
  s->sock_ = std::move(to_supervisor);
  return s;
}

std::string IdentityMap(unsigned id) {
  return std::to_string(id) + " " + std::to_string(id) + " 1\n";
}

NsSetup EnterSandboxNamespaces() noexcept {
  // The network, IPC and mount namespaces are init's (kInitNamespaces):
  // init is PID 1 here, and its /proc/1/net and /proc/1/mountinfo show the
  // sandbox's namespaces, not the host's.
  // A /proc of our own PID namespace: host processes, their command lines
  // and environments disappear from view. Mounts stay private to us.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return {errno, "making mounts private"};
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    return {errno, "mounting a /proc of the sandbox's PID namespace"};
  // Bring loopback up.
  int ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (ctl < 0) return {errno, "bringing loopback up"};
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  int err = 0;
  if (ioctl(ctl, SIOCGIFFLAGS, &ifr) != 0) {
    err = errno;
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    if (ioctl(ctl, SIOCSIFFLAGS, &ifr) != 0) err = errno;
  }
  close(ctl);
  return {err, err ? "bringing loopback up" : ""};
}

int NamespaceStep::Apply() const noexcept {
  if (NsSetup ns = EnterSandboxNamespaces(); ns.err) return ns.err;
  if (with_listener_) {
    if (int err = SendListener()) return err;
  }
  // A sock_diag socket of this namespace: the supervisor asks it which
  // unix listeners the sandbox serves (src/net/unix_diag.h).
  int diag = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (diag < 0) return errno;
  int err = SendFd(sock_.get(), diag);
  close(diag);
  if (err == 0 && with_dns_) err = SendDnsSocket();
  return err;
}

int NamespaceStep::SendDnsSocket() const noexcept {
  // The resolver's sockets, UDP and then a TCP listener, on the namespace's
  // own loopback port 53 (the step still holds the namespace's
  // capabilities, so the port is free to bind here whoever the command
  // runs as).
  for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int err = 0;
    if (bind(fd, reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0 ||
        (type == SOCK_STREAM && listen(fd, 64) != 0)) {
      err = errno;
    } else {
      err = SendFd(sock_.get(), fd);
    }
    close(fd);
    if (err) return err;
  }
  return 0;
}

int NamespaceStep::SendListener() const noexcept {
  // The proxy's listening socket, inside this namespace.
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) return errno;
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(proxy_port_);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int err = 0;
  if (bind(lfd, reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0 || listen(lfd, 4096) != 0) {
    err = errno;
  } else {
    err = SendFd(sock_.get(), lfd);
  }
  close(lfd);
  return err;
}

uint16_t NamespaceProxyPort(uint16_t configured) {
  if (configured) return configured;
  uint16_t r = 0;
  if (getrandom(&r, sizeof r, 0) != sizeof r) r = static_cast<uint16_t>(getpid());
  return static_cast<uint16_t>(20000 + r % 40000);
}

}  // namespace rf
