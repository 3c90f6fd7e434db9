#include "proxy/worker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "proxy/capture.h"
#include "proxy/epoll_tag.h"
#include "proxy/http.h"
#include "proxy/ssrf.h"

namespace rf::proxy {

namespace {

// What the inspector gets from the endpoints still in play: an inspected
// one with its rules and path selector, an L4 one as "every request" (so a
// deny rule of an inspected endpoint still holds beside it).
std::vector<l7::InspectedEndpoint> InspectedEndpoints(const Matcher& m,
                                                      const std::vector<int>& endpoints) {
  std::vector<l7::InspectedEndpoint> out;
  for (int i : endpoints) {
    const CompiledEndpoint& ce = m.endpoint(i);
    l7::InspectedEndpoint e;
    e.label = ce.label;
    e.policy = m.policy(ce.policy).name;
    if (ce.inspect) {
      e.path = ce.path_selector;
      e.rules = ce.rules;
      e.body_rewrite = ce.body_credential_rewrite;
    } else {
      e.rules.access = l7::Access::kFull;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

namespace {

constexpr int kLingerMs = 1000;
constexpr int kMaxLingering = 64;

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string Target(const std::string& host, uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

bool ToSockaddr(const IpAddr& a, uint16_t port, sockaddr_storage* ss, socklen_t* len) {
  *ss = {};
  if (a.family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    memcpy(&in->sin_addr, a.bytes.data(), 4);
    *len = sizeof *in;
    return true;
  }
  if (a.family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    memcpy(&in6->sin6_addr, a.bytes.data(), 16);
    *len = sizeof *in6;
    return true;
  }
  return false;
}

}  // namespace

Worker::Worker(Proxy::Shared* s, int listener)
    : s_(s), listener_(listener), pipes_(s->config.pipe_size) {}

Worker::~Worker() {
  resolver_.reset();  // fails pending lookups first: their callbacks see no connection
  conns_.clear();
}

Status Worker::Init() {
  epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.valid()) return Status::Errno("epoll_create1");
  wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_.valid()) return Status::Errno("eventfd");
  reserve_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
  Identities();  // opens the sock_diag socket now, not on the first connection
  resolver_ =
      std::make_unique<Resolver>(epoll_.get(), s_->config.dns_servers, s_->config.dns_timeout_ms,
                                 [this](uint64_t id, std::vector<IpAddr> addrs, const char* error) {
                                   OnResolved(id, std::move(addrs), error);
                                 });
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.u64 = EpollTag::Listener().data();
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_, &ev) != 0)
    return Status::Errno("epoll_ctl listener");
  ev.events = EPOLLIN;
  ev.data.u64 = EpollTag::Wake().data();
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) != 0)
    return Status::Errno("epoll_ctl eventfd");
  // The resolver is set up on first use (most sandboxed commands never
  // make a request: start-up stays cheap), except when DNS servers are
  // configured, which are validated now.
  if (!s_->config.dns_servers.empty()) return resolver_->Ensure();
  return Status::Ok();
}

void Worker::Wake() {
  uint64_t one = 1;
  ssize_t n = write(wake_.get(), &one, sizeof one);
  (void)n;
}

void Worker::Run() {
  epoll_event events[128];
  int64_t last_sweep = NowMs();
  while (!s_->stopping.load(std::memory_order_relaxed)) {
    // Idle (no connection, no pooled pipe, no lookup): no timeout at all,
    // so a sandbox that has used the network once costs nothing while it
    // waits. Otherwise deadlines are checked every 200 ms.
    int timeout = accept_paused_until_ ? kAcceptPauseMs
                  : !conns_.empty()    ? 200
                  : !pipes_.empty()
                      ? static_cast<int>(std::max<int64_t>(
                            1, pipes_.oldest_release_ms() + PipePool::kIdleMs - NowMs()))
                      : -1;
    timeout = resolver_->Timeout(timeout);
    int n = epoll_wait(epoll_.get(), events, 128, timeout);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) Dispatch(events[i]);
    resolver_->ProcessTimeouts();
    int64_t now = NowMs();
    ResumeAccepting(now);
    if (now - last_sweep >= 200 || (conns_.empty() && !pipes_.empty())) {
      Sweep(now);
      last_sweep = now;
    }
  }
}

void Worker::Dispatch(const epoll_event& ev) {
  const EpollTag tag = EpollTag::FromData(ev.data.u64);
  switch (tag.kind()) {
    case EpollTag::Kind::kClient:
    case EpollTag::Kind::kUpstream:
      break;
    case EpollTag::Kind::kListener:
      Accept();
      return;
    case EpollTag::Kind::kWake: {
      uint64_t v;
      ssize_t r = read(wake_.get(), &v, sizeof v);
      (void)r;
      return;
    }
    case EpollTag::Kind::kResolver:
      resolver_->OnEvent(tag.fd(), ev.events);
      return;
    case EpollTag::Kind::kUnknown:
      return;
  }
  auto it = conns_.find(tag.conn());
  if (it == conns_.end()) return;
  Conn* c = it->second.get();
  const bool client = tag.kind() == EpollTag::Kind::kClient;
  if (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    (client ? c->ready.c_rd : c->ready.u_rd) = true;
  if (ev.events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) (client ? c->ready.c_wr : c->ready.u_wr) = true;
  if (client && (ev.events & EPOLLERR) && c->state != State::kTunnel) {
    Close(c);
    return;
  }
  Drive(c, client);
}

void Worker::PauseAccepting() {
  if (accept_paused_until_) return;
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_, nullptr);
  accept_paused_until_ = NowMs() + kAcceptPauseMs;
  s_->over_capacity++;
}

void Worker::ResumeAccepting(int64_t now) {
  if (!accept_paused_until_ || now < accept_paused_until_) return;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.u64 = EpollTag::Listener().data();
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_, &ev) == 0) {
    accept_paused_until_ = 0;
  } else {
    accept_paused_until_ = now + kAcceptPauseMs;  // try again later
  }
}

void Worker::Accept() {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    int fd =
        accept4(listener_, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EMFILE && errno != ENFILE)
        return;  // EAGAIN (another worker took it) or a transient error
      // Out of descriptors: shed one connection instead of spinning. The
      // reserve descriptor can be lost to another thread in between.
      if (!reserve_.valid()) reserve_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
      if (!reserve_.valid()) {
        // Nothing to shed with: stop watching the listener (it is
        // level-triggered) for a moment rather than spin on it.
        PauseAccepting();
        return;
      }
      reserve_.reset();
      int shed = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (shed >= 0) close(shed);
      reserve_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
      s_->over_capacity++;
      continue;
    }
    s_->accepted++;
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->client.reset(fd);
    c->peer = peer;
    socklen_t llen = sizeof c->local;
    getsockname(fd, reinterpret_cast<sockaddr*>(&c->local), &llen);
    c->tunnel.up.splice = c->tunnel.down.splice = s_->config.use_splice;
    int one = 1;
    if (s_->config.tcp_nodelay) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = EpollTag::Client(c->id).data();
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) continue;
    Conn* raw = c.get();
    conns_[c->id] = std::move(c);
    if (s_->active.fetch_add(1) >= s_->config.max_connections) {
      s_->active.fetch_sub(1);
      raw->counted = false;
      s_->over_capacity++;
      if (lingering_ >= kMaxLingering) {
        conns_.erase(raw->id);
        continue;
      }
      const std::string why =
          "the proxy is at capacity: " + std::to_string(s_->config.max_connections) +
          " connection(s) at once (its limit, set from the descriptor limit)";
      s_->audit->Emit({"proxy", "over_capacity", "-", why, {{"status", 503}}});
      Respond(raw, 503, "text/plain", why + "\n", "over capacity");
      continue;
    }
    raw->deadline = NowMs() + s_->config.header_timeout_ms;
    if (TakeCapture(raw) && raw->capture_raw) Decide(raw);
  }
}

bool Worker::TakeCapture(Conn* c) {
  if (!s_->ledger || !s_->ledger->CapturesPending()) return false;
  CapturedDestination to;
  if (!s_->ledger->TakeCapture(c->peer, &to)) return false;
  c->captured = true;
  c->capture_raw = to.raw;
  c->req.kind = ReqKind::kConnect;
  c->req.host = to.host;
  c->req.port = to.port;
  c->host = NormalizeHost(to.host);
  // The guard recorded the caller with the capture, under the same address.
  c->identified = true;
  CallerIdentity found;
  if (s_->ledger->Take(c->peer, &found)) {
    c->caller.attributed = true;
    c->caller_pid = found.pid;
    c->caller.exes = std::move(found.exes);
    if (!c->caller.exes.empty()) c->caller.binary = c->caller.exes.front();
  }
  return true;
}

void Worker::ReadCapturedName(Conn* c) {
  // A TLS record is at most 16 KiB: room for a ClientHello in one.
  const size_t limit = std::max<size_t>(s_->config.max_head_bytes, 16384 + 5);
  if (!c->ready.c_rd) return;
  // Peeked, not read: the bytes stay in the socket for the tunnel (an
  // inspected one hands the socket to the TLS engine, which reads the
  // ClientHello itself). More bytes arriving raise a new edge.
  std::string seen(limit + 1, '\0');
  ssize_t n = recv(c->client.get(), seen.data(), seen.size(), MSG_PEEK);
  c->ready.c_rd = false;
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    Close(c);
    return;
  }
  seen.resize(static_cast<size_t>(n));
  const FirstBytes first = ReadFirstBytes(seen, limit);
  if (first.kind == FirstBytes::Kind::kNeedMore) return;
  if (first.kind != FirstBytes::Kind::kName || first.name != c->host) {
    // Connected to one name's address, asking for another (or for none):
    // refused, whatever the policy says about the other name.
    c->verdict = Verdict{};
    c->verdict.reason =
        std::string(first.tls ? "the TLS ClientHello's SNI" : "the HTTP Host header") +
        (first.kind == FirstBytes::Kind::kName     ? " names " + first.name
         : first.kind == FirstBytes::Kind::kNoName ? " is missing"
                                                   : " could not be read") +
        " on a connection to the address of " + c->host;
    c->verdict.hint = "connect to the name the request is for";
    Deny(c);
    return;
  }
  Decide(c);
}

void Worker::Close(Conn* c) {
  if (c->counted) s_->active.fetch_sub(1);
  // An entry the guard recorded for this connection and nobody took: gone
  // with it, so that no later connection from the same port finds it.
  if (s_->ledger && !c->identified) s_->ledger->Drop(c->peer);
  if (c->state == State::kLinger) --lingering_;
  const int64_t now = NowMs();
  pipes_.Release(c->tunnel.up, now);
  pipes_.Release(c->tunnel.down, now);
  conns_.erase(c->id);  // UniqueFds close client, upstream, pipes (epoll drops them)
}

void Worker::Sweep(int64_t now) {
  pipes_.Sweep(now);
  std::vector<Conn*> expired;
  for (auto& [id, c] : conns_)
    if (c->deadline && now >= c->deadline) expired.push_back(c.get());
  for (Conn* c : expired) {
    switch (c->state) {
      case State::kReadHead:
        Respond(c, 408, "text/plain", "request head not received in time\n", "header timeout");
        break;
      case State::kResolving:
        c->deadline = 0;  // c-ares fires its own timeout; the query owns the conn id
        Fail(c, 502, "DNS lookup timed out");
        break;
      case State::kConnecting:
      case State::kHandshake:
        Fail(c, 504,
             "connect to " + Target(c->host, c->req.port) +
                 (c->via_upstream ? " through the upstream proxy " + s_->upstream->Shown() : "") +
                 " timed out");
        break;
      default:
        Close(c);  // idle tunnel, or linger over
    }
  }
}

// ---- responses ---------------------------------------------------------
void Worker::Respond(Conn* c, int status, const std::string& type, const std::string& body,
                     const std::string& why) {
  if (status != 403 && status != 503) {
    s_->errors++;
    AuditEvent e{"proxy", "error", c->host.empty() ? "-" : Target(c->host, c->req.port), why, {}};
    e.extra["status"] = status;
    s_->audit->Emit(e);
  }
  c->upstream.reset();
  if (c->captured) {
    // The client speaks its own protocol, not the proxy's: no HTTP answer
    // (the refusal is in the audit log).
    Close(c);
    return;
  }
  if (c->state != State::kLinger) ++lingering_;
  c->state = State::kLinger;
  c->out = Response(status, type, body);
  c->out_off = 0;
  c->ready.c_wr = true;
  c->deadline = NowMs() + kLingerMs;
  Drive(c, true);
}

void Worker::Fail(Conn* c, int status, const std::string& why) {
  nlohmann::json body = {
      {"error", StatusText(status)}, {"host", c->host}, {"port", c->req.port}, {"reason", why}};
  Respond(c, status, "application/json", JsonText(body) + "\n", why);
}

void Worker::Deny(Conn* c) {
  const Verdict& v = c->verdict;
  s_->denied++;
  std::string bin = c->caller.binary.empty() ? "unknown" : c->caller.binary;
  nlohmann::json body = {{"error", "forbidden by ringfence policy"},
                         {"host", c->host},
                         {"port", c->req.port},
                         {"binary", bin},
                         {"reason", v.reason},
                         {"hint", v.hint}};
  AuditEvent e{"proxy", "deny", Target(c->host, c->req.port), v.reason, {}};
  e.extra = {{"host", c->host},         {"port", c->req.port},  {"binary", bin},
             {"pid", c->caller_pid},    {"address", v.address}, {"policy", v.policy},
             {"method", c->req.method}, {"hint", v.hint}};
  if (c->captured) e.extra["captured"] = c->capture_raw ? "tcp" : "http";
  s_->audit->Emit(e);
  s_->CountDenial(Target(c->host, c->req.port), bin);
  Respond(c, 403, "application/json", JsonText(body) + "\n", v.reason);
}

// ---- the state machine -------------------------------------------------
void Worker::Drive(Conn* c, bool client_event) {
  switch (c->state) {
    case State::kReadHead:
      if (client_event) ReadHead(c);
      return;
    case State::kResolving:
      return;  // client flags are remembered for the tunnel
    case State::kConnecting:
      if (!client_event) CheckConnect(c);
      return;
    case State::kHandshake:
      if (!client_event) Handshake(c);
      return;
    case State::kTunnel:
      Pump(c);
      return;
    case State::kLinger:
      Linger(c);
      return;
  }
}

void Worker::Linger(Conn* c) {
  while (c->out_off < c->out.size() && c->ready.c_wr) {
    ssize_t n =
        send(c->client.get(), c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c->out_off += static_cast<size_t>(n);
      if (c->out_off == c->out.size()) shutdown(c->client.get(), SHUT_WR);
    } else if (n < 0 && errno == EAGAIN) {
      c->ready.c_wr = false;
    } else {
      Close(c);
      return;
    }
  }
  // Drain what the client still sends so that close() does not reset the
  // connection before it read the response.
  char buf[4096];
  for (int i = 0; i < 64 && c->ready.c_rd; ++i) {
    ssize_t n = recv(c->client.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EAGAIN) {
      c->ready.c_rd = false;
    } else if (n <= 0) {
      if (c->out_off == c->out.size()) Close(c);
      return;
    }
  }
}

bool Worker::ReadClient(Conn* c, size_t total) {
  char buf[8192];
  while (c->ready.c_rd && c->inbuf.size() < total) {
    ssize_t n = recv(c->client.get(), buf, std::min(total - c->inbuf.size(), sizeof buf), 0);
    if (n > 0) {
      c->inbuf.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EAGAIN) {
      c->ready.c_rd = false;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      c->ready.c_rd = false;
      return true;
    }
  }
  return false;
}

void Worker::ReadHead(Conn* c) {
  if (c->captured) {
    ReadCapturedName(c);
    return;
  }
  size_t limit = s_->config.max_head_bytes;
  const bool eof = ReadClient(c, limit + 1);
  auto r = ParseRequestHead(c->inbuf, limit);
  if (r.state == ParseState::kError) {
    Respond(c, r.status, "text/plain", r.message + "\n", r.message);
    return;
  }
  if (r.state == ParseState::kIncomplete) {
    if (eof) Close(c);
    return;
  }
  c->req = std::move(r.request);
  c->host = NormalizeHost(c->req.host);
  if (c->req.kind == ReqKind::kForward && c->req.body_length < 0) {
    // Chunked: what arrived with the head is checked before any upstream
    // is contacted; a malformed body never reaches it.
    c->tunnel.up.chunks = std::make_unique<ChunkDecoder>();
    auto step = c->tunnel.up.chunks->Feed(std::string_view(c->inbuf).substr(c->req.head_length));
    if (step.state == ChunkDecoder::State::kError) {
      Respond(c, 400, "text/plain",
              "malformed chunked body: " + c->tunnel.up.chunks->error() + "\n",
              "malformed chunked body: " + c->tunnel.up.chunks->error());
      return;
    }
    c->inbuf.resize(c->req.head_length + step.used);  // nothing past the body
  }
  Decide(c);
}

void Worker::Identify(Conn* c) {
  if (c->identified) return;  // a later request on the same connection
  c->identified = true;
  CallerIdentity found;
  if (s_->ledger) {
    // Under `ringfence run` with the connect guard, every connection of
    // the sandbox was made by the guard, which recorded who asked. No
    // entry: not the sandbox's. An empty entry: nobody is named, and a
    // binary rule refuses.
    if (!s_->ledger->Take(c->peer, &found)) return;
    c->caller.attributed = true;
  } else {
    auto id = Identities().Resolve(c->peer, c->local);
    if (!id.ok()) return;
    found = std::move(*id);
    c->caller.attributed = s_->sandbox_root.load() > 0;  // found below the sandbox root
  }
  c->caller_pid = found.pid;
  c->caller.exes = std::move(found.exes);
  if (!c->caller.exes.empty()) c->caller.binary = c->caller.exes.front();
}

IdentityResolver& Worker::Identities() {
  pid_t root = s_->sandbox_root.load();
  if (!identity_ || identity_root_ != root) {
    identity_ = std::make_unique<IdentityResolver>(root);
    identity_root_ = root;
  }
  return *identity_;
}

void Worker::Decide(Conn* c) {
  c->deadline = 0;
  // Generation first: a change between the two loads is then seen as one
  // still to take (an inspected connection rebuilds its rules once more).
  c->rules_generation = s_->generation.load();
  c->rules = s_->matcher.load();
  // The caller is looked up only when the decision depends on it, unless
  // the audit log always names it.
  if (s_->config.identify_always || s_->config.sandbox_only ||
      CallerMatters(*c->rules, c->host, c->req.port))
    Identify(c);
  c->verdict = DecideTarget(*c->rules, c->host, c->req.port, c->caller, s_->config.sandbox_only);
  if (!c->verdict.allowed()) {
    Deny(c);
    return;
  }
  if (auto ip = StaticAddress(s_->hosts, c->host)) {
    OnAddresses(c, {*ip});
    return;
  }
  if (Status st = resolver_->Ensure(); !st.ok()) {
    Fail(c, 502, "cannot resolve " + c->host + ": " + st.reason());
    return;
  }
  c->state = State::kResolving;
  c->deadline = NowMs() + s_->config.dns_timeout_ms * 3;
  resolver_->Lookup(c->host, c->id);  // may answer at once (OnResolved)
}

void Worker::OnResolved(uint64_t id, std::vector<IpAddr> addrs, const char* error) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second->state != State::kResolving) return;
  Conn* c = it->second.get();
  if (addrs.empty()) {
    Fail(c, 502, "cannot resolve " + c->host + ": " + error);
    return;
  }
  OnAddresses(c, std::move(addrs));
}

// DNS pinning: this is the only lookup for the connection; every address
// is checked, and only these checked addresses are ever connected to.
void Worker::OnAddresses(Conn* c, std::vector<IpAddr> addrs) {
  std::vector<Address> seen;
  seen.reserve(addrs.size());
  for (const auto& a : addrs) seen.push_back(LocalView(a));
  c->verdict = DecideAddresses(*c->rules, std::move(c->verdict), c->host, seen);
  if (!c->verdict.allowed()) {
    Deny(c);
    return;
  }
  std::vector<std::string> shown;
  shown.reserve(addrs.size());
  for (const auto& a : addrs) shown.push_back(a.ToString());
  s_->allowed++;
  const std::string& policy = c->verdict.policy;
  AuditEvent e{"proxy", "allow", Target(c->host, c->req.port), "policy " + policy, {}};
  e.extra = {{"host", c->host},
             {"port", c->req.port},
             {"address", shown.front()},
             {"addresses", shown},
             {"binary", c->caller.binary.empty() ? "unknown" : c->caller.binary},
             {"pid", c->caller_pid},
             {"policy", policy},
             {"method", c->req.method}};
  c->via_upstream = s_->upstream && !BypassesUpstream(*s_->upstream, c->host, addrs.front());
  if (c->via_upstream) e.extra["upstream_proxy"] = s_->upstream->Shown();
  if (c->captured) e.extra["captured"] = c->capture_raw ? "tcp" : "http";
  s_->audit->Emit(e);
  c->addrs = std::move(addrs);
  c->next_addr = 0;
  Connect(c);
}

void Worker::Connect(Conn* c) {
  while (c->next_addr < c->addrs.size()) {
    const IpAddr& a = c->addrs[c->next_addr++];
    IpAddr target = EmbeddedIpv4(a);
    // Only IPv4-mapped forms are unwrapped; others are connected as given.
    bool mapped = a.family == AF_INET6 && a.bytes[10] == 0xff && a.bytes[11] == 0xff;
    const IpAddr& checked = mapped ? target : a;
    // Through the upstream proxy: dial it, and ask it for the checked address.
    const IpAddr& use = c->via_upstream ? s_->upstream->addrs.front() : checked;
    const uint16_t port = c->via_upstream ? s_->upstream->port : c->req.port;
    if (c->via_upstream) c->handshake = UpstreamConnectRequest(*s_->upstream, checked, c->req.port);
    sockaddr_storage ss;
    socklen_t len;
    if (!ToSockaddr(use, port, &ss, &len)) continue;
    UniqueFd fd(socket(use.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) continue;
    int one = 1;
    if (s_->config.tcp_nodelay) setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len);
    if (rc != 0 && errno != EINPROGRESS) continue;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = EpollTag::Upstream(c->id).data();
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) continue;
    c->upstream = std::move(fd);
    c->ready.u_rd = c->ready.u_wr = false;
    c->state = State::kConnecting;
    c->deadline = NowMs() + s_->config.connect_timeout_ms;
    return;
  }
  if (!c->via_upstream) {
    Fail(c, 502, "cannot connect to " + Target(c->host, c->req.port));
  } else {
    Fail(c, 502,
         "cannot reach " + Target(c->host, c->req.port) + " through the upstream proxy " +
             s_->upstream->Shown() + (c->upstream_why.empty() ? "" : ": " + c->upstream_why));
  }
}

// Sends our CONNECT to the upstream proxy and reads its answer's head
// (only the head: bytes after it belong to the tunnel).
void Worker::Handshake(Conn* c) {
  while (!c->handshake.empty() && c->ready.u_wr) {
    ssize_t n = send(c->upstream.get(), c->handshake.data(), c->handshake.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c->handshake.erase(0, static_cast<size_t>(n));
    } else if (n < 0 && errno == EAGAIN) {
      c->ready.u_wr = false;
    } else {
      return NextAddress(c, "the connection failed");
    }
  }
  if (!c->handshake.empty() || !c->ready.u_rd) return;
  constexpr size_t kMaxHead = 8192;
  char buf[kMaxHead];
  ssize_t n = recv(c->upstream.get(), buf, sizeof buf, MSG_PEEK);
  if (n < 0 && errno == EAGAIN) {
    c->ready.u_rd = false;
    return;
  }
  if (n <= 0) return NextAddress(c, "it closed the connection");
  std::string seen(buf, static_cast<size_t>(n));
  size_t end = seen.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (seen.size() >= kMaxHead) return NextAddress(c, "its answer's head is too long");
    c->ready.u_rd = false;  // edge-triggered: more comes with the next event
    return;
  }
  recv(c->upstream.get(), buf, end + 4, 0);  // consume exactly the head
  int status = UpstreamStatus(seen);
  if (status != 200) return NextAddress(c, "it answered " + seen.substr(0, seen.find("\r\n")));
  StartTunnel(c);
}

void Worker::NextAddress(Conn* c, const std::string& why) {
  c->upstream_why = why;
  c->upstream.reset();
  Connect(c);
}

void Worker::CheckConnect(Conn* c) {
  if (!c->ready.u_wr) return;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->upstream.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    c->upstream.reset();
    Connect(c);
    return;
  }
  if (c->via_upstream) {
    c->state = State::kHandshake;
    Handshake(c);
    return;
  }
  StartTunnel(c);
}

void Worker::StartTunnel(Conn* c) {
  c->state = State::kTunnel;
  c->deadline = NowMs() + s_->config.idle_timeout_ms;
  std::string rest = c->inbuf.substr(c->req.head_length);
  c->inbuf.clear();
  c->inbuf.shrink_to_fit();
  // A captured connection's first bytes were only peeked: still to read.
  if (c->captured) c->ready.c_rd = true;
  if (c->rules->Inspects(c->verdict.endpoints)) {
    StartInspected(c, std::move(rest));
    return;
  }
  Tunnel& t = c->tunnel;
  t.connect = c->req.kind == ReqKind::kConnect;
  if (t.connect) {
    if (!c->captured) t.down.pending = "HTTP/1.1 200 Connection established\r\n\r\n";
    t.up.pending = std::move(rest);
  } else {
    int64_t body = c->req.body_length;
    if (body >= 0 && static_cast<int64_t>(rest.size()) > body) rest.resize(body);  // no pipelining
    t.up.budget = body < 0 ? -1 : body - static_cast<int64_t>(rest.size());
    if (t.up.chunks) {
      t.up.splice = false;  // each byte goes through the decoder
      if (t.up.chunks->state() == ChunkDecoder::State::kDone) t.up.budget = 0;
    }
    if (t.up.budget == 0) t.up.eof = t.up.shut = true;  // nothing more from the client
    t.up.pending = c->req.upstream_head + rest;
  }
  c->ready.c_wr = true;
  c->ready.u_rd = true;
  Pump(c);
}

// Every endpoint still in play takes part in the verdict on each request:
// an inspected one with its rules and path selector, an L4 one as "every
// request" (so a deny rule of an inspected endpoint still holds beside it).
void Worker::StartInspected(Conn* c, std::string rest) {
  l7::TunnelSetup setup;
  setup.client_fd = c->client.get();
  setup.upstream_fd = c->upstream.get();
  setup.inspector.host = c->host;
  setup.inspector.port = c->req.port;
  setup.inspector.max_head = s_->config.max_head_bytes;
  setup.inspector.credentials = s_->config.credentials;
  setup.inspector.endpoints = InspectedEndpoints(*c->rules, c->verdict.endpoints);
  bool all_skip = true;
  for (int i : c->verdict.endpoints) {
    const CompiledEndpoint& ce = c->rules->endpoint(i);
    if (ce.inspect) all_skip = all_skip && ce.tls_skip;
  }
  setup.tls_skip = all_skip;
  setup.tls_server = s_->tls_server.get();
  setup.tls_client = s_->tls_client.get();
  setup.authority = s_->authority.get();
  if (c->req.kind == ReqKind::kConnect) {
    if (!c->captured) setup.preamble = "HTTP/1.1 200 Connection established\r\n\r\n";
    setup.initial = std::move(rest);
  } else {
    // A forward request: its head, already rebuilt in origin form for the
    // upstream, is the inspector's first request (and its only one: the
    // forward proxy closes after each).
    setup.initial = c->req.upstream_head + rest;
  }
  c->inspected = std::make_unique<l7::Tunnel>(std::move(setup));
  c->ready.c_wr = true;
  c->ready.u_rd = true;
  c->ready.u_wr = true;
  PumpInspected(c);
}

// A live policy change (docs/live-policy.md) reaches an inspected
// connection at its next request: the endpoints the new rules give for its
// host, port, caller and the address it is connected to, none when they no
// longer allow it (its requests are then refused). The TLS decision taken at
// its start stands.
void Worker::RefreshRules(Conn* c) {
  c->rules_generation = s_->generation.load();
  c->rules = s_->matcher.load();
  Verdict v = DecideTarget(*c->rules, c->host, c->req.port, c->caller, s_->config.sandbox_only);
  if (v.allowed() && !c->addrs.empty()) {
    const IpAddr& used = c->addrs[c->next_addr > 0 ? c->next_addr - 1 : 0];
    v = DecideAddresses(*c->rules, std::move(v), c->host, {LocalView(used)});
  }
  c->verdict = v.allowed() ? std::move(v) : Verdict{};
  c->inspected->SetEndpoints(InspectedEndpoints(*c->rules, c->verdict.endpoints));
}

void Worker::PumpInspected(Conn* c) {
  if (s_->generation.load() != c->rules_generation) RefreshRules(c);
  l7::Readiness r{c->ready.c_rd, c->ready.c_wr, c->ready.u_rd, c->ready.u_wr};
  std::vector<l7::RequestEvent> events;
  l7::Tunnel::Step step = c->inspected->Pump(r, &events);
  c->ready.c_rd = r.client_read, c->ready.c_wr = r.client_write;
  c->ready.u_rd = r.upstream_read, c->ready.u_wr = r.upstream_write;
  for (const auto& ev : events) EmitRequest(c, ev);
  if (step == l7::Tunnel::Step::kDone) {
    if (!c->inspected->error().empty()) {
      AuditEvent e{"http", "error", Target(c->host, c->req.port), c->inspected->error(), {}};
      e.extra = {{"host", c->host}, {"port", c->req.port}};
      s_->audit->Emit(e);
    }
    Close(c);
    return;
  }
  c->deadline = NowMs() + s_->config.idle_timeout_ms;
}

namespace {

// GraphQL operations on the event: type, name and root fields (never
// variables or argument values).
void AddGraphqlFields(const l7::RequestEvent& ev, nlohmann::json& extra) {
  if (!ev.graphql_error.empty()) extra["graphql_error"] = ev.graphql_error;
  if (ev.graphql.empty()) return;
  nlohmann::json ops = nlohmann::json::array();
  for (const auto& op : ev.graphql) {
    nlohmann::json o = {{"operation_type", op.type}, {"fields", op.fields}};
    if (!op.name.empty()) o["operation_name"] = op.name;
    if (op.persisted) o["persisted_query"] = op.persisted_key;
    ops.push_back(std::move(o));
  }
  extra["graphql"] = std::move(ops);
}

}  // namespace

void Worker::EmitRequest(Conn* c, const l7::RequestEvent& ev) {
  const bool refused = !ev.allowed;
  const char* action = ev.status >= 500 ? "error"
                       : refused        ? "deny"
                       : ev.would_deny  ? "would_deny"
                                        : "allow";
  std::string bin = c->caller.binary.empty() ? "unknown" : c->caller.binary;
  std::string target = Target(c->host, c->req.port);
  std::string subject = (ev.method.empty() ? std::string("-") : ev.method) + " " + target + ev.path;
  // MCP and JSON-RPC calls: the call's method and tool, never its arguments.
  if (!ev.rpc_method.empty())
    subject += " " + ev.rpc_method + (ev.tool.empty() ? "" : " " + ev.tool);
  AuditEvent e{"http", action, subject, ev.reason.empty() ? ev.rule : ev.reason, {}};
  e.extra = {{"host", c->host},         {"port", c->req.port}, {"method", ev.method},
             {"path", ev.path},         {"rule", ev.rule},     {"policy", ev.policy},
             {"endpoint", ev.endpoint}, {"binary", bin},       {"pid", c->caller_pid}};
  if (ev.status) e.extra["status"] = ev.status;
  if (!ev.hint.empty()) e.extra["hint"] = ev.hint;
  if (!ev.rpc_method.empty()) e.extra["rpc_method"] = ev.rpc_method;
  if (!ev.tool.empty()) e.extra["tool"] = ev.tool;
  AddGraphqlFields(ev, e.extra);
  s_->audit->Emit(e);
  if (refused && ev.status < 500) {
    s_->denied++;
    s_->CountDenial(ev.method + " " + target + ev.path, bin);
  }
}

void Worker::Pump(Conn* c) {
  if (c->inspected) {
    PumpInspected(c);
    return;
  }
  bool progressed = false;
  switch (
      proxy::Pump(c->tunnel, c->client.get(), c->upstream.get(), c->ready, pipes_, &progressed)) {
    case PumpResult::kFailed:
      if (!c->tunnel.body_error.empty() && !c->tunnel.down.started) {
        // Nothing of the upstream's answer reached the client yet: say why.
        // Respond drops the upstream connection mid-body.
        Respond(c, 400, "text/plain", c->tunnel.body_error + "\n", c->tunnel.body_error);
        return;
      }
      Close(c);
      return;
    case PumpResult::kDone:
      Close(c);
      return;
    case PumpResult::kOpen:
      break;
  }
  if (progressed) c->deadline = NowMs() + s_->config.idle_timeout_ms;
}

}  // namespace rf::proxy
