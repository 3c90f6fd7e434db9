/* fi_load: a small epoll load generator and echo server for the soak and
 * fault tests (tests/integration/test_soak.py, test_faults.py,
 * bench/soak/). Loopback only; every phase is bounded in count and time.
 *
 *   fi_load echo [MAX_SECONDS]
 *       Echo server on 127.0.0.1:0; prints "PORT n" and serves until SIGTERM
 *       or MAX_SECONDS (default 600).
 *   fi_load PROXY TARGET PHASE...
 *       PROXY is HOST:PORT, or "env" (RINGFENCE_PROXY=http://HOST:PORT).
 *       TARGET is the HOST:PORT named in CONNECT requests. Phases run in order,
 *       each prints one JSON line on stdout:
 *         tunnels:N:SECONDS  N concurrent CONNECT tunnels moving a
 *                            deterministic byte stream (64 KiB window) through
 *                            the echo upstream; every echoed byte is compared.
 *         short:TOTAL:CONC   TOTAL short connections, CONC at a time: CONNECT,
 *                            200, 256 bytes echoed and compared, close.
 *         flood:N:HOLD_MS    N tunnels opened at once, each answer counted
 *                            (200, 503, other, closed without an answer);
 *                            the established ones exchange data after HOLD_MS.
 *         sync               prints "SYNC" and waits for a line on stdin.
 * Exit status: 0 when every phase ran (the caller judges the figures), 2 on
 * usage errors. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WINDOW (64 * 1024)
#define CHUNK (16 * 1024)
#define SHORT_BYTES 256

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* Byte `off` of the stream of connection `seed`. */
static void stream_fill(uint64_t seed, uint64_t off, unsigned char* buf, size_t n) {
  for (size_t i = 0; i < n;) {
    uint64_t blk = (off + i) / 8, v = splitmix(seed * 0x100000001b3ULL ^ blk);
    size_t from = (off + i) % 8;
    for (size_t b = from; b < 8 && i < n; b++, i++) buf[i] = (unsigned char)(v >> (8 * b));
  }
}

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* ------------------------------------------------------------- echo server */

struct echo_conn {
  int fd;
  size_t len, off; /* pending bytes to write back */
  unsigned char buf[CHUNK * 4];
};

static volatile sig_atomic_t g_stop;
static void on_term(int s) {
  (void)s;
  g_stop = 1;
}

static int echo_main(int max_seconds) {
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ls < 0 || bind(ls, (struct sockaddr*)&a, sizeof a) != 0 || listen(ls, 4096) != 0) {
    perror("fi_load echo: listen");
    return 1;
  }
  socklen_t alen = sizeof a;
  getsockname(ls, (struct sockaddr*)&a, &alen);
  printf("PORT %d\n", ntohs(a.sin_port));
  fflush(stdout);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  double end = now_s() + max_seconds;
  struct epoll_event evs[256];
  while (!g_stop && now_s() < end) {
    int n = epoll_wait(ep, evs, 256, 200);
    for (int i = 0; i < n; i++) {
      struct echo_conn* c = evs[i].data.ptr;
      if (!c) {
        for (int k = 0; k < 256; k++) {
          int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          c = calloc(1, sizeof *c);
          if (!c) {
            close(fd);
            continue;
          }
          c->fd = fd;
          struct epoll_event ce = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
        }
        continue;
      }
      int dead = 0;
      if (c->len == 0) {
        ssize_t r = read(c->fd, c->buf, sizeof c->buf);
        if (r == 0 || (r < 0 && errno != EAGAIN))
          dead = 1;
        else if (r > 0)
          c->len = (size_t)r, c->off = 0;
      }
      while (!dead && c->off < c->len) {
        ssize_t w = write(c->fd, c->buf + c->off, c->len - c->off);
        if (w < 0) {
          if (errno != EAGAIN) dead = 1;
          break;
        }
        c->off += (size_t)w;
      }
      if (!dead && c->off == c->len) c->len = c->off = 0;
      if (dead) {
        close(c->fd);
        free(c);
        continue;
      }
      struct epoll_event ce = {.events = c->len ? EPOLLOUT : EPOLLIN, .data.ptr = c};
      epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ce);
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ client */

enum { C_CONNECTING, C_HEAD, C_STREAM, C_DRAIN, C_DONE };

struct conn {
  int fd, state, status, failed, mismatch;
  uint64_t seed, sent, recvd, limit; /* limit: bytes to send (short) or ~0 */
  char head[512];
  size_t head_len;
  unsigned events;
};

struct client {
  struct sockaddr_in proxy;
  char target[300];
  int ep;
  uint64_t next_seed;
};

static int parse_hostport(const char* s, struct sockaddr_in* out) {
  const char* p = s;
  if (!strncmp(p, "http://", 7)) p += 7;
  char host[64];
  const char* colon = strrchr(p, ':');
  if (!colon || (size_t)(colon - p) >= sizeof host) return -1;
  memcpy(host, p, (size_t)(colon - p));
  host[colon - p] = 0;
  memset(out, 0, sizeof *out);
  out->sin_family = AF_INET;
  out->sin_port = htons((uint16_t)atoi(colon + 1));
  return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static void set_events(struct client* cl, struct conn* c, unsigned want) {
  if (c->events == want) return;
  struct epoll_event ev = {.events = want, .data.ptr = c};
  epoll_ctl(cl->ep, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev);
  c->events = want;
}

static int conn_open(struct client* cl, struct conn* c, uint64_t limit) {
  memset(c, 0, sizeof *c);
  c->seed = ++cl->next_seed;
  c->limit = limit;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    c->failed = 1, c->state = C_DONE;
    return -1;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr*)&cl->proxy, sizeof cl->proxy) != 0 && errno != EINPROGRESS) {
    close(c->fd);
    c->fd = -1, c->failed = 1, c->state = C_DONE;
    return -1;
  }
  c->state = C_CONNECTING;
  set_events(cl, c, EPOLLOUT);
  return 0;
}

static void conn_close(struct conn* c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->state = C_DONE;
}

/* Streaming: keep at most WINDOW bytes in flight, compare what comes back. */
static void conn_pump(struct client* cl, struct conn* c, int sending) {
  unsigned char buf[CHUNK], want[CHUNK];
  for (int rounds = 0; rounds < 8; rounds++) {
    ssize_t r = read(c->fd, buf, sizeof buf);
    if (r > 0) {
      stream_fill(c->seed, c->recvd, want, (size_t)r);
      if (memcmp(buf, want, (size_t)r) != 0) c->mismatch = 1;
      c->recvd += (uint64_t)r;
      continue;
    }
    if (r == 0 || errno != EAGAIN) {
      c->failed = 1;
      conn_close(c);
      return;
    }
    break;
  }
  uint64_t cap = c->limit < ~0ULL ? c->limit : ~0ULL;
  while (sending && c->sent < cap && c->sent - c->recvd < WINDOW) {
    size_t n = CHUNK;
    if (WINDOW - (c->sent - c->recvd) < n) n = WINDOW - (size_t)(c->sent - c->recvd);
    if (cap - c->sent < n) n = (size_t)(cap - c->sent);
    stream_fill(c->seed, c->sent, buf, n);
    ssize_t w = write(c->fd, buf, n);
    if (w < 0) {
      if (errno == EAGAIN) break;
      c->failed = 1;
      conn_close(c);
      return;
    }
    c->sent += (uint64_t)w;
  }
  int more = sending && c->sent < cap && c->sent - c->recvd < WINDOW;
  set_events(cl, c, EPOLLIN | (more ? EPOLLOUT : 0));
}

/* Advances one connection after an event. */
static void conn_step(struct client* cl, struct conn* c, int sending) {
  if (c->state == C_CONNECTING) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
      c->failed = 1;
      conn_close(c);
      return;
    }
    char req[400];
    int n = snprintf(req, sizeof req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", cl->target,
                     cl->target);
    if (write(c->fd, req, (size_t)n) != n) {
      c->failed = 1;
      conn_close(c);
      return;
    }
    c->state = C_HEAD;
    set_events(cl, c, EPOLLIN);
    return;
  }
  if (c->state == C_HEAD) {
    ssize_t r = read(c->fd, c->head + c->head_len, sizeof c->head - 1 - c->head_len);
    if (r < 0 && errno == EAGAIN) return;
    if (r <= 0) {
      c->failed = 1; /* closed without (a complete) answer */
      conn_close(c);
      return;
    }
    c->head_len += (size_t)r;
    c->head[c->head_len] = 0;
    char* end = strstr(c->head, "\r\n\r\n");
    if (!end) {
      if (c->head_len >= sizeof c->head - 1) {
        c->failed = 1;
        conn_close(c);
      }
      return;
    }
    if (!strncmp(c->head, "HTTP/1.", 7) && c->head_len > 12) c->status = atoi(c->head + 9);
    if (c->status != 200) {
      conn_close(c);
      return;
    }
    if ((size_t)(end + 4 - c->head) != c->head_len) c->mismatch = 1; /* bytes before ours */
    c->state = C_STREAM;
    conn_pump(cl, c, sending);
    return;
  }
  if (c->state == C_STREAM || c->state == C_DRAIN) conn_pump(cl, c, sending);
}

static struct conn* conns_alloc(size_t n) {
  struct conn* cs = calloc(n, sizeof *cs);
  if (!cs) {
    perror("calloc");
    exit(1);
  }
  for (size_t i = 0; i < n; i++) cs[i].fd = -1, cs[i].state = C_DONE;
  return cs;
}

static int phase_tunnels(struct client* cl, int n, double seconds) {
  struct conn* cs = conns_alloc((size_t)n);
  double t0 = now_s();
  for (int i = 0; i < n; i++) conn_open(cl, &cs[i], ~0ULL);
  struct epoll_event evs[512];
  double stream_end = t0 + seconds, hard_end = stream_end + 20;
  int sending = 1, established_max = 0;
  for (;;) {
    double t = now_s();
    if (t >= hard_end) break;
    if (sending && t >= stream_end) {
      sending = 0; /* stop sending; drain what is in flight */
      for (int i = 0; i < n; i++)
        if (cs[i].state == C_STREAM) set_events(cl, &cs[i], EPOLLIN);
    }
    int pending = 0, est = 0;
    for (int i = 0; i < n; i++) {
      if (cs[i].state == C_STREAM) est++;
      if (cs[i].state == C_CONNECTING || cs[i].state == C_HEAD ||
          (cs[i].state == C_STREAM && (sending || cs[i].recvd < cs[i].sent)))
        pending++;
    }
    if (est > established_max) established_max = est;
    if (!pending) break;
    int k = epoll_wait(cl->ep, evs, 512, 100);
    for (int i = 0; i < k; i++) conn_step(cl, evs[i].data.ptr, sending);
  }
  double elapsed = now_s() - t0;
  uint64_t bytes = 0;
  int ok = 0, failed = 0, mismatch = 0, non200 = 0, unfinished = 0;
  for (int i = 0; i < n; i++) {
    struct conn* c = &cs[i];
    bytes += c->recvd;
    if (c->mismatch) mismatch++;
    if (c->failed)
      failed++;
    else if (c->status != 200)
      non200++;
    else if (c->recvd != c->sent)
      unfinished++;
    else
      ok++;
    conn_close(c);
  }
  printf(
      "{\"phase\":\"tunnels\",\"n\":%d,\"seconds\":%.2f,\"ok\":%d,\"failed\":%d,"
      "\"non200\":%d,\"unfinished\":%d,\"mismatch\":%d,\"bytes_echoed\":%llu,"
      "\"max_concurrent\":%d}\n",
      n, elapsed, ok, failed, non200, unfinished, mismatch, (unsigned long long)bytes,
      established_max);
  fflush(stdout);
  free(cs);
  return 0;
}

static int phase_short(struct client* cl, int total, int conc) {
  struct conn* cs = conns_alloc((size_t)conc);
  char* busy = calloc((size_t)conc, 1);
  double t0 = now_s(), hard_end = t0 + 600;
  int started = 0, ok = 0, failed = 0, non200 = 0, mismatch = 0, active = 0, st503 = 0;
  struct epoll_event evs[512];
  while (now_s() < hard_end) {
    for (int i = 0; i < conc && started < total; i++) {
      if (busy[i]) continue;
      busy[i] = 1;
      started++;
      active++;
      conn_open(cl, &cs[i], SHORT_BYTES);
    }
    if (!active) break;
    int k = epoll_wait(cl->ep, evs, 512, 100);
    for (int i = 0; i < k; i++) {
      struct conn* c = evs[i].data.ptr;
      if (c->state != C_DONE) conn_step(cl, c, 1);
    }
    for (int i = 0; i < conc; i++) {
      struct conn* c = &cs[i];
      if (!busy[i]) continue;
      int finished = c->state == C_STREAM && c->recvd >= SHORT_BYTES;
      if (c->state != C_DONE && !finished) continue;
      if (c->failed)
        failed++;
      else if (c->status != 200)
        non200++, st503 += c->status == 503;
      else if (c->mismatch || c->recvd != SHORT_BYTES)
        mismatch++;
      else
        ok++;
      conn_close(c);
      busy[i] = 0;
      active--;
    }
  }
  double elapsed = now_s() - t0;
  printf(
      "{\"phase\":\"short\",\"total\":%d,\"started\":%d,\"concurrency\":%d,\"seconds\":%.2f,"
      "\"ok\":%d,\"failed\":%d,\"non200\":%d,\"status503\":%d,\"mismatch\":%d,"
      "\"per_second\":%.0f}\n",
      total, started, conc, elapsed, ok, failed, non200, st503, mismatch,
      elapsed > 0 ? ok / elapsed : 0.0);
  fflush(stdout);
  for (int i = 0; i < conc; i++) conn_close(&cs[i]);
  free(busy);
  free(cs);
  return 0;
}

static int phase_flood(struct client* cl, int n, int hold_ms) {
  struct conn* cs = conns_alloc((size_t)n);
  double t0 = now_s(), end = t0 + 20;
  for (int i = 0; i < n; i++) conn_open(cl, &cs[i], 0); /* limit 0: no data yet */
  struct epoll_event evs[512];
  while (now_s() < end) {
    int pending = 0;
    for (int i = 0; i < n; i++)
      if (cs[i].state == C_CONNECTING || cs[i].state == C_HEAD) pending++;
    if (!pending) break;
    int k = epoll_wait(cl->ep, evs, 512, 100);
    for (int i = 0; i < k; i++) conn_step(cl, evs[i].data.ptr, 0);
  }
  int s200 = 0, s503 = 0, other = 0, closed = 0, pending = 0;
  for (int i = 0; i < n; i++) {
    struct conn* c = &cs[i];
    if (c->state == C_CONNECTING || c->state == C_HEAD)
      pending++;
    else if (c->status == 200)
      s200++;
    else if (c->status == 503)
      s503++;
    else if (c->status)
      other++;
    else
      closed++;
  }
  usleep((useconds_t)hold_ms * 1000);
  /* The established tunnels still carry data while the cap is reached. */
  for (int i = 0; i < n; i++)
    if (cs[i].state == C_STREAM) cs[i].limit = 4096, conn_pump(cl, &cs[i], 1);
  end = now_s() + 15;
  while (now_s() < end) {
    int busy = 0;
    for (int i = 0; i < n; i++)
      if (cs[i].state == C_STREAM && cs[i].recvd < cs[i].limit) busy++;
    if (!busy) break;
    int k = epoll_wait(cl->ep, evs, 512, 100);
    for (int i = 0; i < k; i++) conn_step(cl, evs[i].data.ptr, 1);
  }
  int echoed = 0, mismatch = 0;
  for (int i = 0; i < n; i++) {
    if (cs[i].status == 200 && cs[i].recvd == 4096 && !cs[i].mismatch) echoed++;
    if (cs[i].mismatch) mismatch++;
    conn_close(&cs[i]);
  }
  printf(
      "{\"phase\":\"flood\",\"n\":%d,\"status200\":%d,\"status503\":%d,\"other\":%d,"
      "\"closed\":%d,\"pending\":%d,\"echoed_after_hold\":%d,\"mismatch\":%d,"
      "\"seconds\":%.2f}\n",
      n, s200, s503, other, closed, pending, echoed, mismatch, now_s() - t0);
  fflush(stdout);
  free(cs);
  return 0;
}

int main(int argc, char** argv) {
  raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 2 && !strcmp(argv[1], "echo")) return echo_main(argc > 2 ? atoi(argv[2]) : 600);
  if (argc < 4) {
    fprintf(stderr, "usage: fi_load echo [SECONDS] | fi_load PROXY TARGET PHASE...\n");
    return 2;
  }
  struct client cl = {.ep = epoll_create1(EPOLL_CLOEXEC)};
  const char* proxy = argv[1];
  if (!strcmp(proxy, "env")) proxy = getenv("RINGFENCE_PROXY");
  if (!proxy || parse_hostport(proxy, &cl.proxy) != 0) {
    fprintf(stderr, "fi_load: bad proxy '%s'\n", proxy ? proxy : "(unset)");
    return 2;
  }
  snprintf(cl.target, sizeof cl.target, "%s", argv[2]);
  for (int i = 3; i < argc; i++) {
    int a = 0, b = 0;
    if (sscanf(argv[i], "tunnels:%d:%d", &a, &b) == 2 && a > 0 && a <= 20000 && b > 0 && b <= 3600)
      phase_tunnels(&cl, a, b);
    else if (sscanf(argv[i], "short:%d:%d", &a, &b) == 2 && a > 0 && b > 0 && b <= 4096)
      phase_short(&cl, a, b);
    else if (sscanf(argv[i], "flood:%d:%d", &a, &b) == 2 && a > 0 && a <= 20000 && b >= 0 &&
             b <= 60000)
      phase_flood(&cl, a, b);
    else if (!strcmp(argv[i], "sync")) {
      printf("SYNC\n");
      fflush(stdout);
      char line[64];
      if (!fgets(line, sizeof line, stdin)) return 0;
    } else {
      fprintf(stderr, "fi_load: bad phase '%s'\n", argv[i]);
      return 2;
    }
  }
  return 0;
}
