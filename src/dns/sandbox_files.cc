#include "dns/sandbox_files.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <cstring>

#include "common/fd.h"

namespace rf::dns {

std::string SandboxResolvConf() {
  // One name server, the sandbox's own; no search domains (a short name
  // must not become a host's internal one); short timeouts, since the
  // answer is local.
  return "# ringfence: the sandbox's resolver (policy names only; docs/dns.md)\n"
         "nameserver 127.0.0.1\n"
         "options timeout:2 attempts:2\n";
}

std::string SandboxHosts() {
  std::string hosts =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n";
  // The sandbox shares the host's name (no UTS namespace): programs that
  // look their own name up (hostname -f, Java's InetAddress.getLocalHost)
  // find it on loopback, as Debian's installer writes it.
  struct utsname u;
  if (uname(&u) == 0 && u.nodename[0] && strcmp(u.nodename, "localhost") != 0) {
    bool plain = true;
    for (const char* c = u.nodename; *c; ++c)
      if (!isalnum(static_cast<unsigned char>(*c)) && *c != '-' && *c != '.') plain = false;
    if (plain) hosts += std::string("127.0.1.1\t") + u.nodename + "\n";
  }
  return hosts;
}

namespace {

Status WriteFile(const std::string& path, const std::string& text) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd.valid()) return Status::Errno("create ", path);
  // The mode is the sandbox's to read whatever the umask.
  if (fchmod(fd.get(), 0644) != 0) return Status::Errno("chmod ", path);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Errno("write ", path);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<SandboxFilesStep>> SandboxFilesStep::Create(
    std::vector<std::string>* skipped) {
  std::unique_ptr<SandboxFilesStep> s(new SandboxFilesStep());
  auto dir = PrivateTmpDir::Create(std::nullopt, "dns-", "the sandbox's DNS files", true);
  if (!dir.ok()) return dir.status();
  s->dir_ = std::move(dir).value();
  // The supervisor's directory is 0700; the bound files are read through
  // the mount point, so only their own mode matters.
  const std::pair<const char*, std::string> files[] = {{"/etc/resolv.conf", SandboxResolvConf()},
                                                       {"/etc/hosts", SandboxHosts()}};
  // The read-only remount keeps the flags of the mount the files live on: in
  // a user namespace those are locked, and a remount that drops one fails.
  struct statvfs vfs;
  if (statvfs(s->dir_->path().c_str(), &vfs) != 0)
    return Status::Errno("statvfs ", s->dir_->path());
  s->remount_flags_ = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (vfs.f_flag & ST_NOATIME) s->remount_flags_ |= MS_NOATIME;
  if (vfs.f_flag & ST_NODIRATIME) s->remount_flags_ |= MS_NODIRATIME;
  if (vfs.f_flag & ST_RELATIME) s->remount_flags_ |= MS_RELATIME;
  for (const auto& [target, text] : files) {
    const std::string source = s->dir_->path() + (target + 4);  // "/resolv.conf", "/hosts"
    if (Status st = WriteFile(source, text); !st.ok()) return st;
    // mount(2) follows a symbolic link at the target (/etc/resolv.conf often
    // is one): what it leads to must be a regular file.
    struct stat st;
    const bool exists = stat(target, &st) == 0;
    if (!exists || !S_ISREG(st.st_mode)) {
      if (skipped)
        skipped->push_back(std::string(target) + (!exists
                                                      ? ": missing on the host (or a dangling link)"
                                                      : ": not a regular file on the host"));
      continue;
    }
    s->binds_.emplace_back(source, target);
  }
  return s;
}

int SandboxFilesStep::Apply() const noexcept {
  for (const auto& [source, target] : binds_) {
    if (mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) return errno;
    // Read-only: the command (root inside a user namespace included) cannot
    // point the sandbox's resolution elsewhere through them.
    if (mount(nullptr, target.c_str(), nullptr, remount_flags_, nullptr) != 0) return errno;
  }
  return 0;
}

}  // namespace rf::dns
