// Tries every system call the seccomp profile refuses (and a few it must
// allow) and prints one line per attempt: "<name> <result>", where result is
// OK, an errno name (EPERM, ENOSYS, ...) or SIG<n> when the attempt crashed.
// Each attempt runs in its own forked child, so a call that succeeds (when
// run without ringfence) cannot change the state later attempts see.
// Arguments are chosen to be harmless when the call is NOT filtered, even as
// root: invalid flags, missing paths, bad descriptors, non-tty ioctl targets.
// Usage: sc_probe [NAME...]   (no names: every probe)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#define X32_BIT 0x40000000L

static long sys(long nr, long a, long b, long c, long d, long e, long f) {
  return syscall(nr, a, b, c, d, e, f);
}
#define S0(nr) sys(nr, 0, 0, 0, 0, 0, 0)

static long devnull(void) { return open("/dev/null", O_RDWR | O_CLOEXEC); }

// Raw i386 system call through int 0x80 (returns -errno like the kernel).
static long int80(long nr, long b, long c) {
  long ret;
  __asm__ volatile("int $0x80"
                   : "=a"(ret)
                   : "a"(nr), "b"(b), "c"(c)
                   : "memory", "r8", "r9", "r10", "r11");
  return ret;
}

static long fromraw(long r) {
  if (r < 0 && r > -4096) {
    errno = (int)-r;
    return -1;
  }
  return r;
}

static long p_ptrace(void) { return sys(SYS_ptrace, 3 /* PEEKUSER */, getppid(), 0, 0, 0, 0); }
static long p_pvm_readv(void) { return sys(SYS_process_vm_readv, getpid(), 0, 0, 0, 0, 0); }
static long p_pvm_writev(void) { return sys(SYS_process_vm_writev, getpid(), 0, 0, 0, 0, 0); }
static long p_kcmp(void) { return sys(SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 0, 0, 0); }
static long p_bpf(void) { return sys(SYS_bpf, -1, 0, 0, 0, 0, 0); }
static long p_perf(void) { return sys(SYS_perf_event_open, 0, 0, -1, -1, 0, 0); }
static long p_userfaultfd(void) { return sys(SYS_userfaultfd, ~0L, 0, 0, 0, 0, 0); }
static long p_keyctl(void) { return sys(SYS_keyctl, -1, 0, 0, 0, 0, 0); }
static long p_add_key(void) { return sys(SYS_add_key, 0, 0, 0, 0, 0, 0); }
static long p_request_key(void) { return sys(SYS_request_key, 0, 0, 0, 0, 0, 0); }
static long p_kexec_load(void) { return sys(SYS_kexec_load, 0, 1000, 0, 0xdead0000L, 0, 0); }
static long p_kexec_file_load(void) { return sys(SYS_kexec_file_load, -1, -1, 0, 0, ~0L, 0); }
static long p_init_module(void) { return sys(SYS_init_module, 0, 0, 0, 0, 0, 0); }
static long p_finit_module(void) { return sys(SYS_finit_module, -1, (long)"", 0, 0, 0, 0); }
static long p_delete_module(void) {
  return sys(SYS_delete_module, (long)"rf_no_such_module", O_NONBLOCK, 0, 0, 0, 0);
}
static long p_open_by_handle_at(void) { return sys(SYS_open_by_handle_at, -1, 0, 0, 0, 0, 0); }
static long p_name_to_handle_at(void) {
  return sys(SYS_name_to_handle_at, -1, (long)"/nonexistent-rf", 0, 0, 0, 0);
}
static long p_acct(void) { return sys(SYS_acct, (long)"/nonexistent-rf/acct", 0, 0, 0, 0, 0); }
static long p_swapon(void) { return sys(SYS_swapon, (long)"/nonexistent-rf", 0, 0, 0, 0, 0); }
static long p_swapoff(void) { return sys(SYS_swapoff, (long)"/nonexistent-rf", 0, 0, 0, 0, 0); }
static long p_reboot(void) { return sys(SYS_reboot, 0, 0, 0, 0, 0, 0); /* bad magic: EINVAL */ }
static long p_syslog(void) { return sys(SYS_syslog, 10 /* SIZE_BUFFER */, 0, 0, 0, 0, 0); }
static long p_quotactl(void) { return sys(SYS_quotactl, 0, 0, 0, 0, 0, 0); }
static long p_pivot_root(void) {
  return sys(SYS_pivot_root, (long)"/nonexistent-rf", (long)"/nonexistent-rf", 0, 0, 0, 0);
}
static long p_chroot(void) { return sys(SYS_chroot, (long)"/nonexistent-rf", 0, 0, 0, 0, 0); }
static long p_mount(void) { return sys(SYS_mount, 0, (long)"/nonexistent-rf", 0, 0, 0, 0); }
static long p_umount2(void) { return sys(SYS_umount2, (long)"/nonexistent-rf", 0, 0, 0, 0, 0); }
static long p_fsopen(void) { return sys(SYS_fsopen, (long)"rf_no_such_fs", 0, 0, 0, 0, 0); }
static long p_fsconfig(void) { return sys(SYS_fsconfig, -1, 0, 0, 0, 0, 0); }
static long p_fsmount(void) { return sys(SYS_fsmount, -1, 0, 0, 0, 0, 0); }
static long p_fspick(void) { return sys(SYS_fspick, -1, (long)"", ~0L, 0, 0, 0); }
static long p_move_mount(void) { return sys(SYS_move_mount, -1, (long)"", -1, (long)"", ~0L, 0); }
static long p_open_tree(void) { return sys(SYS_open_tree, -1, (long)"", ~0L, 0, 0, 0); }
static long p_mount_setattr(void) { return sys(SYS_mount_setattr, -1, (long)"", ~0L, 0, 0, 0); }
static long p_setns(void) { return sys(SYS_setns, -1, 0, 0, 0, 0, 0); }
static long p_io_uring_setup(void) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  return sys(SYS_io_uring_setup, 4, (long)&p, 0, 0, 0, 0);  // a real ring when allowed
}
static long p_io_uring_enter(void) { return sys(SYS_io_uring_enter, -1, 0, 0, 0, 0, 0); }
static long p_io_uring_register(void) { return sys(SYS_io_uring_register, -1, 0, 0, 0, 0, 0); }

// Namespaces.
static long p_unshare_user(void) { return sys(SYS_unshare, CLONE_NEWUSER, 0, 0, 0, 0, 0); }
static long p_unshare_net(void) { return sys(SYS_unshare, CLONE_NEWNET, 0, 0, 0, 0, 0); }
static long p_unshare_time(void) { return sys(SYS_unshare, CLONE_NEWTIME, 0, 0, 0, 0, 0); }
static long p_clone_newuser(void) {
  long r = sys(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0, 0);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return r;
}
static long p_clone_newpid(void) {
  long r = sys(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0, 0);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return r;
}
// The other CLONE_NEW* flags, one at a time (each its own filter rule).
static long p_unshare_ns(void) { return sys(SYS_unshare, CLONE_NEWNS, 0, 0, 0, 0, 0); }
static long p_unshare_uts(void) { return sys(SYS_unshare, CLONE_NEWUTS, 0, 0, 0, 0, 0); }
static long p_unshare_ipc(void) { return sys(SYS_unshare, CLONE_NEWIPC, 0, 0, 0, 0, 0); }
static long p_unshare_cgroup(void) { return sys(SYS_unshare, CLONE_NEWCGROUP, 0, 0, 0, 0, 0); }
static long clone_flag(long flag) {
  long r = sys(SYS_clone, flag | SIGCHLD, 0, 0, 0, 0, 0);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return r;
}
static long p_clone_newns(void) { return clone_flag(CLONE_NEWNS); }
static long p_clone_newuts(void) { return clone_flag(CLONE_NEWUTS); }
static long p_clone_newipc(void) { return clone_flag(CLONE_NEWIPC); }
static long p_clone_newcgroup(void) { return clone_flag(CLONE_NEWCGROUP); }
static long p_clone3(void) {
  struct clone_args a;
  memset(&a, 0, sizeof a);
  a.exit_signal = SIGCHLD;
  long r = sys(SYS_clone3, (long)&a, sizeof a, 0, 0, 0, 0);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return r;
}

// Terminal injection on a non-terminal (ENOTTY when not filtered).
static long p_tiocsti(void) {
  char c = 'x';
  return sys(SYS_ioctl, devnull(), TIOCSTI, (long)&c, 0, 0, 0);
}
static long p_tiocsti_high(void) {
  char c = 'x';
  return sys(SYS_ioctl, devnull(), (long)(0xdead000100000000UL | TIOCSTI), (long)&c, 0, 0, 0);
}
static long p_tioclinux(void) {
  char c = 0;
  return sys(SYS_ioctl, devnull(), TIOCLINUX, (long)&c, 0, 0, 0);
}
// Terminal state that would outlive the run, and the foreground group
// (ENOTTY on /dev/null when not filtered).
static long p_tiocsetd(void) {
  int ldisc = 0;
  return sys(SYS_ioctl, devnull(), TIOCSETD, (long)&ldisc, 0, 0, 0);
}
static long p_tiocexcl(void) { return sys(SYS_ioctl, devnull(), TIOCEXCL, 0, 0, 0, 0); }
static long p_tiocspgrp(void) {
  pid_t pg = getpgrp();
  return sys(SYS_ioctl, devnull(), TIOCSPGRP, (long)&pg, 0, 0, 0);
}
// Invalid flags: EINVAL when not filtered, even as root.
static long p_fanotify_init(void) { return sys(SYS_fanotify_init, 0xffffffffL, 0, 0, 0, 0, 0); }
static long p_personality_bad(void) {
  return sys(SYS_personality, 0x0400000 /* READ_IMPLIES_EXEC */, 0, 0, 0, 0, 0);
}
static long p_personality_high(void) {
  return sys(SYS_personality, 0x100000000L | 0x0400000, 0, 0, 0, 0, 0);
}

// Foreign architectures.
static long p_x32_getpid(void) { return sys(X32_BIT | 39 /* getpid */, 0, 0, 0, 0, 0, 0); }
static long p_i386_getpid(void) { return fromraw(int80(20 /* i386 getpid */, 0, 0)); }
static long p_i386_socketcall(void) {
  // socketcall(SYS_SOCKET, {AF_PACKET, SOCK_RAW, 0}): the i386 door around
  // socket(); its argument block must sit below 4 GiB.
  uint32_t* args =
      mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (args == MAP_FAILED) return -1;
  args[0] = AF_PACKET;
  args[1] = SOCK_RAW;
  args[2] = 0;
  return fromraw(int80(102 /* socketcall */, 1 /* SYS_SOCKET */, (long)(uintptr_t)args));
}

// Sockets.
static long sock(long fam, long type, long proto) {
  return sys(SYS_socket, fam, type, proto, 0, 0, 0);
}
static long p_sock_packet(void) { return sock(AF_PACKET, SOCK_RAW, 0); }
static long p_sock_vsock(void) { return sock(AF_VSOCK, SOCK_STREAM, 0); }
static long p_sock_alg(void) { return sock(AF_ALG, SOCK_SEQPACKET, 0); }
static long p_sock_key(void) { return sock(AF_KEY, SOCK_RAW, 2 /* PF_KEY_V2 */); }
static long p_sock_bluetooth(void) { return sock(AF_BLUETOOTH, SOCK_RAW, 0); }
static long p_sock_inet_raw(void) { return sock(AF_INET, SOCK_RAW, IPPROTO_ICMP); }
static long p_sock_inet_sockpacket(void) {
  return sock(AF_INET, SOCK_PACKET, 0x300 /* ETH_P_ALL BE */);
}
static long p_sock_netlink_audit(void) { return sock(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT); }
static long p_sock_netlink_high(void) {
  // NETLINK_ROUTE in the low half, garbage in the high half.
  return sock(AF_NETLINK, SOCK_RAW, 0x100000000L | NETLINK_ROUTE);
}
static long p_sock_packet_high(void) { return sock(0x100000000L | AF_PACKET, SOCK_RAW, 0); }
static long p_sock_mptcp(void) { return sock(AF_INET, SOCK_STREAM, IPPROTO_MPTCP); }
static long p_sock_mptcp6(void) { return sock(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP); }
static long p_sock_sctp(void) { return sock(AF_INET, SOCK_STREAM, IPPROTO_SCTP); }
static long p_sock_udp(void) { return sock(AF_INET, SOCK_DGRAM, 0); }
static long p_sock_udp6(void) { return sock(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0); }
static long p_sock_udp_high(void) { return sock(AF_INET, 0x100000000L | SOCK_DGRAM, 0); }
static long p_sock_seqpacket_inet(void) { return sock(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP); }
static long p_sock_rds(void) { return sock(21 /* AF_RDS */, SOCK_SEQPACKET, 0); }
static long p_sock_smc(void) { return sock(43 /* AF_SMC */, SOCK_STREAM, 0); }
static long p_socketpair_inet(void) {
  int sv[2];
  return sys(SYS_socketpair, AF_INET, SOCK_STREAM, 0, (long)sv, 0, 0);
}
static long p_sendto_fastopen(void) { return sys(SYS_sendto, -1, (long)"", 0, MSG_FASTOPEN, 0, 0); }
static long p_sendmsg_fastopen(void) { return sys(SYS_sendmsg, -1, 0, MSG_FASTOPEN, 0, 0, 0); }
static long p_sendmmsg_fastopen(void) { return sys(SYS_sendmmsg, -1, 0, 0, MSG_FASTOPEN, 0, 0); }

// System V IPC, with invalid arguments.
static long p_shmget(void) { return shmget(IPC_PRIVATE, 0, 0); }
static long p_shmat(void) { return (long)shmat(-1, NULL, 0) == -1 ? -1 : 0; }
static long p_shmctl(void) { return shmctl(-1, IPC_STAT, NULL); }
static long p_shmdt(void) { return shmdt((void*)1); }
static long p_semget(void) { return semget(IPC_PRIVATE, -1, 0); }
static long p_semop(void) { return semop(-1, NULL, 0); }
static long p_semtimedop(void) { return semtimedop(-1, NULL, 0, NULL); }
static long p_semctl(void) { return semctl(-1, 0, IPC_STAT); }
static long p_msgget(void) { return msgget(0x7266ffff, 0); }
static long p_msgsnd(void) { return msgsnd(-1, "", 0, 0); }
static long p_msgrcv(void) { return msgrcv(-1, NULL, 0, 0, IPC_NOWAIT); }
static long p_msgctl(void) { return msgctl(-1, IPC_STAT, NULL); }

// Must stay allowed.
static long p_ok_tcp(void) { return sock(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); }
static long p_ok_tcp6(void) { return sock(AF_INET6, SOCK_STREAM, IPPROTO_TCP); }
static long p_ok_unix(void) { return sock(AF_UNIX, SOCK_STREAM, 0); }
static long p_unix_dgram(void) { return sock(AF_UNIX, SOCK_DGRAM, 0); }
static long p_unix_dgram_pair(void) {
  int sv[2];
  return socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
}
static long p_ok_netlink_route(void) {
  return sock(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}
static long p_ok_socketpair_unix(void) {
  int sv[2];
  return sys(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, (long)sv, 0, 0);
}
static long p_ok_memfd(void) {
  return sys(SYS_memfd_create, (long)"rf-probe", MFD_CLOEXEC, 0, 0, 0, 0);
}
static long p_ok_fork(void) {
  pid_t p = fork();
  if (p == 0) _exit(0);
  if (p > 0) waitpid(p, NULL, 0);
  return p;
}
static long p_ok_unshare_files(void) { return sys(SYS_unshare, CLONE_FILES, 0, 0, 0, 0, 0); }
static long p_ok_personality_query(void) {
  return sys(SYS_personality, 0xffffffffL, 0, 0, 0, 0, 0);
}
static long p_ok_personality_linux32(void) { return sys(SYS_personality, 0x8, 0, 0, 0, 0, 0); }
static long p_ok_tcgetwinsz(void) {
  // Not a terminal: ENOTTY (not EPERM) shows ioctl is not blanket-denied.
  struct winsize ws;
  long r = sys(SYS_ioctl, devnull(), TIOCGWINSZ, (long)&ws, 0, 0, 0);
  if (r < 0 && errno == ENOTTY) return 0;
  return r;
}
static long p_ok_sendto(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return -1;
  return sys(SYS_sendto, sv[0], (long)"x", 1, MSG_DONTWAIT, 0, 0);
}
static long p_ok_getpid(void) { return S0(SYS_getpid); }

struct probe {
  const char* name;
  long (*fn)(void);
};

static const struct probe kProbes[] = {
    {"ptrace", p_ptrace},
    {"process_vm_readv", p_pvm_readv},
    {"process_vm_writev", p_pvm_writev},
    {"kcmp", p_kcmp},
    {"bpf", p_bpf},
    {"perf_event_open", p_perf},
    {"userfaultfd", p_userfaultfd},
    {"keyctl", p_keyctl},
    {"add_key", p_add_key},
    {"request_key", p_request_key},
    {"kexec_load", p_kexec_load},
    {"kexec_file_load", p_kexec_file_load},
    {"init_module", p_init_module},
    {"finit_module", p_finit_module},
    {"delete_module", p_delete_module},
    {"open_by_handle_at", p_open_by_handle_at},
    {"name_to_handle_at", p_name_to_handle_at},
    {"acct", p_acct},
    {"swapon", p_swapon},
    {"swapoff", p_swapoff},
    {"reboot", p_reboot},
    {"syslog", p_syslog},
    {"quotactl", p_quotactl},
    {"pivot_root", p_pivot_root},
    {"chroot", p_chroot},
    {"mount", p_mount},
    {"umount2", p_umount2},
    {"fsopen", p_fsopen},
    {"fsconfig", p_fsconfig},
    {"fsmount", p_fsmount},
    {"fspick", p_fspick},
    {"move_mount", p_move_mount},
    {"open_tree", p_open_tree},
    {"mount_setattr", p_mount_setattr},
    {"setns", p_setns},
    {"io_uring_setup", p_io_uring_setup},
    {"io_uring_enter", p_io_uring_enter},
    {"io_uring_register", p_io_uring_register},
    {"unshare_newuser", p_unshare_user},
    {"unshare_newnet", p_unshare_net},
    {"unshare_newtime", p_unshare_time},
    {"clone_newuser", p_clone_newuser},
    {"clone_newpid", p_clone_newpid},
    {"unshare_newns", p_unshare_ns},
    {"unshare_newuts", p_unshare_uts},
    {"unshare_newipc", p_unshare_ipc},
    {"unshare_newcgroup", p_unshare_cgroup},
    {"clone_newns", p_clone_newns},
    {"clone_newuts", p_clone_newuts},
    {"clone_newipc", p_clone_newipc},
    {"clone_newcgroup", p_clone_newcgroup},
    {"clone3", p_clone3},
    {"ioctl_tiocsti", p_tiocsti},
    {"ioctl_tiocsti_high_bits", p_tiocsti_high},
    {"ioctl_tioclinux", p_tioclinux},
    {"ioctl_tiocsetd", p_tiocsetd},
    {"ioctl_tiocexcl", p_tiocexcl},
    {"ioctl_tiocspgrp", p_tiocspgrp},
    {"fanotify_init", p_fanotify_init},
    {"personality_read_implies_exec", p_personality_bad},
    {"personality_high_bits", p_personality_high},
    {"x32_getpid", p_x32_getpid},
    {"i386_getpid", p_i386_getpid},
    {"i386_socketcall_packet", p_i386_socketcall},
    {"socket_unix_dgram", p_unix_dgram},
    {"socketpair_unix_dgram", p_unix_dgram_pair},
    {"socket_packet", p_sock_packet},
    {"socket_packet_high_bits", p_sock_packet_high},
    {"socket_vsock", p_sock_vsock},
    {"socket_alg", p_sock_alg},
    {"socket_key", p_sock_key},
    {"socket_bluetooth", p_sock_bluetooth},
    {"socket_inet_raw", p_sock_inet_raw},
    {"socket_inet_sock_packet", p_sock_inet_sockpacket},
    {"socket_netlink_audit", p_sock_netlink_audit},
    {"socket_netlink_route_high_bits", p_sock_netlink_high},
    {"socket_inet_mptcp", p_sock_mptcp},
    {"socket_inet6_mptcp", p_sock_mptcp6},
    {"socket_inet_sctp", p_sock_sctp},
    {"socket_inet_seqpacket", p_sock_seqpacket_inet},
    {"socket_inet_udp", p_sock_udp},
    {"socket_inet6_udp", p_sock_udp6},
    {"socket_inet_udp_high_bits", p_sock_udp_high},
    {"socket_rds", p_sock_rds},
    {"socket_smc", p_sock_smc},
    {"socketpair_inet", p_socketpair_inet},
    {"sendto_fastopen", p_sendto_fastopen},
    {"sendmsg_fastopen", p_sendmsg_fastopen},
    {"sendmmsg_fastopen", p_sendmmsg_fastopen},
    {"shmget", p_shmget},
    {"shmat", p_shmat},
    {"shmctl", p_shmctl},
    {"shmdt", p_shmdt},
    {"semget", p_semget},
    {"semop", p_semop},
    {"semtimedop", p_semtimedop},
    {"semctl", p_semctl},
    {"msgget", p_msgget},
    {"msgsnd", p_msgsnd},
    {"msgrcv", p_msgrcv},
    {"msgctl", p_msgctl},
    {"ok_socket_tcp", p_ok_tcp},
    {"ok_socket_tcp6", p_ok_tcp6},
    {"ok_socket_unix", p_ok_unix},
    {"ok_socket_netlink_route", p_ok_netlink_route},
    {"ok_socketpair_unix", p_ok_socketpair_unix},
    {"ok_memfd_create", p_ok_memfd},
    {"ok_fork", p_ok_fork},
    {"ok_unshare_files", p_ok_unshare_files},
    {"ok_personality_query", p_ok_personality_query},
    {"ok_personality_linux32", p_ok_personality_linux32},
    {"ok_ioctl_tiocgwinsz", p_ok_tcgetwinsz},
    {"ok_sendto", p_ok_sendto},
    {"ok_getpid", p_ok_getpid},
};

static void run_probe(const struct probe* p) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    printf("%s FORK_FAILED\n", p->name);
    return;
  }
  if (pid == 0) {
    alarm(5);
    errno = 0;
    long r = p->fn();
    _exit(r < 0 ? (errno > 0 && errno < 255 ? errno : 255) : 0);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(st)) {
    printf("%s SIG%d\n", p->name, WTERMSIG(st));
  } else if (WEXITSTATUS(st) == 0) {
    printf("%s OK\n", p->name);
  } else {
    const char* e = strerrorname_np(WEXITSTATUS(st));
    printf("%s %s\n", p->name, e ? e : "E?");
  }
}

int main(int argc, char** argv) {
  size_t n = sizeof kProbes / sizeof kProbes[0];
  if (argc > 1 && strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < n; ++i) printf("%s\n", kProbes[i].name);
    return 0;
  }
  for (size_t i = 0; i < n; ++i) {
    int wanted = argc == 1;
    for (int a = 1; a < argc && !wanted; ++a) wanted = strcmp(argv[a], kProbes[i].name) == 0;
    if (wanted) run_probe(&kProbes[i]);
  }
  return 0;
}
