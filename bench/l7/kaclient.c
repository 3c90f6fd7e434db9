// Keep-alive HTTPS load client for bench/l7 (h2load cannot go through an
// HTTP proxy). One thread per connection, blocking sockets: each thread
// connects (to the target, or to a proxy and sends CONNECT), does the TLS
// handshake (SNI = host, trusting SSL_CERT_FILE / --ca), then issues GETs on
// the same connection until the deadline, reading each response by its
// Content-Length.
//
//   kaclient rate HOST PORT PATH CONNS SECONDS [PROXYHOST:PORT|-] [CA]
//     prints: requests seconds req/s
//   kaclient hs HOST PORT PATH COUNT [PROXYHOST:PORT|-] [CA]
//     COUNT sequential new connections, each: connect (+CONNECT), TLS
//     handshake, one GET. Prints: conns/s p50_handshake_ms p50_first_response_ms
//
// Every loop is bounded by the deadline or the count; loopback only.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *g_host, *g_path, *g_proxy, *g_ca;
static int g_port;
static double g_deadline;
static SSL_CTX* g_ctx;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int tcp(const char* ip, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
    fprintf(stderr, "kaclient: %s is not an IPv4 address\n", ip);
    exit(2);
  }
  if (connect(fd, (struct sockaddr*)&a, sizeof a) < 0) {
    perror("kaclient: connect");
    exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Reads an HTTP/1.1 response head byte-wise into buf; returns its length.
static int read_head_plain(int fd, char* buf, int cap) {
  int n = 0;
  while (n < cap - 1) {
    ssize_t r = read(fd, buf + n, 1);
    if (r <= 0) return -1;
    n++;
    if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0) break;
  }
  buf[n] = 0;
  return n;
}

// Opens one connection: TCP (+ CONNECT through the proxy) and TLS.
static SSL* open_conn(double* hs_secs) {
  double t0 = now();
  int fd;
  if (g_proxy) {
    char ip[64];
    const char* colon = strrchr(g_proxy, ':');
    snprintf(ip, sizeof ip, "%.*s", (int)(colon - g_proxy), g_proxy);
    fd = tcp(ip, atoi(colon + 1));
    char req[512];
    int len = snprintf(req, sizeof req, "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n", g_host,
                       g_port, g_host, g_port);
    if (write(fd, req, len) != len) exit(1);
    char head[4096];
    if (read_head_plain(fd, head, sizeof head) < 0 || strncmp(head + 9, "200", 3) != 0) {
      fprintf(stderr, "kaclient: CONNECT refused: %.200s\n", head);
      exit(1);
    }
  } else {
    fd = tcp("127.0.0.1", g_port);
  }
  SSL* ssl = SSL_new(g_ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, g_host);
  SSL_set1_host(ssl, g_host);
  if (SSL_connect(ssl) != 1) {
    fprintf(stderr, "kaclient: TLS handshake failed\n");
    ERR_print_errors_fp(stderr);
    exit(1);
  }
  if (hs_secs) *hs_secs = now() - t0;
  return ssl;
}

// One GET on the connection; returns 0 on a complete 200 response.
static int get(SSL* ssl) {
  // KA_HEADER: one more header line (the credential benchmark sends a
  // placeholder, or a plain value of the same length, in it).
  const char* extra = getenv("KA_HEADER");
  char req[1024];
  int len = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: kaclient\r\n%s%s\r\n", g_path,
                     g_host, g_port, extra ? extra : "", extra ? "\r\n" : "");
  if (len <= 0 || len >= (int)sizeof req) return -1;
  if (SSL_write(ssl, req, len) != len) return -1;
  static __thread char buf[65536];
  int have = 0, head_end = -1;
  while (head_end < 0) {
    if (have == sizeof buf) return -1;
    int r = SSL_read(ssl, buf + have, sizeof buf - have);
    if (r <= 0) return -1;
    have += r;
    char* e = memmem(buf, have, "\r\n\r\n", 4);
    if (e) head_end = (int)(e - buf) + 4;
  }
  if (strncmp(buf + 9, "200", 3) != 0) {
    fprintf(stderr, "kaclient: answer %.100s\n", buf);
    return -1;
  }
  char* cl = memmem(buf, head_end, "ontent-Length:", 14);
  if (!cl) cl = memmem(buf, head_end, "ontent-length:", 14);
  if (!cl) return -1;
  long long body = atoll(cl + 14), got = have - head_end;
  while (got < body) {
    int r = SSL_read(ssl, buf, sizeof buf);
    if (r <= 0) return -1;
    got += r;
  }
  return got == body ? 0 : -1;
}

static void* rate_thread(void* arg) {
  long* count = arg;
  SSL* ssl = open_conn(NULL);
  for (long i = 0; i < 100000000L && now() < g_deadline; i++) {
    if (get(ssl) != 0) {
      fprintf(stderr, "kaclient: request failed after %ld\n", *count);
      break;
    }
    (*count)++;
  }
  SSL_shutdown(ssl);
  close(SSL_get_fd(ssl));
  SSL_free(ssl);
  return NULL;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: see the head of bench/l7/kaclient.c\n");
    return 2;
  }
  int rate = strcmp(argv[1], "rate") == 0;
  g_host = argv[2];
  g_port = atoi(argv[3]);
  g_path = argv[4];
  int n = atoi(argv[5]);
  int next = rate ? 7 : 6;
  if (argc > next && strcmp(argv[next], "-") != 0) g_proxy = argv[next];
  if (argc > next + 1) g_ca = argv[next + 1];
  g_ctx = SSL_CTX_new(TLS_client_method());
  if (g_ca ? SSL_CTX_load_verify_locations(g_ctx, g_ca, NULL) != 1
           : SSL_CTX_set_default_verify_paths(g_ctx) != 1) {
    fprintf(stderr, "kaclient: cannot load the trust store\n");
    return 1;
  }
  SSL_CTX_set_verify(g_ctx, SSL_VERIFY_PEER, NULL);
  static const unsigned char alpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(g_ctx, alpn, sizeof alpn - 1);
  if (rate) {
    if (n < 1 || n > 256) return 2;
    double secs = atof(argv[6]);
    pthread_t th[256];
    long counts[256] = {0};
    double t0 = now();
    g_deadline = t0 + secs;
    for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, rate_thread, &counts[i]);
    long total = 0;
    for (int i = 0; i < n; i++) {
      pthread_join(th[i], NULL);
      total += counts[i];
    }
    double el = now() - t0;
    printf("%ld %.3f %.1f\n", total, el, total / el);
    return total > 0 ? 0 : 1;
  }
  if (n < 1 || n > 100000) return 2;
  double *hs = calloc(n, sizeof *hs), *first = calloc(n, sizeof *first);
  double t0 = now();
  for (int i = 0; i < n; i++) {
    double c0 = now();
    SSL* ssl = open_conn(&hs[i]);
    if (get(ssl) != 0) {
      fprintf(stderr, "kaclient: first request failed\n");
      return 1;
    }
    first[i] = now() - c0;
    SSL_shutdown(ssl);
    close(SSL_get_fd(ssl));
    SSL_free(ssl);
  }
  double el = now() - t0;
  qsort(hs, n, sizeof *hs, cmp);
  qsort(first, n, sizeof *first, cmp);
  printf("%.1f %.3f %.3f\n", n / el, hs[n / 2] * 1e3, first[n / 2] * 1e3);
  return 0;
}
