#include "process/caller.h"

#include <limits.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "common/file.h"

namespace rf {

namespace {

// What a /proc file of one process may hold at most (an environment is
// bounded by the kernel's argument limits, far below this).
constexpr size_t kProcFileLimit = 64u << 20;

}  // namespace

pid_t ParentOfPid(pid_t pid, const std::string& proc) {
  auto read = ReadSmallFile(proc + "/" + std::to_string(pid) + "/stat", kProcFileLimit);
  if (!read.ok()) return 0;
  const std::string& stat = *read;
  // pid (comm) state ppid: comm may contain spaces and ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  int ppid = 0;
  char state;
  if (sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) != 2) return 0;
  return ppid;
}

namespace {

// The variables with which whoever starts a process makes the dynamic
// loader or libc run code of their choosing inside it, whatever the binary:
// a library loaded first (LD_PRELOAD), an auditor (LD_AUDIT), a library
// found before the real one (LD_LIBRARY_PATH), an iconv module (GCONV_PATH).
constexpr std::string_view kLoaderVariables[] = {"LD_PRELOAD", "LD_AUDIT", "LD_LIBRARY_PATH",
                                                 "GCONV_PATH"};

// Why the process is not its binary for the policy: the first loader
// variable set (non-empty) in its environment, "environ unreadable", or ""
// (none). /proc/<pid>/environ is the process's own memory, where execve put
// the environment the dynamic loader read: best effort, since the loaded
// code can rewrite it (docs/threat-model.md).
std::string LoaderInjection(const std::string& proc, pid_t pid) {
  // Unreadable (it made itself non-dumpable, and we may not look): it does
  // not count as that binary either.
  auto read = ReadSmallFile(proc + "/" + std::to_string(pid) + "/environ", kProcFileLimit);
  if (!read.ok()) return "environ unreadable";
  const std::string& env = *read;
  for (size_t at = 0; at < env.size();) {
    size_t end = env.find('\0', at);
    if (end == std::string::npos) end = env.size();
    std::string_view var(env.data() + at, end - at);
    for (std::string_view name : kLoaderVariables)
      if (var.size() > name.size() + 1 && var.substr(0, name.size()) == name &&
          var[name.size()] == '=')
        return std::string(name);
    at = end + 1;
  }
  return "";
}

}  // namespace

Result<CallerIdentity> ChainOf(pid_t pid, pid_t root, const std::string& proc, pid_t init) {
  CallerIdentity id;
  id.pid = pid;
  const pid_t self = getpid();
  if (init < 0) init = root > 0 ? ParentOfPid(root, proc) : 0;
  for (pid_t p = pid; p > 1 && p != self && p != init && id.chain.size() < 256;) {
    char exe[PATH_MAX];
    ssize_t n = readlink((proc + "/" + std::to_string(p) + "/exe").c_str(), exe, sizeof exe - 1);
    if (n <= 0) {
      if (p == pid) return Status::Errno("readlink /proc/" + std::to_string(p) + "/exe");
      break;
    }
    exe[n] = '\0';
    id.chain.push_back(p);
    id.exes.emplace_back(exe);
    // Every process of the chain, since a grant is taken from any of them:
    // code loaded into an allowed binary forks a child that sheds the
    // variable, and the child would otherwise run below that binary. Each
    // loses only its own grant: what runs below a clean allowed binary has
    // its grant anyway (ancestors count), whatever was loaded into it.
    if (std::string why = LoaderInjection(proc, p); !why.empty())
      id.exes.back() += " (" + why + ")";
    if (p == root) break;
    p = ParentOfPid(p, proc);
  }
  return id;
}

bool ConnectLedger::KeyOf(const sockaddr_storage& ss, Key* out) {
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    out->addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memcpy(out->addr.data() + 12, &in->sin_addr, 4);
    out->port = in->sin_port;
    return true;
  }
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    memcpy(out->addr.data(), &in6->sin6_addr, 16);
    out->port = in6->sin6_port;
    return true;
  }
  return false;
}

size_t ConnectLedger::KeyHash::operator()(const Key& k) const {
  // FNV-1a over the address and port.
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : k.addr) h = (h ^ b) * 1099511628211ull;
  h = (h ^ (k.port & 0xff)) * 1099511628211ull;
  h = (h ^ (k.port >> 8)) * 1099511628211ull;
  return static_cast<size_t>(h);
}

void ConnectLedger::Record(const sockaddr_storage& client, CallerIdentity id) {
  Key key;
  if (!KeyOf(client, &key)) return;
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t seq = ++next_seq_;
  by_client_.insert_or_assign(key, Entry{std::move(id), seq});
  order_.emplace_back(key, seq);
  Trim();
}

void ConnectLedger::Trim() {
  while (by_client_.size() > kMaxEntries || order_.size() > 2 * kMaxEntries) {
    auto [key, seq] = order_.front();
    order_.pop_front();
    auto it = by_client_.find(key);
    if (it != by_client_.end() && it->second.seq == seq) by_client_.erase(it);
  }
}

bool ConnectLedger::Take(const sockaddr_storage& client, CallerIdentity* out) {
  Key key;
  if (!KeyOf(client, &key)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_client_.find(key);
  if (it == by_client_.end()) return false;
  *out = std::move(it->second.id);
  by_client_.erase(it);
  return true;
}

void ConnectLedger::Drop(const sockaddr_storage& client) {
  Key key;
  if (!KeyOf(client, &key)) return;
  std::lock_guard<std::mutex> lock(mu_);
  by_client_.erase(key);
}

size_t ConnectLedger::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_client_.size();
}

void ConnectLedger::RecordCapture(const sockaddr_storage& client, CapturedDestination to) {
  Key key;
  if (!KeyOf(client, &key)) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (captured_.insert_or_assign(key, std::move(to)).second) captured_order_.push_back(key);
  while (captured_order_.size() > 4096) {
    captured_.erase(captured_order_.front());
    captured_order_.pop_front();
  }
  captures_pending_.store(captured_.size());
}

bool ConnectLedger::TakeCapture(const sockaddr_storage& client, CapturedDestination* out) {
  Key key;
  if (!KeyOf(client, &key)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = captured_.find(key);
  if (it == captured_.end()) return false;
  *out = std::move(it->second);
  captured_.erase(it);
  captured_order_.erase(std::remove(captured_order_.begin(), captured_order_.end(), key),
                        captured_order_.end());
  captures_pending_.store(captured_.size());
  return true;
}

}  // namespace rf
