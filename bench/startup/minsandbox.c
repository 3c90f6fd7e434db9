/* The kernel work ringfence's platform mode needs, and nothing else: the
 * floor of any launcher giving the same protections on this machine.
 *
 *   minsandbox [--no-init] PROG.bpf|allow [-r PATH]... [-w PATH]... -- CMD [ARGS...]
 *
 * Linked like ringfence (static PIE, glibc). Before creating a process it
 * builds the same Landlock ruleset (every filesystem right of ABI 7 handled,
 * TCP bind/connect handled with one connect rule, the abstract-socket and
 * signal scopes; -r paths read and execute, -w paths every right) and reads
 * the same seccomp program (PROG.bpf: ringfence's precompiled platform
 * program, written by bench/startup/run.py). Then, as ringfence does, it
 * becomes a subreaper, creates an init process (clone with CLONE_VM) that
 * creates the command (vfork), and the command, as root, drops to uid/gid 65534 with no
 * supplementary groups and an empty bounding set, sets no_new_privs, enters
 * the Landlock domain, installs the seccomp program with a user-notification
 * listener and execs CMD. No policy, no plan, no proxy, no terminal or
 * signal handling, no audit, no checks of what it did: only the kernel work
 * and the three processes. PROG `allow` installs a one-instruction program
 * instead (the cost of seccomp itself, whatever the rules). --no-init vforks
 * the command directly, without the init process: what start-up would be
 * without the guarantee that the command's whole tree dies with the launcher
 * (issue 1: an orphan of a killed launcher would otherwise run on). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Landlock's UAPI up to ABI 7 (Debian 12's headers stop at ABI 2). */
enum {
  kExecute = 1 << 0,
  kWriteFile = 1 << 1,
  kReadFile = 1 << 2,
  kReadDir = 1 << 3,
  kTruncate = 1 << 14,
  kIoctlDev = 1 << 15,
  kAllFs = (1 << 16) - 1,
  kBindTcp = 1 << 0,
  kConnectTcp = 1 << 1,
  kScopeAbstract = 1 << 0,
  kScopeSignal = 1 << 1,
  kRulePathBeneath = 1,
  kRuleNetPort = 2,
};
struct attr {
  uint64_t fs, net, scoped;
};
struct path_beneath {
  uint64_t allowed;
  int32_t parent_fd;
} __attribute__((packed));
struct net_port {
  uint64_t allowed, port;
};

struct job {
  char** cmd;
  int ruleset;
  struct sock_fprog* prog;
};

/* The command: privilege drop, no_new_privs, Landlock, seccomp, exec. */
static void command(struct job* j) {
  if (geteuid() == 0) {
    for (int cap = 0; prctl(PR_CAPBSET_DROP, cap) == 0; ++cap) {
    }
    if (syscall(SYS_setgroups, 0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0)
      _exit(125);
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      syscall(SYS_landlock_restrict_self, j->ruleset, 0) != 0)
    _exit(125);
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, j->prog) < 0)
    _exit(125);
  execv(j->cmd[0], j->cmd);
  _exit(127);
}

/* init: creates the command, waits for it, exits with its status. */
static int init_main(void* arg) {
  pid_t c = vfork();
  if (c == 0) command(arg);
  int status = 0;
  if (c < 0 || waitpid(c, &status, 0) != c) _exit(125);
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

static int die(const char* what) {
  perror(what);
  return 125;
}

int main(int argc, char** argv) {
  const int no_init = argc > 1 && strcmp(argv[1], "--no-init") == 0;
  if (no_init) {
    argv[1] = argv[0];
    ++argv;
    --argc;
  }
  if (argc < 4) {
    fprintf(stderr,
            "usage: minsandbox [--no-init] PROG.bpf|allow [-r PATH]... [-w PATH]... -- CMD "
            "[ARGS...]\n");
    return 125;
  }
  static struct sock_filter insns[4096] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  ssize_t n = sizeof *insns;
  if (strcmp(argv[1], "allow") != 0) {
    int pf = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (pf < 0) return die(argv[1]);
    n = read(pf, insns, sizeof insns);
    close(pf);
    if (n <= 0 || n % sizeof *insns) return die("reading the seccomp program");
  }
  struct sock_fprog prog = {(unsigned short)(n / sizeof *insns), insns};

  const uint64_t ro = kExecute | kReadFile | kReadDir;
  const uint64_t file_rights = kExecute | kWriteFile | kReadFile | kTruncate | kIoctlDev;
  struct attr a = {kAllFs, kBindTcp | kConnectTcp, kScopeAbstract | kScopeSignal};
  int rs = (int)syscall(SYS_landlock_create_ruleset, &a, sizeof a, 0);
  if (rs < 0) return die("landlock_create_ruleset");
  int i = 2;
  for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
    int fd = open(argv[i + 1], O_PATH | O_CLOEXEC);
    if (fd < 0) continue; /* ringfence skips missing paths too */
    struct stat st;
    if (fstat(fd, &st) != 0) return die("fstat");
    uint64_t want = strcmp(argv[i], "-w") == 0 ? kAllFs : ro;
    struct path_beneath pb = {S_ISDIR(st.st_mode) ? want : want & file_rights, fd};
    if (syscall(SYS_landlock_add_rule, rs, kRulePathBeneath, &pb, 0) != 0)
      return die("landlock_add_rule");
    close(fd);
  }
  struct net_port port = {kConnectTcp, 3128};
  if (syscall(SYS_landlock_add_rule, rs, kRuleNetPort, &port, 0) != 0)
    return die("landlock_add_rule (port)");
  if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc) {
    fprintf(stderr, "minsandbox: no command after --\n");
    return 125;
  }
  char** cmd = argv + i + 1;

  struct job j = {cmd, rs, &prog};
  if (no_init) {
    int status = 0;
    pid_t c = vfork();
    if (c == 0) command(&j);
    if (c < 0 || waitpid(c, &status, 0) != c) return die("vfork/waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return die("PR_SET_CHILD_SUBREAPER");
  const size_t stack_size = 256 * 1024;
  char* stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return die("mmap");
  /* As ringfence does: init shares the launcher's memory (no page-table copy). */
  pid_t init = clone(init_main, stack + stack_size, CLONE_VM | SIGCHLD, &j);
  if (init < 0) return die("clone");
  int status = 0;
  if (waitpid(init, &status, 0) != init) return die("waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}
