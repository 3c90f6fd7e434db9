#include "net/guard_io.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "net/sockaddr_parse.h"
#include "policy/glob.h"

namespace rf {

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

void RespondValue(int listener, uint64_t id, int64_t val) {
  struct seccomp_notif_resp resp;
  memset(&resp, 0, sizeof resp);
  resp.id = id;
  resp.val = val;
  ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

bool ReadRemote(pid_t pid, uint64_t addr, void* out, size_t len) {
  if (len == 0) return true;
  struct iovec local = {out, len};
  struct iovec remote = {reinterpret_cast<void*>(addr), len};
  return process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

int InstallAndRespond(int listener, uint64_t id, int sock, int fd, int flags, int call_err) {
  struct seccomp_notif_addfd add;
  memset(&add, 0, sizeof add);
  add.id = id;
  add.flags = SECCOMP_ADDFD_FLAG_SETFD;
  add.srcfd = static_cast<uint32_t>(sock);
  add.newfd = static_cast<uint32_t>(fd);
  add.newfd_flags = (flags & O_CLOEXEC) ? O_CLOEXEC : 0;
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0) {
    int err = errno == ENOENT ? EINTR : errno;  // ENOENT: the call was interrupted
    Respond(listener, id, err, false);
    return err;
  }
  Respond(listener, id, call_err, false);
  return 0;
}

SockaddrCopy ReadSockaddr(pid_t pid, uint64_t addr_ptr, uint64_t len_arg) {
  SockaddrCopy c;
  size_t len = 0;
  if ((c.err = SockaddrLengthError(len_arg, &len)) != 0) return c;
  c.len = static_cast<socklen_t>(len);
  if (len == 0) return c;
  struct iovec local = {&c.addr, len};
  struct iovec remote = {reinterpret_cast<void*>(addr_ptr), len};
  ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (got != static_cast<ssize_t>(len)) c.err = EFAULT;
  return c;
}

std::string ShownAbstract(const std::string& name) {
  std::string shown = "@" + name;
  std::replace(shown.begin() + 1, shown.end(), '\0', '@');
  return shown;
}

const std::string* FirstListedAbstract(const std::vector<std::string>& allowed,
                                       const std::string& shown) {
  for (const auto& entry : allowed) {
    if (entry.empty() || entry[0] != '@') continue;
    const bool glob = entry.find_first_of("*?[") != std::string::npos;
    if (entry == shown || (glob && GlobMatch(entry, shown))) return &entry;
  }
  return nullptr;
}

std::string RandomAbstractPrefix() {
  uint8_t bytes[8] = {};
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (errno != EINTR) {
      // No getrandom (refused by a container profile): the library's source.
      std::random_device rd;
      for (; got < sizeof bytes; ++got) bytes[got] = static_cast<uint8_t>(rd());
    }
  }
  char hex[2 * sizeof bytes + 1];
  for (size_t i = 0; i < sizeof bytes; ++i) snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
  return std::string("rf-") + hex + "/";
}

// The local address `sock` will connect to `to` (the proxy, on loopback)
// from: its own when bound, else the loopback address of `to`'s family with
// a port the kernel picks now. 0 or an errno.
int LocalAddressForProxy(int sock, const sockaddr_storage& to, sockaddr_storage* local) {
  socklen_t len = sizeof *local;
  if (getsockname(sock, reinterpret_cast<sockaddr*>(local), &len) != 0) return errno;
  const bool bound =
      (local->ss_family == AF_INET && reinterpret_cast<sockaddr_in*>(local)->sin_port != 0) ||
      (local->ss_family == AF_INET6 && reinterpret_cast<sockaddr_in6*>(local)->sin6_port != 0);
  if (bound) return 0;
  sockaddr_storage from{};
  socklen_t from_len = 0;
  if (to.ss_family == AF_INET6) {
    sockaddr_in6 a = *reinterpret_cast<const sockaddr_in6*>(&to);
    a.sin6_port = 0;
    memcpy(&from, &a, sizeof a);
    from_len = sizeof a;
  } else {
    sockaddr_in a = *reinterpret_cast<const sockaddr_in*>(&to);
    a.sin_port = 0;
    memcpy(&from, &a, sizeof a);
    from_len = sizeof a;
  }
  if (bind(sock, reinterpret_cast<sockaddr*>(&from), from_len) != 0) return errno;
  len = sizeof *local;
  if (getsockname(sock, reinterpret_cast<sockaddr*>(local), &len) != 0) return errno;
  return 0;
}

bool IsProxyAddress(const sockaddr_storage& to, uint16_t proxy_port) {
  if (proxy_port == 0) return false;
  if (to.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&to);
    return ntohs(in->sin_port) == proxy_port && ntohl(in->sin_addr.s_addr) == INADDR_LOOPBACK;
  }
  if (to.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&to);
    static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
    return ntohs(in6->sin6_port) == proxy_port && memcmp(&in6->sin6_addr, mapped, 16) == 0;
  }
  return false;
}

}  // namespace rf
