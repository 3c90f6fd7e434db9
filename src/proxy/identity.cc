#include "proxy/identity.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <system_error>
#include <thread>

#include "common/fd.h"
#include "common/file.h"

namespace rf::proxy {

namespace {

// The most read of one /proc file (a /proc/net/tcp of many
// thousands of sockets stays far below it).
constexpr size_t kProcReadLimit = 64u << 20;

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

// sock_diag exact lookup by 4-tuple: O(1) in the kernel, unlike reading
// /proc/net/tcp, whose cost grows with every socket (TIME_WAIT included).
bool DiagLookup(int nl, const sockaddr_storage& client, const sockaddr_storage& proxy,
                unsigned long* inode) {
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 r;
  } req{};
  req.nlh.nlmsg_len = sizeof req;
  req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.nlh.nlmsg_flags = NLM_F_REQUEST;
  req.nlh.nlmsg_seq = 1;
  req.r.sdiag_family = static_cast<uint8_t>(client.ss_family);
  req.r.sdiag_protocol = IPPROTO_TCP;
  req.r.idiag_states = ~0u;
  req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  if (client.ss_family == AF_INET && proxy.ss_family == AF_INET) {
    const auto* c = reinterpret_cast<const sockaddr_in*>(&client);
    const auto* p = reinterpret_cast<const sockaddr_in*>(&proxy);
    req.r.id.idiag_sport = c->sin_port;
    req.r.id.idiag_dport = p->sin_port;
    memcpy(req.r.id.idiag_src, &c->sin_addr, 4);
    memcpy(req.r.id.idiag_dst, &p->sin_addr, 4);
  } else if (client.ss_family == AF_INET6 && proxy.ss_family == AF_INET6) {
    const auto* c = reinterpret_cast<const sockaddr_in6*>(&client);
    const auto* p = reinterpret_cast<const sockaddr_in6*>(&proxy);
    req.r.id.idiag_sport = c->sin6_port;
    req.r.id.idiag_dport = p->sin6_port;
    memcpy(req.r.id.idiag_src, &c->sin6_addr, 16);
    memcpy(req.r.id.idiag_dst, &p->sin6_addr, 16);
  } else {
    return false;
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(nl, &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return false;
  alignas(nlmsghdr) char buf[8192];
  ssize_t n = recv(nl, buf, sizeof buf, 0);
  if (n <= 0) return false;
  for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<size_t>(n));
       h = NLMSG_NEXT(h, n)) {
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) return false;  // NLMSG_ERROR: not found
    const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
    if (m->idiag_inode == 0) return false;
    *inode = m->idiag_inode;
    return true;
  }
  return false;
}

ino_t NetNsInode(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

}  // namespace

Result<unsigned long> IdentityResolver::FindInode(const sockaddr_storage& client,
                                                  const sockaddr_storage& proxy) const {
  std::string ns = root_ > 0 ? std::to_string(root_) : "self";
  // Fast path: sock_diag, when our netlink socket sees the client's namespace.
  if (diag_ok_) {
    unsigned long inode = 0;
    if (DiagLookup(diag_.get(), client, proxy, &inode)) return inode;
  }
  for (bool v6 : {false, true}) {
    std::string local = ProcAddr(client, v6), remote = ProcAddr(proxy, v6);
    if (local.empty() || remote.empty()) continue;
    auto read = ReadSmallFile(proc_ + "/" + ns + "/net/" + (v6 ? "tcp6" : "tcp"), kProcReadLimit);
    if (!read.ok()) continue;
    const std::string& text = *read;
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

pid_t IdentityResolver::ParentOf(pid_t pid) const { return ParentOfPid(pid, proc_); }

bool IdentityResolver::InSandbox(pid_t pid) const {
  if (pid <= 1) return false;
  if (root_ <= 0 || pid == root_) return true;
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

void IdentityResolver::Init() {
  if (initialized_) return;
  initialized_ = true;
  std::string ns = root_ > 0 ? std::to_string(root_) : "self";
  ino_t theirs = NetNsInode(proc_ + "/" + ns + "/ns/net");
  ino_t ours = NetNsInode("/proc/self/ns/net");
  if (theirs == 0) return;
  if (theirs == ours) {
    diag_.reset(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  } else {
    // The sandbox's own namespace (namespace mode): a socket keeps the
    // namespace it was created in, so a short-lived thread joins it, creates
    // the sock_diag socket there and ends; no other thread changes namespace.
    // Without it every lookup parses /proc/<root>/net/tcp, whose cost grows
    // with every socket of the sandbox (TIME_WAIT included): O(n) per
    // connection starved the event loop under load (docs/proxy.md). Falls back to /proc when setns
    // is refused.
    UniqueFd nsfd(open((proc_ + "/" + ns + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
    if (!nsfd.valid()) return;
    int made = -1;
    try {
      std::thread t([&] {
        if (setns(nsfd.get(), CLONE_NEWNET) == 0)
          made = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
      });
      t.join();
    } catch (const std::system_error&) {
      return;  // no thread (EAGAIN): the /proc fallback
    }
    diag_.reset(made);
  }
  if (!diag_.valid()) return;
  timeval tv{0, 200000};
  setsockopt(diag_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  diag_ok_ = true;
}

void IdentityResolver::Descendants(pid_t root, std::vector<pid_t>* out) const {
  std::vector<pid_t> todo = {root};
  while (!todo.empty() && out->size() < 65536) {
    pid_t p = todo.back();
    todo.pop_back();
    std::string dir = proc_ + "/" + std::to_string(p) + "/task";
    DIR* d = opendir(dir.c_str());
    if (!d) continue;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      auto read = ReadSmallFile(dir + "/" + e->d_name + "/children", kProcReadLimit);
      if (!read.ok()) continue;
      const std::string& kids = *read;
      const char* c = kids.c_str();
      char* end;
      for (long v = strtol(c, &end, 10); end != c; c = end, v = strtol(c, &end, 10)) {
        out->push_back(static_cast<pid_t>(v));
        todo.push_back(static_cast<pid_t>(v));
      }
    }
    closedir(d);
  }
}

Result<CallerIdentity> IdentityResolver::Resolve(const sockaddr_storage& client,
                                                 const sockaddr_storage& proxy) {
  Init();
  auto inode = FindInode(client, proxy);
  if (!inode.ok()) return inode.status();
  return ResolveInode(*inode);
}

Result<CallerIdentity> IdentityResolver::ResolveInode(unsigned long inode) {
  std::string link = "socket:[" + std::to_string(inode) + "]";
  pid_t self = getpid();
  pid_t owner = 0;
  for (pid_t p : recent_) {
    if (p != self && HoldsInode(p, link) && InSandbox(p)) {
      owner = p;
      break;
    }
  }
  if (owner == 0 && root_ > 0) {
    // Only the sandbox's processes: its root and what is below it.
    std::vector<pid_t> kids = {root_};
    Descendants(root_, &kids);
    for (pid_t p : kids) {
      if (p != self && HoldsInode(p, link)) {
        owner = p;
        break;
      }
    }
  } else if (owner == 0) {
    DIR* d = opendir(proc_.c_str());
    if (!d) return Status::Errno("opendir ", proc_);
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

  return ChainOf(owner, root_, proc_);
}

}  // namespace rf::proxy
