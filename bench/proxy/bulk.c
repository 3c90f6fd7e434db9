/* Load generator and upstream for the proxy benchmark (loopback only).
 *   bulk serve BYTES            upstream: per connection send BYTES and close;
 *                               BYTES=0 accept+close; BYTES=-1 accept and hold
 *                               (prints its port on stdout)
 *   bulk get PORT [TARGET]      download until EOF from 127.0.0.1:PORT, through
 *                               a CONNECT to TARGET (host:port) if given;
 *                               prints "bytes seconds"
 *   bulk latency PORT TARGET N  N sequential CONNECTs: prints p50/p99/mean in us
 *   bulk hold PORT TARGET N     opens N CONNECT tunnels, prints "ready",
 *                               holds them until stdin closes
 *   bulk httpserve BYTES        HTTP/1.1 upstream: per connection read one request
 *                               head, answer 200 with a BYTES-byte body and
 *                               close (32 accepting threads; prints its port)
 *   bulk hget PORT HOSTPORT [proxy]
 *                               GET of one response from 127.0.0.1:PORT:
 *                               origin-form, or absolute-form http://HOSTPORT/
 *                               through a forward proxy; prints
 *                               "body_bytes seconds"
 *   bulk rate PORT TARGET N CONC
 *                               N short cycles over CONC concurrent clients:
 *                               connect, CONNECT TARGET, GET, read the answer to
 *                               EOF, close; prints cycles/s and p50/p99 of the
 *                               CONNECT setup and of the whole cycle in us */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long bytes_per_conn;
static char buf[1 << 20];

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(int port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, (struct sockaddr*)&a, sizeof a) != 0) {
    perror("connect");
    exit(1);
  }
  int one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return s;
}

/* Sends CONNECT and reads the response head; returns the status code. */
static int tunnel(int s, const char* target) {
  char req[512];
  int n = snprintf(req, sizeof req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
  if (write(s, req, (size_t)n) != n) return -1;
  char head[4096];
  size_t got = 0;
  while (got < sizeof head - 1) {
    ssize_t r = read(s, head + got, 1); /* byte by byte: never eat tunnel data */
    if (r <= 0) return -1;
    got += (size_t)r;
    if (got >= 4 && memcmp(head + got - 4, "\r\n\r\n", 4) == 0) break;
  }
  head[got] = 0;
  int code = 0;
  sscanf(head, "HTTP/1.%*d %d", &code);
  return code;
}

/* Reads `s` until EOF or an error (bounded); returns the bytes read. */
static long long drain(int s, char* into, size_t cap) {
  long long total = 0;
  for (long k = 0; k < (1L << 24); k++) {
    ssize_t r = read(s, into, cap);
    if (r <= 0) break;
    total += r;
  }
  return total;
}

static void* sender(void* arg) {
  int c = (int)(long)arg;
  long long left = bytes_per_conn;
  while (left > 0) {
    ssize_t n = write(c, buf, left < (long long)sizeof buf ? (size_t)left : sizeof buf);
    if (n <= 0) break;
    left -= n;
  }
  close(c);
  return NULL;
}

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* Reads until the end of an HTTP head; returns its length (0 on EOF/error).
   Byte by byte, so that nothing after the head is consumed. */
static size_t read_head(int s, char* head, size_t cap) {
  size_t got = 0;
  while (got < cap - 1) {
    ssize_t r = read(s, head + got, 1);
    if (r <= 0) return 0;
    got += (size_t)r;
    if (got >= 4 && memcmp(head + got - 4, "\r\n\r\n", 4) == 0) return got;
  }
  return 0;
}

static int http_listener;

static void* http_server(void* arg) {
  (void)arg;
  char head[8192];
  for (;;) {
    int c = accept4(http_listener, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) continue;
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (read_head(c, head, sizeof head) > 0) {
      char resp[256];
      int n = snprintf(resp, sizeof resp,
                       "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n",
                       bytes_per_conn);
      if (write(c, resp, (size_t)n) == n) {
        long long left = bytes_per_conn;
        while (left > 0) {
          ssize_t w = write(c, buf, left < (long long)sizeof buf ? (size_t)left : sizeof buf);
          if (w <= 0) break;
          left -= w;
        }
      }
    }
    close(c);
  }
  return NULL;
}

struct rate_arg {
  int port, cycles;
  const char* target;
  double *setup, *cycle; /* this thread's slots */
  int failed;
};

static void* rate_client(void* p) {
  struct rate_arg* a = p;
  char req[512], in[65536];
  int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", a->target);
  for (int i = 0; i < a->cycles; i++) {
    double t0 = now();
    int s = dial(a->port);
    if (tunnel(s, a->target) != 200) {
      a->failed++;
      close(s);
      continue;
    }
    a->setup[i] = (now() - t0) * 1e6;
    if (write(s, req, (size_t)n) != n) a->failed++;
    if (drain(s, in, sizeof in) == 0) a->failed++;
    a->cycle[i] = (now() - t0) * 1e6;
    close(s);
  }
  return NULL;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  raise_nofile();
  if (argc == 3 && strcmp(argv[1], "serve") == 0) {
    bytes_per_conn = atoll(argv[2]);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (struct sockaddr*)&a, sizeof a) != 0 || listen(l, 4096) != 0) return 1;
    socklen_t len = sizeof a;
    getsockname(l, (struct sockaddr*)&a, &len);
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
      int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
      if (c < 0) continue;
      if (bytes_per_conn == 0) {
        close(c);
      } else if (bytes_per_conn > 0) {
        pthread_t t;
        pthread_create(&t, NULL, sender, (void*)(long)c);
        pthread_detach(t);
      } /* -1: hold (leak on purpose until exit) */
    }
  }
  if ((argc == 3 || argc == 4) && strcmp(argv[1], "get") == 0) {
    int s = dial(atoi(argv[2]));
    double t0 = now();
    if (argc == 4 && tunnel(s, argv[3]) != 200) {
      fprintf(stderr, "CONNECT refused\n");
      return 1;
    }
    long long total = drain(s, buf, sizeof buf);
    printf("%lld %.6f\n", total, now() - t0);
    return 0;
  }
  if (argc == 5 && strcmp(argv[1], "latency") == 0) {
    int port = atoi(argv[2]), n = atoi(argv[4]);
    double* lat = calloc((size_t)n, sizeof *lat);
    double sum = 0;
    for (int i = 0; i < n; i++) {
      double t0 = now();
      int s = dial(port);
      int code = tunnel(s, argv[3]);
      lat[i] = (now() - t0) * 1e6;
      sum += lat[i];
      close(s);
      if (code != 200) {
        fprintf(stderr, "CONNECT %d failed: %d\n", i, code);
        return 1;
      }
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    printf("p50_us=%.1f p99_us=%.1f mean_us=%.1f n=%d\n", lat[n / 2], lat[(n * 99) / 100], sum / n,
           n);
    return 0;
  }
  if (argc == 5 && strcmp(argv[1], "hold") == 0) {
    int port = atoi(argv[2]), n = atoi(argv[4]);
    for (int i = 0; i < n; i++) {
      int s = dial(port);
      if (tunnel(s, argv[3]) != 200) {
        fprintf(stderr, "tunnel %d refused\n", i);
        return 1;
      }
    }
    printf("ready\n");
    fflush(stdout);
    while (read(0, buf, sizeof buf) > 0) {
    }
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "httpserve") == 0) {
    bytes_per_conn = atoll(argv[2]);
    http_listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(http_listener, (struct sockaddr*)&a, sizeof a) != 0 ||
        listen(http_listener, 4096) != 0)
      return 1;
    socklen_t len = sizeof a;
    getsockname(http_listener, (struct sockaddr*)&a, &len);
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    pthread_t t[32];
    for (int i = 0; i < 32; i++) pthread_create(&t[i], NULL, http_server, NULL);
    pthread_join(t[0], NULL);
    return 0;
  }
  if ((argc == 4 || argc == 5) && strcmp(argv[1], "hget") == 0) {
    int s = dial(atoi(argv[2]));
    char req[512], head[8192];
    int n = argc == 5 ? snprintf(req, sizeof req, "GET http://%s/ HTTP/1.1\r\nHost: %s\r\n\r\n",
                                 argv[3], argv[3])
                      : snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", argv[3]);
    double t0 = now();
    if (write(s, req, (size_t)n) != n || read_head(s, head, sizeof head) == 0 ||
        strncmp(head, "HTTP/1.1 200", 12) != 0) {
      fprintf(stderr, "GET refused\n");
      return 1;
    }
    long long total = drain(s, buf, sizeof buf);
    printf("%lld %.6f\n", total, now() - t0);
    return 0;
  }
  if (argc == 6 && strcmp(argv[1], "rate") == 0) {
    int port = atoi(argv[2]), n = atoi(argv[4]), conc = atoi(argv[5]);
    if (n <= 0 || conc <= 0 || conc > 1024 || n < conc) return 2;
    int per = n / conc;
    n = per * conc;
    double* setup = calloc((size_t)n, sizeof *setup);
    double* cycle = calloc((size_t)n, sizeof *cycle);
    struct rate_arg* args = calloc((size_t)conc, sizeof *args);
    pthread_t* th = calloc((size_t)conc, sizeof *th);
    double t0 = now();
    for (int i = 0; i < conc; i++) {
      args[i] = (struct rate_arg){port, per, argv[3], setup + i * per, cycle + i * per, 0};
      pthread_create(&th[i], NULL, rate_client, &args[i]);
    }
    int failed = 0;
    for (int i = 0; i < conc; i++) {
      pthread_join(th[i], NULL);
      failed += args[i].failed;
    }
    double secs = now() - t0;
    qsort(setup, (size_t)n, sizeof *setup, cmp);
    qsort(cycle, (size_t)n, sizeof *cycle, cmp);
    printf(
        "cycles=%d concurrency=%d seconds=%.3f rate=%.0f setup_p50_us=%.1f setup_p99_us=%.1f "
        "cycle_p50_us=%.1f cycle_p99_us=%.1f failed=%d\n",
        n, conc, secs, n / secs, setup[n / 2], setup[(n * 99) / 100], cycle[n / 2],
        cycle[(n * 99) / 100], failed);
    return failed ? 1 : 0;
  }
  fprintf(stderr, "usage: see the comment at the top of bulk.c\n");
  return 2;
}
