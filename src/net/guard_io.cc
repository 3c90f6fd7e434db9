#include "net/guard_io.h"

#include <fcntl.h>
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
#include <fstream>
#include <random>
#include <sstream>
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

int RemoteFdFlags(pid_t pid, int fd) {
  // "flags: 02004002", octal.
  std::ifstream in("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(fd));
  std::string key;
  while (in >> key) {
    if (key == "flags:") {
      std::string v;
      in >> v;
      return static_cast<int>(strtol(v.c_str(), nullptr, 8));
    }
  }
  return -1;
}

namespace {

// The socket inode the caller's descriptor names ("socket:[123]"), or empty.
std::string RemoteSocketInode(pid_t pid, int fd) {
  char link[64];
  std::string p = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  ssize_t n = readlink(p.c_str(), link, sizeof link - 1);
  if (n <= 9) return "";
  link[n] = 0;
  if (strncmp(link, "socket:[", 8) != 0) return "";
  return std::string(link + 8, static_cast<size_t>(n) - 9);
}

}  // namespace

bool RemoteIsSocket(pid_t pid, int fd) { return !RemoteSocketInode(pid, fd).empty(); }

int64_t RemoteSocketIno(pid_t pid, int fd) {
  char link[64];
  std::string p = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  ssize_t n = readlink(p.c_str(), link, sizeof link - 1);
  if (n < 0) return -1;
  link[n] = 0;
  if (strncmp(link, "socket:[", 8) != 0) return 0;
  return static_cast<int64_t>(strtoull(link + 8, nullptr, 10));
}

RemoteSocketState RemoteSocketStateOf(pid_t pid, uint64_t ino) {
  RemoteSocketState out;
  const std::string net = "/proc/" + std::to_string(pid) + "/net/";
  const std::string want = std::to_string(ino);
  std::string line;
  {
    std::ifstream in(net + "unix");
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // Num RefCount Protocol Flags Type St Inode [Path]
      std::istringstream f(line);
      std::string num, ref, proto, flags, type, st, inode, path;
      if (!(f >> num >> ref >> proto >> flags >> type >> st >> inode) || inode != want) continue;
      out.is_unix = true;
      out.bound = static_cast<bool>(f >> path);
      out.listening = (strtoul(flags.c_str(), nullptr, 16) & 0x10000) != 0;  // __SO_ACCEPTCON
      return out;
    }
  }
  for (const char* file : {"tcp", "tcp6"}) {
    std::ifstream in(net + file);
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      std::istringstream f(line);
      std::string sl, local, remote, st, q, tr, retr, uid, timeout, inode;
      if (!(f >> sl >> local >> remote >> st >> q >> tr >> retr >> uid >> timeout >> inode) ||
          inode != want)
        continue;
      out.bound = true;
      out.listening = st == "0A";  // TCP_LISTEN
      return out;
    }
  }
  return out;
}

RemoteUnix RemoteUnixSocket(pid_t pid, int fd) {
  RemoteUnix out;
  const std::string ino = RemoteSocketInode(pid, fd);
  if (ino.empty()) return out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/net/unix");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    // Num RefCount Protocol Flags Type St Inode [Path]
    std::istringstream f(line);
    std::string num, ref, proto, flags, type, st, inode, path;
    if (!(f >> num >> ref >> proto >> flags >> type >> st >> inode)) continue;
    if (inode != ino) continue;
    out.type = static_cast<int>(strtol(type.c_str(), nullptr, 16));
    out.bound = static_cast<bool>(f >> path);
    return out;
  }
  return out;
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

bool ListedAbstract(const std::vector<std::string>& allowed, const std::string& shown) {
  for (const auto& entry : allowed) {
    if (entry.empty() || entry[0] != '@') continue;
    const bool glob = entry.find_first_of("*?[") != std::string::npos;
    if (entry == shown || (glob && GlobMatch(entry, shown))) return true;
  }
  return false;
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

}  // namespace rf
