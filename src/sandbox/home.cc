#include "sandbox/home.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "common/fd.h"

namespace rf {

namespace {

std::string PersistentRoot() {
  if (geteuid() == 0) return "/var/lib/ringfence/homes";
  if (const char* s = getenv("XDG_STATE_HOME"); s && s[0] == '/')
    return std::string(s) + "/ringfence/homes";
  if (const char* h = getenv("HOME"); h && h[0] == '/')
    return std::string(h) + "/.local/state/ringfence/homes";
  return "/tmp/ringfence-" + std::to_string(geteuid()) + "/homes";
}

// mkdir -p of the directories above `path` (mode 0755): the last level is
// made and checked by OpenPrivateRoot.
Status MakeParents(const std::string& path) {
  for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
    std::string dir = path.substr(0, at);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Status::Errno("mkdir ", dir);
  }
  return Status::Ok();
}

// A stable name for `workdir`: readable, and unique through a hash.
std::string PersistentName(const std::string& workdir, uid_t uid) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : workdir) h = (h ^ c) * 1099511628211ULL;
  std::string base = workdir.substr(workdir.rfind('/') + 1);
  std::string name;
  for (char c : base) {
    if (name.size() >= 32) break;
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.';
    name += plain ? c : '_';
  }
  if (name.empty() || name[0] == '.') name = "root" + name;
  static const char kHex[] = "0123456789abcdef";
  name += '-';
  for (int shift = 60; shift >= 0; shift -= 4) name += kHex[(h >> shift) & 15];
  return name + "-u" + std::to_string(uid);
}

Result<std::string> MakePersistent(const std::string& workdir,
                                   std::optional<std::pair<uid_t, gid_t>> owner) {
  const uid_t uid = owner ? owner->first : geteuid();
  const std::string root = PersistentRoot();
  if (Status s = MakeParents(root); !s.ok()) return s.With("persistent home");
  auto parent = OpenPrivateRoot(root);
  if (!parent.ok()) return parent.status().With("persistent home");
  const std::string name = PersistentName(workdir, uid);
  const std::string path = root + "/" + name;
  bool made = mkdirat(parent->get(), name.c_str(), 0700) == 0;
  if (!made && errno != EEXIST) return Status::Errno("mkdir ", path);
  UniqueFd fd(openat(parent->get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return Status::Errno("open ", path, " (a directory, not a link)");
  if (made && owner && fchown(fd.get(), owner->first, owner->second) != 0)
    return Status::Errno("chown ", path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::Errno("fstat ", path);
  // Named after the uid: another owner means someone else made it.
  if (st.st_uid != uid)
    return Status::Error("persistent home " + path + " belongs to uid " +
                         std::to_string(st.st_uid) + ", not the sandbox's uid " +
                         std::to_string(uid) + ": remove it, or set process.home");
  if ((st.st_mode & 077) != 0 && fchmod(fd.get(), st.st_mode & 0700) != 0)
    return Status::Errno("chmod ", path);
  return path;
}

Result<std::string> UsePath(const std::string& path, std::optional<std::pair<uid_t, gid_t>> owner) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Status::Error("process.home " + path + " is not a directory");
    return path;
  }
  if (errno != ENOENT) return Status::Errno("process.home ", path);
  if (mkdir(path.c_str(), 0700) != 0)
    return Status::Errno("process.home: mkdir ", path, " (its parent must exist)");
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return Status::Errno("process.home: open ", path);
  if (owner && fchown(fd.get(), owner->first, owner->second) != 0)
    return Status::Errno("process.home: chown ", path);
  return path;
}

}  // namespace

std::string PersistentHomePath(const std::string& workdir, uid_t uid) {
  return PersistentRoot() + "/" + PersistentName(workdir, uid);
}

Result<SandboxHome> MakeHome(const std::string& setting, const std::string& workdir,
                             std::optional<std::pair<uid_t, gid_t>> owner) {
  SandboxHome h;
  if (setting == "per_run") {
    auto d = PrivateTmpDir::Create(owner, "home-", "per-run home", true);
    if (!d.ok()) return d.status();
    h.per_run = std::move(d).value();
    h.path = h.per_run->path();
    h.own = true;
  } else if (setting == "persistent") {
    auto p = MakePersistent(workdir, owner);
    if (!p.ok()) return p.status();
    h.path = *p;
    h.own = true;
  } else {
    auto p = UsePath(setting, owner);
    if (!p.ok()) return p.status();
    h.path = *p;
  }
  return h;
}

std::vector<std::string> HomeEnvironment(const std::string& home) {
  return {"HOME=" + home, "XDG_CONFIG_HOME=" + home + "/.config",
          "XDG_CACHE_HOME=" + home + "/.cache", "XDG_DATA_HOME=" + home + "/.local/share",
          "XDG_STATE_HOME=" + home + "/.local/state"};
}

}  // namespace rf
