#include "landlock/resolve.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <deque>

#include "common/path.h"

namespace rf::landlock {

namespace {

// As the kernel's path walk: more links than this on one path is a loop.
constexpr int kMaxLinks = 40;

struct Dir {
  UniqueFd fd;
  std::string name;  // component name; "" for the root
  struct stat st;
};

std::string JoinChain(const std::vector<Dir>& chain, size_t n) {
  std::string out;
  for (size_t i = 1; i < n; ++i) out += "/" + chain[i].name;
  return out.empty() ? "/" : out;
}

std::string Octal(mode_t m) {
  char buf[8];
  snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

// Why a link reached through `chain` and stat'ed as `link_st` must not be
// followed; empty when it may be.
std::string DistrustReason(const std::vector<Dir>& chain, const struct stat& link_st,
                           uid_t trusted_uid) {
  auto owner_ok = [&](uid_t u) { return u == 0 || u == trusted_uid; };
  const std::string who = "root or the caller (uid " + std::to_string(trusted_uid) + ")";
  for (size_t i = 0; i < chain.size(); ++i) {
    const struct stat& st = chain[i].st;
    const std::string dir = JoinChain(chain, i + 1);
    if (!owner_ok(st.st_uid))
      return "the directory " + dir + " is owned by uid " + std::to_string(st.st_uid) +
             ", neither " + who;
    if (st.st_mode & (S_IWGRP | S_IWOTH))
      return "the directory " + dir + " is writable by others (mode " + Octal(st.st_mode) +
             "), who could plant or swap the link";
  }
  if (!owner_ok(link_st.st_uid))
    return "the link is owned by uid " + std::to_string(link_st.st_uid) + ", neither " + who;
  return "";
}

// A path with no symbolic link anywhere on it resolves in one call, with
// nothing to check. Empty when openat2 is unavailable (older kernel, a
// container's seccomp profile) or the path holds a link, "..", or an error:
// the component walk then decides (and names the error).
UniqueFd OpenWithoutLinks(int root, const std::string& path) {
  std::string rel = path.substr(
      path.find_first_not_of('/') == std::string::npos ? path.size() : path.find_first_not_of('/'));
  if (rel.empty()) return UniqueFd(fcntl(root, F_DUPFD_CLOEXEC, 0));
  for (const auto& c : PathComponents(rel))
    if (c == "..") return UniqueFd();
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH;
  long fd = syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how);
  return UniqueFd(fd < 0 ? -1 : static_cast<int>(fd));
}

std::string Normalised(const std::string& path) {
  std::string out;
  for (const auto& c : PathComponents(path))
    if (c != ".") out += "/" + c;
  return out.empty() ? "/" : out;
}

}  // namespace

std::string OpenFailure(int err) {
  switch (err) {
    case ENOENT:
      return "does not exist";
    case EACCES:
      return "not accessible to ringfence (permission denied)";
    case ENOTDIR:
      return "a component of the path is not a directory";
    case ELOOP:
      return "too many levels of symbolic links";
    default:
      return std::string("cannot be opened: ") + std::strerror(err);
  }
}

Result<ResolvedPath> ResolveRulePath(const std::string& path, uid_t trusted_uid, int root_fd) {
  if (path.empty() || path[0] != '/') return Status::Error("is not an absolute path");
  UniqueFd root(root_fd >= 0 ? fcntl(root_fd, F_DUPFD_CLOEXEC, 0)
                             : open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return Status::Error(OpenFailure(errno));

  ResolvedPath out;
  if (UniqueFd fast = OpenWithoutLinks(root.get(), path); fast.valid()) {
    out.fd = std::move(fast);
    out.real = Normalised(path);
    return out;
  }

  // chain[0] is the root; chain.back() the directory the next name is looked up in.
  std::vector<Dir> chain;
  chain.push_back({std::move(root), "", {}});
  if (fstat(chain[0].fd.get(), &chain[0].st) != 0) return Status::Error(OpenFailure(errno));
  std::deque<std::string> todo = PathComponents(path);
  int links = 0;
  while (!todo.empty()) {
    const std::string name = std::move(todo.front());
    todo.pop_front();
    if (!S_ISDIR(chain.back().st.st_mode)) return Status::Error(OpenFailure(ENOTDIR));
    if (name == ".") continue;
    if (name == "..") {
      if (chain.size() > 1) chain.pop_back();
      continue;
    }
    UniqueFd fd(openat(chain.back().fd.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return Status::Error(OpenFailure(errno));
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return Status::Error(OpenFailure(errno));
    if (!S_ISLNK(st.st_mode)) {
      chain.push_back({std::move(fd), name, st});
      continue;
    }
    const std::string parent = JoinChain(chain, chain.size());
    const std::string at = (parent == "/" ? "" : parent) + "/" + name;
    if (++links > kMaxLinks) return Status::Error(OpenFailure(ELOOP));
    // The link's own descriptor: what is read is what was stat'ed.
    char buf[PATH_MAX];
    ssize_t n = readlinkat(fd.get(), "", buf, sizeof buf);
    if (n < 0) return Status::Error(OpenFailure(errno));
    if (static_cast<size_t>(n) >= sizeof buf) return Status::Error(OpenFailure(ENAMETOOLONG));
    const std::string target(buf, static_cast<size_t>(n));
    if (std::string why = DistrustReason(chain, st, trusted_uid); !why.empty())
      return Status::Error("reached through the symlink " + at + " -> " + target +
                           ", which is not followed: " + why);
    out.links.push_back({at, target});
    if (!target.empty() && target[0] == '/') chain.resize(1);
    std::deque<std::string> more = PathComponents(target);
    todo.insert(todo.begin(), more.begin(), more.end());
  }
  out.real = JoinChain(chain, chain.size());
  out.fd = std::move(chain.back().fd);
  return out;
}

}  // namespace rf::landlock
