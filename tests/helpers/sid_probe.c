// Tries to make a setuid or setgid file (or directory) with every system call
// that takes a mode, in directory DIR, and prints one line per attempt:
//   "<call> <bit> <result> <special>"
// where bit is suid, sgid or none (the same call with a plain 0755 mode),
// result is OK or an errno name, and special is the octal S_ISUID|S_ISGID
// part of the resulting file's mode ("-" when the call failed).
// Each attempt uses a fresh name under DIR; umask is 0 so the mode argument
// is what the kernel sees. Raw system calls (not libc wrappers) so that each
// named call is the one made (glibc's open() is openat, for instance).
// Usage: sid_probe DIR
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

static const char* errname(int e) {
  switch (e) {
    case EPERM:
      return "EPERM";
    case EACCES:
      return "EACCES";
    case ENOSYS:
      return "ENOSYS";
    case EINVAL:
      return "EINVAL";
    case EEXIST:
      return "EEXIST";
    case ENOENT:
      return "ENOENT";
    case EOPNOTSUPP:
      return "EOPNOTSUPP";
    default: {
      static char buf[32];
      snprintf(buf, sizeof buf, "E%d", e);
      return buf;
    }
  }
}

static int seq;

// A fresh path under dir.
static void fresh(char* out, size_t n, const char* dir, const char* call, const char* bit) {
  snprintf(out, n, "%s/%s-%s-%d", dir, call, bit, ++seq);
}

// An existing plain file to chmod.
static int plain(const char* path) {
  int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  return fd;
}

static void report(const char* call, const char* bit, long rc, int err, const char* path, int fd) {
  if (rc < 0) {
    printf("%s %s %s -\n", call, bit, errname(err));
    return;
  }
  struct stat st;
  int r = fd >= 0 ? fstat(fd, &st) : lstat(path, &st);
  if (r != 0) {
    printf("%s %s OK ?\n", call, bit);
    return;
  }
  printf("%s %s OK %04o\n", call, bit, (unsigned)(st.st_mode & (S_ISUID | S_ISGID)));
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: sid_probe DIR\n");
    return 2;
  }
  const char* dir = argv[1];
  umask(0);
  const struct {
    const char* name;
    mode_t bit;
  } bits[] = {{"suid", S_ISUID}, {"sgid", S_ISGID}, {"none", 0}};
  int dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dfd < 0) {
    perror(dir);
    return 2;
  }
  for (size_t b = 0; b < sizeof bits / sizeof bits[0]; ++b) {
    const char* bn = bits[b].name;
    const mode_t m = 0755 | bits[b].bit;
    char p[4096];
    long rc;
    int fd;

    fresh(p, sizeof p, dir, "chmod", bn);
    fd = plain(p);
    if (fd >= 0) close(fd);
    rc = syscall(SYS_chmod, p, m);
    report("chmod", bn, rc, errno, p, -1);

    fresh(p, sizeof p, dir, "fchmod", bn);
    fd = plain(p);
    rc = syscall(SYS_fchmod, fd, m);
    report("fchmod", bn, rc, errno, p, fd);
    if (fd >= 0) close(fd);

    fresh(p, sizeof p, dir, "fchmodat", bn);
    fd = plain(p);
    if (fd >= 0) close(fd);
    rc = syscall(SYS_fchmodat, AT_FDCWD, p, m);
    report("fchmodat", bn, rc, errno, p, -1);

    fresh(p, sizeof p, dir, "fchmodat2", bn);
    fd = plain(p);
    if (fd >= 0) close(fd);
    rc = syscall(SYS_fchmodat2, AT_FDCWD, p, m, 0);
    report("fchmodat2", bn, rc, errno, p, -1);

    fresh(p, sizeof p, dir, "open", bn);
    rc = syscall(SYS_open, p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, m);
    report("open", bn, rc, errno, p, (int)rc);
    if (rc >= 0) close((int)rc);

    fresh(p, sizeof p, dir, "openat", bn);
    rc = syscall(SYS_openat, AT_FDCWD, p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, m);
    report("openat", bn, rc, errno, p, (int)rc);
    if (rc >= 0) close((int)rc);

    // An unnamed file (linkat would name it later).
    rc = syscall(SYS_openat, dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, m);
    report("openat_tmpfile", bn, rc, errno, NULL, (int)rc);
    if (rc >= 0) close((int)rc);

    fresh(p, sizeof p, dir, "creat", bn);
    rc = syscall(SYS_creat, p, m);
    report("creat", bn, rc, errno, p, (int)rc);
    if (rc >= 0) close((int)rc);

    fresh(p, sizeof p, dir, "openat2", bn);
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC;
    how.mode = m;
    rc = syscall(SYS_openat2, AT_FDCWD, p, &how, sizeof how);
    report("openat2", bn, rc, errno, p, (int)rc);
    if (rc >= 0) close((int)rc);

    fresh(p, sizeof p, dir, "mkdir", bn);
    rc = syscall(SYS_mkdir, p, m);
    report("mkdir", bn, rc, errno, p, -1);

    fresh(p, sizeof p, dir, "mkdirat", bn);
    rc = syscall(SYS_mkdirat, AT_FDCWD, p, m);
    report("mkdirat", bn, rc, errno, p, -1);

    fresh(p, sizeof p, dir, "mknod", bn);
    rc = syscall(SYS_mknod, p, S_IFREG | m, 0);
    report("mknod", bn, rc, errno, p, -1);

    fresh(p, sizeof p, dir, "mknodat", bn);
    rc = syscall(SYS_mknodat, AT_FDCWD, p, S_IFREG | m, 0);
    report("mknodat", bn, rc, errno, p, -1);
  }
  close(dfd);
  return 0;
}
