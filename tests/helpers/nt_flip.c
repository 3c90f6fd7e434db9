// Race against a connect check that would let the kernel read the address
// again (seccomp user notification's "continue"): one thread keeps flipping
// the sockaddr between a form the check lets through and a forbidden one
// while the main thread connects with it, ROUNDS times or 20 s at most.
//
//   nt_flip family IPV4 PORT ROUNDS   sa_family AF_NETLINK <-> AF_INET
//   nt_flip unix PATH ROUNDS          sun_path[0] '\0' (abstract) <-> '/'
//   nt_flip dgram PATH                socketpair(AF_UNIX, SOCK_RAW) + sendto PATH
//
// Prints "connected=N" (or "sent=N") and the errno counts. The tests check
// that the forbidden listener saw nothing.
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
#include <time.h>
#include <unistd.h>

static union {
  struct sockaddr_in in;
  struct sockaddr_un un;
  struct sockaddr_storage ss;
} shared;
static atomic_int stop;
static int unix_kind;

static void* flipper(void* arg) {
  (void)arg;
  volatile sa_family_t* fam = &shared.ss.ss_family;
  volatile char* first = &shared.un.sun_path[0];
  while (!atomic_load(&stop)) {
    if (unix_kind) {
      *first = '\0';
      for (volatile int i = 0; i < 50; ++i) {
      }
      *first = '/';
    } else {
      *fam = AF_NETLINK;
      for (volatile int i = 0; i < 50; ++i) {
      }
      *fam = AF_INET;
    }
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "dgram") == 0) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_RAW, 0, sv) != 0) {
      printf("socketpair: %s\nsent=0\n", strerrorname_np(errno));
      return 0;
    }
    struct sockaddr_un to = {.sun_family = AF_UNIX};
    strncpy(to.sun_path, argv[2], sizeof to.sun_path - 1);
    ssize_t n = sendto(sv[0], "escaped", 7, 0, (struct sockaddr*)&to, sizeof to);
    printf("sent=%d %s\n", n == 7, n == 7 ? "" : strerrorname_np(errno));
    return 0;
  }
  socklen_t len;
  int rounds;
  if (argc == 5 && strcmp(argv[1], "family") == 0) {
    shared.in.sin_family = AF_NETLINK;
    inet_pton(AF_INET, argv[2], &shared.in.sin_addr);
    shared.in.sin_port = htons((uint16_t)atoi(argv[3]));
    len = sizeof shared.in;
    rounds = atoi(argv[4]);
  } else if (argc == 4 && strcmp(argv[1], "unix") == 0) {
    unix_kind = 1;
    shared.un.sun_family = AF_UNIX;
    strncpy(shared.un.sun_path, argv[2], sizeof shared.un.sun_path - 1);
    shared.un.sun_path[0] = '\0';
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(argv[2]) + 1);
    rounds = atoi(argv[3]);
  } else {
    return 2;
  }
  pthread_t t;
  pthread_create(&t, NULL, flipper, NULL);
  int connected = 0, errs[256] = {0};
  time_t start = time(NULL);
  for (int i = 0; i < rounds && time(NULL) - start < 20; ++i) {
    int s = socket(unix_kind ? AF_UNIX : AF_INET, SOCK_STREAM, 0);
    if (s < 0) break;
    if (connect(s, (struct sockaddr*)&shared, len) == 0) {
      ++connected;
      ssize_t ignored = write(s, "escaped\n", 8);
      (void)ignored;
    } else if (errno < 256) {
      errs[errno]++;
    }
    close(s);
  }
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  printf("connected=%d", connected);
  for (int e = 0; e < 256; ++e)
    if (errs[e]) printf(" %s=%d", strerrorname_np(e), errs[e]);
  printf("\n");
  return 0;
}
