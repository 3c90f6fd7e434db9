#include "net/netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "common/scm.h"

namespace rf {

namespace {

int WriteFile(const char* path, const char* data) noexcept {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  size_t len = strlen(data);
  ssize_t n = write(fd, data, len);
  int err = n == static_cast<ssize_t>(len) ? 0 : (n < 0 ? errno : EIO);
  close(fd);
  return err;
}

}  // namespace

Result<std::unique_ptr<NamespaceStep>> NamespaceStep::Create(bool use_userns, uint16_t proxy_port,
                                                             UniqueFd to_supervisor,
                                                             bool with_listener) {
  std::unique_ptr<NamespaceStep> s(new NamespaceStep());
  s->use_userns_ = use_userns;
  s->with_listener_ = with_listener;
  s->proxy_port_ = proxy_port;
  s->sock_ = std::move(to_supervisor);
  snprintf(s->uid_map_, sizeof s->uid_map_, "%u %u 1\n", geteuid(), geteuid());
  snprintf(s->gid_map_, sizeof s->gid_map_, "%u %u 1\n", getegid(), getegid());
  return s;
}

int NamespaceStep::Apply() const noexcept {
  int flags = CLONE_NEWNET | CLONE_NEWIPC;
  if (use_userns_) flags |= CLONE_NEWUSER;
  if (unshare(flags) != 0) return errno;
  if (use_userns_) {
    // Same uid and gid inside: no fake root. The capabilities the new user
    // namespace gives are only over its own (empty) network namespace, and
    // they are gone at exec (non-zero uid, no_new_privs).
    if (int err = WriteFile("/proc/self/setgroups", "deny")) return err;
    if (int err = WriteFile("/proc/self/uid_map", uid_map_)) return err;
    if (int err = WriteFile("/proc/self/gid_map", gid_map_)) return err;
  }
  // Bring loopback up.
  int ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (ctl < 0) return errno;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  if (ioctl(ctl, SIOCGIFFLAGS, &ifr) != 0) {
    int err = errno;
    close(ctl);
    return err;
  }
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (ioctl(ctl, SIOCSIFFLAGS, &ifr) != 0) {
    int err = errno;
    close(ctl);
    return err;
  }
  close(ctl);
  if (!with_listener_) return 0;
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
