// The sandbox's resolver (docs/dns.md): names the policy can reach are
// answered with the run's synthetic addresses (src/dns/synthetic.h), A
// records only (AAAA and other types: no data); every other name gets
// NXDOMAIN and a "dns deny" audit event. Names under a wildcard endpoint
// host are the exfiltration channel a policy DNS opens (a command encodes
// data in the labels it asks for): such names are budgeted, and shaped ones
// (a long label, many labels under the wildcard) audited and budgeted
// tighter; beyond the budget the answer is REFUSED.
//
// One Resolver per run, owned by the supervisor, sharing the run's
// SyntheticNames with the connect guard (which maps the addresses back).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "audit/audit.h"
#include "common/fd.h"
#include "common/status.h"
#include "dns/message.h"
#include "dns/synthetic.h"
#include "policy/policy.h"

namespace rf::proxy {
class Matcher;
}

namespace rf::dns {

// Budgets for names under wildcard endpoint hosts, per run.
struct WildcardBudget {
  // New names under wildcards answered per minute (a name answered before
  // is free): a token bucket of this size refilled evenly over a minute.
  int names_per_minute = 60;
  // Of those, names shaped like exfiltration (below) per minute.
  int shaped_per_minute = 6;
  // A name is shaped when a label under the wildcard is longer than this...
  size_t long_label = 40;
  // ...or more labels than this stand in front of the wildcard's suffix.
  size_t many_labels = 6;
};

// Who asked (for audit events): whatever the transport knows.
struct QueryOrigin {
  std::string peer;  // "127.0.0.1:40000", "" when unknown
  int pid = 0;       // 0 when unknown
  std::string binary;
  // Fills pid and binary; called only when an event is written (a lookup
  // in /proc costs more than an answer).
  std::function<void(QueryOrigin&)> identify;
};

class Resolver {
 public:
  enum class Verdict {
    kPolicy,    // an endpoint's exact host or a network.hosts name
    kWildcard,  // matched only by a wildcard endpoint host
    kDenied,    // no policy reaches it
  };

  // `names`: the run's synthetic map (shared with the connect guard).
  // `audit`: outlives the resolver.
  static Result<std::unique_ptr<Resolver>> Create(const Policy& policy,
                                                  std::shared_ptr<SyntheticNames> names,
                                                  AuditSink* audit, WildcardBudget budget = {});
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Which class `name` (lower-cased, no trailing dot) falls in.
  Verdict Classify(const std::string& name) const;

  // The answer to one query message (empty: send nothing). Thread-safe.
  std::vector<uint8_t> Answer(std::span<const uint8_t> message, const QueryOrigin& origin);

  // Serves datagrams arriving on `socket` (a bound UDP socket) on a thread
  // of its own until Stop (or destruction); answers go back to the sender.
  // `sandbox_root`: the command's pid (its /proc/<pid>/net/udp is the
  // sandbox namespace's view), to name who asked in events; 0: unnamed.
  // `tcp`: a listening socket for DNS over TCP (RFC 7766: two-byte length
  // prefix, several queries a connection), optional.
  Status Start(UniqueFd socket, pid_t sandbox_root = 0, UniqueFd tcp = {});

  // DNS over TCP: connections served at once, and how long one may stay
  // idle or half-sent.
  static constexpr size_t kMaxTcpClients = 16;
  static constexpr int kTcpIdleMs = 5000;
  void Stop();

  // TTL of answers: short, so a client asks again rather than caching for
  // longer than the run.
  static constexpr uint32_t kTtl = 60;

  // Names the policy lets resolve, for `policy show --effective`: exact
  // names, then wildcard patterns.
  static std::vector<std::string> PolicyNames(const Policy& policy);

 private:
  Resolver() = default;
  bool TakeBudget(const std::string& name, bool shaped, std::string* why);
  void Serve();
  struct TcpClient {
    UniqueFd fd;
    std::vector<uint8_t> in;
    std::chrono::steady_clock::time_point deadline;
  };
  // Reads what `c` sent and answers every whole query; false: close it.
  bool ServeTcp(TcpClient& c, const std::function<void(QueryOrigin&)>& identify);

  std::unique_ptr<proxy::Matcher> matcher_;
  std::unordered_set<std::string> static_hosts_;
  std::shared_ptr<SyntheticNames> names_;
  AuditSink* audit_ = nullptr;
  WildcardBudget budget_;

  std::mutex budget_mutex_;
  std::unordered_set<std::string> wildcard_answered_;
  double tokens_ = 0, shaped_tokens_ = 0;
  std::chrono::steady_clock::time_point refilled_;

  pid_t sandbox_root_ = 0;
  UniqueFd socket_;
  UniqueFd tcp_listener_;
  UniqueFd stop_event_;
  std::thread thread_;
};

}  // namespace rf::dns
