#include "audit/kernel_audit.h"

#include <linux/audit.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace rf {

namespace {

bool ParseDecimal(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

}  // namespace

const KernelRecord::Field* KernelRecord::Find(std::string_view key) const {
  for (const auto& f : fields)
    if (f.key == key) return &f;
  return nullptr;
}

std::string KernelRecord::Text(std::string_view key) const {
  const Field* f = Find(key);
  return f ? f->value : std::string();
}

std::string KernelRecord::Untrusted(std::string_view key) const {
  const Field* f = Find(key);
  if (!f) return "";
  if (f->quoted) return f->value;
  auto decoded = DecodeAuditHex(f->value);
  return decoded ? *decoded : f->value;
}

std::optional<std::string> DecodeAuditHex(std::string_view hex) {
  if (hex.empty() || hex.size() % 2 != 0) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

Result<KernelRecord> ParseKernelRecord(int type, std::string_view text) {
  if (text.size() > kMaxRecordText) return Status::Error("audit record longer than the limit");
  // The kernel may end the payload with NULs.
  while (!text.empty() && (text.back() == '\0' || text.back() == '\n')) text.remove_suffix(1);
  KernelRecord r;
  r.type = type;
  constexpr std::string_view kStart = "audit(";
  if (text.substr(0, kStart.size()) != kStart) return Status::Error("no audit( stamp");
  size_t colon = text.find(':', kStart.size());
  size_t close = text.find("): ", kStart.size());
  if (colon == std::string_view::npos || close == std::string_view::npos || colon > close)
    return Status::Error("malformed audit( stamp");
  std::string_view serial = text.substr(colon + 1, close - colon - 1);
  if (!ParseDecimal(serial, r.serial)) return Status::Error("malformed audit serial");
  size_t i = close + 3;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i >= text.size()) break;
    size_t eq = i;
    while (eq < text.size() && text[eq] != '=' && text[eq] != ' ') ++eq;
    if (eq >= text.size() || text[eq] != '=' || eq == i) {
      // A word without a value, or a value without a name: not a field.
      while (eq < text.size() && text[eq] != ' ') ++eq;
      i = eq;
      continue;
    }
    KernelRecord::Field f;
    f.key = std::string(text.substr(i, eq - i));
    size_t v = eq + 1;
    if (v < text.size() && text[v] == '"') {
      // Quoted values never hold a quote: the kernel writes those in hex.
      size_t end = text.find('"', v + 1);
      if (end == std::string_view::npos) return Status::Error("unterminated quoted value");
      f.value = std::string(text.substr(v + 1, end - v - 1));
      f.quoted = true;
      i = end + 1;
    } else {
      size_t end = text.find(' ', v);
      if (end == std::string_view::npos) end = text.size();
      f.value = std::string(text.substr(v, end - v));
      i = end;
    }
    if (r.fields.size() >= kMaxRecordFields) return Status::Error("too many fields");
    r.fields.push_back(std::move(f));
  }
  return r;
}

namespace {

std::string JoinAccess(const std::vector<std::string>& a) {
  std::string s;
  for (const auto& x : a) s += (s.empty() ? "" : ",") + x;
  return s;
}

}  // namespace

AuditEvent LandlockDenials::EventFor(const FileDenial& d) {
  const std::string access = JoinAccess(d.access);
  nlohmann::json extra = {{"path", d.path},
                          {"access", d.access},
                          {"dev", d.dev},
                          {"ino", d.ino},
                          {"domain", d.domain},
                          {"source", "kernel audit"},
                          {"hint", "ringfence why " + d.path}};
  if (d.pid > 0) extra["pid"] = d.pid;
  if (!d.exe.empty()) extra["exe"] = d.exe;
  if (!d.comm.empty()) extra["comm"] = d.comm;
  if (d.syscall >= 0) extra["syscall"] = d.syscall;
  // Creating, removing or renaming is refused on the directory: the path
  // is the directory's.
  const bool in_dir = access.rfind("make_", 0) == 0 || access.rfind("remove_", 0) == 0 ||
                      access.rfind("refer", 0) == 0;
  return {"landlock", "deny", d.path,
          access + (in_dir ? " in this directory" : "") +
              " refused by Landlock: not granted by the policy",
          extra};
}

void LandlockDenials::Feed(int type, std::string_view text, AuditSink& sink) {
  if (type != kAuditSyscall && type != kAuditEoe && type != kAuditLandlockAccess &&
      type != kAuditLandlockDomain)
    return;
  auto rec = ParseKernelRecord(type, text);
  if (!rec.ok()) {
    ++totals_.malformed;
    return;
  }
  KernelRecord r = std::move(rec).value();
  if (type == kAuditLandlockDomain && r.Text("status") == "deallocated") {
    // Written from a kernel worker once the domain's last user is gone:
    // its own event, with the kernel's count of the domain's refusals.
    const std::string id = r.Text("domain");
    if (ours_.count(id) && !released_.count(id)) {
      released_.insert(id);
      ++totals_.released;
      uint64_t n = 0;
      if (ParseDecimal(r.Text("denials"), n) && n < (1ull << 48)) totals_.kernel += n;
    }
    return;
  }
  if (type == kAuditLandlockDomain && r.Text("status") == "allocated") {
    uint64_t pid = 0;
    // The domain's creator: the command's process restricts itself right
    // before its exec. Another sandbox's domain names another pid. Noted on
    // arrival: the records of the refusal that came with it may be in
    // another group (no syscall context) and end later.
    if (sandbox_pid_ > 0 && ParseDecimal(r.Text("pid"), pid) &&
        pid == static_cast<uint64_t>(sandbox_pid_) && ours_.size() < kMaxDomains &&
        ours_.insert(r.Text("domain")).second)
      ++totals_.domains;
    return;
  }
  if (type == kAuditEoe) {
    Finish(r.serial, sink);
    return;
  }
  // Records of a system call without the kernel's syscall context have no
  // end-of-event record: a group is ended too once much newer ones arrive,
  // or when too many are open.
  while (!pending_.empty() &&
         (pending_.size() >= kMaxPending || pending_.begin()->first + kMaxPending < r.serial))
    Finish(pending_.begin()->first, sink);
  if (type == kAuditSyscall) {
    // Only kept for a group that holds a Landlock record.
    auto it = pending_.find(r.serial);
    if (it == pending_.end() || it->second.records.size() >= kMaxGroupRecords) return;
    it->second.records.push_back(std::move(r));
    return;
  }
  // One system call refuses one or two paths (rename, link): more in one
  // group is not the kernel's doing, and is dropped.
  Pending& group = pending_[r.serial];
  if (group.records.size() < kMaxGroupRecords) group.records.push_back(std::move(r));
}

void LandlockDenials::Flush(AuditSink& sink) {
  while (!pending_.empty()) Finish(pending_.begin()->first, sink);
}

void LandlockDenials::Finish(uint64_t serial, AuditSink& sink) {
  auto it = pending_.find(serial);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  const KernelRecord* syscall = nullptr;
  for (const auto& r : p.records)
    if (r.type == kAuditSyscall) syscall = &r;
  for (const auto& r : p.records) {
    if (r.type != kAuditLandlockAccess || !ours_.count(r.Text("domain"))) continue;
    FileDenial d;
    d.domain = r.Text("domain");
    std::string blockers = r.Text("blockers");
    for (size_t start = 0; start <= blockers.size();) {
      size_t comma = blockers.find(',', start);
      if (comma == std::string::npos) comma = blockers.size();
      std::string b = blockers.substr(start, comma - start);
      if (b.rfind("fs.", 0) == 0 && d.access.size() < 16) d.access.push_back(b.substr(3));
      start = comma + 1;
    }
    // Network and scope refusals are reported by the guards that see them.
    if (d.access.empty()) continue;
    d.path = r.Untrusted("path");
    d.dev = r.Untrusted("dev");
    ParseDecimal(r.Text("ino"), d.ino);
    if (syscall) {
      uint64_t n = 0;
      if (ParseDecimal(syscall->Text("pid"), n) && n < (1u << 30)) d.pid = static_cast<pid_t>(n);
      if (ParseDecimal(syscall->Text("syscall"), n) && n < 4096) d.syscall = static_cast<int>(n);
      d.exe = syscall->Untrusted("exe");
      d.comm = syscall->Untrusted("comm");
    }
    Report(d, sink);
  }
}

void LandlockDenials::Report(const FileDenial& d, AuditSink& sink) {
  ++totals_.denials;
  const std::string access = JoinAccess(d.access);
  if (totals_.example.empty()) totals_.example = d.path + ": " + access;
  std::string key = d.exe;
  key += '\0';
  key += access;
  key += '\0';
  key += d.path;
  auto it = seen_.find(key);
  if (it != seen_.end()) {
    ++it->second.count;
    return;
  }
  // Past the cap only counted: a sandbox opening a million different
  // names must not grow the supervisor or the log with them.
  if (seen_.size() >= kMaxDistinct) return;
  seen_[key] = {1, d.path, access, d.exe};
  ++totals_.written;
  sink.Emit(EventFor(d));
}

void LandlockDenials::EmitSummary(AuditSink& sink, uint64_t records_lost,
                                  uint64_t overflows) const {
  if (totals_.denials == 0 && records_lost == 0 && overflows == 0 && totals_.kernel == 0) return;
  // The most repeated first.
  std::vector<const Seen*> repeated;
  for (const auto& [k, s] : seen_)
    if (s.count > 1) repeated.push_back(&s);
  std::sort(repeated.begin(), repeated.end(),
            [](const Seen* a, const Seen* b) { return a->count > b->count; });
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < repeated.size() && i < kMaxRepeatsListed; ++i)
    list.push_back({{"path", repeated[i]->path},
                    {"access", repeated[i]->access},
                    {"exe", repeated[i]->exe},
                    {"count", repeated[i]->count}});
  const uint64_t suppressed = totals_.denials - totals_.written;
  nlohmann::json extra = {{"denials", totals_.denials},
                          {"written", totals_.written},
                          {"suppressed", suppressed},
                          {"repeated", list}};
  if (totals_.kernel > 0) extra["kernel_count"] = totals_.kernel;
  if (records_lost > 0) extra["records_lost"] = records_lost;
  // Each time the socket's buffer was full: an unknown number missing.
  if (overflows > 0) extra["socket_overflows"] = overflows;
  std::string reason = std::to_string(totals_.denials) + " file access(es) refused by Landlock; " +
                       std::to_string(totals_.written) + " written, " + std::to_string(suppressed) +
                       " repeated or past the cap (counted only)";
  if (totals_.kernel > totals_.denials)
    reason += "; the kernel counted " + std::to_string(totals_.kernel) +
              " (records it dropped are missing here)";
  sink.Emit({"landlock", "file_denials", "file denials", reason, extra});
}

std::string FileDenialReporting::Describe() const {
  if (!available) return "not reported (" + reason + ")";
  return reason.empty() ? "reported (kernel audit records)"
                        : "reported (kernel audit records; " + reason + ")";
}

namespace {

struct AuditState {
  bool known = false;  // AUDIT_GET answered
  uint32_t enabled = 0;
  uint32_t lost = 0;
  uint32_t backlog = 0;  // records queued in the kernel, not yet passed on
};

// Sends one request on a unicast audit socket and waits (bounded) for the
// reply of `want` type or the acknowledgement.
Status Request(int fd, uint16_t type, uint16_t flags, const void* body, size_t len,
               audit_status* reply) {
  struct {
    nlmsghdr h;
    audit_status s;
  } msg{};
  msg.h.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(len));
  msg.h.nlmsg_type = type;
  msg.h.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  msg.h.nlmsg_seq = 1;
  if (len) memcpy(&msg.s, body, std::min(len, sizeof msg.s));
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, &msg, msg.h.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return Status::Errno("audit request");
  for (int tries = 0; tries < 4; ++tries) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) return Status::Error("the kernel did not answer the audit request");
    alignas(nlmsghdr) char buf[8192];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < static_cast<ssize_t>(sizeof(nlmsghdr))) continue;
    auto* h = reinterpret_cast<nlmsghdr*>(buf);
    if (h->nlmsg_type == NLMSG_ERROR && static_cast<size_t>(n) >= NLMSG_LENGTH(sizeof(nlmsgerr))) {
      int err = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
      if (err != 0) return Status::Errno("audit request", -err);
      if (!reply) return Status::Ok();
      continue;
    }
    if (reply && h->nlmsg_type == type) {
      memset(reply, 0, sizeof *reply);
      size_t have = static_cast<size_t>(n) - NLMSG_HDRLEN;
      memcpy(reply, NLMSG_DATA(h), std::min(have, sizeof *reply));
      return Status::Ok();
    }
  }
  return Status::Error("no answer to the audit request");
}

UniqueFd UnicastSocket() {
  UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT));
  if (!fd.valid()) return fd;
  sockaddr_nl me{};
  me.nl_family = AF_NETLINK;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&me), sizeof me) != 0) fd.reset();
  return fd;
}

AuditState GetState() {
  AuditState st;
  UniqueFd fd = UnicastSocket();
  audit_status s{};
  if (fd.valid() && Request(fd.get(), AUDIT_GET, 0, nullptr, 0, &s).ok()) {
    st.known = true;
    st.enabled = s.enabled;
    st.lost = s.lost;
    st.backlog = s.backlog;
  }
  return st;
}

Status Enable() {
  UniqueFd fd = UnicastSocket();
  if (!fd.valid()) return Status::Errno("audit socket");
  audit_status s{};
  s.mask = AUDIT_STATUS_ENABLED;
  s.enabled = 1;
  return Request(fd.get(), AUDIT_SET, NLM_F_ACK, &s, sizeof s, nullptr);
}

// A reason the records cannot be ours, before any socket: "" when none.
std::string Precondition(int abi, bool fs) {
  if (abi <= 0 || !fs) return "Landlock does not confine files here";
  if (abi < 7)
    return "Landlock ABI " + std::to_string(abi) +
           " writes no audit records; ABI 7 (Linux 6.15) does";
  // The records name processes by their pid in the host's PID namespace.
  std::ifstream status("/proc/self/status");
  std::string line;
  for (int n = 0; n < 128 && std::getline(status, line); ++n) {
    if (line.rfind("NSpid:", 0) != 0) continue;
    std::istringstream in(line.substr(6));
    std::string a, b;
    if (in >> a >> b)
      return "ringfence runs in a PID namespace: the kernel's records name host PIDs";
  }
  return "";
}

Result<UniqueFd> OpenMulticast() {
  UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_AUDIT));
  if (!fd.valid()) {
    if (errno == EPROTONOSUPPORT || errno == EAFNOSUPPORT)
      return Status::Error("the kernel has no audit support (CONFIG_AUDIT)");
    return Status::Errno("audit netlink socket");
  }
  sockaddr_nl group{};
  group.nl_family = AF_NETLINK;
  group.nl_groups = 1u << (AUDIT_NLGRP_READLOG - 1);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&group), sizeof group) != 0) {
    if (errno == EPERM || errno == EACCES)
      return Status::Error(
          "reading the kernel's audit records needs CAP_AUDIT_READ in the host's user "
          "namespace, which ringfence does not have (run it as root on the host)");
    return Status::Errno("binding the audit netlink socket");
  }
  // Room for a burst: records past it are lost (counted as an overflow).
  int size = 8 << 20;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  return fd;
}

// After the kernel's audit queue is seen empty: the record it was passing
// on at that moment reaches the socket within this.
constexpr int kDrainedQuietMs = 10;

constexpr const char* kAuditOff =
    "kernel auditing is off; `ringfence run --kernel-audit` turns it on host-wide, as "
    "`auditctl -e 1` does";

}  // namespace

FileDenialReporting KernelAuditReader::Probe(int landlock_abi, bool landlock_fs) {
  FileDenialReporting r;
  if (std::string why = Precondition(landlock_abi, landlock_fs); !why.empty()) {
    r.reason = why;
    return r;
  }
  auto fd = OpenMulticast();
  if (!fd.ok()) {
    r.reason = fd.status().reason();
    return r;
  }
  AuditState st = GetState();
  if (st.known && st.enabled == 0) {
    r.reason = kAuditOff;
    r.can_enable = true;
    return r;
  }
  r.available = true;
  if (!st.known)
    r.reason =
        "whether kernel auditing is on could not be checked without CAP_AUDIT_CONTROL: "
        "nothing is reported when it is off";
  return r;
}

Result<std::unique_ptr<KernelAuditReader>> KernelAuditReader::Open(int landlock_abi,
                                                                   bool landlock_fs, bool enable,
                                                                   bool* enabled_now) {
  if (enabled_now) *enabled_now = false;
  if (std::string why = Precondition(landlock_abi, landlock_fs); !why.empty())
    return Status::Error(why);
  auto fd = OpenMulticast();
  if (!fd.ok()) return fd.status();
  AuditState st = GetState();
  if (st.known && st.enabled == 0) {
    if (!enable) return Status::Error(kAuditOff);
    if (Status s = Enable(); !s.ok())
      return Status::Error("turning kernel auditing on failed: " + s.reason());
    if (enabled_now) *enabled_now = true;
    st = GetState();
  }
  auto reader = std::unique_ptr<KernelAuditReader>(new KernelAuditReader());
  reader->sock_ = std::move(fd).value();
  reader->have_lost_ = st.known;
  reader->kernel_lost_at_start_ = st.lost;
  return reader;
}

void KernelAuditReader::Read(AuditSink& sink) {
  if (buf_.empty()) buf_.resize(kMaxRecordText + NLMSG_HDRLEN + 64);
  char* buf = buf_.data();
  for (int n = 0; n < kMaxPerCall; ++n) {
    sockaddr_nl from{};
    socklen_t from_len = sizeof from;
    ssize_t got = recvfrom(sock_.get(), buf, buf_.size(), MSG_DONTWAIT,
                           reinterpret_cast<sockaddr*>(&from), &from_len);
    if (got < 0) {
      if (errno == EINTR) continue;
      // Records arrived faster than the buffer could hold them.
      if (errno == ENOBUFS) {
        ++overflows_;
        continue;
      }
      return;
    }
    // One record a datagram. Its header's length is trusted only within
    // what arrived (the kernel's unicast path counts it without the header).
    // Only the kernel (port 0) speaks for the kernel.
    if (from_len != sizeof from || from.nl_pid != 0) continue;
    if (static_cast<size_t>(got) < NLMSG_HDRLEN) continue;
    const auto* h = reinterpret_cast<const nlmsghdr*>(buf);
    size_t end = std::min<size_t>(static_cast<size_t>(got), h->nlmsg_len);
    if (end < NLMSG_HDRLEN) end = static_cast<size_t>(got);
    denials_.Feed(h->nlmsg_type, std::string_view(buf + NLMSG_HDRLEN, end - NLMSG_HDRLEN), sink);
  }
}

void KernelAuditReader::Finish(AuditSink& sink, int quiet_ms, int max_ms) {
  auto now_ms = [] {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
  };
  const int64_t start = now_ms();
  int64_t last = start;
  uint64_t seen = denials_.totals().denials + denials_.totals().released;
  // Set once the kernel's audit queue was seen empty: what was queued
  // before is in the socket (give or take the record being passed on).
  int64_t drained_at = -1;
  std::optional<uint32_t> lost_now;  // the kernel's count when drained
  while (!denials_.AllReleased()) {
    const int64_t now = now_ms();
    // Every refusal was queued in the kernel before the command's processes
    // were reaped; the kernel's audit thread passes them on shortly. The
    // record of a domain's release would mark the end, but it comes only
    // once the supervisor has closed the descriptors the command made (they
    // hold its credentials), after this. So: until the kernel's queue is
    // empty (when it can be asked) and a moment after, or a quiet spell.
    if (have_lost_ && drained_at < 0) {
      AuditState st = GetState();
      if (st.known && st.backlog == 0) {
        drained_at = now;
        lost_now = st.lost;
      }
    }
    int64_t until = std::min(start + max_ms, last + quiet_ms);
    if (drained_at >= 0) until = std::min(until, drained_at + kDrainedQuietMs);
    const int64_t left = until - now;
    if (left <= 0) break;
    pollfd p{sock_.get(), POLLIN, 0};
    const int wait = drained_at >= 0 || !have_lost_ ? static_cast<int>(left)
                                                    : static_cast<int>(std::min<int64_t>(left, 5));
    if (poll(&p, 1, wait) < 0 && errno != EINTR) break;
    Read(sink);
    uint64_t now_seen = denials_.totals().denials + denials_.totals().released;
    if (now_seen != seen) {
      seen = now_seen;
      last = now_ms();
    }
  }
  Read(sink);
  denials_.Flush(sink);
  uint64_t lost = 0;
  if (have_lost_ && !lost_now) {
    AuditState st = GetState();
    if (st.known) lost_now = st.lost;
  }
  // Dropped host-wide during the run (backlog or rate limit): only a hint
  // that ours may be among them; the kernel's own count says for sure.
  if (lost_now && *lost_now > kernel_lost_at_start_) lost = *lost_now - kernel_lost_at_start_;
  records_lost_ = lost;
  denials_.EmitSummary(sink, lost, overflows_);
}

}  // namespace rf
