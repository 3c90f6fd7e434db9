#include "net/proc_read.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>

#include "common/file.h"

namespace rf {

namespace {

// /proc/<pid>/status and fdinfo are a few KiB.
constexpr size_t kMaxSmall = 64u << 10;
// A /proc/<pid>/net table has one line (about 150 bytes) per socket of the
// namespace; platform mode reads the host's. Past this it reads as
// unreadable.
constexpr size_t kMaxTable = 64u << 20;

std::string ProcPath(pid_t pid, const std::string& rest) {
  return "/proc/" + std::to_string(pid) + "/" + rest;
}

// The whole file, or nothing when it cannot be read within `limit`.
std::optional<std::string> ReadProc(const std::string& path, size_t limit) {
  auto text = ReadSmallFile(path, limit);
  if (!text.ok()) return std::nullopt;
  return std::move(*text);
}

// The value after "key" (whitespace-separated words), or empty.
std::string WordAfter(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string word;
  while (in >> word)
    if (word == key && in >> word) return word;
  return "";
}

// Calls `fn(fields)` for each line of a /proc/net table after its header,
// until it returns true; returns whether one did.
template <typename Fn>
bool ForEachRow(const std::string& table, Fn&& fn) {
  std::istringstream in(table);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    if (fn(fields)) return true;
  }
  return false;
}

// The target of /proc/<pid>/fd/<fd>; nullopt when there is no such
// descriptor.
std::optional<std::string> FdLink(pid_t pid, int fd) {
  char link[64];
  const std::string p = ProcPath(pid, "fd/" + std::to_string(fd));
  ssize_t n = readlink(p.c_str(), link, sizeof link - 1);
  if (n < 0) return std::nullopt;
  return std::string(link, static_cast<size_t>(n));
}

// The socket inode the caller's descriptor names ("socket:[123]"), or empty.
std::string RemoteSocketInode(pid_t pid, int fd) {
  auto link = FdLink(pid, fd);
  if (!link || link->size() <= 9 || link->compare(0, 8, "socket:[") != 0) return "";
  return link->substr(8, link->size() - 9);
}

}  // namespace

pid_t ThreadGroupOf(pid_t tid) {
  auto status = ReadProc(ProcPath(tid, "status"), kMaxSmall);
  return status ? static_cast<pid_t>(atoi(WordAfter(*status, "Tgid:").c_str())) : 0;
}

int RemoteFdFlags(pid_t pid, int fd) {
  // "flags: 02004002", octal.
  auto info = ReadProc(ProcPath(pid, "fdinfo/" + std::to_string(fd)), kMaxSmall);
  if (!info) return -1;
  const std::string v = WordAfter(*info, "flags:");
  return v.empty() ? -1 : static_cast<int>(strtol(v.c_str(), nullptr, 8));
}

bool RemoteIsSocket(pid_t pid, int fd) { return !RemoteSocketInode(pid, fd).empty(); }

int64_t RemoteSocketIno(pid_t pid, int fd) {
  auto link = FdLink(pid, fd);
  if (!link) return -1;
  if (link->compare(0, 8, "socket:[") != 0) return 0;
  return static_cast<int64_t>(strtoull(link->c_str() + 8, nullptr, 10));
}

RemoteSocketState RemoteSocketStateOf(pid_t pid, uint64_t ino) {
  RemoteSocketState out;
  const std::string want = std::to_string(ino);
  if (auto unix_table = ReadProc(ProcPath(pid, "net/unix"), kMaxTable)) {
    const bool found = ForEachRow(*unix_table, [&](std::istringstream& f) {
      // Num RefCount Protocol Flags Type St Inode [Path]
      std::string num, ref, proto, flags, type, st, inode, path;
      if (!(f >> num >> ref >> proto >> flags >> type >> st >> inode) || inode != want)
        return false;
      out.is_unix = true;
      out.bound = static_cast<bool>(f >> path);
      out.listening = (strtoul(flags.c_str(), nullptr, 16) & 0x10000) != 0;  // __SO_ACCEPTCON
      return true;
    });
    if (found) return out;
  }
  for (const char* file : {"net/tcp", "net/tcp6"}) {
    auto table = ReadProc(ProcPath(pid, file), kMaxTable);
    if (!table) continue;
    const bool found = ForEachRow(*table, [&](std::istringstream& f) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      std::string sl, local, remote, st, q, tr, retr, uid, timeout, inode;
      if (!(f >> sl >> local >> remote >> st >> q >> tr >> retr >> uid >> timeout >> inode) ||
          inode != want)
        return false;
      out.bound = true;
      out.listening = st == "0A";  // TCP_LISTEN
      return true;
    });
    if (found) return out;
  }
  return out;
}

RemoteUnix RemoteUnixSocket(pid_t pid, int fd) {
  RemoteUnix out;
  const std::string ino = RemoteSocketInode(pid, fd);
  if (ino.empty()) return out;
  auto table = ReadProc(ProcPath(pid, "net/unix"), kMaxTable);
  if (!table) return out;
  ForEachRow(*table, [&](std::istringstream& f) {
    // Num RefCount Protocol Flags Type St Inode [Path]
    std::string num, ref, proto, flags, type, st, inode, path;
    if (!(f >> num >> ref >> proto >> flags >> type >> st >> inode) || inode != ino) return false;
    out.type = static_cast<int>(strtol(type.c_str(), nullptr, 16));
    out.bound = static_cast<bool>(f >> path);
    return true;
  });
  return out;
}

bool ListensInNamespaceOf(pid_t pid, uint16_t port) {
  char want[8];
  snprintf(want, sizeof want, ":%04X", port);
  for (const char* file : {"net/tcp", "net/tcp6"}) {
    auto table = ReadProc(ProcPath(pid, file), kMaxTable);
    if (!table) return true;
    const bool listens = ForEachRow(*table, [&](std::istringstream& f) {
      std::string slot, local, remote, state;
      if (!(f >> slot >> local >> remote >> state)) return false;
      return state == "0A" && local.size() > 5 && local.compare(local.size() - 5, 5, want) == 0;
    });
    if (listens) return true;
  }
  return false;
}

bool ForEachSocketOf(pid_t pid, const std::function<bool(uint64_t)>& fn) {
  DIR* d = opendir(ProcPath(pid, "fd").c_str());
  if (!d) return false;
  bool hit = false;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char link[64];
    ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof link - 1);
    if (n <= 8) continue;
    link[n] = 0;
    if (strncmp(link, "socket:[", 8) != 0) continue;
    if (fn(strtoull(link + 8, nullptr, 10))) {
      hit = true;
      break;
    }
  }
  closedir(d);
  return hit;
}

bool HeldByAny(const std::vector<pid_t>& pids, const std::vector<uint64_t>& socket_inodes) {
  for (pid_t pid : pids)
    if (ForEachSocketOf(pid, [&](uint64_t ino) {
          return std::find(socket_inodes.begin(), socket_inodes.end(), ino) != socket_inodes.end();
        }))
      return true;
  return false;
}

std::vector<pid_t> ProcessTree(pid_t root, size_t max) {
  std::vector<pid_t> out{root};
  for (size_t i = 0; i < out.size() && out.size() < max; ++i) {
    const std::string task_dir = ProcPath(out[i], "task");
    DIR* d = opendir(task_dir.c_str());
    if (!d) continue;
    while (struct dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      // "123 456 ": the thread's children, a few bytes each.
      auto children = ReadProc(task_dir + "/" + e->d_name + "/children", kMaxTable);
      if (!children) continue;
      std::istringstream in(*children);
      long child;
      while (out.size() < max && in >> child) out.push_back(static_cast<pid_t>(child));
    }
    closedir(d);
  }
  return out;
}

}  // namespace rf
