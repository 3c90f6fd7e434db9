/* connect() cost as the sandboxed program sees it (loopback only).
 *   connbench inet PORT N THREADS   listens on 127.0.0.1:PORT itself, then
 *                                   THREADS threads make N connects in all
 *   connbench unix PATH N THREADS   the same on a unix socket at PATH
 * Prints "p50_us p99_us total_seconds" (latency of each connect() call,
 * and the wall time from the first connect to the last). Every connection
 * is accepted and closed by the program's own acceptor threads. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_storage target;
static socklen_t target_len;
static int family;
static double* lat;

struct job {
  int first, count;
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static void* acceptor(void* arg) {
  int l = (int)(long)arg;
  for (;;) {
    int c = accept(l, NULL, NULL);
    if (c < 0) return NULL;
    close(c);
  }
}

static void* connector(void* arg) {
  struct job* j = arg;
  for (int i = 0; i < j->count; i++) {
    int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
      perror("socket");
      exit(1);
    }
    double t0 = now();
    if (connect(s, (struct sockaddr*)&target, target_len) != 0) {
      perror("connect");
      exit(1);
    }
    lat[j->first + i] = (now() - t0) * 1e6;
    close(s);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: connbench inet PORT N THREADS | unix PATH N THREADS\n");
    return 2;
  }
  int n = atoi(argv[3]), threads = atoi(argv[4]);
  if (n <= 0 || threads <= 0 || threads > 1024 || n < threads) return 2;
  memset(&target, 0, sizeof target);
  if (strcmp(argv[1], "inet") == 0) {
    struct sockaddr_in* in = (struct sockaddr_in*)&target;
    in->sin_family = AF_INET;
    in->sin_port = htons((unsigned short)atoi(argv[2]));
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    target_len = sizeof *in;
    family = AF_INET;
  } else {
    struct sockaddr_un* un = (struct sockaddr_un*)&target;
    un->sun_family = AF_UNIX;
    snprintf(un->sun_path, sizeof un->sun_path, "%s", argv[2]);
    unlink(argv[2]);
    target_len = sizeof *un;
    family = AF_UNIX;
  }
  int l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (l < 0 || bind(l, (struct sockaddr*)&target, target_len) != 0 || listen(l, 4096) != 0) {
    perror("listen");
    return 1;
  }
  pthread_t acc[4];
  for (int i = 0; i < 4; i++) pthread_create(&acc[i], NULL, acceptor, (void*)(long)l);
  lat = calloc((size_t)n, sizeof *lat);
  pthread_t* th = calloc((size_t)threads, sizeof *th);
  struct job* jobs = calloc((size_t)threads, sizeof *jobs);
  int per = n / threads;
  double t0 = now();
  for (int i = 0; i < threads; i++) {
    jobs[i].first = i * per;
    jobs[i].count = per;
    pthread_create(&th[i], NULL, connector, &jobs[i]);
  }
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  double total = now() - t0;
  int done = per * threads;
  qsort(lat, (size_t)done, sizeof *lat, cmp);
  printf("%.1f %.1f %.4f\n", lat[done / 2], lat[(int)(done * 0.99)], total);
  if (family == AF_UNIX) unlink(argv[2]);
  return 0;
}
