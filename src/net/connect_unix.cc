// The connect guard's pathname unix addresses (docs/unix-sockets.md):
// allowed when network.unix_sockets lists them or a sandbox process bound
// them, resolved as the caller would and connected on its behalf.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "net/connect_guard.h"
#include "net/guard_io.h"
#include "net/sockaddr_parse.h"
#include "net/unix_diag.h"
#include "policy/glob.h"

namespace rf {

namespace {

bool HasGlob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

bool Beneath(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || path.rfind(root + "/", 0) == 0;
}

// Whether the socket `st` is one of the control sockets in `dir`: compared
// by device and inode, so any path to it (a link, a bind mount, the
// caller's own view of the directory) is caught.
bool IsControlSocket(const std::string& dir, const struct stat& st) {
  if (dir.empty()) return false;
  UniqueFd d(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat ds;
  if (!d.valid() || fstat(d.get(), &ds) != 0 || ds.st_dev != st.st_dev) return false;
  DIR* it = fdopendir(d.get());
  if (!it) return false;
  (void)d.release();
  bool found = false;
  // Bounded: the directory holds one socket per running sandbox.
  for (int n = 0; !found && n < 100000; ++n) {
    struct dirent* e = readdir(it);
    if (!e) break;
    struct stat es;
    found = fstatat(dirfd(it), e->d_name, &es, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(es.st_mode) &&
            es.st_dev == st.st_dev && es.st_ino == st.st_ino;
  }
  closedir(it);
  return found;
}

}  // namespace

void ConnectGuard::HandleUnix(const struct seccomp_notif& req, std::string path) {
  const int listener = listener_.get();
  if (path[0] != '/') {
    char cwd[4096];
    std::string link = "/proc/" + std::to_string(req.pid) + "/cwd";
    ssize_t n = readlink(link.c_str(), cwd, sizeof cwd - 1);
    if (n <= 0) {
      Respond(listener, req.id, EACCES, false);
      return;
    }
    path = std::string(cwd, static_cast<size_t>(n)) + "/" + path;
  }
  if (!IdValid(listener, req.id)) return;
  auto deny = [&](const std::string& why) {
    ++denied_;
    audit_->Emit({"network", "deny", "unix:" + path, why, {{"pid", req.pid}}});
    Respond(listener, req.id, EACCES, false);
  };
  bool visible = false;
  for (const auto& r : cfg_.visible_roots) visible = visible || Beneath(path, r);

  // The path names what the caller sees: in namespace mode its mount
  // namespace has its own /tmp. Resolved under the caller's root directory
  // (opened here, with the supervisor's rights; the connector thread may
  // not open another process's /proc entries), as the caller would.
  UniqueFd root(open(("/proc/" + std::to_string(req.pid) + "/root").c_str(),
                     O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid() || !IdValid(listener, req.id)) {
    Respond(listener, req.id, EACCES, false);
    return;
  }
  // Resolve once, ourselves (never again by path): no magic links, so
  // /proc/<pid>/root/... and /proc/self/fd/... forms cannot point elsewhere.
  UniqueFd target;
  int resolve_err = 0;
  struct stat st {};
  OnConnector([&] {
    struct open_how how {};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_NO_MAGICLINKS | RESOLVE_IN_ROOT;
    long r = syscall(SYS_openat2, root.get(), path.c_str(), &how, sizeof how);
    if (r < 0) {
      resolve_err = errno;
      return;
    }
    target.reset(static_cast<int>(r));
    if (fstat(target.get(), &st) != 0) resolve_err = errno;
  });
  if (!target.valid() || resolve_err) {
    // Nothing there (or not searchable with the sandbox's credentials): the
    // errno the kernel would give. Like Landlock's own answers, ENOENT vs
    // EACCES tells existence, nothing more (glibc probes nscd's socket on
    // every lookup: no audit noise for that).
    Respond(listener, req.id, resolve_err ? resolve_err : EACCES, false);
    return;
  }
  if (!S_ISSOCK(st.st_mode)) {
    Respond(listener, req.id, visible ? ECONNREFUSED : EACCES, false);
    return;
  }

  // A control socket is never the sandbox's to reach: it changes the
  // sandbox's own policy (checked before any allowance).
  if (IsControlSocket(cfg_.control_dir, st))
    return deny("a ringfence control socket: never reachable from inside a sandbox");

  // Decide: an allowlisted host socket, or one the sandbox itself serves.
  std::string why_allowed;
  for (const auto& entry : cfg_.unix_allowed) {
    if (entry.empty() || entry[0] != '/') continue;  // "@name": abstract, see HandleAbstract
    if (!HasGlob(entry)) {
      struct stat es;
      bool same = false;
      OnConnector([&] {
        same = stat(entry.c_str(), &es) == 0 && es.st_dev == st.st_dev && es.st_ino == st.st_ino;
      });
      if (same) why_allowed = "network.unix_sockets: " + entry;
    } else if (GlobMatch(entry, path)) {
      // A glob matches the path as written; it must also be the path itself
      // (no symlink redirecting it elsewhere).
      bool same = false;
      OnConnector([&] {
        struct open_how how {};
        how.flags = O_PATH | O_CLOEXEC;
        how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_IN_ROOT;
        long r = syscall(SYS_openat2, root.get(), path.c_str(), &how, sizeof how);
        struct stat gs;
        same = r >= 0 && fstat(static_cast<int>(r), &gs) == 0 && gs.st_dev == st.st_dev &&
               gs.st_ino == st.st_ino;
        if (r >= 0) close(static_cast<int>(r));
      });
      if (same) why_allowed = "network.unix_sockets: " + entry;
    }
    if (!why_allowed.empty()) break;
  }
  if (why_allowed.empty()) {
    auto listeners =
        WithDiag([&](int diag) { return ListenersBoundTo(diag, st.st_dev, st.st_ino); });
    if (listeners.ok() && !listeners->empty()) {
      if (cfg_.sandbox_diag.valid() || HeldByAny(ProcessTree(root_), *listeners))
        why_allowed = "served by the sandbox";
    }
  }
  if (why_allowed.empty()) return deny("host unix socket not in network.unix_sockets");

  // Connect on the command's behalf through the descriptor we resolved.
  sockaddr_un via{};
  via.sun_family = AF_UNIX;
  snprintf(via.sun_path, sizeof via.sun_path, "/proc/self/fd/%d", target.get());
  ConnectUnixOnBehalf(req, via, sizeof via, "unix:" + path, why_allowed);
}

void ConnectGuard::ConnectUnixOnBehalf(const struct seccomp_notif& req, const sockaddr_un& to,
                                       socklen_t to_len, const std::string& subject,
                                       const std::string& why_allowed) {
  if (sandbox_netns_ != 0) {
    // A socket made here would be the host namespace's: its abstract names
    // are the host's, whatever it is later used for.
    sockaddr_storage ss{};
    memcpy(&ss, &to, std::min<size_t>(to_len, sizeof to));
    const AuditEvent allowed{"network", "allow", subject, why_allowed, {{"pid", req.pid}}};
    ConnectOwnSocket(req, ss, to_len, &allowed);
    return;
  }
  const int listener = listener_.get();
  const int fd = static_cast<int>(req.data.args[0]);
  // A socket of the command's type and flags, connected with the sandbox's
  // credentials (the connector thread), installed over its descriptor.
  int type = RemoteUnixType(req.pid, fd);
  int flags = RemoteFdFlags(req.pid, fd);
  if (type == 0 || flags < 0) {
    Respond(listener, req.id, type == 0 ? ENOTSOCK : EBADF, false);
    return;
  }
  UniqueFd sock;
  int connect_err = 0;
  OnConnector([&] {
    sock.reset(
        socket(AF_UNIX, type | SOCK_CLOEXEC | ((flags & O_NONBLOCK) ? SOCK_NONBLOCK : 0), 0));
    if (!sock.valid()) {
      connect_err = errno;
      return;
    }
    if (connect(sock.get(), reinterpret_cast<const sockaddr*>(&to), to_len) != 0)
      connect_err = errno;
  });
  // Not connected (EAGAIN: the listener's backlog is full): the command
  // keeps its own descriptor and gets the errno, as without the guard.
  if (!sock.valid() || connect_err) {
    Respond(listener, req.id, connect_err ? connect_err : EACCES, false);
    return;
  }
  if (InstallAndRespond(listener, req.id, sock.get(), fd, flags, 0) != 0) return;
  ++allowed_;
  audit_->Emit({"network", "allow", subject, why_allowed, {{"pid", req.pid}}});
}

}  // namespace rf
