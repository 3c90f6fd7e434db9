#include "sandbox/audit_path.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <utility>

#include "common/file.h"
#include "landlock/resolve.h"

namespace rf {

namespace {

using Identity = std::pair<dev_t, ino_t>;

// Mount points from /proc/self/mountinfo (field 5), octal escapes undone.
std::vector<std::string> MountPoints() {
  std::vector<std::string> out;
  auto text = ReadSmallFile("/proc/self/mountinfo", 16u << 20);
  if (!text.ok()) return out;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string f, point;
    for (int i = 0; i < 5 && fields >> f; ++i) point = f;
    std::string unescaped;
    for (size_t i = 0; i < point.size(); ++i) {
      // The kernel writes space, tab, newline and backslash as \ooo.
      if (point[i] == '\\' && i + 3 < point.size()) {
        int c = 0;
        for (size_t k = i + 1; k <= i + 3; ++k) c = c * 8 + (point[k] - '0');
        unescaped += static_cast<char>(c);
        i += 3;
      } else {
        unescaped += point[i];
      }
    }
    out.push_back(unescaped);
  }
  return out;
}

bool Beneath(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

}  // namespace

Status CheckAuditOutsideGrants(int fd, const std::string& shown,
                               const std::vector<std::string>& writable, const std::string& workdir,
                               uid_t trusted_uid) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Status::Errno(shown);
  // Another name of the same file could be inside a grant; nothing lists
  // a file's names, so a log with more than one is refused.
  if (st.st_nlink > 1)
    return Status::Error(shown + " has " + std::to_string(st.st_nlink) +
                         " names (hard links): another may be inside a read-write grant, "
                         "where the command could rewrite the log; use a file with one name");
  char real[PATH_MAX];
  ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), real, sizeof real - 1);
  if (n <= 0) return Status::Errno(shown, ": its real path");
  real[n] = '\0';
  // An anonymous pipe or a socket ("pipe:[...]", "socket:[...]") has no
  // name the command could open: it reaches it only through an inherited
  // descriptor, and it inherits none but its stdio (docs/audit.md).
  if (real[0] != '/') return Status::Ok();
  const std::string named =
      shown == "--audit " + std::string(real) ? shown : shown + " (" + real + ")";

  // Each writable grant by identity, and the mounts placed inside one: what
  // the command reaches through a grant includes what is mounted below it.
  // Named by the innermost grant (the longest real path) that reaches it.
  std::map<Identity, std::pair<std::string, size_t>> grants;
  auto add = [&](Identity id, const std::string& name, size_t depth) {
    auto [it, fresh] = grants.emplace(id, std::pair{name, depth});
    if (!fresh && depth > it->second.second) it->second = {name, depth};
  };
  const std::vector<std::string> points = MountPoints();
  for (const auto& g : writable) {
    auto r = landlock::ResolveRulePath(g, trusted_uid);
    if (!r.ok()) continue;  // no rule is made for it either
    struct stat gs;
    if (fstat(r->fd.get(), &gs) != 0) continue;
    add({gs.st_dev, gs.st_ino}, g, r->real.size());
    if (!S_ISDIR(gs.st_mode)) continue;
    for (const auto& p : points) {
      struct stat ms;
      if (p != r->real && Beneath(p, r->real) && stat(p.c_str(), &ms) == 0)
        add({ms.st_dev, ms.st_ino}, g, r->real.size());
    }
  }

  // The log, then each directory above its real path up to "/".
  std::string path = real;
  struct stat cur = st;
  for (int depth = 0; depth < 4096; ++depth) {
    if (auto it = grants.find({cur.st_dev, cur.st_ino}); it != grants.end()) {
      const std::string& g = it->second.first;
      return Status::Error(named + " is inside the read-write grant " + g +
                           (g == workdir ? " (the working directory, include_workdir)" : "") +
                           ": the command could truncate the log and forge its events; "
                           "write it outside every read-write grant");
    }
    if (path == "/") break;
    size_t slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
    if (stat(path.c_str(), &cur) != 0) return Status::Errno(shown, ": ", path);
  }
  return Status::Ok();
}

}  // namespace rf
