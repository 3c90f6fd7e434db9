#include "landlock/metadata_guard.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <string>

#include "common/fd.h"
#include "common/thread_creds.h"
#include "landlock/path_walk.h"
#include "net/guard_io.h"

namespace rf {

namespace {

using landlock::kMaxLinks;
using landlock::PathComponents;
using landlock::QueueLinkTarget;
using landlock::ReadLinkTarget;

constexpr int kNrFchmodat2 = 452;  // Linux 6.6; newer than this libc's headers
constexpr int kMaxDepth = 4096;    // bound on the walk up to the root
constexpr size_t kXattrNameMax = 255;
constexpr size_t kXattrSizeMax = 65536;
constexpr unsigned kAtFlagsAllowed = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH;

enum class Op { kChmod, kChown, kTimes, kSetXattr, kRemoveXattr, kGetXattr, kListXattr, kInotify };

// What the times argument points at.
enum class Times { kNone, kUtimbuf, kTimeval, kTimespec };

// One notified call, decoded from its registers.
struct Call {
  const char* name = "";
  Op op = Op::kChmod;
  bool write = true;
  int dirfd = AT_FDCWD;
  uint64_t path = 0;                    // the caller's pointer; 0 with on_fd
  bool on_fd = false;                   // the object is descriptor `dirfd` itself
  bool real_fd = false;                 // ... which must not be O_PATH (fchmod, fchown, ...)
  bool follow = true;                   // follow a symlink in the last component
  bool empty_ok = false;                // AT_EMPTY_PATH
  int einval = 0;                       // flags the kernel refuses: answered with this
  uint64_t a = 0, b = 0, c = 0, d = 0;  // op-specific arguments
  Times times = Times::kNone;
};

bool Decode(const seccomp_notif& req, Call* c) {
  const auto& x = req.data.args;
  auto at_flags = [&](uint64_t flags) {
    if (flags & ~static_cast<uint64_t>(kAtFlagsAllowed)) c->einval = EINVAL;
    c->follow = !(flags & AT_SYMLINK_NOFOLLOW);
    c->empty_ok = (flags & AT_EMPTY_PATH) != 0;
  };
  auto fd_arg = [](uint64_t v) { return static_cast<int>(static_cast<uint32_t>(v)); };
  switch (req.data.nr) {
    case __NR_chmod:
      *c = {"chmod", Op::kChmod};
      c->path = x[0];
      c->a = x[1];
      return true;
    case __NR_fchmod:
      *c = {"fchmod", Op::kChmod};
      c->dirfd = fd_arg(x[0]);
      c->on_fd = c->real_fd = true;
      c->a = x[1];
      return true;
    case __NR_fchmodat:
      *c = {"fchmodat", Op::kChmod};
      c->dirfd = fd_arg(x[0]);
      c->path = x[1];
      c->a = x[2];
      return true;
    case kNrFchmodat2:
      *c = {"fchmodat2", Op::kChmod};
      c->dirfd = fd_arg(x[0]);
      c->path = x[1];
      c->a = x[2];
      at_flags(x[3]);
      return true;
    case __NR_chown:
    case __NR_lchown:
      *c = {req.data.nr == __NR_chown ? "chown" : "lchown", Op::kChown};
      c->path = x[0];
      c->a = x[1];
      c->b = x[2];
      c->follow = req.data.nr == __NR_chown;
      return true;
    case __NR_fchown:
      *c = {"fchown", Op::kChown};
      c->dirfd = fd_arg(x[0]);
      c->on_fd = c->real_fd = true;
      c->a = x[1];
      c->b = x[2];
      return true;
    case __NR_fchownat:
      *c = {"fchownat", Op::kChown};
      c->dirfd = fd_arg(x[0]);
      c->path = x[1];
      c->a = x[2];
      c->b = x[3];
      at_flags(x[4]);
      return true;
    case __NR_utime:
    case __NR_utimes:
      *c = {req.data.nr == __NR_utime ? "utime" : "utimes", Op::kTimes};
      c->path = x[0];
      c->a = x[1];
      c->times = req.data.nr == __NR_utime ? Times::kUtimbuf : Times::kTimeval;
      return true;
    case __NR_futimesat:
      *c = {"futimesat", Op::kTimes};
      c->dirfd = fd_arg(x[0]);
      c->path = x[1];
      c->a = x[2];
      c->times = Times::kTimeval;
      if (!c->path && c->dirfd != AT_FDCWD) c->on_fd = c->real_fd = true;
      return true;
    case __NR_utimensat:
      *c = {"utimensat", Op::kTimes};
      c->dirfd = fd_arg(x[0]);
      c->path = x[1];
      c->a = x[2];
      c->times = Times::kTimespec;
      if (!c->path && c->dirfd != AT_FDCWD) {
        // futimens(): a descriptor, and no flags at all.
        c->on_fd = c->real_fd = true;
        if (x[3] & 0xffffffffu) c->einval = EINVAL;
      } else {
        at_flags(x[3] & 0xffffffffu);
      }
      return true;
    case __NR_setxattr:
    case __NR_lsetxattr:
    case __NR_fsetxattr:
      *c = {req.data.nr == __NR_setxattr    ? "setxattr"
            : req.data.nr == __NR_lsetxattr ? "lsetxattr"
                                            : "fsetxattr",
            Op::kSetXattr};
      if (req.data.nr == __NR_fsetxattr) {
        c->dirfd = fd_arg(x[0]);
        c->on_fd = c->real_fd = true;
      } else {
        c->path = x[0];
      }
      c->follow = req.data.nr != __NR_lsetxattr;
      c->a = x[1];  // name
      c->b = x[2];  // value
      c->c = x[3];  // size
      c->d = x[4];  // flags
      return true;
    case __NR_removexattr:
    case __NR_lremovexattr:
    case __NR_fremovexattr:
      *c = {req.data.nr == __NR_removexattr    ? "removexattr"
            : req.data.nr == __NR_lremovexattr ? "lremovexattr"
                                               : "fremovexattr",
            Op::kRemoveXattr};
      if (req.data.nr == __NR_fremovexattr) {
        c->dirfd = fd_arg(x[0]);
        c->on_fd = c->real_fd = true;
      } else {
        c->path = x[0];
      }
      c->follow = req.data.nr != __NR_lremovexattr;
      c->a = x[1];
      return true;
    case __NR_getxattr:
    case __NR_lgetxattr:
      *c = {req.data.nr == __NR_getxattr ? "getxattr" : "lgetxattr", Op::kGetXattr, false};
      c->path = x[0];
      c->follow = req.data.nr == __NR_getxattr;
      c->a = x[1];
      c->b = x[2];
      c->c = x[3];
      return true;
    case __NR_listxattr:
    case __NR_llistxattr:
      *c = {req.data.nr == __NR_listxattr ? "listxattr" : "llistxattr", Op::kListXattr, false};
      c->path = x[0];
      c->follow = req.data.nr == __NR_listxattr;
      c->b = x[1];
      c->c = x[2];
      return true;
    case __NR_inotify_add_watch:
      *c = {"inotify_add_watch", Op::kInotify, false};
      c->d = static_cast<uint32_t>(x[0]);  // the inotify descriptor
      c->path = x[1];
      c->a = static_cast<uint32_t>(x[2]);
      c->follow = !(c->a & IN_DONT_FOLLOW);
      return true;
    default:
      return false;
  }
}

// Answers `id` with `error` (0: success with return value `val`).
void Answer(int listener, uint64_t id, int error, int64_t val = 0) {
  struct seccomp_notif_resp resp;
  memset(&resp, 0, sizeof resp);
  resp.id = id;
  resp.error = error ? -error : 0;
  resp.val = error ? 0 : val;
  ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);  // ENOENT: the caller is gone
}

bool ReadMem(pid_t pid, uint64_t ptr, void* out, size_t len) {
  if (len == 0) return true;
  struct iovec local = {out, len};
  struct iovec remote = {reinterpret_cast<void*>(ptr), len};
  return process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

// A NUL-terminated string of the caller's, at most `max` bytes before the
// NUL (read a page at a time: the string may end just before an unmapped
// page). `too_long` is the errno for a longer one.
int ReadString(pid_t pid, uint64_t ptr, size_t max, int too_long, std::string* out) {
  if (ptr == 0) return EFAULT;
  out->clear();
  const size_t page = 4096;
  while (out->size() <= max) {
    const size_t chunk = page - (ptr % page);
    std::string buf(chunk, '\0');
    if (!ReadMem(pid, ptr, buf.data(), chunk)) return EFAULT;
    const size_t nul = buf.find('\0');
    out->append(buf, 0, nul == std::string::npos ? chunk : nul);
    if (nul != std::string::npos) return out->size() > max ? too_long : 0;
    ptr += chunk;
  }
  return too_long;
}

bool SameInode(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// The caller's ids as its own /proc shows them (the last NStgid/NSpid
// entries: the innermost PID namespace, the sandbox's own in namespace mode).
struct CallerIds {
  std::string tgid, tid;
};
CallerIds ReadCallerIds(pid_t pid) {
  CallerIds ids{std::to_string(pid), std::to_string(pid)};
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    auto last = [&] { return line.substr(line.find_last_of(" \t") + 1); };
    if (line.rfind("NStgid:", 0) == 0) ids.tgid = last();
    if (line.rfind("NSpid:", 0) == 0) ids.tid = last();
  }
  return ids;
}

struct Resolved {
  UniqueFd obj;  // O_PATH: what the call acts on
  UniqueFd dir;  // O_PATH: the directory it was found in (invalid for a directory object)
  struct stat st {};
  bool pathless = false;  // a pipe, socket, anonymous or unlinked file: no name reaches it
  int err = 0;
};

// Resolves `path` as the caller's lookup would: from its root (absolute
// paths, absolute link targets; ".." stops there) or from `start`, one
// component at a time with O_PATH | O_NOFOLLOW, links read as text (a
// magic link of /proc is the path it shows, never the object it jumps to).
Resolved Walk(int root, int start, const std::string& path, bool follow, const CallerIds& ids) {
  Resolved out;
  struct stat root_st {};
  if (fstat(root, &root_st) != 0) {
    out.err = errno;
    return out;
  }
  const bool absolute = !path.empty() && path[0] == '/';
  UniqueFd cur(fcntl(absolute ? root : start, F_DUPFD_CLOEXEC, 0));
  struct stat cur_st {};
  if (!cur.valid() || fstat(cur.get(), &cur_st) != 0) {
    out.err = errno;
    return out;
  }
  const bool must_dir = !path.empty() && path.back() == '/';
  std::deque<std::string> todo = PathComponents(path);
  int links = 0;
  while (!todo.empty()) {
    const std::string name = std::move(todo.front());
    todo.pop_front();
    const bool last = todo.empty();
    if (!S_ISDIR(cur_st.st_mode)) {
      out.err = ENOTDIR;
      return out;
    }
    if (name == "." || (name == ".." && SameInode(cur_st, root_st))) continue;
    if (name == "..") {
      UniqueFd up(openat(cur.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!up.valid() || fstat(up.get(), &cur_st) != 0) {
        out.err = errno;
        return out;
      }
      cur = std::move(up);
      continue;
    }
    UniqueFd next(openat(cur.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!next.valid() || fstat(next.get(), &st) != 0) {
      out.err = errno;
      return out;
    }
    if (S_ISLNK(st.st_mode) && (!last || follow || must_dir)) {
      if (++links > kMaxLinks) {
        out.err = ELOOP;
        return out;
      }
      std::string target;
      struct statfs fs {};
      if ((name == "self" || name == "thread-self") && fstatfs(cur.get(), &fs) == 0 &&
          fs.f_type == PROC_SUPER_MAGIC) {
        // The caller's own /proc entry, not the supervisor's.
        target = name == "self" ? ids.tgid : ids.tgid + "/task/" + ids.tid;
      } else {
        if (int err = ReadLinkTarget(next.get(), &target)) {
          out.err = err;
          return out;
        }
      }
      if (target.empty() || (target[0] != '/' && target.find(':') != std::string::npos &&
                             target.find('/') == std::string::npos)) {
        // "pipe:[12]", "socket:[3]", "anon_inode:...": a magic link to
        // something no path reaches.
        out.err = ENOENT;
        return out;
      }
      if (target[0] == '/') {
        UniqueFd r(fcntl(root, F_DUPFD_CLOEXEC, 0));
        cur = std::move(r);
        cur_st = root_st;
      }
      QueueLinkTarget(target, todo);
      continue;
    }
    if (last) {
      out.obj = std::move(next);
      out.dir = std::move(cur);
      out.st = st;
      if (must_dir && !S_ISDIR(st.st_mode)) out.err = ENOTDIR;
      return out;
    }
    cur = std::move(next);
    cur_st = st;
  }
  // The path ended on a directory ("/", ".", "..", a link to a directory).
  out.obj = std::move(cur);
  out.st = cur_st;
  return out;
}

// The object the caller's descriptor names (opened by the guard through
// /proc/<pid>/fd/N), with the directory that holds it: its name as the
// kernel shows it, looked up again in the caller's view, must lead to the
// same inode.
Resolved LocateFd(int root, UniqueFd obj, const CallerIds& ids) {
  Resolved out;
  if (fstat(obj.get(), &out.st) != 0) {
    out.err = errno;
    return out;
  }
  out.obj = std::move(obj);
  if (S_ISDIR(out.st.st_mode)) return out;
  char buf[PATH_MAX];
  const std::string self = "/proc/self/fd/" + std::to_string(out.obj.get());
  ssize_t n = readlink(self.c_str(), buf, sizeof buf);
  if (n < 0 || static_cast<size_t>(n) >= sizeof buf) {
    out.err = EACCES;
    return out;
  }
  std::string name(buf, static_cast<size_t>(n));
  const std::string deleted = " (deleted)";
  if (name.empty() || name[0] != '/') {
    out.pathless = true;  // pipe:[..], socket:[..], anon_inode:..., memfd
    return out;
  }
  if (name.size() > deleted.size() &&
      name.compare(name.size() - deleted.size(), deleted.size(), deleted) == 0 &&
      out.st.st_nlink == 0) {
    out.pathless = true;  // unlinked: no name reaches it any more
    return out;
  }
  Resolved again = Walk(root, root, name, false, ids);
  if (again.err || !again.obj.valid() || !SameInode(again.st, out.st)) {
    out.err = EACCES;  // renamed, or a name we cannot reach: not decided, refused
    return out;
  }
  out.dir = std::move(again.dir);
  return out;
}

// 1: read (any rule), 2: write (a read-write rule) for the object `r`:
// its own inode, or a directory above it, walked up with ".." as Landlock
// walks (mount points crossed to the mount's parent).
unsigned GrantedAccess(const std::vector<MetadataGrant>& grants, const Resolved& r, unsigned want) {
  unsigned have = 0;
  auto note = [&](const struct stat& st, bool as_dir) {
    for (const auto& g : grants)
      if (g.dev == st.st_dev && g.ino == st.st_ino && (g.dir || !as_dir)) have |= g.write ? 3u : 1u;
  };
  note(r.st, false);
  const int from = S_ISDIR(r.st.st_mode) ? r.obj.get() : r.dir.get();
  if (from < 0) return have;
  UniqueFd d(fcntl(from, F_DUPFD_CLOEXEC, 0));
  struct stat st {};
  if (!d.valid() || fstat(d.get(), &st) != 0) return have;
  for (int depth = 0; depth < kMaxDepth && (have & want) != want; ++depth) {
    note(st, true);
    UniqueFd up(openat(d.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
    struct stat up_st {};
    if (!up.valid() || fstat(up.get(), &up_st) != 0 || SameInode(up_st, st)) break;
    d = std::move(up);
    st = up_st;
  }
  return have;
}

// The call's arguments that live in the caller's memory.
struct Args {
  std::string path;
  std::string xname;
  std::string value;
  struct timespec ts[2]{};
  bool ts_null = true;
  int err = 0;
};

Args ReadArgs(pid_t pid, const Call& c) {
  Args a;
  if (!c.on_fd) {
    a.err = ReadString(pid, c.path, PATH_MAX - 1, ENAMETOOLONG, &a.path);
    if (a.err) return a;
    if (a.path.empty() && !c.empty_ok) {
      a.err = ENOENT;
      return a;
    }
  }
  if (c.op == Op::kSetXattr || c.op == Op::kRemoveXattr || c.op == Op::kGetXattr) {
    a.err = ReadString(pid, c.a, kXattrNameMax, ERANGE, &a.xname);
    if (a.err) return a;
    if (a.xname.empty()) {
      a.err = ERANGE;
      return a;
    }
  }
  if (c.op == Op::kSetXattr) {
    if (c.c > kXattrSizeMax) {
      a.err = E2BIG;
      return a;
    }
    a.value.resize(c.c);
    if (c.c && !ReadMem(pid, c.b, a.value.data(), c.c)) a.err = EFAULT;
  }
  if (c.op == Op::kTimes && c.a != 0) {
    a.ts_null = false;
    if (c.times == Times::kTimespec) {
      if (!ReadMem(pid, c.a, a.ts, sizeof a.ts)) a.err = EFAULT;
    } else if (c.times == Times::kTimeval) {
      struct timeval tv[2];
      if (!ReadMem(pid, c.a, tv, sizeof tv)) {
        a.err = EFAULT;
        return a;
      }
      for (int i = 0; i < 2; ++i) {
        if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000) a.err = EINVAL;
        a.ts[i] = {tv[i].tv_sec, tv[i].tv_usec * 1000};
      }
    } else {
      struct {
        long actime, modtime;
      } ub;
      if (!ReadMem(pid, c.a, &ub, sizeof ub)) {
        a.err = EFAULT;
        return a;
      }
      a.ts[0] = {ub.actime, 0};
      a.ts[1] = {ub.modtime, 0};
    }
  }
  return a;
}

}  // namespace

bool IsMetadataCall(int nr) {
  switch (nr) {
    case __NR_chmod:
    case __NR_fchmod:
    case __NR_fchmodat:
    case kNrFchmodat2:
    case __NR_chown:
    case __NR_lchown:
    case __NR_fchown:
    case __NR_fchownat:
    case __NR_utime:
    case __NR_utimes:
    case __NR_futimesat:
    case __NR_utimensat:
    case __NR_setxattr:
    case __NR_lsetxattr:
    case __NR_fsetxattr:
    case __NR_removexattr:
    case __NR_lremovexattr:
    case __NR_fremovexattr:
    case __NR_getxattr:
    case __NR_lgetxattr:
    case __NR_listxattr:
    case __NR_llistxattr:
    case __NR_inotify_add_watch:
      return true;
    default:
      return false;
  }
}

Result<std::unique_ptr<MetadataGuard>> MetadataGuard::Create(int listener, MetadataGuardConfig cfg,
                                                             AuditSink* audit) {
  std::unique_ptr<MetadataGuard> g(new MetadataGuard());
  g->listener_ = listener;
  g->cfg_ = std::move(cfg);
  g->audit_ = audit;
  if (g->cfg_.switch_creds) {
    // Lookups and the calls themselves with the sandbox's credentials (raw
    // system calls: this thread only), so search permission, ownership and
    // the kernel's own checks are the sandbox's.
    auto t = SandboxThread::Start(
        [uid = g->cfg_.uid, gid = g->cfg_.gid] { return SwitchThreadCredentials(uid, gid); });
    if (!t.ok()) return t.status();
    g->worker_ = std::move(t).value();
  }
  return g;
}

void MetadataGuard::Handle(const struct seccomp_notif& req) {
  const int listener = listener_;
  if (!cfg_.enforce) {
    // Landlock is not enforced: the filesystem is not confined, and the
    // kernel may as well do the call (nothing here to check against).
    Respond(listener, req.id, 0, true);
    return;
  }
  Call c;
  if (!Decode(req, &c)) {
    Answer(listener, req.id, EPERM);
    return;
  }
  const pid_t pid = static_cast<pid_t>(req.pid);
  Args args = ReadArgs(pid, c);
  if (args.err == 0 && c.einval) args.err = c.einval;
  if (!IdValid(listener, req.id)) return;
  if (args.err) {
    Answer(listener, req.id, args.err);
    return;
  }
  // The caller's view, opened as the supervisor (the caller may have made
  // itself non-dumpable for the sandbox's uid): its root, and the start of
  // the lookup or the object of a descriptor call.
  const std::string proc = "/proc/" + std::to_string(pid);
  UniqueFd root(open((proc + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd start;
  const bool fd_object = c.on_fd || (c.empty_ok && args.path.empty());
  if (fd_object || args.path.empty() || args.path[0] != '/') {
    const std::string at =
        c.dirfd == AT_FDCWD ? proc + "/cwd" : proc + "/fd/" + std::to_string(c.dirfd);
    start.reset(open(at.c_str(), O_PATH | O_CLOEXEC));
    if (!start.valid()) {
      Answer(listener, req.id, errno == ENOENT ? EBADF : EACCES);
      return;
    }
    if (c.real_fd && c.dirfd != AT_FDCWD) {
      // The kernel refuses these calls on an O_PATH descriptor.
      const int flags = RemoteFdFlags(pid, c.dirfd);
      if (flags < 0 || (flags & O_PATH)) {
        Answer(listener, req.id, EBADF);
        return;
      }
    }
  }
  UniqueFd watch_on;
  if (c.op == Op::kInotify) {
    // The caller's inotify instance itself: a watch added to our copy of
    // it reports to the caller.
    long pidfd = syscall(SYS_pidfd_open, pid, 0);
    UniqueFd pfd(static_cast<int>(pidfd));
    if (pfd.valid()) {
      watch_on.reset(
          static_cast<int>(syscall(SYS_pidfd_getfd, pfd.get(), static_cast<int>(c.d), 0)));
    } else if (errno == EINVAL) {
      // A thread, not a process: its process shares the descriptors.
      std::ifstream in(proc + "/status");
      std::string key;
      pid_t tgid = 0;
      while (in >> key)
        if (key == "Tgid:" && (in >> tgid)) break;
      pfd.reset(static_cast<int>(syscall(SYS_pidfd_open, tgid, 0)));
      if (pfd.valid())
        watch_on.reset(
            static_cast<int>(syscall(SYS_pidfd_getfd, pfd.get(), static_cast<int>(c.d), 0)));
    }
    if (!watch_on.valid()) {
      Answer(listener, req.id, errno == EBADF ? EBADF : EACCES);
      return;
    }
  }
  if (!root.valid() || !IdValid(listener, req.id)) {
    if (root.valid()) return;  // the caller is gone
    Answer(listener, req.id, EACCES);
    return;
  }
  const CallerIds ids = ReadCallerIds(pid);

  Resolved r;
  int err = 0;
  int64_t val = 0;
  const unsigned want = c.write ? 3u : 1u;
  std::string shown = fd_object ? "fd " + std::to_string(c.dirfd) : args.path;
  bool refused = false;
  auto as_sandbox = [&](const std::function<void()>& fn) {
    if (worker_)
      worker_->Run(fn);
    else
      fn();
  };
  as_sandbox([&] {
    r = fd_object
            ? LocateFd(root.get(), std::move(start), ids)
            : Walk(root.get(), start.valid() ? start.get() : root.get(), args.path, c.follow, ids);
  });
  if (r.err) {
    Answer(listener, req.id, r.err);
    return;
  }
  if (!r.pathless && (GrantedAccess(cfg_.grants, r, want) & want) != want) {
    refused = true;
  } else {
    const std::string self = "/proc/self/fd/" + std::to_string(r.obj.get());
    as_sandbox([&] {
      long rc = 0;
      switch (c.op) {
        case Op::kChmod: {
          const mode_t mode = static_cast<mode_t>(c.a & 07777);
          if (mode & (S_ISUID | S_ISGID)) {
            rc = -1;
            errno = EPERM;  // no setuid or setgid files from the sandbox
          } else if (S_ISLNK(r.st.st_mode)) {
            rc = -1;
            errno = EOPNOTSUPP;  // as fchmodat2(AT_SYMLINK_NOFOLLOW) on a link
          } else {
            rc = fchmodat(AT_FDCWD, self.c_str(), mode, 0);
          }
          break;
        }
        case Op::kChown:
          rc = fchownat(r.obj.get(), "", static_cast<uid_t>(c.a), static_cast<gid_t>(c.b),
                        AT_EMPTY_PATH);
          break;
        case Op::kTimes:
          rc = utimensat(r.obj.get(), "", args.ts_null ? nullptr : args.ts, AT_EMPTY_PATH);
          break;
        case Op::kSetXattr:
          rc = setxattr(self.c_str(), args.xname.c_str(), args.value.data(), args.value.size(),
                        static_cast<int>(c.d));
          break;
        case Op::kRemoveXattr:
          rc = removexattr(self.c_str(), args.xname.c_str());
          break;
        case Op::kGetXattr:
        case Op::kListXattr: {
          std::string buf(std::min<uint64_t>(c.c, kXattrSizeMax), '\0');
          rc = c.op == Op::kGetXattr
                   ? getxattr(self.c_str(), args.xname.c_str(), buf.empty() ? nullptr : buf.data(),
                              buf.size())
                   : listxattr(self.c_str(), buf.empty() ? nullptr : buf.data(), buf.size());
          if (rc > 0 && !buf.empty()) {
            struct iovec local = {buf.data(), static_cast<size_t>(rc)};
            struct iovec remote = {reinterpret_cast<void*>(c.b), static_cast<size_t>(rc)};
            if (!IdValid(listener, req.id)) return;
            if (process_vm_writev(pid, &local, 1, &remote, 1, 0) != rc) {
              rc = -1;
              errno = EFAULT;
            }
          }
          break;
        }
        case Op::kInotify:
          rc = inotify_add_watch(
              watch_on.get(), self.c_str(),
              static_cast<uint32_t>(c.a) & ~static_cast<uint32_t>(IN_DONT_FOLLOW));
          break;
      }
      if (rc < 0)
        err = errno;
      else
        val = rc;
    });
  }
  if (refused) {
    ++denied_;
    if (audit_)
      audit_->Emit({"filesystem",
                    "deny",
                    shown,
                    std::string(c.name) + ": " +
                        (c.write ? "not inside a read-write grant of the policy"
                                 : "not inside any grant of the policy"),
                    {{"pid", pid}, {"call", c.name}}});
    Answer(listener, req.id, EACCES);
    return;
  }
  Answer(listener, req.id, err, val);
}

void ResolveSandboxGrants(std::vector<MetadataGrant>& grants, pid_t pid) {
  for (auto& g : grants) {
    if (g.sandbox_path.empty()) continue;
    std::string path = "/proc/" + std::to_string(pid) + "/root" + g.sandbox_path;
    UniqueFd fd(open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!fd.valid() || fstat(fd.get(), &st) != 0) continue;
    g.dev = st.st_dev;
    g.ino = st.st_ino;
    g.dir = S_ISDIR(st.st_mode);
  }
}

}  // namespace rf
