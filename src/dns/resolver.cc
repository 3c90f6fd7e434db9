#include "dns/resolver.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "policy/cidr.h"
#include "proxy/identity.h"
#include "proxy/matcher.h"

namespace rf::dns {

namespace {

std::string TypeName(uint16_t t) {
  switch (t) {
    case kTypeA:
      return "A";
    case kTypeAaaa:
      return "AAAA";
    default:
      return std::to_string(t);
  }
}

std::string AddressText(in_addr a) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

void AddOrigin(nlohmann::json& extra, const QueryOrigin& origin) {
  QueryOrigin o = origin;
  if (o.identify) o.identify(o);
  if (!o.peer.empty()) extra["peer"] = o.peer;
  if (o.pid > 0) extra["pid"] = o.pid;
  if (!o.binary.empty()) extra["binary"] = o.binary;
}

}  // namespace

Result<std::unique_ptr<Resolver>> Resolver::Create(const Policy& policy,
                                                   std::shared_ptr<SyntheticNames> names,
                                                   AuditSink* audit, WildcardBudget budget) {
  if (!names) return Status::Error("internal: the resolver needs the run's synthetic names");
  std::unique_ptr<Resolver> r(new Resolver());
  r->matcher_ = std::make_unique<proxy::Matcher>(policy.network_policies);
  for (const auto& [name, address] : policy.network.hosts) {
    (void)address;  // the proxy's static resolution; the sandbox sees a synthetic one
    r->static_hosts_.insert(proxy::NormalizeHost(name));
  }
  r->names_ = std::move(names);
  r->audit_ = audit;
  r->budget_ = budget;
  r->tokens_ = budget.names_per_minute;
  r->shaped_tokens_ = budget.shaped_per_minute;
  r->refilled_ = std::chrono::steady_clock::now();
  return r;
}

Resolver::~Resolver() { Stop(); }

Resolver::Verdict Resolver::Classify(const std::string& name) const {
  if (name.empty()) return Verdict::kDenied;
  // An address literal is never asked of DNS by a stub; as a name it
  // would let a client learn nothing useful, so it is not answered.
  if (ParseIpLiteral(name)) return Verdict::kDenied;
  if (static_hosts_.count(name)) return Verdict::kPolicy;
  const auto named = matcher_->NamesHost(name);
  if (named.exact) return Verdict::kPolicy;
  if (named.wildcard) return Verdict::kWildcard;
  return Verdict::kDenied;
}

bool Resolver::TakeBudget(const std::string& name, bool shaped, std::string* why) {
  std::lock_guard<std::mutex> lock(budget_mutex_);
  if (wildcard_answered_.count(name)) return true;
  // The names remembered are bounded like the synthetic addresses.
  if (wildcard_answered_.size() >= SyntheticNames::kDefaultCapacity) {
    *why = "the run's names under wildcard hosts are used up";
    return false;
  }
  const auto now = std::chrono::steady_clock::now();
  const double minutes = std::chrono::duration<double>(now - refilled_).count() / 60.0;
  refilled_ = now;
  tokens_ =
      std::min<double>(budget_.names_per_minute, tokens_ + minutes * budget_.names_per_minute);
  shaped_tokens_ = std::min<double>(budget_.shaped_per_minute,
                                    shaped_tokens_ + minutes * budget_.shaped_per_minute);
  if (tokens_ < 1) {
    *why = "more than " + std::to_string(budget_.names_per_minute) +
           " new names under wildcard hosts per minute";
    return false;
  }
  if (shaped && shaped_tokens_ < 1) {
    *why = "more than " + std::to_string(budget_.shaped_per_minute) +
           " exfiltration-shaped names under wildcard hosts per minute";
    return false;
  }
  tokens_ -= 1;
  if (shaped) shaped_tokens_ -= 1;
  wildcard_answered_.insert(name);
  return true;
}

std::vector<uint8_t> Resolver::Answer(std::span<const uint8_t> message, const QueryOrigin& origin) {
  Parsed p = ParseQuery(message);
  if (!p.query) {
    if (p.error.kind == ParseError::kDrop) return {};
    return WriteError(p.error);
  }
  const Query& q = *p.query;
  const std::string shown = Printable(q.name);
  if (q.qclass != kClassIn) return WriteAnswer(q, Rcode::kNotImp);
  const Verdict v = q.hostname_syntax ? Classify(q.name) : Verdict::kDenied;
  if (v == Verdict::kDenied) {
    AuditEvent e{
        "dns", "deny", shown, "no network policy reaches this name: answered NXDOMAIN", {}};
    e.extra["qtype"] = TypeName(q.qtype);
    e.extra["rcode"] = "NXDOMAIN";
    e.extra["hint"] = "add an endpoint with host " + shown + " to an entry of network_policies";
    AddOrigin(e.extra, origin);
    audit_->Emit(e);
    return WriteAnswer(q, Rcode::kNxDomain);
  }
  if (v == Verdict::kWildcard) {
    const auto named = matcher_->NamesHost(q.name);
    const size_t in_front = q.labels.size() - std::min(q.labels.size(), named.suffix_labels);
    size_t longest = 0;
    for (size_t i = 0; i < in_front; ++i) longest = std::max(longest, q.labels[i].size());
    const bool shaped = longest > budget_.long_label || in_front > budget_.many_labels;
    std::string why;
    const bool within = TakeBudget(q.name, shaped, &why);
    if (shaped || !within) {
      AuditEvent e{"dns",
                   within ? "suspect" : "deny",
                   shown,
                   within ? "a name shaped like DNS-label exfiltration under wildcard host " +
                                named.pattern + " (a label of " + std::to_string(longest) +
                                " characters, " + std::to_string(in_front) +
                                " label(s) under the wildcard)"
                          : "rate limit: " + why + ": answered REFUSED",
                   {}};
      e.extra["qtype"] = TypeName(q.qtype);
      e.extra["wildcard"] = named.pattern;
      e.extra["exfiltration_shaped"] = shaped;
      if (!within) e.extra["rcode"] = "REFUSED";
      AddOrigin(e.extra, origin);
      audit_->Emit(e);
    }
    if (!within) return WriteAnswer(q, Rcode::kRefused);
  }
  // A records only: the synthetic range is IPv4; AAAA and every other type
  // of a policy name is answered "no data", so clients fall back to A.
  if (q.qtype != kTypeA) return WriteAnswer(q, Rcode::kNoError);
  const size_t before = names_->size();
  auto address = names_->AddressFor(q.name);
  if (!address) {
    audit_->Emit({"dns",
                  "deny",
                  shown,
                  "the run's synthetic addresses are used up: answered SERVFAIL",
                  {{"rcode", "SERVFAIL"}}});
    return WriteAnswer(q, Rcode::kServFail);
  }
  if (names_->size() != before) {
    AuditEvent e{"dns", "allow", shown, "a policy name: answered with its synthetic address", {}};
    e.extra["address"] = AddressText(*address);
    AddOrigin(e.extra, origin);
    audit_->Emit(e);
  }
  return WriteAnswer(q, Rcode::kNoError, address, kTtl);
}

// The inode of the UDP socket bound to 127.0.0.1:`port` in the network
// namespace of `pid` (its /proc/<pid>/net/udp), 0 when none.
static unsigned long UdpInode(pid_t pid, uint16_t port) {
  FILE* f = fopen(("/proc/" + std::to_string(pid) + "/net/udp").c_str(), "re");
  if (!f) return 0;
  char line[512];
  unsigned long found = 0;
  // Bounded: one line per socket of the namespace, at most this many read.
  for (int n = 0; n < 65536 && fgets(line, sizeof line, f); ++n) {
    unsigned addr = 0, lport = 0, raddr = 0, rport = 0, state = 0, uid = 0;
    unsigned long inode = 0;
    int slot = 0;
    if (sscanf(line, " %d: %8X:%4X %8X:%4X %2X %*X:%*X %*X:%*X %*X %u %*d %lu", &slot, &addr,
               &lport, &raddr, &rport, &state, &uid, &inode) != 8)
      continue;
    if (lport == port) {
      found = inode;
      break;
    }
  }
  fclose(f);
  return found;
}

Status Resolver::Start(UniqueFd socket, pid_t sandbox_root, UniqueFd tcp) {
  if (thread_.joinable()) return Status::Error("internal: the resolver is already running");
  sandbox_root_ = sandbox_root;
  stop_event_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_event_.valid()) return Status::Errno("eventfd");
  socket_ = std::move(socket);
  tcp_listener_ = std::move(tcp);
  thread_ = std::thread([this] { Serve(); });
  return Status::Ok();
}

void Resolver::Stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  ssize_t ignored = write(stop_event_.get(), &one, sizeof one);
  (void)ignored;
  thread_.join();
}

bool Resolver::ServeTcp(TcpClient& c, const std::function<void(QueryOrigin&)>& identify) {
  uint8_t buf[2 + kMaxMessage];
  const ssize_t n = recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
  if (n == 0) return false;
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  c.in.insert(c.in.end(), buf, buf + n);
  c.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTcpIdleMs);
  // Every whole query in what arrived (RFC 7766 lets a client pipeline).
  while (c.in.size() >= 2) {
    const size_t len = (static_cast<size_t>(c.in[0]) << 8) | c.in[1];
    if (len > kMaxMessage) return false;  // no query is that long
    if (c.in.size() < 2 + len) break;
    QueryOrigin origin;
    origin.identify = identify;
    auto answer = Answer(std::span<const uint8_t>(c.in.data() + 2, len), origin);
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(2 + len));
    if (answer.empty()) return false;
    answer.insert(answer.begin(), {static_cast<uint8_t>(answer.size() >> 8),
                                   static_cast<uint8_t>(answer.size() & 0xff)});
    // An answer is small and the client reads them: one that does not, or
    // whose buffer is full, is dropped rather than waited for.
    if (send(c.fd.get(), answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL) !=
        static_cast<ssize_t>(answer.size()))
      return false;
  }
  return c.in.size() <= 2 + kMaxMessage;
}

void Resolver::Serve() {
  uint8_t buf[kMaxMessage + 1];
  std::unique_ptr<proxy::IdentityResolver> identity;
  if (sandbox_root_ > 0) identity = std::make_unique<proxy::IdentityResolver>(sandbox_root_);
  std::vector<TcpClient> clients;
  for (;;) {
    std::vector<struct pollfd> fds = {{stop_event_.get(), POLLIN, 0}, {socket_.get(), POLLIN, 0}};
    // The listener is left out of the poll while every client slot is taken:
    // further connections wait in its backlog.
    const bool accepting = tcp_listener_.valid() && clients.size() < kMaxTcpClients;
    fds.push_back({accepting ? tcp_listener_.get() : -1, POLLIN, 0});
    const auto now = std::chrono::steady_clock::now();
    int timeout = -1;
    for (const auto& c : clients) {
      fds.push_back({c.fd.get(), POLLIN, 0});
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now).count();
      const int ms = left < 0 ? 0 : static_cast<int>(left);
      if (timeout < 0 || ms < timeout) timeout = ms;
    }
    if (poll(fds.data(), fds.size(), timeout) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents) return;
    if (fds[1].revents & POLLNVAL) return;
    if (fds[1].revents & POLLERR) {
      // A pending socket error (an ICMP report): cleared, not fatal; the
      // resolver keeps serving.
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(socket_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    }
    // TCP clients first (their indexes match `fds` until one is removed).
    const auto after = std::chrono::steady_clock::now();
    std::vector<TcpClient> kept;
    for (size_t i = 0; i < clients.size(); ++i) {
      TcpClient& c = clients[i];
      bool keep = after < c.deadline;
      if (keep && fds[3 + i].revents) {
        std::function<void(QueryOrigin&)> identify;
        if (identity) {
          identify = [&identity, fd = c.fd.get()](QueryOrigin& o) {
            struct sockaddr_storage peer, local;
            socklen_t pl = sizeof peer, ll = sizeof local;
            if (getpeername(fd, reinterpret_cast<struct sockaddr*>(&peer), &pl) != 0 ||
                getsockname(fd, reinterpret_cast<struct sockaddr*>(&local), &ll) != 0)
              return;
            if (peer.ss_family == AF_INET) {
              const auto* sin = reinterpret_cast<const struct sockaddr_in*>(&peer);
              o.peer =
                  "tcp " + AddressText(sin->sin_addr) + ":" + std::to_string(ntohs(sin->sin_port));
            }
            auto who = identity->Resolve(peer, local);
            if (!who.ok()) return;
            o.pid = who->pid;
            if (!who->exes.empty()) o.binary = who->exes.front();
          };
        }
        keep = ServeTcp(c, identify);
      }
      if (keep) kept.push_back(std::move(c));
    }
    clients = std::move(kept);
    if (accepting && (fds[2].revents & POLLIN)) {
      UniqueFd c(accept4(tcp_listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (c.valid())
        clients.push_back(
            {std::move(c),
             {},
             std::chrono::steady_clock::now() + std::chrono::milliseconds(kTcpIdleMs)});
    }
    if (!(fds[1].revents & POLLIN)) continue;
    struct sockaddr_storage from;
    socklen_t from_len = sizeof from;
    const ssize_t n = recvfrom(socket_.get(), buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC,
                               reinterpret_cast<struct sockaddr*>(&from), &from_len);
    if (n < 0 || static_cast<size_t>(n) > kMaxMessage) continue;  // oversized: dropped
    QueryOrigin origin;
    if (from.ss_family == AF_INET) {
      const auto* sin = reinterpret_cast<const struct sockaddr_in*>(&from);
      origin.peer = AddressText(sin->sin_addr) + ":" + std::to_string(ntohs(sin->sin_port));
      if (identity) {
        const uint16_t port = ntohs(sin->sin_port);
        origin.identify = [&identity, port, root = sandbox_root_](QueryOrigin& o) {
          const unsigned long inode = UdpInode(root, port);
          if (inode == 0) return;
          auto who = identity->ResolveInode(inode);
          if (!who.ok()) return;
          o.pid = who->pid;
          if (!who->exes.empty()) o.binary = who->exes.front();
        };
      }
    }
    auto answer = Answer(std::span<const uint8_t>(buf, static_cast<size_t>(n)), origin);
    if (answer.empty()) continue;
    // Non-blocking: a client that does not read cannot stall the resolver.
    ssize_t sent = sendto(socket_.get(), answer.data(), answer.size(), MSG_DONTWAIT,
                          reinterpret_cast<struct sockaddr*>(&from), from_len);
    (void)sent;  // a lost answer is retried by the client
  }
}

std::vector<std::string> Resolver::PolicyNames(const Policy& policy) {
  std::vector<std::string> exact, wild;
  for (const auto& [name, address] : policy.network.hosts) {
    (void)address;
    exact.push_back(proxy::NormalizeHost(name));
  }
  for (const auto& np : policy.network_policies)
    for (const auto& ep : np.endpoints) {
      if (ep.host.empty()) continue;
      const std::string h = proxy::NormalizeHost(ep.host);
      if (ParseIpLiteral(h)) continue;
      (h.find('*') == std::string::npos ? exact : wild).push_back(h);
    }
  std::sort(exact.begin(), exact.end());
  exact.erase(std::unique(exact.begin(), exact.end()), exact.end());
  std::sort(wild.begin(), wild.end());
  wild.erase(std::unique(wild.begin(), wild.end()), wild.end());
  exact.insert(exact.end(), wild.begin(), wild.end());
  return exact;
}

}  // namespace rf::dns
