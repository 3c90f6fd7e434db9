#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "seccomp/layer_step.h"
#include "seccomp/notify.h"
#include "seccomp/profile.h"

namespace rf::seccomp {
namespace {

bool Covered(const std::vector<std::pair<uint32_t, uint32_t>>& blocks, uint32_t v) {
  return std::any_of(blocks.begin(), blocks.end(),
                     [&](const auto& b) { return (v & b.first) == b.second; });
}

TEST(SeccompProfile, ComplementBlocksCoverExactlyTheOthers) {
  const std::vector<uint32_t> allowed = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};
  auto blocks = ComplementBlocks32(allowed);
  ASSERT_FALSE(blocks.empty());
  std::vector<uint32_t> probe = {1,          7,          9,          0x1ffff,   0x20001, 0x20009,
                                 0x7fffffff, 0x80000000, 0xfffffffe, 0x0400000, 0x10,    0x28};
  for (uint32_t a : allowed) EXPECT_FALSE(Covered(blocks, a)) << std::hex << a;
  for (uint32_t v : probe) EXPECT_TRUE(Covered(blocks, v)) << std::hex << v;
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    uint32_t v = static_cast<uint32_t>(rng());
    bool is_allowed = std::find(allowed.begin(), allowed.end(), v) != allowed.end();
    EXPECT_EQ(Covered(blocks, v), !is_allowed) << std::hex << v;
  }
  // A single allowed value: one block per bit.
  EXPECT_EQ(ComplementBlocks32({5}).size(), 32u);
}

TEST(SeccompProfile, PersonalityCoverIsExactAndMinimal) {
  const std::vector<uint32_t> allowed = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};
  auto blocks = ComplementOfSubsetsAndAllOnes32(0x20008);
  EXPECT_EQ(blocks.size(), 32u);
  auto is_allowed = [&](uint32_t v) {
    return std::find(allowed.begin(), allowed.end(), v) != allowed.end();
  };
  std::vector<uint32_t> probe = {0x1,     0x7,        0x9,        0x10,       0x20009,
                                 0x28,    0x7fffffff, 0x80000000, 0xfffffffe, 0x400000,
                                 0x40000, 0xfffffff7, 0xfffdffff, 0xfffdfff7};
  for (int b = 0; b < 32; ++b) {
    probe.push_back(uint32_t{1} << b);
    probe.push_back(~(uint32_t{1} << b));
    probe.push_back((uint32_t{1} << b) | 0x20008);
  }
  for (uint32_t v : allowed) probe.push_back(v);
  std::mt19937 rng(7);
  for (int i = 0; i < 50000; ++i) {
    uint32_t v = static_cast<uint32_t>(rng());
    probe.push_back(v);
    probe.push_back(v | 0xfffdfff7);  // the fixed bits all set
  }
  for (uint32_t v : probe) EXPECT_EQ(Covered(blocks, v), !is_allowed(v)) << std::hex << v;
}

TEST(SeccompProfile, CompilesForEveryMode) {
  for (NetMode m : {NetMode::kNamespace, NetMode::kPlatform, NetMode::kNone, NetMode::kHost}) {
    for (bool notify : {false, true}) {
      ProfileOptions o;
      o.mode = m;
      o.notify_connect = notify;
      o.notify_denials = notify;
      auto prog = Compile(DefaultProfile(o));
      ASSERT_TRUE(prog.ok()) << ToString(m) << ": " << prog.status().reason();
      EXPECT_GT(prog->size(), 50u);
      EXPECT_LT(prog->size(), 4096u);
    }
  }
}

TEST(SeccompProfile, SocketRulesDependOnMode) {
  auto rules_of = [](NetMode m) {
    ProfileOptions o;
    o.mode = m;
    return Describe(DefaultProfile(o))["socket_rules"]["rules"].dump();
  };
  const std::string platform = rules_of(NetMode::kPlatform), host = rules_of(NetMode::kHost),
                    ns = rules_of(NetMode::kNamespace);
  EXPECT_NE(platform.find("other than SOCK_STREAM"), std::string::npos);
  EXPECT_NE(platform.find("MSG_FASTOPEN"), std::string::npos);
  EXPECT_EQ(host.find("other than SOCK_STREAM"), std::string::npos);
  EXPECT_EQ(ns.find("MPTCP"), std::string::npos);
  for (const auto& s : {platform, host, ns}) {
    EXPECT_NE(s.find("AF_PACKET"), std::string::npos);
    EXPECT_NE(s.find("NETLINK_ROUTE"), std::string::npos);
  }
}

TEST(SeccompProfile, SysvIpcDeniedOnlyWithoutIpcNamespace) {
  auto sysv = [](NetMode m, bool allow) {
    ProfileOptions o;
    o.mode = m;
    o.sysv_ipc = allow;
    Profile p = DefaultProfile(o);
    return std::count_if(p.rules.begin(), p.rules.end(),
                         [](const Rule& r) { return r.syscall == "shmget"; });
  };
  EXPECT_EQ(sysv(NetMode::kPlatform, false), 1);
  EXPECT_EQ(sysv(NetMode::kNone, false), 1);
  EXPECT_EQ(sysv(NetMode::kPlatform, true), 0);
  EXPECT_EQ(sysv(NetMode::kHost, false), 1);
  EXPECT_EQ(sysv(NetMode::kNamespace, false), 0);
}

TEST(SeccompProfile, DenialErrno) {
  Profile p = DefaultProfile({});
  EXPECT_EQ(DenialErrno(p, SYS_ptrace), EPERM);
  EXPECT_EQ(DenialErrno(p, SYS_clone3), ENOSYS);
  EXPECT_EQ(DenialErrno(p, SYS_socket), EPERM);
  EXPECT_EQ(DenialErrno(p, SYS_getpid), 0);
}

// A classic-BPF interpreter over seccomp_data, enough for what libseccomp
// emits: the socket verdicts of the compiled program are compared with
// the rules written out plainly, for every mode.
struct FakeCall {
  int nr;
  uint64_t args[6];
};

uint32_t RunBpf(const std::vector<sock_filter>& prog, const FakeCall& call) {
  struct seccomp_data d = {};
  d.nr = call.nr;
  d.arch = AUDIT_ARCH_X86_64;
  for (int i = 0; i < 6; ++i) d.args[i] = call.args[i];
  const auto* bytes = reinterpret_cast<const unsigned char*>(&d);
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    const uint32_t src = BPF_SRC(f.code) == BPF_X ? x : f.k;
    switch (BPF_CLASS(f.code)) {
      case BPF_LD:
        if (BPF_MODE(f.code) == BPF_ABS) {
          EXPECT_LE(f.k + 4, sizeof d);
          memcpy(&a, bytes + f.k, 4);
        } else if (BPF_MODE(f.code) == BPF_IMM) {
          a = f.k;
        } else if (BPF_MODE(f.code) == BPF_MEM) {
          a = mem[f.k];
        } else {
          ADD_FAILURE() << "unsupported load " << f.code;
          return 0;
        }
        break;
      case BPF_LDX:
        x = BPF_MODE(f.code) == BPF_MEM ? mem[f.k] : f.k;
        break;
      case BPF_ST:
        mem[f.k] = a;
        break;
      case BPF_STX:
        mem[f.k] = x;
        break;
      case BPF_ALU:
        switch (BPF_OP(f.code)) {
          case BPF_AND:
            a &= src;
            break;
          case BPF_OR:
            a |= src;
            break;
          case BPF_ADD:
            a += src;
            break;
          case BPF_SUB:
            a -= src;
            break;
          case BPF_RSH:
            a >>= src;
            break;
          case BPF_LSH:
            a <<= src;
            break;
          default:
            ADD_FAILURE() << "unsupported alu " << f.code;
            return 0;
        }
        break;
      case BPF_JMP: {
        if (BPF_OP(f.code) == BPF_JA) {
          pc += f.k;
          break;
        }
        bool t = false;
        switch (BPF_OP(f.code)) {
          case BPF_JEQ:
            t = a == src;
            break;
          case BPF_JGT:
            t = a > src;
            break;
          case BPF_JGE:
            t = a >= src;
            break;
          case BPF_JSET:
            t = (a & src) != 0;
            break;
          default:
            ADD_FAILURE() << "unsupported jump " << f.code;
            return 0;
        }
        pc += t ? f.jt : f.jf;
        break;
      }
      case BPF_RET:
        return BPF_RVAL(f.code) == BPF_A ? a : f.k;
      case BPF_MISC:
        if (BPF_MISCOP(f.code) == BPF_TAX)
          x = a;
        else
          a = x;
        break;
    }
  }
  ADD_FAILURE() << "program ran off its end";
  return 0;
}

// The socket rules of profile.cc, written out: denied or not.
bool SocketDeniedByTheRules(const ProfileOptions& o, bool pair, uint64_t fam, uint64_t type,
                            uint64_t proto) {
  const uint32_t f32 = static_cast<uint32_t>(fam);
  const uint64_t t = type & 0xf;
  const bool inet = f32 == AF_INET || f32 == AF_INET6;
  const bool restricted = o.mode == NetMode::kPlatform || o.mode == NetMode::kNone;
  if (pair) {
    if (fam != AF_UNIX) return true;
  } else {
    for (int denied : {AF_PACKET, AF_VSOCK, AF_ALG, AF_KEY, AF_BLUETOOTH})
      if (f32 == static_cast<uint32_t>(denied)) return true;
    if (t == SOCK_PACKET) return true;
    if (t == SOCK_RAW && fam != AF_NETLINK) return true;
    if (f32 == AF_NETLINK && proto > NETLINK_ROUTE) return true;
  }
  if (o.mode != NetMode::kHost && !o.unix_dgram && f32 == AF_UNIX && t == SOCK_DGRAM) return true;
  // AF_UNIX SOCK_RAW is a SOCK_DGRAM to the kernel (socket() refuses it above).
  if (pair && o.mode != NetMode::kHost && !o.unix_dgram && t == SOCK_RAW) return true;
  if (!pair && !o.inet_sockets && inet) return true;
  if (pair || !restricted) return false;
  if (fam != AF_UNIX && fam != AF_INET && fam != AF_INET6 && fam != AF_NETLINK) return true;
  if (inet && t != SOCK_STREAM) return true;
  if (inet && proto != 0 && proto != IPPROTO_TCP) return true;
  return false;
}

TEST(SeccompProfile, SocketVerdictsMatchTheRulesInEveryMode) {
  const uint64_t kHigh = uint64_t{1} << 32;
  std::vector<uint64_t> fams, types,
      protos = {0, 1, IPPROTO_TCP, IPPROTO_UDP, 132, 262, 255, kHigh, kHigh + IPPROTO_TCP};
  for (uint64_t f = 0; f <= 48; ++f) fams.push_back(f);
  for (uint64_t f : {uint64_t{AF_INET}, uint64_t{AF_UNIX}, uint64_t{AF_NETLINK}})
    fams.push_back(kHigh + f);
  fams.push_back(0xffffffff);
  for (uint64_t ty = 0; ty <= 15; ++ty)
    for (uint64_t flags : {uint64_t{0}, uint64_t{SOCK_NONBLOCK | SOCK_CLOEXEC}, kHigh})
      types.push_back(ty | flags);
  for (NetMode m : {NetMode::kNamespace, NetMode::kPlatform, NetMode::kNone, NetMode::kHost}) {
    for (int variant = 0; variant < 4; ++variant) {
      const bool dgram = variant & 1, inet = !(variant & 2);
      if (!inet && m != NetMode::kNone) continue;  // only mode none drops them
      ProfileOptions o;
      o.mode = m;
      o.unix_dgram = dgram;
      o.inet_sockets = inet;
      auto prog = Compile(DefaultProfile(o));
      ASSERT_TRUE(prog.ok()) << prog.status().reason();
      int mismatches = 0;
      for (bool pair : {false, true})
        for (uint64_t f : fams)
          for (uint64_t ty : types)
            for (uint64_t pr : protos) {
              FakeCall c{pair ? SYS_socketpair : SYS_socket, {f, ty, pr, 0, 0, 0}};
              uint32_t ret = RunBpf(*prog, c);
              bool denied = ret == (SECCOMP_RET_ERRNO | EPERM);
              EXPECT_TRUE(denied || ret == SECCOMP_RET_ALLOW) << std::hex << ret;
              bool want = SocketDeniedByTheRules(o, pair, f, ty, pr);
              if (denied != want && ++mismatches <= 5)
                ADD_FAILURE() << ToString(m) << (pair ? " socketpair(" : " socket(") << std::hex
                              << f << ", " << ty << ", " << pr << "): program "
                              << (denied ? "denies" : "allows");
            }
      EXPECT_EQ(mismatches, 0) << ToString(m);
    }
  }
}

TEST(SeccompProfile, TerminalIoctlVerdictsOfTheProgram) {
  // Console (KD*) and VT (VT_*) requests are refused in every mode, with or
  // without a terminal of the command's own, as are TIOCSTI and TIOCLINUX;
  // tcsetpgrp (TIOCSPGRP) is refused without a PID namespace unless the
  // terminal is the command's own. Other terminal requests, and V4L2's 'V'
  // requests (a size in the number), are allowed.
  const uint64_t kHigh = uint64_t{1} << 32;
  const uint32_t kTiocspgrp = 0x5410, kTiocsti = 0x5412, kTioclinux = 0x541c;
  std::vector<uint32_t> console;
  for (uint32_t nr = 0; nr <= 0xff; ++nr) {
    console.push_back(0x4b00 | nr);
    console.push_back(0x5600 | nr);
  }
  const std::vector<uint32_t> allowed = {0x5401 /* TCGETS */,
                                         0x5402 /* TCSETS */,
                                         0x5413 /* TIOCGWINSZ */,
                                         0x540f /* TIOCGPGRP */,
                                         0xc0585609 /* VIDIOC_QUERYBUF */,
                                         0x4b /* below */};
  for (NetMode m : {NetMode::kNamespace, NetMode::kPlatform, NetMode::kNone, NetMode::kHost}) {
    for (bool pty : {false, true}) {
      ProfileOptions o;
      o.mode = m;
      o.private_terminal = pty;
      auto prog = Compile(DefaultProfile(o));
      ASSERT_TRUE(prog.ok()) << prog.status().reason();
      auto verdict = [&](uint64_t req) {
        return RunBpf(*prog, FakeCall{SYS_ioctl, {0, req, 0, 0, 0, 0}});
      };
      const uint32_t eperm = SECCOMP_RET_ERRNO | EPERM;
      for (uint32_t req : console) {
        EXPECT_EQ(verdict(req), eperm) << ToString(m) << std::hex << " " << req;
        EXPECT_EQ(verdict(kHigh | req), eperm) << ToString(m) << std::hex << " " << req;
      }
      for (uint32_t req : {kTiocsti, kTioclinux}) EXPECT_EQ(verdict(req), eperm) << req;
      for (uint32_t req : allowed)
        EXPECT_EQ(verdict(req), SECCOMP_RET_ALLOW) << ToString(m) << std::hex << " " << req;
      const bool pgrp_refused = m != NetMode::kNamespace && !pty;
      EXPECT_EQ(verdict(kTiocspgrp), pgrp_refused ? eperm : SECCOMP_RET_ALLOW)
          << ToString(m) << " private terminal " << pty;
    }
  }
}

TEST(SeccompProfile, PersonalityVerdictsOfTheProgram) {
  auto prog = Compile(DefaultProfile({}));
  ASSERT_TRUE(prog.ok()) << prog.status().reason();
  const std::vector<uint32_t> allowed = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};
  std::vector<uint64_t> probe = {0x40000, 0x400000, 0x0100000, 0x20009, 0xfffffffe, 0x7fffffff};
  for (uint32_t v : allowed) {
    probe.push_back(v);
    probe.push_back((uint64_t{0xdead} << 32) | v);  // personality() takes an unsigned int
  }
  for (int b = 0; b < 32; ++b) probe.push_back(~(uint32_t{1} << b));
  for (uint64_t v : probe) {
    uint32_t ret = RunBpf(*prog, FakeCall{SYS_personality, {v, 0, 0, 0, 0, 0}});
    bool want_allowed =
        std::find(allowed.begin(), allowed.end(), static_cast<uint32_t>(v)) != allowed.end();
    EXPECT_EQ(ret, want_allowed ? SECCOMP_RET_ALLOW : (SECCOMP_RET_ERRNO | EPERM)) << std::hex << v;
  }
}

// run --audit: refusals go to the supervisor, clone3's ENOSYS redirect does not.
TEST(SeccompProfile, NotifiedDenialsForAudit) {
  ProfileOptions o;
  o.notify_denials = true;
  Profile p = DefaultProfile(o);
  auto d = NotifiedDenials(p);
  auto errno_of = [&](int nr) {
    for (auto [n, e] : d)
      if (n == nr) return e;
    return 0;
  };
  EXPECT_EQ(errno_of(SYS_ptrace), EPERM);
  EXPECT_EQ(errno_of(SYS_socket), EPERM);
  EXPECT_EQ(errno_of(SYS_clone3), 0);
  EXPECT_EQ(errno_of(SYS_getpid), 0);
  for (size_t i = 0; i < d.size(); ++i)
    for (size_t j = i + 1; j < d.size(); ++j) EXPECT_NE(d[i].first, d[j].first);
  EXPECT_TRUE(NotifiedDenials(DefaultProfile({})).empty());
  // The program agrees: refusals are notified, clone3 keeps the kernel's ENOSYS.
  auto prog = Compile(p);
  ASSERT_TRUE(prog.ok()) << prog.status().reason();
  EXPECT_EQ(RunBpf(*prog, FakeCall{SYS_ptrace, {}}), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(RunBpf(*prog, FakeCall{SYS_clone3, {}}), SECCOMP_RET_ERRNO | ENOSYS);
  EXPECT_EQ(RunBpf(*prog, FakeCall{SYS_getpid, {}}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(RunBpf(*prog, FakeCall{SYS_socket, {AF_PACKET, SOCK_RAW, 0, 0, 0, 0}}),
            SECCOMP_RET_USER_NOTIF);
}

// With a listener of ours in the chain, the command may not add a filter
// with a listener of its own (it could answer our notified calls itself).
TEST(SeccompProfile, NoSecondListenerWhenOursIsThere) {
  for (bool notify : {false, true}) {
    ProfileOptions o;
    o.notify_connect = notify;
    auto prog = Compile(DefaultProfile(o));
    ASSERT_TRUE(prog.ok()) << prog.status().reason();
    const uint64_t set_filter = SECCOMP_SET_MODE_FILTER;
    EXPECT_EQ(RunBpf(*prog, FakeCall{SYS_seccomp,
                                     {set_filter, SECCOMP_FILTER_FLAG_NEW_LISTENER, 0, 0, 0, 0}}),
              notify ? (SECCOMP_RET_ERRNO | EPERM) : SECCOMP_RET_ALLOW);
    EXPECT_EQ(
        RunBpf(*prog, FakeCall{SYS_seccomp, {set_filter, SECCOMP_FILTER_FLAG_TSYNC, 0, 0, 0, 0}}),
        SECCOMP_RET_ALLOW);
  }
}

TEST(SeccompProfile, AutobindAndDatagramCallsNotifiedWhereAbstractNamesAreTheHosts) {
  constexpr uint64_t kSolSocket = SOL_SOCKET, kPassCred = SO_PASSCRED, kPassPidfd = 76;
  for (NetMode mode : {NetMode::kPlatform, NetMode::kNamespace}) {
    for (bool dgram : {false, true}) {
      ProfileOptions o;
      o.mode = mode;
      o.notify_connect = true;
      o.unix_dgram = dgram;
      auto prog = Compile(DefaultProfile(o));
      ASSERT_TRUE(prog.ok()) << prog.status().reason();
      const bool platform = mode == NetMode::kPlatform;
      const uint32_t notify = SECCOMP_RET_USER_NOTIF;
      // The options with which the kernel autobinds an unbound unix socket.
      for (uint64_t opt : {kPassCred, kPassPidfd})
        EXPECT_EQ(RunBpf(*prog, FakeCall{SYS_setsockopt, {3, kSolSocket, opt, 0x1000, 4, 0}}),
                  platform ? notify : SECCOMP_RET_ALLOW);
      EXPECT_EQ(
          RunBpf(*prog, FakeCall{SYS_setsockopt, {3, kSolSocket, SO_REUSEADDR, 0x1000, 4, 0}}),
          SECCOMP_RET_ALLOW);
      EXPECT_EQ(RunBpf(*prog, FakeCall{SYS_setsockopt, {3, IPPROTO_TCP, kPassCred, 0x1000, 4, 0}}),
                SECCOMP_RET_ALLOW);
      // A datagram's destination: sendto() with an address only.
      EXPECT_EQ(RunBpf(*prog, FakeCall{SYS_sendto, {3, 0x1000, 1, 0, 0x2000, 110}}),
                platform && dgram ? notify : SECCOMP_RET_ALLOW);
      EXPECT_EQ(RunBpf(*prog, FakeCall{SYS_sendto, {3, 0x1000, 1, 0, 0, 0}}), SECCOMP_RET_ALLOW);
      EXPECT_EQ(RunBpf(*prog, FakeCall{SYS_sendto, {3, 0x1000, 1, MSG_FASTOPEN, 0x2000, 16}}),
                SECCOMP_RET_ERRNO | EPERM);
      // Never sendmsg(): the command hands its listener over with it.
      EXPECT_EQ(RunBpf(*prog, FakeCall{SYS_sendmsg, {3, 0x1000, 0, 0, 0, 0}}), SECCOMP_RET_ALLOW);
      EXPECT_EQ(RunBpf(*prog, FakeCall{SYS_sendmmsg, {3, 0x1000, 1, 0, 0, 0}}), SECCOMP_RET_ALLOW);
    }
  }
}

// Runs `body` in a forked child after installing `step` (no_new_privs set
// first, as the spawn sequence does). Returns the child's exit code, or
// 1000 + signal.
template <typename F>
int InChild(const FilterStep& step, F body, pid_t* out_pid = nullptr, bool wait = true) {
  pid_t pid = fork();
  if (pid == 0) {
    alarm(10);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(90);
    if (int err = step.Apply()) _exit(100 + (err & 0x7f));
    _exit(body());
  }
  if (out_pid) *out_pid = pid;
  if (!wait) return 0;
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

int Errno(long r) { return r < 0 ? errno : 0; }

TEST(SeccompFilter, InstalledProgramRefusesAndAllows) {
  ProfileOptions o;
  o.mode = NetMode::kPlatform;
  auto prog = Compile(DefaultProfile(o));
  ASSERT_TRUE(prog.ok()) << prog.status().reason();
  FilterStep step(std::move(prog).value(), UniqueFd());
  int code = InChild(step, [] {
    if (Errno(syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0)) != EPERM) return 1;
    if (Errno(syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0)) != EPERM) return 2;
    if (Errno(syscall(SYS_socket, AF_INET, SOCK_STREAM, 262)) != EPERM) return 3;
    if (Errno(syscall(0x40000000L | SYS_getpid)) != EPERM) return 4;  // x32
    if (Errno(syscall(SYS_clone3, nullptr, 0)) != ENOSYS) return 5;
    if (Errno(syscall(SYS_unshare, CLONE_NEWUSER)) != EPERM) return 6;
    if (Errno(syscall(SYS_ioctl, 0, 0xffffffff00000000UL | 0x5412, nullptr)) != EPERM) return 7;
    long fd = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 8;
    close(static_cast<int>(fd));
    if (syscall(SYS_getpid) <= 0) return 9;
    return 0;
  });
  EXPECT_EQ(code, 0);
}

TEST(SeccompNotify, SupervisorReceivesAWorkingListener) {
  ProfileOptions o;
  o.mode = NetMode::kPlatform;
  o.notify_connect = true;
  Profile profile = DefaultProfile(o);
  auto prog = Compile(profile);
  ASSERT_TRUE(prog.ok()) << prog.status().reason();
  auto ch = MakeListenerChannel();
  ASSERT_TRUE(ch.ok()) << ch.status().reason();
  FilterStep step(std::move(prog).value(), std::move(ch->child));
  pid_t child = -1;
  InChild(
      step,
      [] {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) return 1;
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(9);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        // The supervisor answers EHOSTUNREACH, which a loopback connect
        // never returns on its own.
        if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return 2;
        return errno == EHOSTUNREACH ? 0 : 3;
      },
      &child, false);
  ASSERT_GT(child, 0);
  auto listener = ReceiveListener(ch->supervisor.get(), 5000);
  ASSERT_TRUE(listener.ok()) << listener.status().reason();
  pollfd pfd = {listener->get(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 5000), 1) << "no notification";
  auto n = ReceiveNotification(listener->get());
  ASSERT_TRUE(n.ok()) << n.status().reason();
  EXPECT_EQ(n->nr, SYS_connect);
  EXPECT_EQ(n->syscall, "connect");
  EXPECT_EQ(n->pid, child);
  ASSERT_TRUE(RespondError(listener->get(), n->id, EHOSTUNREACH).ok());
  int st = 0;
  waitpid(child, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(SeccompNotify, DeniedCallsCanBeAuditedThroughTheListener) {
  ProfileOptions o;
  o.mode = NetMode::kPlatform;
  o.notify_denials = true;
  Profile profile = DefaultProfile(o);
  auto prog = Compile(profile);
  ASSERT_TRUE(prog.ok()) << prog.status().reason();
  auto ch = MakeListenerChannel();
  ASSERT_TRUE(ch.ok());
  FilterStep step(std::move(prog).value(), std::move(ch->child));
  pid_t child = -1;
  InChild(
      step, [] { return Errno(syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0)) == EPERM ? 0 : 1; },
      &child, false);
  auto listener = ReceiveListener(ch->supervisor.get(), 5000);
  ASSERT_TRUE(listener.ok()) << listener.status().reason();
  pollfd pfd = {listener->get(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 5000), 1);
  auto n = ReceiveNotification(listener->get());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->syscall, "socket");
  EXPECT_EQ(n->args[0], static_cast<uint64_t>(AF_PACKET));
  int err = DenialErrno(profile, n->nr);
  EXPECT_EQ(err, EPERM);
  AuditEvent ev = DenialEvent(*n, err);
  EXPECT_EQ(ev.layer, "seccomp");
  EXPECT_EQ(ev.action, "deny");
  EXPECT_EQ(ev.extra["pid"], child);
  ASSERT_TRUE(RespondError(listener->get(), n->id, err).ok());
  int st = 0;
  waitpid(child, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(SeccompNotify, ClosedChannelIsReported) {
  auto ch = MakeListenerChannel();
  ASSERT_TRUE(ch.ok());
  ch->child.reset();
  auto r = ReceiveListener(ch->supervisor.get(), 1000);
  EXPECT_FALSE(r.ok());
  auto ch2 = MakeListenerChannel();
  ASSERT_TRUE(ch2.ok());
  auto t = ReceiveListener(ch2->supervisor.get(), 50);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().reason().find("within"), std::string::npos);
}

}  // namespace
}  // namespace rf::seccomp

#include <set>

#include "seccomp/precompiled.h"

namespace rf::seccomp {
namespace {

// The build-time table must be exactly what the profile compiles to now.
TEST(SeccompPrecompiled, EveryCombinationMatchesARuntimeCompile) {
  auto all = AllProfileOptions();
  // 4 modes x sysv x notify_connect x notify_denials x unix_dgram, and mode
  // none once more without inet sockets (80); every mode but namespace once
  // more with a private terminal (64).
  ASSERT_EQ(all.size(), 144u);
  std::set<uint32_t> keys;
  for (const auto& o : all) {
    EXPECT_TRUE(keys.insert(ProfileKey(o)).second) << "two combinations share a key";
    ProgramView v = PrecompiledProgram(o);
    ASSERT_GT(v.len, 0u) << "no precompiled program for mode " << ToString(o.mode);
    auto fresh = Compile(DefaultProfile(o));
    ASSERT_TRUE(fresh.ok()) << fresh.status().reason();
    ASSERT_EQ(fresh->size(), v.len) << ToString(o.mode);
    EXPECT_EQ(memcmp(fresh->data(), v.insns, v.len * sizeof(sock_filter)), 0) << ToString(o.mode);
  }
  EXPECT_EQ(PrecompiledTable().size(), all.size());
}

// The key covers every field: options that differ in one field alone get
// different keys (a field the key skipped would share another's program).
TEST(SeccompPrecompiled, KeyCoversEveryField) {
  ProfileOptions base;
  base.mode = NetMode::kPlatform;
  auto differ = [&](auto change) {
    ProfileOptions o = base;
    change(o);
    return ProfileKey(o) != ProfileKey(base);
  };
  EXPECT_TRUE(differ([](ProfileOptions& o) { o.mode = NetMode::kNamespace; }));
  EXPECT_TRUE(differ([](ProfileOptions& o) { o.sysv_ipc = !o.sysv_ipc; }));
  EXPECT_TRUE(differ([](ProfileOptions& o) { o.notify_connect = !o.notify_connect; }));
  EXPECT_TRUE(differ([](ProfileOptions& o) { o.notify_denials = !o.notify_denials; }));
  EXPECT_TRUE(differ([](ProfileOptions& o) { o.unix_dgram = !o.unix_dgram; }));
  EXPECT_TRUE(differ([](ProfileOptions& o) { o.inet_sockets = !o.inet_sockets; }));
  EXPECT_TRUE(differ([](ProfileOptions& o) { o.private_terminal = !o.private_terminal; }));
}

}  // namespace
}  // namespace rf::seccomp
