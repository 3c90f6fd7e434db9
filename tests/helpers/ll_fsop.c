// ll_fsop: performs one filesystem/process operation and reports the
// outcome, for the Landlock integration tests.
//   ll_fsop OP ARGS...
// Prints "OK" (exit 0) or "ERR <ERRNO-NAME>" (exit 1); usage errors exit 2.
// OPs: read P | write P | create P | mkdir P | rename A B | link A B |
//      truncate P | list D | exec P [ARGS...] | ioctl P [r] (open O_RDWR, or
//      O_RDONLY with "r", then
//      TCGETS: prints "OK <ERRNO-NAME of the ioctl>" once the ioctl reached the
//      driver, i.e. was not refused by the sandbox with EACCES) |
//      comm (write /proc/self/task/<tid>/comm) | kill PID SIG |
//      abstract NAME (connect to the abstract unix socket @NAME)
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

static int Fail(void) {
  const char* n = strerrorname_np(errno);
  printf("ERR %s\n", n ? n : "?");
  return 1;
}

static int Ok(void) {
  printf("OK\n");
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* op = argv[1];
  const char* a = argc > 2 ? argv[2] : NULL;
  const char* b = argc > 3 ? argv[3] : NULL;
  if (!strcmp(op, "comm")) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/comm", (long)syscall(SYS_gettid));
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Fail();
    if (write(fd, "ll-renamed", 10) != 10) return Fail();
    close(fd);
    return Ok();
  }
  if (!a) return 2;
  if (!strcmp(op, "read")) {
    int fd = open(a, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Fail();
    char buf[64];
    if (read(fd, buf, sizeof buf) < 0) return Fail();
    close(fd);
    return Ok();
  }
  if (!strcmp(op, "write")) {
    int fd = open(a, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return Fail();
    if (write(fd, "w", 1) != 1) return Fail();
    close(fd);
    return Ok();
  }
  if (!strcmp(op, "create")) {
    int fd = open(a, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Fail();
    close(fd);
    return Ok();
  }
  if (!strcmp(op, "mkdir")) return mkdir(a, 0755) == 0 ? Ok() : Fail();
  if (!strcmp(op, "rename") && b) return rename(a, b) == 0 ? Ok() : Fail();
  if (!strcmp(op, "link") && b) return link(a, b) == 0 ? Ok() : Fail();
  if (!strcmp(op, "truncate")) return truncate(a, 0) == 0 ? Ok() : Fail();
  if (!strcmp(op, "list")) {
    DIR* d = opendir(a);
    if (!d) return Fail();
    errno = 0;
    while (readdir(d)) {
    }
    if (errno) return Fail();
    closedir(d);
    return Ok();
  }
  if (!strcmp(op, "exec")) {
    execv(a, argv + 2);
    return Fail();
  }
  if (!strcmp(op, "ioctl")) {
    int fd = open(a, (b && !strcmp(b, "r") ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) return Fail();
    struct termios t;
    int r = ioctl(fd, TCGETS, &t);
    if (r != 0 && errno == EACCES) return Fail();
    const char* n = r == 0 ? "0" : strerrorname_np(errno);
    printf("OK %s\n", n ? n : "?");
    return 0;
  }
  if (!strcmp(op, "kill") && b) {
    return kill((pid_t)atoi(a), atoi(b)) == 0 ? Ok() : Fail();
  }
  if (!strcmp(op, "abstract")) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return Fail();
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t n = strlen(a);
    if (n + 1 > sizeof addr.sun_path) return 2;
    memcpy(addr.sun_path + 1, a, n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    if (connect(s, (struct sockaddr*)&addr, len) != 0) return Fail();
    close(s);
    return Ok();
  }
  return 2;
}
