// Cost of the seccomp filter, per system call.
//   sc_bench calls [N]    ns/call for allowed and denied calls, in this
//                         process (run it with and without `ringfence run`)
//   sc_bench notify [N]   ns/call for a denied call answered by the kernel
//                         (SECCOMP_RET_ERRNO) vs. by a supervisor process
//                         through user notification (the audited variant)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#define BENCH(label, n, body)                                      \
  do {                                                             \
    double t0 = now_ns();                                          \
    for (long i_ = 0; i_ < (n); ++i_) {                            \
      body;                                                        \
    }                                                              \
    printf("%-34s %9.1f ns/call\n", label, (now_ns() - t0) / (n)); \
  } while (0)

static int calls(long n) {
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  struct winsize ws;
  BENCH("getpid (no argument rule)", n, syscall(SYS_getpid));
  BENCH("ioctl TIOCGWINSZ (argument rule)", n, syscall(SYS_ioctl, devnull, TIOCGWINSZ, &ws));
  BENCH("socket+close AF_UNIX", n / 10, {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s >= 0) close(s);
  });
  BENCH("socket+close AF_INET TCP", n / 10, {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s >= 0) close(s);
  });
  BENCH("socket+close UDP (denied in platform)", n / 10, {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s >= 0) close(s);
  });
  BENCH("ptrace (denied/fails)", n, syscall(SYS_ptrace, 3, 1, 0, 0));
  return 0;
}

// getppid -> `action`; everything else allowed; foreign arch killed.
static int install(unsigned action, unsigned flags) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, action),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof f / sizeof f[0], f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static int send_fd(int sock, int fd) {
  char b = 'L';
  struct iovec iov = {&b, 1};
  char ctl[CMSG_SPACE(sizeof(int))];
  memset(ctl, 0, sizeof ctl);
  struct msghdr m = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  struct cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock) {
  char b;
  struct iovec iov = {&b, 1};
  char ctl[CMSG_SPACE(sizeof(int))];
  struct msghdr m = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  if (recvmsg(sock, &m, 0) != 1) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof fd);
  return fd;
}

static int notify(long n) {
  // Kernel-answered denial.
  pid_t p = fork();
  if (p == 0) {
    if (install(SECCOMP_RET_ERRNO | EPERM, 0) < 0) _exit(1);
    BENCH("getppid -> RET_ERRNO (kernel)", n, syscall(SYS_getppid));
    fflush(stdout);
    _exit(0);
  }
  waitpid(p, NULL, 0);
  // Supervisor-answered denial (user notification round trip).
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return 1;
  p = fork();
  if (p == 0) {
    close(sv[0]);
    int l = install(SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER);
    if (l < 0 || send_fd(sv[1], l) != 0) _exit(1);
    close(l);
    long m = n / 10;
    BENCH("getppid -> USER_NOTIF (supervisor)", m, {
      if (syscall(SYS_getppid) != -1 || errno != EPERM) _exit(2);
    });
    fflush(stdout);
    _exit(0);
  }
  close(sv[1]);
  int l = recv_fd(sv[0]);
  if (l < 0) return 1;
  struct seccomp_notif req;
  struct seccomp_notif_resp resp;
  for (long i = 0; i < n / 10; ++i) {
    memset(&req, 0, sizeof req);
    if (ioctl(l, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) break;
    memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    resp.error = -EPERM;
    if (ioctl(l, SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0) break;
  }
  int st = 0;
  waitpid(p, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int main(int argc, char** argv) {
  long n = argc > 2 ? atol(argv[2]) : 1000000;
  if (argc > 1 && strcmp(argv[1], "notify") == 0) return notify(n);
  return calls(n);
}
