// Latency of connect() to a unix socket the program serves itself: bare,
// and inside ringfence where each connect is a seccomp user notification
// answered by the supervisor (resolve, ownership check, connect on behalf).
//   ux_bench N  -> prints "p50_us p99_us" over N connects
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

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

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 2000;
  struct sockaddr_un un;
  memset(&un, 0, sizeof un);
  un.sun_family = AF_UNIX;
  snprintf(un.sun_path, sizeof un.sun_path, "ux-bench-%d.sock", getpid());
  unlink(un.sun_path);
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  if (l < 0 || bind(l, (struct sockaddr*)&un, sizeof un) != 0 || listen(l, 1024) != 0) return 1;
  pthread_t t;
  pthread_create(&t, NULL, acceptor, (void*)(long)l);
  double* us = calloc((size_t)n, sizeof *us);
  for (int i = 0; i < n; ++i) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (connect(s, (struct sockaddr*)&un, sizeof un) != 0) return 2;
    clock_gettime(CLOCK_MONOTONIC, &b);
    us[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
    close(s);
  }
  qsort(us, (size_t)n, sizeof *us, cmp);
  printf("%.1f %.1f\n", us[n / 2], us[(n * 99) / 100]);
  unlink(un.sun_path);
  return 0;
}
