/* Load generator and upstream for the proxy benchmark (loopback only).
 *   bulk serve BYTES            upstream: per connection send BYTES and close;
 *                               BYTES=0 accept+close; BYTES=-1 accept and hold
 *                               (prints its port on stdout)
 *   bulk get PORT [TARGET]      download until EOF from 127.0.0.1:PORT, through
 *                               a CONNECT to TARGET (host:port) if given;
 *                               prints "bytes seconds"
 *   bulk latency PORT TARGET N  N sequential CONNECTs: prints p50/p99/mean in us
 *   bulk hold PORT TARGET N     opens N CONNECT tunnels, prints "ready",
 *                               holds them until stdin closes */
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
    ssize_t r = read(s, head + got, 1);  /* byte by byte: never eat tunnel data */
    if (r <= 0) return -1;
    got += (size_t)r;
    if (got >= 4 && memcmp(head + got - 4, "\r\n\r\n", 4) == 0) break;
  }
  head[got] = 0;
  int code = 0;
  sscanf(head, "HTTP/1.%*d %d", &code);
  return code;
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
    long long total = 0;
    for (;;) {
      ssize_t n = read(s, buf, sizeof buf);
      if (n <= 0) break;
      total += n;
    }
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
    printf("p50_us=%.1f p99_us=%.1f mean_us=%.1f n=%d\n", lat[n / 2], lat[(n * 99) / 100],
           sum / n, n);
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
  fprintf(stderr, "usage: see the comment at the top of bulk.c\n");
  return 2;
}
