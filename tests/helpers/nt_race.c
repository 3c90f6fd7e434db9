// TOCTOU probe for the platform-mode connect check: one thread keeps flipping
// a shared sockaddr between the allowed proxy address and a forbidden one
// while the main thread connects with it, ROUNDS times (bounded).
//
//   nt_race ALLOWED_PORT FORBIDDEN_PORT ROUNDS
//
// Prints "connected=N refused=M" (connections that got through, and that
// were refused). The test checks that the forbidden listener saw nothing.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in shared;
static atomic_int stop;
static int allowed_port, forbidden_port;

static void* flipper(void* arg) {
  (void)arg;
  volatile uint16_t* port = (volatile uint16_t*)&shared.sin_port;
  while (!atomic_load(&stop)) {
    *port = htons((uint16_t)forbidden_port);
    *port = htons((uint16_t)allowed_port);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  allowed_port = atoi(argv[1]);
  forbidden_port = atoi(argv[2]);
  int rounds = atoi(argv[3]);
  memset(&shared, 0, sizeof shared);
  shared.sin_family = AF_INET;
  shared.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  shared.sin_port = htons((uint16_t)allowed_port);
  pthread_t t;
  pthread_create(&t, NULL, flipper, NULL);
  int connected = 0, refused = 0;
  for (int i = 0; i < rounds; ++i) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) break;
    if (connect(s, (struct sockaddr*)&shared, sizeof shared) == 0) {
      ++connected;
    } else {
      ++refused;
    }
    close(s);
  }
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  printf("connected=%d refused=%d\n", connected, refused);
  return 0;
}
