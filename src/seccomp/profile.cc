#include "seccomp/profile.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "common/fd.h"
#include "common/sockopt.h"

namespace rf::seccomp {

namespace {

constexpr int kSockTypeMask = 0xf;         // SOCK_TYPE_MASK: type without NONBLOCK/CLOEXEC
constexpr uint32_t kIoprioWhoProcess = 1;  // IOPRIO_WHO_PROCESS (linux/ioprio.h)

// Docker's list of harmless personality(2) values: PER_LINUX, PER_LINUX32,
// UNAME26, UNAME26|PER_LINUX32, and 0xffffffff (query): every combination of
// PER_LINUX32 (0x8) and UNAME26 (0x20000), and all-ones.
constexpr uint32_t kPersonalityFlags = 0x20008;

const char* const kDeniedAlways[] = {
    // Debugging/inspecting other processes.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    // A pidfd acting on another process: taking its descriptors (an allowed
    // binary's proxy tunnel), steering its memory. The supervisor uses
    // pidfd_getfd from outside; pidfd_open and pidfd_send_signal stay (the
    // kill rules and Landlock's signal scope apply to them).
    "pidfd_getfd",
    "process_madvise",
    "process_mrelease",
    // Kernel attack surface rarely needed by tools.
    "bpf",
    "perf_event_open",
    "userfaultfd",
    // Marks report access to files and directories outside the policy
    // (Landlock does not check marks).
    "fanotify_init",
    // Kernel keyrings are not namespaced by path rules.
    "keyctl",
    "add_key",
    "request_key",
    // System administration.
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "acct",
    "swapon",
    "swapoff",
    "reboot",
    "syslog",
    "quotactl",
    // File handles bypass path-based (Landlock) checks.
    "open_by_handle_at",
    "name_to_handle_at",
    // Mount table and root changes.
    "pivot_root",
    "chroot",
    "mount",
    "umount2",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    // Namespaces.
    "setns",
    // io_uring performs socket/connect/open without the filtered syscalls.
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
};

// POSIX message queues are named in the IPC namespace's mqueue filesystem,
// which Landlock never sees: outside namespace mode (a private IPC
// namespace) the sandbox could create (squat) or delete the host's queues.
const char* const kPosixMq[] = {"mq_open",         "mq_unlink", "mq_timedsend",
                                "mq_timedreceive", "mq_notify", "mq_getsetattr"};

const char* const kSysvIpc[] = {"shmget",     "shmat",  "shmctl", "shmdt",  "semget", "semop",
                                "semtimedop", "semctl", "msgget", "msgsnd", "msgrcv", "msgctl"};

Rule Deny(const std::string& sc, std::vector<ArgCmp> when, std::string why, int err = EPERM) {
  return Rule{sc, std::move(when), Action::Errno(err), std::move(why)};
}

// "arg is none of `allowed`" (small values) as a list of alternative
// conditions: any value above the largest allowed one (64-bit compare, so a
// value with garbage in the high half is refused outright), plus the
// aligned blocks below it that hold no allowed value (ComplementBlocks32:
// {0-15} is one masked compare, not sixteen). The program's size is what
// the kernel spends converting and JIT-compiling it at every start.
std::vector<ArgCmp> NoneOfSmall(unsigned arg, const std::vector<uint32_t>& allowed) {
  const uint32_t top = *std::max_element(allowed.begin(), allowed.end());
  std::vector<ArgCmp> out{ArgCmp::Gt64(arg, top)};
  // A block holds no allowed value, so it lies wholly below `top` or
  // wholly above it (there, the 64-bit compare covers it).
  for (auto [mask, value] : ComplementBlocks32(allowed))
    if (value < top) out.push_back(ArgCmp::Bits(arg, mask, value));
  return out;
}

// "the socket type (arg 1, low 4 bits) is not `allowed`", as masked
// compares on those 4 bits.
std::vector<ArgCmp> TypeOtherThan(int allowed) {
  std::vector<ArgCmp> out;
  for (auto [mask, value] : ComplementBlocks32({static_cast<uint32_t>(allowed)}))
    if (value <= static_cast<uint32_t>(kSockTypeMask))
      out.push_back(ArgCmp::Bits(1, mask & kSockTypeMask, value));
  return out;
}

void AddSocketRules(const ProfileOptions& o, std::vector<Rule>& r) {
  const std::pair<int, const char*> kFamiliesDenied[] = {{AF_PACKET, "AF_PACKET"},
                                                         {AF_VSOCK, "AF_VSOCK"},
                                                         {AF_ALG, "AF_ALG"},
                                                         {AF_KEY, "AF_KEY"},
                                                         {AF_BLUETOOTH, "AF_BLUETOOTH"}};
  for (const auto& [fam, name] : kFamiliesDenied)
    r.push_back(
        Deny("socket", {ArgCmp::Eq32(0, fam)}, std::string("socket: ") + name + " -> EPERM"));
  // SOCK_PACKET on AF_INET is turned into AF_PACKET by the kernel.
  r.push_back(Deny("socket", {ArgCmp::Bits(1, kSockTypeMask, SOCK_PACKET)},
                   "socket: SOCK_PACKET (any family) -> EPERM"));
  // Netlink sockets are SOCK_RAW by nature (the protocol rule below applies).
  for (const auto& c : NoneOfSmall(0, {AF_NETLINK}))
    r.push_back(Deny("socket", {c, ArgCmp::Bits(1, kSockTypeMask, SOCK_RAW)},
                     "socket: SOCK_RAW (any family but AF_NETLINK) -> EPERM"));
  r.push_back(Deny("socket", {ArgCmp::Eq32(0, AF_NETLINK), ArgCmp::Gt64(2, NETLINK_ROUTE)},
                   "socket: AF_NETLINK other than NETLINK_ROUTE -> EPERM"));
  // socketpair only makes sense for AF_UNIX.
  for (const auto& c : NoneOfSmall(0, {AF_UNIX}))
    r.push_back(Deny("socketpair", {c}, "socketpair: any family but AF_UNIX -> EPERM"));

  if (o.mode != NetMode::kHost && !o.unix_dgram) {
    for (const char* sc : {"socket", "socketpair"})
      r.push_back(Deny(sc, {ArgCmp::Eq32(0, AF_UNIX), ArgCmp::Bits(1, kSockTypeMask, SOCK_DGRAM)},
                       std::string(sc) +
                           ": AF_UNIX SOCK_DGRAM -> EPERM (a datagram can reach any host "
                           "pathname socket; opt in with network.unix_datagram)"));
    // The kernel turns AF_UNIX SOCK_RAW into SOCK_DGRAM (socket() refuses
    // SOCK_RAW outside netlink already).
    r.push_back(Deny("socketpair",
                     {ArgCmp::Eq32(0, AF_UNIX), ArgCmp::Bits(1, kSockTypeMask, SOCK_RAW)},
                     "socketpair: AF_UNIX SOCK_RAW (a SOCK_DGRAM to the kernel) -> EPERM"));
  }

  if (o.mode != NetMode::kHost) {
    // TCP fast open connects implicitly, without connect(): past the
    // connect check (platform) and past the record of who connected to the
    // proxy (every guarded mode).
    const std::string fo = " with MSG_FASTOPEN -> EPERM (an implicit connect)";
    r.push_back(Deny("sendto", {ArgCmp::Bits(3, MSG_FASTOPEN, MSG_FASTOPEN)}, "sendto" + fo));
    r.push_back(Deny("sendmsg", {ArgCmp::Bits(2, MSG_FASTOPEN, MSG_FASTOPEN)}, "sendmsg" + fo));
    r.push_back(Deny("sendmmsg", {ArgCmp::Bits(3, MSG_FASTOPEN, MSG_FASTOPEN)}, "sendmmsg" + fo));
  }

  if (!o.inet_sockets) {
    for (int fam : {AF_INET, AF_INET6})
      r.push_back(Deny("socket", {ArgCmp::Eq32(0, fam)},
                       "socket: AF_INET/AF_INET6 -> EPERM (mode none without a network "
                       "namespace: no inet sockets at all)"));
  }

  if (o.mode != NetMode::kPlatform && o.mode != NetMode::kNone) return;
  const char* tag = o.mode == NetMode::kPlatform ? "platform" : "none";
  // Other families reach the network without going through AF_INET(6)
  // connect(), which Landlock's TCP rules see (AF_SMC, AF_RXRPC, AF_TIPC...).
  for (const auto& c : NoneOfSmall(0, {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK}))
    r.push_back(Deny("socket", {c},
                     std::string("socket: families other than AF_UNIX, AF_INET, AF_INET6, "
                                 "AF_NETLINK -> EPERM (") +
                         tag + " mode)"));
  for (int fam : {AF_INET, AF_INET6}) {
    // Only SOCK_STREAM: no UDP (DNS, QUIC), SEQPACKET (SCTP), DCCP.
    for (const auto& type : TypeOtherThan(SOCK_STREAM)) {
      r.push_back(Deny("socket", {ArgCmp::Eq32(0, fam), type},
                       std::string("socket: AF_INET/AF_INET6 other than SOCK_STREAM (UDP...) "
                                   "-> EPERM (") +
                           tag + " mode)"));
    }
    // MPTCP (262) and SCTP (132) streams escape Landlock's TCP port rules.
    for (const auto& c : NoneOfSmall(2, {0, IPPROTO_TCP}))
      r.push_back(Deny("socket", {ArgCmp::Eq32(0, fam), c},
                       std::string("socket: AF_INET/AF_INET6 protocol other than 0 and "
                                   "IPPROTO_TCP (MPTCP, SCTP) -> EPERM (") +
                           tag + " mode)"));
  }
}

// Files whose mode carries S_ISUID or S_ISGID run with their owner's (or
// group's) identity for whoever executes them: a sandbox that leaves one in
// a place another user reaches (a shared /tmp, a group-writable tree) hands
// out its uid. Every call that sets a mode from an argument is refused when
// that argument holds either bit; the same call without them is allowed.
// openat2 passes its mode inside a struct a filter cannot read: it is refused
// with ENOSYS, which callers treat as "an old kernel" and fall back to
// openat, whose arguments are checked. A directory created inside a setgid
// directory still gets S_ISGID from the kernel (inheritance, not the mode
// argument): that keeps group ownership, it grants nothing to an executor.
void AddSetidRules(std::vector<Rule>& r) {
  const std::string why =
      "chmod/open/mkdir/mknod families: a mode with S_ISUID or S_ISGID -> EPERM (no setuid or "
      "setgid files)";
  const uint64_t kBits[] = {S_ISUID, S_ISGID};
  // (system call, index of its mode argument)
  const std::pair<const char*, unsigned> kModeArg[] = {
      {"chmod", 1}, {"fchmod", 1},  {"fchmodat", 2}, {"fchmodat2", 2}, {"creat", 1},
      {"mkdir", 1}, {"mkdirat", 2}, {"mknod", 1},    {"mknodat", 2},
  };
  for (const auto& [sc, arg] : kModeArg)
    for (uint64_t bit : kBits) r.push_back(Deny(sc, {ArgCmp::Bits(arg, bit, bit)}, why));
  // open/openat read the mode only when they create: O_CREAT, or O_TMPFILE
  // (an unnamed file that linkat can give a name later). Without either the
  // mode argument is ignored by the kernel and may hold anything.
  const std::pair<const char*, std::pair<unsigned, unsigned>> kOpen[] = {{"open", {1, 2}},
                                                                         {"openat", {2, 3}}};
  for (const auto& [sc, args] : kOpen)
    for (uint64_t creating : {uint64_t{O_CREAT}, uint64_t{__O_TMPFILE}})
      for (uint64_t bit : kBits)
        r.push_back(Deny(
            sc, {ArgCmp::Bits(args.first, creating, creating), ArgCmp::Bits(args.second, bit, bit)},
            why));
  r.push_back(Deny("openat2", {},
                   "openat2 -> ENOSYS (its mode is in memory a filter cannot read; libc and "
                   "runtimes fall back to openat, whose mode is checked)",
                   ENOSYS));
}

// ---- Metadata and watches outside the policy ----------------------------
// Landlock does not check chmod, chown, utimes, the xattr calls or
// inotify_add_watch: with the supervisor's listener they go to it, which
// decides against the Landlock rules and makes the call on the command's
// behalf (src/landlock/metadata_guard.h). A chmod-family call with
// S_ISUID or S_ISGID in its mode is refused by AddSetidRules (EPERM) and
// never notified.

// System calls newer than the libseccomp this builds with knows by name
// (x86_64 numbers).
const std::pair<const char*, int> kNewSyscalls[] = {
    {"fchmodat2", 452},     {"setxattrat", 463},   {"getxattrat", 464},   {"listxattrat", 465},
    {"removexattrat", 466}, {"file_getattr", 468}, {"file_setattr", 469},
};

void AddMetadataRules(const ProfileOptions& o, std::vector<Rule>& r) {
  // chmod family: (syscall, index of the mode argument).
  const std::pair<const char*, unsigned> kChmod[] = {
      {"chmod", 1}, {"fchmod", 1}, {"fchmodat", 2}, {"fchmodat2", 2}};
  for (const auto& [sc, arg] : kChmod) {
    if (o.notify_connect)
      r.push_back(Rule{sc,
                       {ArgCmp::Bits(arg, S_ISUID | S_ISGID, 0)},
                       Action::Notify(),
                       "chmod family -> user notification (metadata outside the grants)"});
  }
  // Their *at variants with AT_EMPTY_PATH act on O_PATH descriptors, and
  // file_setattr sets inode flags: neither is checked by the supervisor, so
  // they are refused; ENOSYS makes libc and tools use the calls above.
  for (const char* sc :
       {"setxattrat", "getxattrat", "listxattrat", "removexattrat", "file_getattr", "file_setattr"})
    r.push_back(Deny(sc, {},
                     "xattr *at calls and file_getattr/file_setattr -> ENOSYS (the older calls "
                     "are checked)",
                     ENOSYS));
  if (!o.notify_connect) return;
  for (const char* sc :
       {"chown", "lchown", "fchown", "fchownat", "utime", "utimes", "futimesat", "utimensat",
        "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
        "getxattr", "lgetxattr", "listxattr", "llistxattr", "inotify_add_watch"})
    r.push_back(Rule{sc, {}, Action::Notify(), "metadata and watches -> user notification"});
}

int SyscallNumber(const std::string& name) {
  int nr = seccomp_syscall_resolve_name(name.c_str());
  if (nr != __NR_SCMP_ERROR) return nr;
  for (const auto& [n, num] : kNewSyscalls)
    if (name == n) return num;
  return __NR_SCMP_ERROR;
}
// ---- end of metadata ------------------------------------------------------

struct CtxDeleter {
  void operator()(void* c) const { seccomp_release(c); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

std::string RuleText(const Rule& r) {
  return r.syscall + (r.why.empty() ? "" : " (" + r.why + ")");
}

Result<Ctx> BuildCtx(const Profile& p) {
  Ctx ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return Status::Error("seccomp_init failed");
  // Foreign architectures (i386, and x32 numbers on x86_64) are not added:
  // their calls get the bad-arch action.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM)); rc != 0)
    return Status::Errno("seccomp bad-arch action", -rc);
  // Binary tree of syscall numbers: fewer instructions per call.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  for (const Rule& r : p.rules) {
    int nr = SyscallNumber(r.syscall);
    if (nr == __NR_SCMP_ERROR) return Status::Error("unknown system call '" + r.syscall + "'");
    uint32_t action = SCMP_ACT_ERRNO(static_cast<uint32_t>(r.action.err));
    if (r.action.kind == Action::kNotify ||
        (p.options.notify_denials && r.action.err != 0 && r.action.err != ENOSYS))
      action = SCMP_ACT_NOTIFY;
    std::vector<scmp_arg_cmp> cmps;
    for (const ArgCmp& c : r.when) {
      if (c.op == ArgCmp::kMaskedEq)
        cmps.push_back({c.arg, SCMP_CMP_MASKED_EQ, c.mask, c.value});
      else
        cmps.push_back({c.arg, SCMP_CMP_GT, c.value, 0});
    }
    int rc = seccomp_rule_add_exact_array(ctx.get(), action, nr, static_cast<unsigned>(cmps.size()),
                                          cmps.data());
    if (rc != 0) return Status::Errno("seccomp rule " + RuleText(r), -rc);
  }
  return ctx;
}

Result<std::string> Export(const Profile& p, bool pfc) {
  auto ctx = BuildCtx(p);
  if (!ctx.ok()) return ctx.status();
  UniqueFd mem(memfd_create("rf-seccomp-export", MFD_CLOEXEC));
  if (!mem.valid()) return Status::Errno("memfd_create");
  int rc =
      pfc ? seccomp_export_pfc(ctx->get(), mem.get()) : seccomp_export_bpf(ctx->get(), mem.get());
  if (rc != 0) return Status::Errno("seccomp export", -rc);
  std::string out;
  char buf[8192];
  for (off_t off = 0;;) {
    ssize_t n = pread(mem.get(), buf, sizeof buf, off);
    if (n < 0) return Status::Errno("reading the exported filter");
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

}  // namespace

std::vector<std::pair<uint32_t, uint32_t>> ComplementBlocks32(std::vector<uint32_t> allowed) {
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  std::vector<std::pair<uint32_t, uint32_t>> out;
  // Walk the binary trie of 32-bit values: a subtree holding no allowed value
  // becomes one block (prefix under mask).
  struct Node {
    uint32_t prefix;
    int len;  // number of leading bits fixed
  };
  std::vector<Node> stack{{0, 0}};
  while (!stack.empty()) {
    Node n = stack.back();
    stack.pop_back();
    uint32_t mask = n.len == 0 ? 0 : ~uint32_t{0} << (32 - n.len);
    bool any = std::any_of(allowed.begin(), allowed.end(),
                           [&](uint32_t v) { return (v & mask) == n.prefix; });
    if (!any) {
      out.push_back({mask, n.prefix});
    } else if (n.len < 32) {
      uint32_t bit = uint32_t{1} << (31 - n.len);
      stack.push_back({n.prefix | bit, n.len + 1});
      stack.push_back({n.prefix, n.len + 1});
    }
  }
  return out;
}

std::vector<std::pair<uint32_t, uint32_t>> ComplementOfSubsetsAndAllOnes32(uint32_t free_bits) {
  std::vector<int> fixed;  // the bits outside free_bits, in order
  for (int b = 0; b < 32; ++b)
    if (!(free_bits >> b & 1)) fixed.push_back(b);
  std::vector<std::pair<uint32_t, uint32_t>> out;
  if (fixed.empty()) return out;
  auto bit = [](int b) { return uint32_t{1} << b; };
  // A value with some fixed bit set whose fixed bits are not all set has,
  // going round the fixed bits in a cycle, a set one followed by a clear
  // one.
  for (size_t i = 0; i < fixed.size(); ++i) {
    uint32_t set = bit(fixed[i]), clear = bit(fixed[(i + 1) % fixed.size()]);
    if (set != clear) out.push_back({set | clear, set});
  }
  // All fixed bits set but not all-ones: a free bit is clear.
  for (int b = 0; b < 32; ++b)
    if (free_bits >> b & 1) out.push_back({bit(fixed[0]) | bit(b), bit(fixed[0])});
  return out;
}

Profile DefaultProfile(const ProfileOptions& o) {
  Profile p;
  p.options = o;
  auto& r = p.rules;
  for (const char* sc : kDeniedAlways) r.push_back(Deny(sc, {}, ""));

  // Namespaces: unshare and clone with any CLONE_NEW* flag. clone3 passes
  // its flags in memory a filter cannot read: ENOSYS makes libc fall back to
  // clone. CLONE_NEWTIME (0x80) is part of CSIGNAL for clone, so it is only
  // checked for unshare.
  const std::pair<uint64_t, const char*> kNs[] = {
      {CLONE_NEWNS, "CLONE_NEWNS"},     {CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
      {CLONE_NEWUTS, "CLONE_NEWUTS"},   {CLONE_NEWIPC, "CLONE_NEWIPC"},
      {CLONE_NEWUSER, "CLONE_NEWUSER"}, {CLONE_NEWPID, "CLONE_NEWPID"},
      {CLONE_NEWNET, "CLONE_NEWNET"},
  };
  for (const auto& [flag, name] : kNs) {
    r.push_back(
        Deny("clone", {ArgCmp::Bits(0, flag, flag)}, "clone: any CLONE_NEW* flag -> EPERM"));
    r.push_back(
        Deny("unshare", {ArgCmp::Bits(0, flag, flag)}, "unshare: any CLONE_NEW* flag -> EPERM"));
  }
  r.push_back(Deny("unshare", {ArgCmp::Bits(0, CLONE_NEWTIME, CLONE_NEWTIME)},
                   "unshare: any CLONE_NEW* flag -> EPERM"));
  r.push_back(Deny("clone3", {},
                   "clone3 -> ENOSYS (libc falls back to clone, whose flags are checked)", ENOSYS));

  // Terminal injection; the request is an unsigned int: low 32 bits.
  r.push_back(Deny("ioctl", {ArgCmp::Eq32(1, TIOCSTI)},
                   "ioctl: TIOCSTI and TIOCLINUX (compared on the low 32 bits) -> EPERM"));
  r.push_back(Deny("ioctl", {ArgCmp::Eq32(1, TIOCLINUX)},
                   "ioctl: TIOCSTI and TIOCLINUX (compared on the low 32 bits) -> EPERM"));
  // The caller's terminal outlives the run: a line discipline (N_NULL
  // discards everything) or exclusive mode (other opens fail with EBUSY)
  // set from inside would stay after ringfence exits (found in review).
  const std::string kept = " (the terminal keeps it after the run) -> EPERM";
  r.push_back(Deny("ioctl", {ArgCmp::Eq32(1, TIOCSETD)}, "ioctl: TIOCSETD" + kept));
  r.push_back(Deny("ioctl", {ArgCmp::Eq32(1, TIOCEXCL)}, "ioctl: TIOCEXCL" + kept));
  // Without a PID namespace the command shares the caller's session: making
  // a host process group the terminal's foreground would let the terminal
  // signal it (SIGWINCH on a resize, SIGINT/SIGQUIT from keys the command
  // redefines), past Landlock's signal scope. Job control inside the
  // sandbox is lost there unless the command has a terminal of its own (a
  // session of its own: no host group can be picked).
  if (o.mode != NetMode::kNamespace && !o.private_terminal)
    r.push_back(Deny("ioctl", {ArgCmp::Eq32(1, TIOCSPGRP)},
                     "ioctl: TIOCSPGRP (tcsetpgrp: a host process group could become the "
                     "terminal's foreground; no PID namespace) -> EPERM"));

  // The Linux console's keyboard and display (KD*: keyboard mode, key
  // maps, text or graphics mode, fonts, the speaker) and virtual terminals
  // (VT_*: switching, VT_SETMODE process control). Set on the caller's
  // console they outlive the run (a keyboard switched off stays off). The
  // command normally has a pseudo-terminal of its own, which has none of
  // these; refused anyway for the descriptors it may have been given. Both
  // families are the old numbering without direction or size bits, so the
  // whole 0x4Bxx and 0x56xx blocks are matched (V4L2's 'V' requests carry
  // a size and are not).
  r.push_back(Deny("ioctl", {ArgCmp::Bits(1, 0xffffff00u, 0x4b00u)},
                   "ioctl: console keyboard and display (KD*, 0x4Bxx) and virtual terminal "
                   "(VT_*, 0x56xx) requests (the console keeps them after the run) -> EPERM"));
  r.push_back(Deny("ioctl", {ArgCmp::Bits(1, 0xffffff00u, 0x5600u)},
                   "ioctl: console keyboard and display (KD*, 0x4Bxx) and virtual terminal "
                   "(VT_*, 0x56xx) requests (the console keeps them after the run) -> EPERM"));

  for (auto [mask, value] : ComplementOfSubsetsAndAllOnes32(kPersonalityFlags))
    r.push_back(
        Deny("personality", {ArgCmp::Bits(0, mask, value)},
             "personality: values other than 0x0, 0x8, 0x20000, 0x20008, 0xffffffff -> EPERM"));

  // Other processes of the same uid (the supervisor and init when they run
  // as the sandbox's uid, host processes in platform mode): their resource
  // limits (an RLIMIT_CPU kills them, RLIMIT_CORE makes the supervisor dump
  // its memory where the sandbox can read it) and priorities. Landlock has no
  // hook for these; only the calling process (pid 0) is allowed.
  r.push_back(Deny("prlimit64", {ArgCmp::Gt64(0, 0)},
                   "prlimit64: another process (pid other than 0) -> EPERM"));
  r.push_back(Deny("setpriority", {ArgCmp::Gt64(1, 0)},
                   "setpriority/ioprio_set: another process, group or user -> EPERM"));
  // A process group or a user: a sandbox process can join the supervisor's
  // group (same session) with setpgid first.
  for (const auto& c : NoneOfSmall(0, {PRIO_PROCESS}))
    r.push_back(Deny("setpriority", {c},
                     "setpriority/ioprio_set: another process, group or user -> EPERM"));
  r.push_back(Deny("ioprio_set", {ArgCmp::Gt64(1, 0)},
                   "setpriority/ioprio_set: another process, group or user -> EPERM"));
  for (const auto& c : NoneOfSmall(0, {kIoprioWhoProcess}))
    r.push_back(
        Deny("ioprio_set", {c}, "setpriority/ioprio_set: another process, group or user -> EPERM"));

  AddSocketRules(o, r);

  // System V IPC ignores path rules. Namespace mode gives the sandbox a
  // private IPC namespace instead; every other mode shares the host's.
  if (o.mode != NetMode::kNamespace && !o.sysv_ipc) {
    for (const char* sc : kSysvIpc) r.push_back(Deny(sc, {}, "System V IPC"));
  }
  if (o.mode != NetMode::kNamespace) {
    for (const char* sc : kPosixMq)
      r.push_back(Deny(sc, {}, "POSIX message queues (the host's IPC namespace) -> EPERM"));
  }
  // A lease makes the next open for writing, anywhere on the host, wait for
  // the lease-break time; the sandbox needs none (read-only grants included).
  r.push_back(Deny("fcntl", {ArgCmp::Eq32(1, F_SETLEASE)}, "fcntl: F_SETLEASE -> EPERM"));
  AddSetidRules(r);
  AddMetadataRules(o, r);
  if (o.notify_connect)
    r.push_back(Rule{"connect", {}, Action::Notify(), "connect -> user notification"});
  // Sharing the host's network namespace, listen() on a TCP socket never
  // bound binds an ephemeral port on every address, a bind Landlock does not
  // check: the supervisor refuses that and makes the other listen() calls.
  if (o.notify_connect && o.mode == NetMode::kPlatform)
    r.push_back(Rule{"listen", {}, Action::Notify(), "listen -> user notification"});
  // Sharing the host's network namespace, an abstract unix name bound
  // inside is one host clients connect to (a squatted X11 or D-Bus name):
  // the supervisor makes every bind, abstract names under the sandbox's
  // prefix. Not answerable in the filter: the address is in memory.
  const bool notify_bind = o.notify_connect && (o.mode == NetMode::kPlatform ||
                                                (o.mode == NetMode::kNone && !o.inet_sockets));
  if (notify_bind) {
    r.push_back(Rule{"bind", {}, Action::Notify(), "bind -> user notification"});
    // The kernel autobinds an unbound unix socket with either option on its
    // next connect or send, to a name of the host's: the supervisor names
    // it under the sandbox's prefix first.
    for (int opt : {SO_PASSCRED, kSoPassPidfd})
      r.push_back(Rule{"setsockopt",
                       {ArgCmp::Eq32(1, SOL_SOCKET), ArgCmp::Eq32(2, static_cast<uint32_t>(opt))},
                       Action::Notify(),
                       "setsockopt SO_PASSCRED/SO_PASSPIDFD -> user notification"});
  }
  if (notify_bind && o.unix_dgram) {
    // A datagram sendto() names its destination in memory: one to an
    // abstract name must go to the sandbox's own prefixed name. (Not
    // sendmsg(): the command hands the listener over with sendmsg() after
    // this filter is in force; Landlock's scope, which the plan requires
    // here for datagram sockets, keeps those off host names.) Conditions
    // disjoint from the MSG_FASTOPEN refusal.
    r.push_back(Rule{"sendto",
                     {ArgCmp::Bits(3, MSG_FASTOPEN, 0), ArgCmp::Gt64(4, 0)},
                     Action::Notify(),
                     "sendto with an address -> user notification (network.unix_datagram)"});
  }
  if (o.notify_connect || o.notify_denials) {
    // Calls this program sends to the supervisor must stay with it: a filter
    // of the command's own with a listener could answer them "continue".
    // The kernel already refuses a second listener in a filter chain
    // (EBUSY); this keeps it so whatever the kernel version.
    r.push_back(
        Deny("seccomp",
             {ArgCmp::Eq32(0, SECCOMP_SET_MODE_FILTER),
              ArgCmp::Bits(1, SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_FILTER_FLAG_NEW_LISTENER)},
             "seccomp: a filter with its own user-notification listener -> EPERM"));
  }
  return p;
}

Result<std::vector<sock_filter>> Compile(const Profile& p) {
  auto bytes = Export(p, false);
  if (!bytes.ok()) return bytes.status();
  if (bytes->empty() || bytes->size() % sizeof(sock_filter) != 0)
    return Status::Error("libseccomp exported a malformed program");
  std::vector<sock_filter> prog(bytes->size() / sizeof(sock_filter));
  memcpy(prog.data(), bytes->data(), bytes->size());
  if (prog.size() > BPF_MAXINSNS)
    return Status::Error("seccomp program too long (" + std::to_string(prog.size()) +
                         " instructions)");
  return prog;
}

Result<std::string> PseudoCode(const Profile& p) { return Export(p, true); }

nlohmann::json Describe(const Profile& p) {
  using nlohmann::json;
  std::map<std::string, std::vector<std::string>> denied;  // errno name -> syscalls
  std::vector<std::string> conditional, sockets, sysv;
  std::set<std::string> seen;
  auto once = [&](std::vector<std::string>& v, const std::string& s) {
    if (seen.insert(s).second) v.push_back(s);
  };
  for (const Rule& r : p.rules) {
    if (r.action.kind == Action::kNotify) continue;
    const bool socketish =
        r.syscall == "socket" || r.syscall == "socketpair" || r.syscall.rfind("send", 0) == 0;
    if (r.why == "System V IPC") {
      sysv.push_back(r.syscall);
    } else if (socketish) {
      once(sockets, r.why);
    } else if (r.when.empty() && r.action.err == EPERM) {
      denied["EPERM"].push_back(r.syscall);
    } else {
      once(conditional, r.why);
    }
  }
  const NetMode m = p.options.mode;
  json j;
  j["status"] = "enforced";
  j["default_action"] = "allow";
  j["architecture"] =
      "x86_64 only: i386 (int 0x80, so socketcall too) and x32 (__X32_SYSCALL_BIT) system calls "
      "fail with EPERM";
  j["denied_syscalls"] = denied;
  j["conditional_rules"] = conditional;
  j["socket_rules"] = {{"mode", ToString(m)}, {"rules", sockets}};
  if (m != NetMode::kNamespace) {
    j["sysv_ipc"] = p.options.sysv_ipc
                        ? "allowed by process.sysv_ipc (weakened boundary)"
                        : "denied (EPERM): " + std::to_string(sysv.size()) + " calls";
  } else {
    j["sysv_ipc"] = "allowed (private IPC namespace)";
  }
  j["user_notification"] = {{"connect", p.options.notify_connect},
                            {"metadata", p.options.notify_connect},
                            {"denials", p.options.notify_denials}};
  j["denial_reporting"] =
      p.options.notify_denials
          ? "each denied call is sent to the supervisor (user notification), answered with its "
            "errno and audited"
          : "errno returned by the kernel; not audited (see docs/seccomp.md)";
  j["memfd_create"] =
      "allowed (CUDA and JIT runtimes need anonymous memory files; the result is "
      "an fd, not a path, so it opens nothing new)";
  return j;
}

std::vector<std::pair<int, int>> NotifiedDenials(const Profile& p) {
  std::vector<std::pair<int, int>> out;
  if (!p.options.notify_denials) return out;
  for (const Rule& r : p.rules) {
    if (r.action.kind != Action::kErrno || r.action.err == 0 || r.action.err == ENOSYS) continue;
    int nr = SyscallNumber(r.syscall);
    if (nr == __NR_SCMP_ERROR) continue;
    if (std::none_of(out.begin(), out.end(), [&](const auto& e) { return e.first == nr; }))
      out.push_back({nr, r.action.err});
  }
  return out;
}

int DenialErrno(const Profile& p, int syscall_nr) {
  for (const Rule& r : p.rules) {
    if (r.action.kind != Action::kErrno) continue;
    if (SyscallNumber(r.syscall) == syscall_nr) return r.action.err;
  }
  return 0;
}

}  // namespace rf::seccomp
