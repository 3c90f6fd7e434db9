#include "sandbox/protect.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>

#include "common/fd.h"

namespace rf {

namespace {

std::vector<std::string_view> Split(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    size_t slash = s.find('/');
    std::string_view comp = s.substr(0, slash);
    if (!comp.empty()) out.push_back(comp);
    if (slash == std::string_view::npos) break;
    s.remove_prefix(slash + 1);
  }
  return out;
}

bool MatchComponents(const std::vector<std::string_view>& pat, size_t pi,
                     const std::vector<std::string_view>& path, size_t xi) {
  if (pi == pat.size()) return xi == path.size();
  if (pat[pi] == "**") {
    for (size_t k = xi; k <= path.size(); ++k)
      if (MatchComponents(pat, pi + 1, path, k)) return true;
    return false;
  }
  if (xi == path.size()) return false;
  std::string p(pat[pi]), x(path[xi]);
  if (fnmatch(p.c_str(), x.c_str(), 0) != 0) return false;
  return MatchComponents(pat, pi + 1, path, xi + 1);
}

std::string_view Body(std::string_view pattern) {
  if (pattern.size() > 1 && pattern.back() == '/') pattern.remove_suffix(1);
  return pattern;
}

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool IsHomeOnlyName(std::string_view name) {
  for (const char* n : {".bashrc", ".bash_profile", ".bash_login", ".profile", ".zshrc",
                        ".zprofile", ".zshenv", ".gitconfig", ".ssh"})
    if (name == n) return true;
  return false;
}

bool HasGlob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

bool Under(std::string_view path, std::string_view root) {
  if (root == "/") return true;
  return path == root || (path.size() > root.size() && path.substr(0, root.size()) == root &&
                          path[root.size()] == '/');
}

bool PseudoFilesystem(const std::string& path) {
  for (const char* p : {"/proc", "/sys", "/dev"})
    if (Under(path, p)) return true;
  return path == "/";  // walked through its subdirectories' own grants only
}

bool SystemDirectory(const std::string& path) {
  for (const char* p : {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
                        "/opt", "/var/lib", "/nix", "/snap"})
    if (Under(path, p)) return true;
  return false;
}

ProtectedEntry::Type TypeOf(mode_t m) {
  if (S_ISREG(m)) return ProtectedEntry::Type::kFile;
  if (S_ISDIR(m)) return ProtectedEntry::Type::kDir;
  if (S_ISLNK(m)) return ProtectedEntry::Type::kSymlink;
  return ProtectedEntry::Type::kOther;
}

// A directory below `root` reached without following any symbolic link.
UniqueFd OpenBeneath(int root, const std::string& rel) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return UniqueFd(static_cast<int>(
      syscall(SYS_openat2, root, rel.empty() ? "." : rel.c_str(), &how, sizeof how)));
}

struct Walker {
  const FilesystemPolicy& fs;
  const ProtectLimits& limits;
  ProtectScan& out;
  std::set<std::string> seen;
  size_t visited = 0;
  bool stopped = false;

  const std::string* Match(const std::vector<std::string>& patterns, const std::string& rel,
                           const std::string& abs) {
    for (const auto& p : patterns)
      if (MatchProtectPattern(p, rel, abs)) return &p;
    return nullptr;
  }

  void Record(const std::string& abs, const std::string& pattern, ProtectedEntry::Kind kind,
              ProtectedEntry::Type type, const std::string& grant) {
    if (!seen.insert(abs).second) return;
    ProtectedEntry e;
    e.path = abs;
    e.pattern = pattern;
    e.kind = kind;
    e.type = type;
    e.dir_pattern = pattern.size() > 1 && pattern.back() == '/';
    e.grant = grant;
    out.entries.push_back(std::move(e));
  }

  void Walk(const std::string& grant, bool writable) {
    UniqueFd root(open(grant.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root.valid()) return;  // not a directory: nothing inside it
    struct Dir {
      UniqueFd fd;
      std::string rel;
      int depth;
    };
    std::vector<Dir> stack;
    stack.push_back({std::move(root), "", 0});
    while (!stack.empty() && !stopped) {
      Dir d = std::move(stack.back());
      stack.pop_back();
      int copy = dup(d.fd.get());
      if (copy < 0) continue;
      DIR* dir = fdopendir(copy);
      if (!dir) {
        close(copy);
        continue;
      }
      std::vector<std::string> names;
      while (dirent* e = readdir(dir)) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (++visited > limits.max_entries) {
          stopped = true;
          out.warnings.push_back("protected paths: the search stopped after " +
                                 std::to_string(limits.max_entries) + " entries (in " + grant +
                                 (d.rel.empty() ? "" : "/" + d.rel) +
                                 "); matches past it are not protected");
          break;
        }
        names.emplace_back(e->d_name);
      }
      closedir(dir);
      for (const auto& name : names) {
        std::string rel = d.rel.empty() ? name : d.rel + "/" + name;
        std::string abs = (grant == "/" ? "" : grant) + "/" + rel;
        struct stat st;
        if (fstatat(d.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (writable) {
          if (const std::string* p = Match(fs.protected_paths, rel, abs)) {
            Record(abs, *p, ProtectedEntry::Kind::kProtected, TypeOf(st.st_mode), grant);
            continue;
          }
        }
        if (const std::string* p = Match(fs.deny_read, rel, abs)) {
          Record(abs, *p, ProtectedEntry::Kind::kDenyRead, TypeOf(st.st_mode), grant);
          continue;
        }
        // Not searched further: past the depth limit, inside a repository's
        // own directory (.git/hooks and .git/config are its children) and in
        // package trees, where the walk would cost the most and the default
        // names mean nothing.
        if (!S_ISDIR(st.st_mode) || d.depth + 1 >= limits.max_depth || name == "node_modules" ||
            d.rel == ".git" || EndsWith(d.rel, "/.git"))
          continue;
        UniqueFd sub(
            openat(d.fd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub.valid()) stack.push_back({std::move(sub), rel, d.depth + 1});
      }
    }
  }

  // Protected names that do not exist yet, where their parent does below a
  // read-write grant root: creating them must fail too.
  void Absent(const std::string& grant, bool home) {
    UniqueFd root(open(grant.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root.valid()) return;
    for (const auto& p : fs.protected_paths) {
      std::string_view body = Body(p);
      if (HasGlob(body) || body.find("**") != std::string_view::npos) continue;
      // A shell's or ssh's files run from a home directory only: in a
      // repository a placeholder would be listed by git; one created there
      // is moved aside after the run instead.
      const bool restore_only = !home && IsHomeOnlyName(body);
      std::string rel;
      if (body[0] == '/') {
        std::string abs(body);
        if (!Under(abs, grant) || abs == grant) continue;
        rel = abs.substr(grant == "/" ? 1 : grant.size() + 1);
      } else {
        rel = std::string(body);
      }
      size_t slash = rel.rfind('/');
      std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
      std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
      UniqueFd dir = OpenBeneath(root.get(), parent);
      if (!dir.valid()) continue;
      struct stat st;
      if (fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
        continue;
      Record((grant == "/" ? "" : grant) + "/" + rel, p, ProtectedEntry::Kind::kProtected,
             ProtectedEntry::Type::kAbsent, grant);
      out.entries.back().restore_only = restore_only;
    }
  }
};

// A directory or empty file, made by the supervisor and mounted over a path
// (namespace mode): masks for deny_read (mode 0, nobody's to read) and
// placeholders for absent protected names (the sandbox cannot create or
// replace a mount point, and the mount is read-only).
struct Mount {
  std::string source;
  std::string target;
  unsigned long flags = 0;  // the target's filesystem flags kept on the remount
};

class MountStep : public ChildStep {
 public:
  explicit MountStep(const std::vector<Mount>* mounts) : mounts_(mounts) {}
  const char* name() const override { return "protected paths"; }
  // Async-signal-safe: mount(2) and statfs(2) only, on strings made before
  // fork.
  int Apply() const noexcept override {
    for (const Mount& m : *mounts_) {
      struct statfs sf;
      // Gone since the scan (a host program removed it): nothing to hold.
      if (statfs(m.target.c_str(), &sf) != 0) {
        if (errno == ENOENT) continue;
        return errno;
      }
      if (mount(m.source.c_str(), m.target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
        return errno;
      // The remount keeps the flags a user namespace may not clear.
      unsigned long keep = 0;
      if (sf.f_flags & ST_NOSUID) keep |= MS_NOSUID;
      if (sf.f_flags & ST_NODEV) keep |= MS_NODEV;
      if (sf.f_flags & ST_NOEXEC) keep |= MS_NOEXEC;
      if (sf.f_flags & ST_NOATIME) keep |= MS_NOATIME;
      if (sf.f_flags & ST_NODIRATIME) keep |= MS_NODIRATIME;
      if (sf.f_flags & ST_RELATIME) keep |= MS_RELATIME;
      if (mount(nullptr, m.target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | keep,
                nullptr) != 0)
        return errno;
    }
    return 0;
  }

 private:
  const std::vector<Mount>* mounts_;
};

// Platform mode: the state of a protected path, taken before the run and
// compared after it. Bounded: a path whose snapshot would pass the bounds is
// reported as not snapshotted instead.
struct SnapNode {
  std::string rel;  // below the entry ("" for the entry itself)
  mode_t mode = 0;  // 0: absent
  uid_t uid = 0;
  gid_t gid = 0;
  std::string data;  // file content or link target
  bool operator==(const SnapNode&) const = default;
};

constexpr size_t kSnapFileBytes = 4u << 20;
constexpr size_t kSnapTotalBytes = 64u << 20;
constexpr size_t kSnapNodes = 20'000;

// Reads the tree at `name` below `dir` without following links. False when
// a bound is passed.
bool Capture(int dir, const std::string& name, const std::string& rel, std::vector<SnapNode>& out,
             size_t& bytes) {
  if (out.size() >= kSnapNodes) return false;
  struct stat st;
  SnapNode n;
  n.rel = rel;
  if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    out.push_back(n);  // absent
    return true;
  }
  n.mode = st.st_mode;
  n.uid = st.st_uid;
  n.gid = st.st_gid;
  if (S_ISLNK(st.st_mode)) {
    char buf[4096];
    ssize_t len = readlinkat(dir, name.c_str(), buf, sizeof buf);
    if (len > 0) n.data.assign(buf, static_cast<size_t>(len));
    out.push_back(n);
    return true;
  }
  if (S_ISREG(st.st_mode)) {
    if (static_cast<size_t>(st.st_size) > kSnapFileBytes ||
        bytes + static_cast<size_t>(st.st_size) > kSnapTotalBytes)
      return false;
    UniqueFd f(openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (!f.valid()) return false;
    char buf[65536];
    for (ssize_t r; (r = read(f.get(), buf, sizeof buf)) > 0;) {
      n.data.append(buf, static_cast<size_t>(r));
      if (n.data.size() > kSnapFileBytes) return false;
    }
    bytes += n.data.size();
    out.push_back(n);
    return true;
  }
  out.push_back(n);
  if (!S_ISDIR(st.st_mode)) return true;
  UniqueFd sub(openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sub.valid()) return false;
  int copy = dup(sub.get());
  DIR* d = copy >= 0 ? fdopendir(copy) : nullptr;
  if (!d) {
    if (copy >= 0) close(copy);
    return false;
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& child : names)
    if (!Capture(sub.get(), child, rel.empty() ? child : rel + "/" + child, out, bytes))
      return false;
  return true;
}

// Recreates `nodes` (a Capture of one entry) at `name` below `dir`, as the
// owner and mode they had.
bool Recreate(int dir, const std::string& name, const std::vector<SnapNode>& nodes) {
  for (const auto& n : nodes) {
    if (n.mode == 0) continue;
    std::string path = n.rel.empty() ? name : name + "/" + n.rel;
    std::string parent = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
    std::string leaf = path.substr(parent.empty() ? 0 : parent.size() + 1);
    UniqueFd pd = parent.empty() ? UniqueFd(dup(dir)) : OpenBeneath(dir, parent);
    if (!pd.valid()) return false;
    UniqueFd pdir(openat(pd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!pdir.valid()) return false;
    if (S_ISDIR(n.mode)) {
      if (mkdirat(pdir.get(), leaf.c_str(), 0700) != 0) return false;
    } else if (S_ISLNK(n.mode)) {
      if (symlinkat(n.data.c_str(), pdir.get(), leaf.c_str()) != 0) return false;
    } else if (S_ISREG(n.mode)) {
      UniqueFd f(openat(pdir.get(), leaf.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!f.valid()) return false;
      for (size_t off = 0; off < n.data.size();) {
        ssize_t w = write(f.get(), n.data.data() + off, n.data.size() - off);
        if (w <= 0) return false;
        off += static_cast<size_t>(w);
      }
    } else {
      continue;  // devices, fifos, sockets: not recreated
    }
    if (geteuid() == 0 &&
        fchownat(pdir.get(), leaf.c_str(), n.uid, n.gid, AT_SYMLINK_NOFOLLOW) != 0)
      return false;
    if (!S_ISLNK(n.mode) && fchmodat(pdir.get(), leaf.c_str(), n.mode & 07777, 0) != 0)
      return false;
  }
  return true;
}

}  // namespace

bool MatchProtectPattern(std::string_view pattern, std::string_view rel, std::string_view abs) {
  std::string_view body = Body(pattern);
  if (body.empty()) return false;
  if (body[0] == '/') {
    if (abs.empty()) return false;
    return MatchComponents(Split(body), 0, Split(abs), 0);
  }
  auto pat = Split(body);
  pat.insert(pat.begin(), "**");
  return MatchComponents(pat, 0, Split(rel), 0);
}

ProtectScan ScanProtected(const FilesystemPolicy& fs, const ProtectLimits& limits) {
  ProtectScan out;
  if (fs.protected_paths.empty() && fs.deny_read.empty()) return out;
  Walker w{fs, limits, out, {}, 0, false};
  auto walk = [&](const std::vector<std::string>& grants, bool writable) {
    for (const auto& g : grants) {
      if (PseudoFilesystem(g)) continue;
      // A grant below another of the same kind is walked with it.
      bool nested = std::any_of(grants.begin(), grants.end(), [&](const std::string& o) {
        return o != g && !PseudoFilesystem(o) && Under(g, o);
      });
      if (!nested) w.Walk(g, writable);
    }
  };
  if (!fs.protected_paths.empty()) {
    walk(fs.read_write, true);
    // Placeholders only where the names mean something: a repository's
    // root, a home directory. Elsewhere (a scratch directory) a '.bashrc'
    // runs nowhere and a dozen placeholders would only be noise.
    const char* home = getenv("HOME");
    for (const auto& g : fs.read_write) {
      if (PseudoFilesystem(g)) continue;
      struct stat st;
      bool repo = lstat((g + "/.git").c_str(), &st) == 0;
      bool is_home =
          (home && g == home) || g == "/root" || (Under(g, "/home") && Split(g).size() == 2);
      if (repo || is_home) w.Absent(g, is_home);
    }
  }
  if (!fs.deny_read.empty()) {
    // Read-only grants the policy names, not the system directories every
    // policy lists: secrets live in data, and walking /usr on every start
    // would cost seconds.
    std::vector<std::string> data;
    for (const auto& g : fs.read_only)
      if (!SystemDirectory(g)) data.push_back(g);
    walk(data, false);
  }
  // A path the policy grants read-write by name is the user's to write.
  auto& e = out.entries;
  e.erase(std::remove_if(e.begin(), e.end(),
                         [&](const ProtectedEntry& x) {
                           return x.kind == ProtectedEntry::Kind::kProtected &&
                                  std::find(fs.read_write.begin(), fs.read_write.end(), x.path) !=
                                      fs.read_write.end();
                         }),
          e.end());
  std::sort(e.begin(), e.end(),
            [](const ProtectedEntry& a, const ProtectedEntry& b) { return a.path < b.path; });
  return out;
}

struct Protection::Impl {
  std::string scratch;  // the supervisor's directory of masks (namespace mode)
  std::vector<Mount> mounts;
  std::vector<std::string> placeholders;  // made by Prepare, removed by Finish
  struct Snapshot {
    const ProtectedEntry* entry;
    std::vector<SnapNode> nodes;
  };
  std::vector<Snapshot> snapshots;  // platform mode
  std::unique_ptr<MountStep> step;
};

Protection::Protection(ProtectScan scan, bool mount_namespace)
    : scan_(std::move(scan)), mount_namespace_(mount_namespace), impl_(std::make_unique<Impl>()) {}

Protection::~Protection() = default;

std::vector<std::string> Protection::Describe() const {
  std::vector<std::string> out;
  for (const auto& e : scan_.entries) {
    std::string what;
    if (e.kind == ProtectedEntry::Kind::kDenyRead) {
      what = mount_namespace_
                 ? "unreadable: a mode-0 mask mounted over it"
                 : "unreadable: Landlock grants the directories above it without read_file "
                   "and their other entries one by one (files created in those directories "
                   "during the run cannot be read back; names stay listable)";
    } else if (mount_namespace_ && e.restore_only) {
      what =
          "snapshot: created during the run, it is moved aside after the run and reported "
          "(no placeholder: in a repository git would list it)";
    } else if (mount_namespace_) {
      what = e.type == ProtectedEntry::Type::kAbsent
                 ? "cannot be created: an empty read-only placeholder is mounted there for the "
                   "run (visible on the host until the run ends)"
             : e.type == ProtectedEntry::Type::kSymlink
                 ? "NOT protected: a symbolic link cannot be a mount point"
                 : "read-only bind mount (cannot be written, replaced, renamed or removed)";
    } else {
      what = e.type == ProtectedEntry::Type::kAbsent
                 ? "snapshot: created during the run, it is moved aside after the run and "
                   "reported; it is not refused, and a host program may run it before then"
                 : "snapshot: changed during the run, it is restored after the run and reported "
                   "(what the sandbox left is kept beside it, renamed); it is not refused, and a "
                   "host program may read or run the changed file before then";
    }
    out.push_back(e.path + " (" + e.pattern + "): " + what);
  }
  return out;
}

Status Protection::Prepare() {
  {
    for (const auto& e : scan_.entries) {
      if (e.kind != ProtectedEntry::Kind::kProtected) continue;
      if (mount_namespace_ && !e.restore_only) continue;  // held by a mount
      size_t slash = e.path.rfind('/');
      UniqueFd dir(open(e.path.substr(0, slash).empty() ? "/" : e.path.substr(0, slash).c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      Impl::Snapshot snap{&e, {}};
      size_t bytes = 0;
      if (!dir.valid() || !Capture(dir.get(), e.path.substr(slash + 1), "", snap.nodes, bytes))
        return Status::Error("cannot snapshot protected " + e.path +
                             " (too large, or unreadable); list it in read_only instead, or "
                             "use namespace mode");
      impl_->snapshots.push_back(std::move(snap));
    }
    if (!mount_namespace_) return Status::Ok();
  }
  bool need_masks = std::any_of(scan_.entries.begin(), scan_.entries.end(), [](const auto& e) {
    return e.kind == ProtectedEntry::Kind::kDenyRead;
  });
  if (need_masks) {
    // The child mounts them by path (a descriptor of the supervisor's mount
    // namespace cannot be a bind source in the sandbox's), from a place the
    // sandbox's own /tmp does not cover.
    struct stat shm;
    std::string base = stat("/dev/shm", &shm) == 0 && S_ISDIR(shm.st_mode) ? "/dev/shm" : "/tmp";
    std::string pattern = base + "/.ringfence-masks-XXXXXX";
    std::vector<char> tmpl(pattern.begin(), pattern.end());
    tmpl.push_back('\0');
    if (!mkdtemp(tmpl.data())) return Status::Errno("creating the deny_read masks in ", base);
    impl_->scratch = tmpl.data();
    std::string file = impl_->scratch + "/file", dir = impl_->scratch + "/dir";
    UniqueFd f(open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0));
    if (!f.valid() || mkdir(dir.c_str(), 0) != 0) {
      Status s = Status::Errno("creating the deny_read masks in ", impl_->scratch);
      Finish(nullptr);
      return s;
    }
    fchmod(f.get(), 0);
  }
  for (const auto& e : scan_.entries) {
    if (e.type == ProtectedEntry::Type::kSymlink || e.restore_only) continue;  // see Describe
    if (e.kind == ProtectedEntry::Kind::kDenyRead) {
      bool is_dir = e.type == ProtectedEntry::Type::kDir;
      impl_->mounts.push_back({impl_->scratch + (is_dir ? "/dir" : "/file"), e.path, 0});
      continue;
    }
    if (e.type == ProtectedEntry::Type::kAbsent) {
      int rc = e.dir_pattern ? mkdir(e.path.c_str(), 0555) : [&] {
        int fd = open(e.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (fd >= 0) close(fd);
        return fd < 0 ? -1 : 0;
      }();
      if (rc != 0 && errno != EEXIST) {
        Status s = Status::Errno("creating the placeholder for protected ", e.path);
        Finish(nullptr);
        return s;
      }
      // EEXIST: made since the scan (another run's placeholder in the same
      // repository): held as it is, and left for its maker to remove.
      if (rc == 0) impl_->placeholders.push_back(e.path);
    }
    impl_->mounts.push_back({e.path, e.path, 0});
  }
  impl_->step = std::make_unique<MountStep>(&impl_->mounts);
  return Status::Ok();
}

const ChildStep* Protection::step() const { return impl_->step.get(); }

std::vector<std::string> Protection::Finish(AuditSink* audit) {
  std::vector<std::string> changes;
  // Placeholders go only while they are still what Prepare made (empty):
  // anything else is left and reported.
  for (auto it = impl_->placeholders.rbegin(); it != impl_->placeholders.rend(); ++it) {
    struct stat st;
    if (lstat(it->c_str(), &st) != 0) continue;
    int rc = S_ISDIR(st.st_mode)                        ? rmdir(it->c_str())
             : (S_ISREG(st.st_mode) && st.st_size == 0) ? unlink(it->c_str())
                                                        : -1;
    if (rc != 0) {
      std::string line = "protected placeholder " + *it + " was changed; left in place";
      if (audit) audit->Emit({"filesystem", "protected", *it, line, {}});
      changes.push_back(line);
    }
  }
  impl_->placeholders.clear();
  const std::string stamp = ".ringfence-" + std::to_string(time(nullptr));
  for (const auto& snap : impl_->snapshots) {
    const ProtectedEntry& e = *snap.entry;
    std::string rel_parent = e.path.substr(0, e.path.rfind('/'));
    std::string name = e.path.substr(e.path.rfind('/') + 1);
    rel_parent = rel_parent.size() > e.grant.size() ? rel_parent.substr(e.grant.size() + 1) : "";
    UniqueFd root(open(e.grant.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd parent = root.valid() ? OpenBeneath(root.get(), rel_parent) : UniqueFd();
    UniqueFd dir = parent.valid()
                       ? UniqueFd(openat(parent.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC))
                       : UniqueFd();
    std::string line;
    if (!dir.valid()) {
      // A directory on the way was removed or replaced by a link: nothing
      // is written through it.
      line = "protected " + e.path +
             ": a directory above it was removed or replaced during "
             "the run; NOT restored, check it by hand";
    } else {
      std::vector<SnapNode> now;
      size_t bytes = 0;
      bool complete = Capture(dir.get(), name, "", now, bytes);
      if (complete && now == snap.nodes) continue;
      std::string aside = name + stamp;
      bool moved = now.empty() || now.front().mode == 0 ||
                   renameat(dir.get(), name.c_str(), dir.get(), aside.c_str()) == 0;
      bool ok = moved && Recreate(dir.get(), name, snap.nodes);
      if (snap.nodes.front().mode == 0) {
        line = "protected " + e.path + " was created during the run: " +
               (moved ? "moved aside to " + aside : "COULD NOT be moved aside");
      } else {
        line = "protected " + e.path + " was changed during the run: " +
               (ok ? std::string("restored from the snapshot") : "COULD NOT be restored") +
               (moved && now.front().mode != 0 ? "; what the sandbox left is " + aside : "");
      }
      if (!ok) line += " (check it by hand)";
    }
    if (audit) audit->Emit({"filesystem", "restored", e.path, line, {{"pattern", e.pattern}}});
    changes.push_back(line);
  }
  impl_->snapshots.clear();
  if (!impl_->scratch.empty()) {
    unlink((impl_->scratch + "/file").c_str());
    rmdir((impl_->scratch + "/dir").c_str());
    rmdir(impl_->scratch.c_str());
    impl_->scratch.clear();
  }
  return changes;
}

}  // namespace rf
