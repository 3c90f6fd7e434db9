// TOCTOU probes for the guard's bind() and listen() handling (bounded
// loops; each prints one line of counts, then waits for a line on stdin so
// the test can look from the host while the sockets are still open).
//
//   bd_race bind-flip NAME ROUNDS
//     A thread flips a shared sockaddr_un between the abstract name @NAME and
//     the relative path "pNAME" while the main thread binds fresh sockets
//     with it. Sockets that got an abstract name listen and stay open.
//     Prints "abstract=N exact=E path=P refused=R": E counts binds whose
//     name is exactly @NAME (what a host client would reach).
//
//   bd_race listen-swap PORT ROUNDS
//     B is bound to 127.0.0.1:PORT, U never bound; a thread keeps putting U
//     and B in turn under one descriptor number while the main thread calls
//     listen() on that number. Prints "u_port=N ok=A refused=R": N is U's
//     port afterwards (an implicit bind of listen() gives it one).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct sockaddr_un shared_un;
static atomic_int stop;
static int swap_num, swap_u, swap_b;

static void* flip_path(void* arg) {
  (void)arg;
  volatile char* first = (volatile char*)shared_un.sun_path;
  while (!atomic_load(&stop)) {
    *first = '\0';
    *first = 'p';
  }
  return NULL;
}

static void* swap_fd(void* arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    dup2(swap_u, swap_num);
    dup2(swap_b, swap_num);
  }
  return NULL;
}

static void wait_line(void) {
  char buf[8];
  if (!fgets(buf, sizeof buf, stdin)) return;
}

static int bind_flip(const char* name, int rounds) {
  size_t n = strlen(name);
  if (n + 2 > sizeof shared_un.sun_path) return 2;
  shared_un.sun_family = AF_UNIX;
  shared_un.sun_path[0] = 'p';
  memcpy(shared_un.sun_path + 1, name, n);
  socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
  char path[sizeof shared_un.sun_path + 1];
  snprintf(path, sizeof path, "p%s", name);
  pthread_t t;
  pthread_create(&t, NULL, flip_path, NULL);
  int abstract = 0, exact = 0, pathname = 0, refused = 0;
  for (int i = 0; i < rounds; ++i) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0) break;
    if (bind(s, (struct sockaddr*)&shared_un, len) != 0) {
      ++refused;
      close(s);
      continue;
    }
    struct sockaddr_un got;
    socklen_t glen = sizeof got;
    memset(&got, 0, sizeof got);
    getsockname(s, (struct sockaddr*)&got, &glen);
    if (got.sun_path[0] == '\0') {
      ++abstract;
      if (glen == len && memcmp(got.sun_path + 1, name, n) == 0) ++exact;
      listen(s, 4);  // kept open: the host tries to reach it
      continue;
    }
    ++pathname;
    unlink(path);
    close(s);
  }
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  printf("abstract=%d exact=%d path=%d refused=%d\n", abstract, exact, pathname, refused);
  fflush(stdout);
  wait_line();
  return 0;
}

static int listen_swap(int port, int rounds) {
  swap_b = socket(AF_INET, SOCK_STREAM, 0);
  swap_u = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  int one = 1;
  setsockopt(swap_b, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(swap_b, (struct sockaddr*)&a, sizeof a) != 0) {
    printf("bind: %s\n", strerror(errno));
    return 1;
  }
  swap_num = dup(swap_b);
  pthread_t t;
  pthread_create(&t, NULL, swap_fd, NULL);
  int ok = 0, refused = 0;
  for (int i = 0; i < rounds; ++i) {
    if (listen(swap_num, 4) == 0)
      ++ok;
    else
      ++refused;
  }
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  struct sockaddr_in got;
  socklen_t glen = sizeof got;
  memset(&got, 0, sizeof got);
  getsockname(swap_u, (struct sockaddr*)&got, &glen);
  printf("u_port=%d ok=%d refused=%d\n", ntohs(got.sin_port), ok, refused);
  fflush(stdout);
  wait_line();
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  if (strcmp(argv[1], "bind-flip") == 0) return bind_flip(argv[2], atoi(argv[3]));
  if (strcmp(argv[1], "listen-swap") == 0) return listen_swap(atoi(argv[2]), atoi(argv[3]));
  return 2;
}
