#include "proxy/identity.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/fd.h"

namespace rf::proxy {

namespace {

// "%08X:%04X" (IPv4) or 4 x "%08X" + ":%04X" (IPv6) as the kernel prints a
// socket address in /proc/net/tcp{,6}: each 32-bit word in host byte order.
std::string ProcAddr(const sockaddr_storage& ss, bool want_v6) {
  char buf[64];
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    if (!want_v6) {
      uint32_t w;
      memcpy(&w, &in->sin_addr, 4);
      snprintf(buf, sizeof buf, "%08X:%04X", w, ntohs(in->sin_port));
      return buf;
    }
    // An IPv4 client of a dual-stack listener appears as ::ffff:a.b.c.d.
    uint8_t b[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memcpy(b + 12, &in->sin_addr, 4);
    uint32_t w[4];
    memcpy(w, b, 16);
    snprintf(buf, sizeof buf, "%08X%08X%08X%08X:%04X", w[0], w[1], w[2], w[3], ntohs(in->sin_port));
    return buf;
  }
  if (ss.ss_family == AF_INET6 && want_v6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    uint32_t w[4];
    memcpy(w, &in6->sin6_addr, 16);
    snprintf(buf, sizeof buf, "%08X%08X%08X%08X:%04X", w[0], w[1], w[2], w[3],
             ntohs(in6->sin6_port));
    return buf;
  }
  return "";
}

bool ReadSmallFile(const std::string& path, std::string* out) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > (64u << 20)) return false;
  }
}

}  // namespace

Result<unsigned long> IdentityResolver::FindInode(const sockaddr_storage& client,
                                                  const sockaddr_storage& proxy) const {
  std::string ns = root_ > 0 ? std::to_string(root_) : "self";
  for (bool v6 : {false, true}) {
    std::string local = ProcAddr(client, v6), remote = ProcAddr(proxy, v6);
    if (local.empty() || remote.empty()) continue;
    std::string text;
    if (!ReadSmallFile(proc_ + "/" + ns + "/net/" + (v6 ? "tcp6" : "tcp"), &text)) continue;
    size_t pos = text.find('\n');  // skip the header line
    while (pos != std::string::npos && pos + 1 < text.size()) {
      size_t eol = text.find('\n', pos + 1);
      std::string line =
          text.substr(pos + 1, eol == std::string::npos ? std::string::npos : eol - pos - 1);
      pos = eol;
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
      char l[64], r[64];
      unsigned long inode = 0;
      if (sscanf(line.c_str(), " %*s %63s %63s %*s %*s %*s %*s %*s %*s %lu", l, r, &inode) != 3)
        continue;
      if (local == l && remote == r && inode != 0) return inode;
    }
  }
  return Status::Error("client socket not found in /proc net tables");
}

pid_t IdentityResolver::ParentOf(pid_t pid) const {
  std::string stat;
  if (!ReadSmallFile(proc_ + "/" + std::to_string(pid) + "/stat", &stat)) return 0;
  // pid (comm) state ppid: comm may contain spaces and ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  int ppid = 0;
  char state;
  if (sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) != 2) return 0;
  return ppid;
}

bool IdentityResolver::InSandbox(pid_t pid) const {
  if (pid <= 1) return false;
  if (root_ <= 0) return true;
  for (int depth = 0; depth < 4096 && pid > 1; ++depth) {
    pid_t parent = ParentOf(pid);
    if (parent == root_) return true;
    pid = parent;
  }
  return false;
}

bool IdentityResolver::HoldsInode(pid_t pid, const std::string& link) const {
  std::string dir = proc_ + "/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (!d) return false;
  bool found = false;
  char target[64];
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string p = dir + "/" + e->d_name;
    ssize_t n = readlink(p.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (link == target) {
      found = true;
      break;
    }
  }
  closedir(d);
  return found;
}

Result<CallerIdentity> IdentityResolver::Resolve(const sockaddr_storage& client,
                                                 const sockaddr_storage& proxy) {
  auto inode = FindInode(client, proxy);
  if (!inode.ok()) return inode.status();
  std::string link = "socket:[" + std::to_string(*inode) + "]";
  pid_t self = getpid();
  pid_t owner = 0;
  for (pid_t p : recent_) {
    if (p != self && HoldsInode(p, link) && InSandbox(p)) {
      owner = p;
      break;
    }
  }
  if (owner == 0) {
    DIR* d = opendir(proc_.c_str());
    if (!d) return Status::Errno("opendir " + proc_);
    while (dirent* e = readdir(d)) {
      if (!isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
      pid_t p = static_cast<pid_t>(atoi(e->d_name));
      if (p == self || p <= 1) continue;
      if (HoldsInode(p, link) && InSandbox(p)) {
        owner = p;
        break;
      }
    }
    closedir(d);
  }
  if (owner == 0) return Status::Error("no process in the sandbox holds the client socket");
  recent_.erase(std::remove(recent_.begin(), recent_.end(), owner), recent_.end());
  recent_.insert(recent_.begin(), owner);
  if (recent_.size() > 8) recent_.pop_back();

  CallerIdentity id;
  id.pid = owner;
  for (pid_t p = owner; p > 1 && p != root_ && id.chain.size() < 256; p = ParentOf(p)) {
    char exe[PATH_MAX];
    ssize_t n = readlink((proc_ + "/" + std::to_string(p) + "/exe").c_str(), exe, sizeof exe - 1);
    if (n <= 0) {
      if (p == owner) return Status::Errno("readlink /proc/" + std::to_string(p) + "/exe");
      break;
    }
    exe[n] = '\0';
    id.chain.push_back(p);
    id.exes.emplace_back(exe);
    if (p == self) break;  // the proxy's own ancestors are not the caller's
  }
  return id;
}

}  // namespace rf::proxy
