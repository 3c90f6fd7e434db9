// Unix-socket probe for the host-socket tests. Prints "OK" or "ERR <errno>".
//
//   ux_probe connect PATH stream|seqpacket   connect and exchange a byte
//   ux_probe dgram PATH                      socket(AF_UNIX, SOCK_DGRAM) + sendto PATH
//   ux_probe serve NAME stream|seqpacket     bind NAME (relative), listen, connect to it,
//                                            exchange a byte
//   ux_probe race OWN HOST ROUNDS            serve OWN; a thread flips the connect
//                                            address between OWN and HOST while the main
//                                            thread connects ROUNDS times; prints
//                                            "own=N other=M failed=K"
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int report(int rc) {
  if (rc < 0) {
    printf("ERR %s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
  } else {
    printf("OK\n");
  }
  return 0;
}

static socklen_t addr(const char* path, struct sockaddr_un* un) {
  memset(un, 0, sizeof *un);
  un->sun_family = AF_UNIX;
  strncpy(un->sun_path, path, sizeof un->sun_path - 1);
  return (socklen_t)sizeof *un;
}

static int type_of(const char* s) {
  return strcmp(s, "seqpacket") == 0 ? SOCK_SEQPACKET : SOCK_STREAM;
}

// Connects, sends 'p', prints "OK <answer byte>" (an echo server answers
// 'p', the tests' host servers 'H') or "ERR <errno>".
static int do_connect(const char* path, int type) {
  struct sockaddr_un un;
  socklen_t len = addr(path, &un);
  int s = socket(AF_UNIX, type, 0);
  if (s < 0) return report(-1);
  if (connect(s, (struct sockaddr*)&un, len) != 0) return report(-1);
  char b = '?';
  if (send(s, "p", 1, MSG_NOSIGNAL) != 1 || recv(s, &b, 1, 0) != 1) b = '-';
  close(s);
  printf("OK %c\n", b);
  return 0;
}

static void* echo_once(void* arg) {
  int l = (int)(long)arg;
  for (;;) {
    int c = accept(l, NULL, NULL);
    if (c < 0) return NULL;
    char b;
    if (recv(c, &b, 1, 0) == 1) send(c, &b, 1, MSG_NOSIGNAL);
    close(c);
  }
}

static int serve(const char* name, int type) {
  struct sockaddr_un un;
  socklen_t len = addr(name, &un);
  unlink(name);
  int l = socket(AF_UNIX, type, 0);
  if (l < 0 || bind(l, (struct sockaddr*)&un, len) != 0 || listen(l, 64) != 0) return -1;
  pthread_t t;
  pthread_create(&t, NULL, echo_once, (void*)(long)l);
  pthread_detach(t);
  return 0;
}

static struct sockaddr_un shared;
static atomic_int stop;
static char own_path[108], host_path[108];

static void* flipper(void* arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    memcpy(shared.sun_path, host_path, sizeof host_path);
    memcpy(shared.sun_path, own_path, sizeof own_path);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  if (!strcmp(argv[1], "connect") && argc == 4) return do_connect(argv[2], type_of(argv[3]));
  if (!strcmp(argv[1], "dgram")) {
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (s < 0) return report(-1);
    struct sockaddr_un un;
    socklen_t len = addr(argv[2], &un);
    return report(sendto(s, "d", 1, 0, (struct sockaddr*)&un, len) == 1 ? 0 : -1);
  }
  if (!strcmp(argv[1], "serve") && argc == 4) {
    if (serve(argv[2], type_of(argv[3])) != 0) return report(-1);
    return do_connect(argv[2], type_of(argv[3]));
  }
  if (!strcmp(argv[1], "race") && argc == 5) {
    if (serve(argv[2], SOCK_STREAM) != 0) return report(-1);
    memset(own_path, 0, sizeof own_path);
    memset(host_path, 0, sizeof host_path);
    strncpy(own_path, argv[2], sizeof own_path - 1);
    strncpy(host_path, argv[3], sizeof host_path - 1);
    addr(own_path, &shared);
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    int rounds = atoi(argv[4]), own = 0, other = 0, failed = 0;
    for (int i = 0; i < rounds; ++i) {
      int s = socket(AF_UNIX, SOCK_STREAM, 0);
      if (s < 0) break;
      if (connect(s, (struct sockaddr*)&shared, sizeof shared) == 0) {
        // Which one answered? Ours echoes the byte; the host one answers 'H'.
        char b = 0;
        if (send(s, "o", 1, MSG_NOSIGNAL) == 1 && recv(s, &b, 1, 0) == 1 && b == 'o') {
          ++own;
        } else {
          ++other;
        }
      } else {
        ++failed;
      }
      close(s);
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("own=%d other=%d failed=%d\n", own, other, failed);
    return 0;
  }
  return 2;
}
