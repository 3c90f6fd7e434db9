#include "sandbox/private_tmp.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace rf {

namespace {

constexpr const char kTmp[] = "/tmp";
// Deeper trees than this are left in place (and reported): each level holds
// a descriptor while it is emptied.
constexpr int kMaxRemoveDepth = 256;

bool Under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

// Empties the directory `dirfd` without following symbolic links. The
// sandbox has exited (its whole process tree is reaped before this runs),
// so nothing changes the tree meanwhile; a directory it made unreadable
// (chmod 0) is made readable first, which only the owner or root can do.
bool RemoveContents(int dirfd, int depth) {
  if (depth > kMaxRemoveDepth) return false;
  int dup = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) return false;
  DIR* d = fdopendir(dup);
  if (!d) {
    close(dup);
    return false;
  }
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  closedir(d);
  bool ok = true;
  for (const auto& name : names) {
    struct stat st;
    if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISDIR(st.st_mode)) {
      ok = unlinkat(dirfd, name.c_str(), 0) == 0 && ok;
      continue;
    }
    int sub = openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0 && errno == EACCES) {
      fchmodat(dirfd, name.c_str(), 0700, 0);  // a directory (checked above), not a link
      sub = openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (sub < 0) {
      ok = false;
      continue;
    }
    struct stat sst;
    // The sandbox may have left it without write or search permission.
    if (fstat(sub, &sst) == 0 && (sst.st_mode & 0700) != 0700) fchmod(sub, 0700);
    ok = RemoveContents(sub, depth + 1) && ok;
    close(sub);
    ok = unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) == 0 && ok;
  }
  return ok;
}

std::string RandomName(const char* prefix) {
  unsigned char r[8];
  if (getrandom(r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) return "";
  static const char kHex[] = "0123456789abcdef";
  std::string s = prefix;
  for (unsigned char c : r) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

}  // namespace

Result<UniqueFd> OpenPrivateRoot(const std::string& path) {
  if (mkdir(path.c_str(), 0711) != 0 && errno != EEXIST) return Status::Errno("mkdir ", path);
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return Status::Errno("open ", path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::Errno("fstat ", path);
  if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0)
    return Status::Error(path + " is not a directory of uid " + std::to_string(geteuid()) +
                         " that only it can write");
  // Searchable by the sandbox user (root runs it as another uid), not
  // listable: the names inside are random.
  if ((st.st_mode & 07777) != 0711 && fchmod(fd.get(), 0711) != 0)
    return Status::Errno("chmod ", path);
  return fd;
}

bool PolicyListsTmp(const FilesystemPolicy& fs) {
  for (const auto* list : {&fs.read_only, &fs.read_write})
    for (const auto& p : *list)
      if (p == kTmp || p == "/tmp/") return true;
  return false;
}

std::vector<std::string> PathsUnderTmp(const std::vector<std::string>& paths) {
  std::vector<std::string> in;
  for (const auto& p : paths)
    if (Under(p, kTmp)) in.push_back(p);
  std::sort(in.begin(), in.end());
  in.erase(std::unique(in.begin(), in.end()), in.end());
  std::vector<std::string> out;
  for (const auto& p : in)
    if (out.empty() || !Under(p, out.back())) out.push_back(p);
  return out;
}

std::unique_ptr<PrivateTmpfsStep> PrivateTmpfsStep::Create(const std::string& size) {
  std::unique_ptr<PrivateTmpfsStep> s(new PrivateTmpfsStep());
  s->options_ = "mode=1777";
  if (!size.empty()) s->options_ += ",size=" + size;
  return s;
}

int PrivateTmpfsStep::Apply() const noexcept {
  return mount("tmpfs", kTmp, "tmpfs", MS_NOSUID | MS_NODEV, options_.c_str()) != 0 ? errno : 0;
}

Result<std::unique_ptr<PrivateTmpDir>> PrivateTmpDir::Create(
    std::optional<std::pair<uid_t, gid_t>> owner, const char* prefix, const char* what,
    bool outside_tmp) {
  std::vector<std::string> roots;
  if (geteuid() == 0) {
    roots.push_back("/run/ringfence");
  } else if (const char* xdg = getenv("XDG_RUNTIME_DIR"); xdg && xdg[0] == '/') {
    roots.push_back(std::string(xdg) + "/ringfence");
  }
  if (outside_tmp) roots.push_back("/var/tmp/ringfence-" + std::to_string(geteuid()));
  roots.push_back("/tmp/ringfence-" + std::to_string(geteuid()));
  std::string why;
  for (const auto& root : roots) {
    auto parent = OpenPrivateRoot(root);
    if (!parent.ok()) {
      why += (why.empty() ? "" : "; ") + parent.status().reason();
      continue;
    }
    for (int attempt = 0; attempt < 8; ++attempt) {
      std::string name = RandomName(prefix);
      if (name.empty()) return Status::Errno("getrandom");
      if (mkdirat(parent->get(), name.c_str(), 0700) != 0) {
        if (errno == EEXIST) continue;
        why += (why.empty() ? "" : "; ") + Status::Errno("mkdir ", root, "/", name).reason();
        break;
      }
      std::unique_ptr<PrivateTmpDir> d(new PrivateTmpDir());
      d->parent_ = std::move(parent).value();
      d->name_ = name;
      d->what_ = what;
      d->path_ = root + "/" + name;
      // From here on the destructor removes it.
      UniqueFd fd(
          openat(d->parent_.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid()) return Status::Errno("open ", d->path_);
      if (owner && fchown(fd.get(), owner->first, owner->second) != 0)
        return Status::Errno("chown ", d->path_);
      if (fchmod(fd.get(), 0700) != 0) return Status::Errno("chmod ", d->path_);
      return d;
    }
  }
  return Status::Error(std::string("cannot make the sandbox's ") + what + " directory: " + why);
}

PrivateTmpDir::~PrivateTmpDir() {
  if (!parent_.valid() || name_.empty()) return;
  int fd = openat(parent_.get(), name_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  bool ok = fd >= 0;
  if (fd >= 0) {
    ok = RemoveContents(fd, 0);
    close(fd);
  }
  ok = unlinkat(parent_.get(), name_.c_str(), AT_REMOVEDIR) == 0 && ok;
  if (!ok)
    fprintf(stderr, "ringfence: warning: the sandbox's %s %s was not fully removed\n",
            what_.c_str(), path_.c_str());
}

}  // namespace rf
