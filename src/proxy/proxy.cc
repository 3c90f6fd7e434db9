#include "proxy/proxy.h"

#include <ares.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "common/json_text.h"
#include "common/terminal_text.h"
#include "proxy/http.h"
#include "proxy/identity.h"
#include "proxy/ssrf.h"

namespace rf::proxy {

namespace {

constexpr uint64_t kTagClient = 0, kTagUpstream = 1, kTagSpecial = 3;
constexpr uint64_t kSpecialListener = 1, kSpecialWake = 2, kSpecialAres = 3;
constexpr size_t kBufSize = 64 * 1024;
constexpr int kLingerMs = 1000;
constexpr int kMaxLingering = 64;

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

uint64_t Tag(uint64_t id, uint64_t tag) { return (id << 2) | tag; }

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

// One direction of a tunnel: src -> (pipe | buffer) -> dst.
struct Dir {
  std::string pending;  // bytes to write to dst before anything else
  size_t pending_off = 0;
  UniqueFd pipe_r, pipe_w;
  size_t in_pipe = 0;
  size_t pipe_cap = 65536;
  std::unique_ptr<char[]> buf;  // buffer mode
  size_t buf_off = 0, buf_len = 0;
  int64_t budget = -1;   // bytes still to read from src; -1 unlimited
  bool splice = true;    // false: buffer loop
  bool eof = false;      // src said EOF (or budget exhausted)
  bool shut = false;     // dst write side shut down / finished
  bool started = false;  // some bytes reached dst
  // Forward requests with a chunked body: every byte read from src is
  // validated; relaying stops at the body's end (buffer loop, no splice).
  std::unique_ptr<ChunkDecoder> chunks;
  bool Drained() const {
    return pending_off == pending.size() && in_pipe == 0 && buf_len == buf_off;
  }
};

// kHandshake: connected to the upstream proxy, its answer to our CONNECT pending.
enum class State { kReadHead, kResolving, kConnecting, kHandshake, kTunnel, kLinger };

struct Conn {
  uint64_t id = 0;
  State state = State::kReadHead;
  UniqueFd client, upstream;
  sockaddr_storage peer{}, local{};
  std::string inbuf;
  Request req;
  std::string host;  // normalised
  std::vector<int> endpoints;
  std::vector<IpAddr> addrs;
  size_t next_addr = 0;
  std::string policy;
  CallerIdentity ident;
  std::string binary;
  bool identified = false;  // Identify() ran (a ledger entry is taken once)
  bool attributed = false;  // the connection is known to be the sandbox's
  bool c_rd = false, c_wr = false, u_rd = false, u_wr = false;
  Dir up, down;  // up: client -> upstream; down: upstream -> client
  int64_t deadline = 0;
  bool counted = true;  // counts toward max_connections
  std::string out;      // response to the client in kLinger
  size_t out_off = 0;
  std::string body_error;     // the client's chunked body was malformed
  bool via_upstream = false;  // dialed through network.upstream_proxy
  std::string handshake;      // our CONNECT to the upstream proxy, not yet sent
  std::string upstream_why;   // the upstream proxy's last refusal
};

}  // namespace

class Worker {
 public:
  Worker(Proxy::Shared* s, int listener) : s_(s), listener_(listener) {}
  ~Worker() {
    if (channel_) ares_destroy(channel_);  // fails pending queries: callbacks see no conn
    conns_.clear();
  }

  Status Init() {
    epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_.valid()) return Status::Errno("epoll_create1");
    wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_.valid()) return Status::Errno("eventfd");
    reserve_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    Resolver();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = Tag(kSpecialListener, kTagSpecial);
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_, &ev) != 0)
      return Status::Errno("epoll_ctl listener");
    ev.events = EPOLLIN;
    ev.data.u64 = Tag(kSpecialWake, kTagSpecial);
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) != 0)
      return Status::Errno("epoll_ctl eventfd");
    // The resolver is set up on first use (most sandboxed commands never
    // make a request: start-up stays cheap), except when DNS servers are
    // configured, which are validated now.
    if (!s_->config.dns_servers.empty()) return EnsureResolver();
    return Status::Ok();
  }

  Status EnsureResolver() {
    if (channel_) return Status::Ok();
    ares_options opts{};
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    opts.sock_state_cb = &Worker::AresSockState;
    opts.sock_state_cb_data = this;
    opts.timeout = std::max(100, s_->config.dns_timeout_ms / 2);
    opts.tries = 2;
    if (int rc = ares_init_options(&channel_, &opts, mask); rc != ARES_SUCCESS) {
      channel_ = nullptr;
      return Status::Error(std::string("c-ares init: ") + ares_strerror(rc));
    }
    if (!s_->config.dns_servers.empty()) {
      if (int rc = ares_set_servers_ports_csv(channel_, s_->config.dns_servers.c_str());
          rc != ARES_SUCCESS)
        return Status::Error("DNS servers '" + s_->config.dns_servers + "': " + ares_strerror(rc));
    }
    return Status::Ok();
  }

  void Wake() {
    uint64_t one = 1;
    ssize_t n = write(wake_.get(), &one, sizeof one);
    (void)n;
  }

  void Run() {
    epoll_event events[128];
    int64_t last_sweep = NowMs();
    while (!s_->stopping.load(std::memory_order_relaxed)) {
      // Idle (no connection, no pooled pipe, no lookup): no timeout at all,
      // so a sandbox that has used the network once costs nothing while it
      // waits. Otherwise deadlines are checked every 200 ms.
      int timeout = accept_paused_until_ ? kAcceptPauseMs
                    : !conns_.empty()    ? 200
                    : !pipes_.empty()    ? static_cast<int>(std::max<int64_t>(
                                            1, pipes_.front().released_ms + kPipeIdleMs - NowMs()))
                                         : -1;
      timeval tv{}, maxtv{0, 200000};
      if (queries_ > 0 && channel_ && ares_timeout(channel_, &maxtv, &tv)) {
        int ares_ms = static_cast<int>(tv.tv_sec * 1000 + tv.tv_usec / 1000) + 1;
        timeout = timeout < 0 ? ares_ms : std::min(timeout, ares_ms);
      }
      int n = epoll_wait(epoll_.get(), events, 128, timeout);
      if (n < 0 && errno != EINTR) break;
      for (int i = 0; i < n; ++i) Dispatch(events[i]);
      if (queries_ > 0 && channel_)
        ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
      int64_t now = NowMs();
      ResumeAccepting(now);
      if (now - last_sweep >= 200 || (conns_.empty() && !pipes_.empty())) {
        Sweep(now);
        last_sweep = now;
      }
    }
  }

 private:
  // ---- plumbing -----------------------------------------------------------
  static void AresSockState(void* data, ares_socket_t fd, int readable, int writable) {
    auto* w = static_cast<Worker*>(data);
    epoll_event ev{};
    ev.events = (readable ? uint32_t{EPOLLIN} : 0u) | (writable ? uint32_t{EPOLLOUT} : 0u);
    ev.data.u64 = (static_cast<uint64_t>(fd) << 8) | (kSpecialAres << 2) | kTagSpecial;
    if (!readable && !writable) {
      epoll_ctl(w->epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
      return;
    }
    if (epoll_ctl(w->epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0)
      epoll_ctl(w->epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
  }

  void Dispatch(const epoll_event& ev) {
    uint64_t d = ev.data.u64;
    if ((d & 3) == kTagSpecial) {
      uint64_t kind = (d >> 2) & 0x3f;
      if (kind == kSpecialListener) {
        Accept();
      } else if (kind == kSpecialWake) {
        uint64_t v;
        ssize_t r = read(wake_.get(), &v, sizeof v);
        (void)r;
      } else if (kind == kSpecialAres) {
        int fd = static_cast<int>(d >> 8);
        ares_process_fd(channel_,
                        (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD,
                        (ev.events & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
      }
      return;
    }
    auto it = conns_.find(d >> 2);
    if (it == conns_.end()) return;
    Conn* c = it->second.get();
    bool client = (d & 3) == kTagClient;
    if (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
      (client ? c->c_rd : c->u_rd) = true;
    if (ev.events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) (client ? c->c_wr : c->u_wr) = true;
    if (client && (ev.events & EPOLLERR) && c->state != State::kTunnel) {
      Close(c);
      return;
    }
    Drive(c, client);
  }

  void PauseAccepting() {
    if (accept_paused_until_) return;
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_, nullptr);
    accept_paused_until_ = NowMs() + kAcceptPauseMs;
    s_->over_capacity++;
  }

  void ResumeAccepting(int64_t now) {
    if (!accept_paused_until_ || now < accept_paused_until_) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = Tag(kSpecialListener, kTagSpecial);
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_, &ev) == 0) {
      accept_paused_until_ = 0;
    } else {
      accept_paused_until_ = now + kAcceptPauseMs;  // try again later
    }
  }

  void Accept() {
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage peer{};
      socklen_t plen = sizeof peer;
      int fd = accept4(listener_, reinterpret_cast<sockaddr*>(&peer), &plen,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
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
      c->up.splice = c->down.splice = s_->config.use_splice;
      int one = 1;
      if (s_->config.tcp_nodelay) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.u64 = Tag(c->id, kTagClient);
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
    }
  }

  void Close(Conn* c) {
    if (c->counted) s_->active.fetch_sub(1);
    if (c->state == State::kLinger) --lingering_;
    ReleasePipe(c->up);
    ReleasePipe(c->down);
    conns_.erase(c->id);  // UniqueFds close client, upstream, pipes (epoll drops them)
  }

  // Splice pipes are reused across connections (pipe2 + F_SETPIPE_SZ and the
  // kernel's pipe teardown were ~10 % of a short connection's cost). A pipe
  // is pooled only when the kernel confirms it is empty, so no byte of one
  // connection can reach another. A pooled pipe unused for kPipeIdleMs is
  // closed, so an idle proxy holds no more descriptors than a fresh one.
  static constexpr size_t kPipePool = 64;
  static constexpr int64_t kPipeIdleMs = 500;
  struct Pipe {
    UniqueFd r, w;
    size_t cap = 0;
    int64_t released_ms = 0;
  };
  std::vector<Pipe> pipes_;

  void ReleasePipe(Dir& d) {
    if (!d.pipe_r.valid() || pipes_.size() >= kPipePool || d.in_pipe != 0) return;
    int queued = -1;
    if (ioctl(d.pipe_r.get(), FIONREAD, &queued) != 0 || queued != 0) return;
    pipes_.push_back({std::move(d.pipe_r), std::move(d.pipe_w), d.pipe_cap, NowMs()});
  }

  Status AcquirePipe(Dir& d) {
    if (!pipes_.empty()) {
      Pipe& p = pipes_.back();
      d.pipe_r = std::move(p.r);
      d.pipe_w = std::move(p.w);
      d.pipe_cap = p.cap;
      pipes_.pop_back();
      return Status::Ok();
    }
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) return Status::Errno("pipe2");
    d.pipe_r.reset(p[0]);
    d.pipe_w.reset(p[1]);
    if (s_->config.pipe_size > 0) fcntl(p[1], F_SETPIPE_SZ, s_->config.pipe_size);
    int sz = fcntl(p[1], F_GETPIPE_SZ);
    if (sz > 0) d.pipe_cap = static_cast<size_t>(sz);
    return Status::Ok();
  }

  void Sweep(int64_t now) {
    // Oldest pipes are at the front (the pool is used as a stack).
    size_t stale = 0;
    while (stale < pipes_.size() && now - pipes_[stale].released_ms >= kPipeIdleMs) ++stale;
    pipes_.erase(pipes_.begin(), pipes_.begin() + static_cast<ptrdiff_t>(stale));
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
  void Respond(Conn* c, int status, const std::string& type, const std::string& body,
               const std::string& why) {
    if (status != 403 && status != 503) {
      s_->errors++;
      AuditEvent e{"proxy", "error", c->host.empty() ? "-" : Target(c->host, c->req.port), why, {}};
      e.extra["status"] = status;
      s_->audit->Emit(e);
    }
    c->upstream.reset();
    if (c->state != State::kLinger) ++lingering_;
    c->state = State::kLinger;
    c->out = Response(status, type, body);
    c->out_off = 0;
    c->c_wr = true;
    c->deadline = NowMs() + kLingerMs;
    Drive(c, true);
  }

  void Fail(Conn* c, int status, const std::string& why) {
    nlohmann::json body = {
        {"error", StatusText(status)}, {"host", c->host}, {"port", c->req.port}, {"reason", why}};
    Respond(c, status, "application/json", JsonText(body) + "\n", why);
  }

  void Deny(Conn* c, const std::string& reason, const std::string& hint,
            const std::string& address = "") {
    s_->denied++;
    std::string bin = c->binary.empty() ? "unknown" : c->binary;
    nlohmann::json body = {{"error", "forbidden by ringfence policy"},
                           {"host", c->host},
                           {"port", c->req.port},
                           {"binary", bin},
                           {"reason", reason},
                           {"hint", hint}};
    AuditEvent e{"proxy", "deny", Target(c->host, c->req.port), reason, {}};
    e.extra = {{"host", c->host},         {"port", c->req.port}, {"binary", bin},
               {"pid", c->ident.pid},     {"address", address},  {"policy", c->policy},
               {"method", c->req.method}, {"hint", hint}};
    s_->audit->Emit(e);
    {
      std::lock_guard<std::mutex> lock(s_->mu);
      s_->denials[{Target(c->host, c->req.port), bin}]++;
    }
    Respond(c, 403, "application/json", JsonText(body) + "\n", reason);
  }

  // ---- the state machine -------------------------------------------------
  void Drive(Conn* c, bool client_event) {
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

  void Linger(Conn* c) {
    while (c->out_off < c->out.size() && c->c_wr) {
      ssize_t n = send(c->client.get(), c->out.data() + c->out_off, c->out.size() - c->out_off,
                       MSG_NOSIGNAL);
      if (n > 0) {
        c->out_off += static_cast<size_t>(n);
        if (c->out_off == c->out.size()) shutdown(c->client.get(), SHUT_WR);
      } else if (n < 0 && errno == EAGAIN) {
        c->c_wr = false;
      } else {
        Close(c);
        return;
      }
    }
    // Drain what the client still sends so that close() does not reset the
    // connection before it read the response.
    char buf[4096];
    for (int i = 0; i < 64 && c->c_rd; ++i) {
      ssize_t n = recv(c->client.get(), buf, sizeof buf, 0);
      if (n < 0 && errno == EAGAIN) {
        c->c_rd = false;
      } else if (n <= 0) {
        if (c->out_off == c->out.size()) Close(c);
        return;
      }
    }
  }

  void ReadHead(Conn* c) {
    size_t limit = s_->config.max_head_bytes;
    char buf[8192];
    bool eof = false;
    while (c->c_rd) {
      size_t room = limit + 1 > c->inbuf.size() ? limit + 1 - c->inbuf.size() : 0;
      if (room == 0) break;
      ssize_t n = recv(c->client.get(), buf, std::min(room, sizeof buf), 0);
      if (n > 0) {
        c->inbuf.append(buf, static_cast<size_t>(n));
      } else if (n < 0 && errno == EAGAIN) {
        c->c_rd = false;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        eof = true;
        c->c_rd = false;
        break;
      }
    }
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
      c->up.chunks = std::make_unique<ChunkDecoder>();
      auto step = c->up.chunks->Feed(std::string_view(c->inbuf).substr(c->req.head_length));
      if (step.state == ChunkDecoder::State::kError) {
        Respond(c, 400, "text/plain", "malformed chunked body: " + c->up.chunks->error() + "\n",
                "malformed chunked body: " + c->up.chunks->error());
        return;
      }
      c->inbuf.resize(c->req.head_length + step.used);  // nothing past the body
    }
    Decide(c);
  }

  void Identify(Conn* c) {
    if (c->identified) return;  // a later request on the same connection
    c->identified = true;
    if (s_->ledger) {
      // Under `ringfence run` with the connect guard, every connection of
      // the sandbox was made by the guard, which recorded who asked. No
      // entry: not the sandbox's. An empty entry: nobody is named, and a
      // binary rule refuses.
      auto inode = Resolver().FindInode(c->peer, c->local);
      CallerIdentity recorded;
      if (inode.ok() && s_->ledger->Take(*inode, &recorded)) {
        c->ident = std::move(recorded);
        c->attributed = true;
      }
    } else {
      auto id = Resolver().Resolve(c->peer, c->local);
      if (!id.ok()) return;
      c->ident = std::move(*id);
      c->attributed = s_->sandbox_root.load() > 0;  // found below the sandbox root
    }
    if (!c->ident.exes.empty()) c->binary = c->ident.exes.front();
  }

  IdentityResolver& Resolver() {
    pid_t root = s_->sandbox_root.load();
    if (!identity_ || identity_root_ != root) {
      identity_ = std::make_unique<IdentityResolver>(root);
      identity_root_ = root;
    }
    return *identity_;
  }

  void Decide(Conn* c) {
    c->deadline = 0;
    if (s_->config.sandbox_only) {
      Identify(c);
      if (!c->attributed) {
        Deny(c, "the connection was not made by the sandboxed command",
             "this proxy serves only the sandbox it was started for; another local process "
             "needs its own policy");
        return;
      }
    }
    if (IsNonCanonicalIpLiteral(c->host)) {
      if (s_->config.identify_always) Identify(c);
      Deny(c,
           "'" + c->host +
               "' is an IP literal in a non-canonical form; it is refused, not interpreted",
           "use the canonical dotted-quad or RFC 5952 form, allowed by an exact host endpoint");
      return;
    }
    Stage hp = s_->matcher.MatchHostPort(c->host, c->req.port);
    bool need_id = hp.endpoints.empty() ? true : !s_->matcher.AnyBinary(hp.endpoints);
    if (need_id || s_->config.identify_always) Identify(c);
    if (hp.endpoints.empty()) {
      Deny(c, hp.reason, hp.hint);
      return;
    }
    Stage bin = s_->matcher.MatchBinary(hp.endpoints, c->ident.exes, c->binary);
    if (bin.endpoints.empty()) {
      c->policy = s_->matcher.policy(s_->matcher.endpoint(hp.endpoints.front()).policy).name;
      Deny(c, bin.reason, bin.hint);
      return;
    }
    c->endpoints = std::move(bin.endpoints);
    c->policy = s_->matcher.policy(s_->matcher.endpoint(c->endpoints.front()).policy).name;
    if (auto ip = ParseIpLiteral(c->host)) {
      OnAddresses(c, {*ip});
      return;
    }
    if (auto it = s_->hosts.find(c->host); it != s_->hosts.end()) {
      if (auto ip = ParseIpLiteral(it->second)) {
        OnAddresses(c, {*ip});
        return;
      }
    }
    if (Status st = EnsureResolver(); !st.ok()) {
      Fail(c, 502, "cannot resolve " + c->host + ": " + st.reason());
      return;
    }
    c->state = State::kResolving;
    c->deadline = NowMs() + s_->config.dns_timeout_ms * 3;
    auto* q = new Query{this, c->id};
    ++queries_;
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = ARES_AI_NOSORT;
    ares_getaddrinfo(channel_, c->host.c_str(), nullptr, &hints, &Worker::OnResolved, q);
  }

  struct Query {
    Worker* w;
    uint64_t id;
  };

  static void OnResolved(void* arg, int status, int /*timeouts*/, ares_addrinfo* res) {
    std::unique_ptr<Query> q(static_cast<Query*>(arg));
    Worker* w = q->w;
    --w->queries_;
    auto it = w->conns_.find(q->id);
    if (status == ARES_EDESTRUCTION || it == w->conns_.end() ||
        it->second->state != State::kResolving) {
      if (res) ares_freeaddrinfo(res);
      return;
    }
    Conn* c = it->second.get();
    std::vector<IpAddr> addrs;
    if (status == ARES_SUCCESS && res) {
      for (ares_addrinfo_node* n = res->nodes; n; n = n->ai_next) {
        IpAddr a;
        if (n->ai_family == AF_INET) {
          a.family = AF_INET;
          memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in*>(n->ai_addr)->sin_addr, 4);
        } else if (n->ai_family == AF_INET6) {
          a.family = AF_INET6;
          memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in6*>(n->ai_addr)->sin6_addr, 16);
        } else {
          continue;
        }
        if (std::find(addrs.begin(), addrs.end(), a) == addrs.end()) addrs.push_back(a);
      }
    }
    if (res) ares_freeaddrinfo(res);
    if (addrs.empty()) {
      w->Fail(c, 502, "cannot resolve " + c->host + ": " + ares_strerror(status));
      return;
    }
    w->OnAddresses(c, addrs);
  }

  // DNS pinning: this is the only lookup for the connection; every address
  // is checked, and only these checked addresses are ever connected to.
  void OnAddresses(Conn* c, std::vector<IpAddr> addrs) {
    std::vector<std::string> shown;
    for (const auto& a : addrs) {
      std::string reason, hint;
      // One of this host's own addresses reaches its services like loopback.
      const bool host_address = Classify(a) == AddrClass::kPublic && IsHostAddress(EmbeddedIpv4(a));
      if (s_->matcher.MatchAddress(c->endpoints, c->host, a, &reason, &hint, host_address) < 0) {
        Deny(c, reason, hint, a.ToString());
        return;
      }
      shown.push_back(a.ToString());
    }
    s_->allowed++;
    AuditEvent e{"proxy", "allow", Target(c->host, c->req.port), "policy " + c->policy, {}};
    e.extra = {{"host", c->host},
               {"port", c->req.port},
               {"address", shown.front()},
               {"addresses", shown},
               {"binary", c->binary.empty() ? "unknown" : c->binary},
               {"pid", c->ident.pid},
               {"policy", c->policy},
               {"method", c->req.method}};
    c->via_upstream = s_->upstream && !BypassesUpstream(*s_->upstream, c->host, addrs.front());
    if (c->via_upstream) e.extra["upstream_proxy"] = s_->upstream->Shown();
    s_->audit->Emit(e);
    c->addrs = std::move(addrs);
    c->next_addr = 0;
    Connect(c);
  }

  void Connect(Conn* c) {
    while (c->next_addr < c->addrs.size()) {
      const IpAddr& a = c->addrs[c->next_addr++];
      IpAddr target = EmbeddedIpv4(a);
      // Only IPv4-mapped forms are unwrapped; others are connected as given.
      bool mapped = a.family == AF_INET6 && a.bytes[10] == 0xff && a.bytes[11] == 0xff;
      const IpAddr& checked = mapped ? target : a;
      // Through the upstream proxy: dial it, and ask it for the checked address.
      const IpAddr& use = c->via_upstream ? s_->upstream->addrs.front() : checked;
      const uint16_t port = c->via_upstream ? s_->upstream->port : c->req.port;
      if (c->via_upstream)
        c->handshake = UpstreamConnectRequest(*s_->upstream, checked, c->req.port);
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
      ev.data.u64 = Tag(c->id, kTagUpstream);
      if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) continue;
      c->upstream = std::move(fd);
      c->u_rd = c->u_wr = false;
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
  void Handshake(Conn* c) {
    while (!c->handshake.empty() && c->u_wr) {
      ssize_t n = send(c->upstream.get(), c->handshake.data(), c->handshake.size(), MSG_NOSIGNAL);
      if (n > 0) {
        c->handshake.erase(0, static_cast<size_t>(n));
      } else if (n < 0 && errno == EAGAIN) {
        c->u_wr = false;
      } else {
        return NextAddress(c, "the connection failed");
      }
    }
    if (!c->handshake.empty() || !c->u_rd) return;
    constexpr size_t kMaxHead = 8192;
    char buf[kMaxHead];
    ssize_t n = recv(c->upstream.get(), buf, sizeof buf, MSG_PEEK);
    if (n < 0 && errno == EAGAIN) {
      c->u_rd = false;
      return;
    }
    if (n <= 0) return NextAddress(c, "it closed the connection");
    std::string seen(buf, static_cast<size_t>(n));
    size_t end = seen.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (seen.size() >= kMaxHead) return NextAddress(c, "its answer's head is too long");
      c->u_rd = false;  // edge-triggered: more comes with the next event
      return;
    }
    recv(c->upstream.get(), buf, end + 4, 0);  // consume exactly the head
    int status = UpstreamStatus(seen);
    if (status != 200) return NextAddress(c, "it answered " + seen.substr(0, seen.find("\r\n")));
    StartTunnel(c);
  }

  void NextAddress(Conn* c, const std::string& why) {
    c->upstream_why = why;
    c->upstream.reset();
    Connect(c);
  }

  void CheckConnect(Conn* c) {
    if (!c->u_wr) return;
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

  void StartTunnel(Conn* c) {
    c->state = State::kTunnel;
    c->deadline = NowMs() + s_->config.idle_timeout_ms;
    std::string rest = c->inbuf.substr(c->req.head_length);
    c->inbuf.clear();
    c->inbuf.shrink_to_fit();
    if (c->req.kind == ReqKind::kConnect) {
      c->down.pending = "HTTP/1.1 200 Connection established\r\n\r\n";
      c->up.pending = std::move(rest);
    } else {
      int64_t body = c->req.body_length;
      if (body >= 0 && static_cast<int64_t>(rest.size()) > body)
        rest.resize(body);  // no pipelining
      c->up.budget = body < 0 ? -1 : body - static_cast<int64_t>(rest.size());
      if (c->up.chunks) {
        c->up.splice = false;  // each byte goes through the decoder
        if (c->up.chunks->state() == ChunkDecoder::State::kDone) c->up.budget = 0;
      }
      if (c->up.budget == 0) c->up.eof = c->up.shut = true;  // nothing more from the client
      c->up.pending = c->req.upstream_head + rest;
    }
    c->c_wr = true;
    c->u_rd = true;
    Pump(c);
  }

  // Moves bytes one way. Returns false on a fatal error (close the conn).
  bool PumpDir(Conn* c, Dir& d, int src, bool& src_rd, int dst, bool& dst_wr, bool& progressed) {
    for (int iter = 0; iter < 1024; ++iter) {
      bool moved = false;
      if (d.pending_off < d.pending.size() && dst_wr) {
        ssize_t n = send(dst, d.pending.data() + d.pending_off, d.pending.size() - d.pending_off,
                         MSG_NOSIGNAL);
        if (n > 0) {
          d.pending_off += static_cast<size_t>(n), moved = true, d.started = true;
          if (d.pending_off == d.pending.size()) {
            d.pending.clear();
            d.pending.shrink_to_fit();
            d.pending_off = 0;
          }
        } else if (n < 0 && errno == EAGAIN) {
          dst_wr = false;
        } else {
          return false;
        }
      }
      if (d.pending_off < d.pending.size()) break;
      if (d.splice) {
        if (d.in_pipe > 0 && dst_wr) {
          ssize_t n = splice(d.pipe_r.get(), nullptr, dst, nullptr, d.in_pipe,
                             SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
          if (n > 0) {
            d.in_pipe -= static_cast<size_t>(n), moved = true, d.started = true;
          } else if (n < 0 && errno == EAGAIN) {
            dst_wr = false;
          } else {
            return false;
          }
        }
        if (!d.eof && src_rd && d.in_pipe < d.pipe_cap) {
          if (!d.pipe_r.valid() && !AcquirePipe(d).ok()) return false;
          size_t want = d.pipe_cap - d.in_pipe;
          if (d.budget >= 0) want = std::min<size_t>(want, static_cast<size_t>(d.budget));
          ssize_t n = splice(src, nullptr, d.pipe_w.get(), nullptr, want,
                             SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
          if (n > 0) {
            d.in_pipe += static_cast<size_t>(n), moved = true;
            if (d.budget > 0) d.budget -= n;
            if (d.budget == 0) d.eof = true;
          } else if (n == 0) {
            d.eof = true, moved = true;
          } else if (errno == EAGAIN) {
            // With bytes in the pipe, EAGAIN may mean "pipe full", not "no data".
            if (d.in_pipe == 0) src_rd = false;
          } else if (errno == EINVAL && d.in_pipe == 0) {
            d.splice = false;  // not spliceable here: buffer loop from now on
            moved = true;
          } else {
            return false;
          }
        }
      } else {
        if (!d.buf) d.buf.reset(new char[kBufSize]);
        if (d.buf_off < d.buf_len && dst_wr) {
          ssize_t n = send(dst, d.buf.get() + d.buf_off, d.buf_len - d.buf_off, MSG_NOSIGNAL);
          if (n > 0) {
            d.buf_off += static_cast<size_t>(n), moved = true, d.started = true;
          } else if (n < 0 && errno == EAGAIN) {
            dst_wr = false;
          } else {
            return false;
          }
        }
        if (d.buf_off == d.buf_len && !d.eof && src_rd) {
          size_t want = kBufSize;
          if (d.budget >= 0) want = std::min<size_t>(want, static_cast<size_t>(d.budget));
          ssize_t n = recv(src, d.buf.get(), want, 0);
          d.buf_off = d.buf_len = 0;
          if (n > 0 && d.chunks) {
            auto step = d.chunks->Feed(std::string_view(d.buf.get(), static_cast<size_t>(n)));
            if (step.state == ChunkDecoder::State::kError) {
              c->body_error = "malformed chunked body: " + d.chunks->error();
              return false;
            }
            n = static_cast<ssize_t>(step.used);  // bytes past the body are dropped
            if (step.state == ChunkDecoder::State::kDone) d.budget = 0, d.eof = true;
          }
          if (n > 0) {
            d.buf_len = static_cast<size_t>(n), moved = true;
            if (d.budget > 0) d.budget -= n;
            if (d.budget == 0) d.eof = true;
          } else if (n == 0) {
            d.eof = true, moved = true;
          } else if (errno == EAGAIN) {
            src_rd = false;
          } else {
            return false;
          }
        }
      }
      progressed = progressed || moved;
      if (!moved) break;
    }
    if (d.eof && d.Drained() && !d.shut) {
      d.shut = true;
      if (c->req.kind == ReqKind::kConnect || d.budget != 0) shutdown(dst, SHUT_WR);
    }
    return true;
  }

  void Pump(Conn* c) {
    bool progressed = false;
    int cl = c->client.get(), up = c->upstream.get();
    if (!PumpDir(c, c->up, cl, c->c_rd, up, c->u_wr, progressed) ||
        !PumpDir(c, c->down, up, c->u_rd, cl, c->c_wr, progressed)) {
      if (!c->body_error.empty() && !c->down.started) {
        // Nothing of the upstream's answer reached the client yet: say why.
        // Respond drops the upstream connection mid-body.
        Respond(c, 400, "text/plain", c->body_error + "\n", c->body_error);
        return;
      }
      Close(c);
      return;
    }
    bool done = c->req.kind == ReqKind::kConnect ? (c->up.shut && c->down.shut) : c->down.shut;
    if (done) {
      Close(c);
      return;
    }
    if (progressed) c->deadline = NowMs() + s_->config.idle_timeout_ms;
  }

  Proxy::Shared* s_;
  int listener_;
  UniqueFd epoll_, wake_, reserve_;
  // Out of descriptors with no reserve left: the listener is out of the
  // epoll set until then (ms since the epoch), 0 when watched.
  int64_t accept_paused_until_ = 0;
  static constexpr int kAcceptPauseMs = 100;
  ares_channel channel_ = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  uint64_t next_id_ = 1;
  int lingering_ = 0;
  int queries_ = 0;  // c-ares lookups in flight
  std::unique_ptr<IdentityResolver> identity_;
  pid_t identity_root_ = -1;

  friend class Proxy;
};

Proxy::Proxy(const ProxyConfig& config, const Policy& policy, AuditSink* audit)
    : shared_(std::make_unique<Shared>(config, policy)) {
  shared_->audit = audit ? audit : &null_audit_;
  for (const auto& [name, addr] : policy.network.hosts) shared_->hosts[NormalizeHost(name)] = addr;
}

namespace {

// The caller's environment (network.upstream_proxy: from_env reads it).
std::map<std::string, std::string> CallerEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

}  // namespace

Result<std::unique_ptr<Proxy>> Proxy::Create(const ProxyConfig& config, const Policy& policy,
                                             AuditSink* audit) {
  if (config.threads < 1 || config.threads > 64)
    return Status::Error("proxy threads must be 1..64");
  if (config.max_head_bytes < 256) return Status::Error("proxy max_head_bytes must be >= 256");
  if (config.max_connections < 1) return Status::Error("proxy max_connections must be >= 1");
  if (config.header_timeout_ms <= 0 || config.connect_timeout_ms <= 0 ||
      config.idle_timeout_ms <= 0 || config.dns_timeout_ms <= 0)
    return Status::Error("proxy timeouts must be positive");
  if (int rc = ares_library_init(ARES_LIB_INIT_ALL); rc != ARES_SUCCESS)
    return Status::Error(std::string("c-ares: ") + ares_strerror(rc));
  auto upstream = ConfigureUpstreamProxy(policy.network.upstream_proxy, CallerEnvironment(),
                                         config.dns_servers, config.dns_timeout_ms);
  if (!upstream.ok()) return upstream.status();
  std::unique_ptr<Proxy> proxy(new Proxy(config, policy, audit));
  proxy->shared_->upstream = std::move(*upstream);
  return proxy;
}

Proxy::~Proxy() { Stop(); }

Status Proxy::Start(UniqueFd listener) {
  if (!threads_.empty()) return Status::Error("proxy already started");
  if (!listener.valid()) return Status::Error("proxy: no listening socket");
  int fl = fcntl(listener.get(), F_GETFL);
  if (fl < 0 || fcntl(listener.get(), F_SETFL, fl | O_NONBLOCK) != 0)
    return Status::Errno("proxy: listener O_NONBLOCK");
  listener_ = std::move(listener);
  for (int i = 0; i < shared_->config.threads; ++i) {
    auto w = std::make_unique<Worker>(shared_.get(), listener_.get());
    if (Status s = w->Init(); !s.ok()) {
      Stop();
      return s.With("proxy");
    }
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) threads_.emplace_back([wp = w.get()] { wp->Run(); });
  return Status::Ok();
}

void Proxy::SetSandboxRoot(pid_t root) { shared_->sandbox_root.store(root); }

void Proxy::SetConnectLedger(std::shared_ptr<ConnectLedger> ledger) {
  shared_->ledger = std::move(ledger);
}

void Proxy::Stop() {
  shared_->stopping.store(true);
  for (auto& w : workers_) w->Wake();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  workers_.clear();
  listener_.reset();
}

std::vector<DenialCount> Proxy::DenialSummary() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  std::vector<DenialCount> out;
  for (const auto& [k, n] : shared_->denials) out.push_back({k.first, k.second, n});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
  return out;
}

std::string Proxy::FormatDenialSummary(const std::vector<DenialCount>& d) {
  if (d.empty()) return "";
  uint64_t total = 0;
  for (const auto& x : d) total += x.count;
  std::string out = "ringfence: proxy denied " + std::to_string(total) + " connection(s):\n";
  for (const auto& x : d)
    out += "  " + TerminalText(x.target, false) + "  " + TerminalText(x.binary, false) + "  x" +
           std::to_string(x.count) + "\n";
  return out;
}

ProxyCounters Proxy::Counters() const {
  ProxyCounters c;
  c.accepted = shared_->accepted, c.allowed = shared_->allowed, c.denied = shared_->denied;
  c.errors = shared_->errors, c.over_capacity = shared_->over_capacity;
  c.active = shared_->active;
  return c;
}

}  // namespace rf::proxy
