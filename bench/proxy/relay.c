/* Minimal reference relay for the proxy benchmark: plain TCP, no HTTP, no
 * policy. One thread per direction moving bytes with splice() through a pipe
 * (or read/write with -r). This is the practical limit of any proxy on this
 * machine.  Usage: relay [-r] LISTEN_PORT TARGET_PORT   (127.0.0.1 only) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int use_rw = 0;
static int target_port = 0;

struct pair {
  int from, to;
};

static void* pump(void* arg) {
  struct pair* p = arg;
  if (use_rw) {
    static __thread char buf[1 << 16];
    for (;;) {
      ssize_t n = read(p->from, buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t off = 0; off < n;) {
        ssize_t w = write(p->to, buf + off, (size_t)(n - off));
        if (w <= 0) goto out;
        off += w;
      }
    }
  } else {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) goto out;
    for (;;) {
      ssize_t n = splice(p->from, NULL, fds[1], NULL, 1 << 16, SPLICE_F_MOVE);
      if (n <= 0) break;
      while (n > 0) {
        ssize_t w = splice(fds[0], NULL, p->to, NULL, (size_t)n, SPLICE_F_MOVE);
        if (w <= 0) goto out_pipe;
        n -= w;
      }
    }
  out_pipe:
    close(fds[0]);
    close(fds[1]);
  }
out:
  shutdown(p->to, SHUT_WR);
  free(p);
  return NULL;
}

static void* conn(void* arg) {
  int c = (int)(long)arg;
  int u = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)target_port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(u, (struct sockaddr*)&a, sizeof a) != 0) {
    close(c);
    close(u);
    return NULL;
  }
  pthread_t t1, t2;
  struct pair* up = malloc(sizeof *up);
  struct pair* down = malloc(sizeof *down);
  up->from = c, up->to = u, down->from = u, down->to = c;
  pthread_create(&t1, NULL, pump, up);
  pthread_create(&t2, NULL, pump, down);
  pthread_join(t1, NULL);
  pthread_join(t2, NULL);
  close(c);
  close(u);
  return NULL;
}

int main(int argc, char** argv) {
  int i = 1;
  if (argc > 1 && strcmp(argv[1], "-r") == 0) use_rw = 1, i++;
  if (argc - i != 2) {
    fprintf(stderr, "usage: relay [-r] LISTEN_PORT TARGET_PORT\n");
    return 2;
  }
  int lport = atoi(argv[i]);
  target_port = atoi(argv[i + 1]);
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lport)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(l, (struct sockaddr*)&a, sizeof a) != 0 || listen(l, 1024) != 0) {
    perror("relay: bind/listen");
    return 1;
  }
  socklen_t len = sizeof a;
  getsockname(l, (struct sockaddr*)&a, &len);
  printf("127.0.0.1:%d\n", ntohs(a.sin_port));
  fflush(stdout);
  for (;;) {
    int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) continue;
    pthread_t t;
    pthread_create(&t, NULL, conn, (void*)(long)c);
    pthread_detach(t);
  }
}
