// Network/side-door probe for the parity suite. Each invocation tries one
// thing and prints "OK" or "ERR <errno>" (one line), exit status 0 either way
// (2 on usage errors). Run inside and outside the sandbox by the tests.
//
//   nt_probe tcp ADDR PORT            connect (ADDR may be IPv6)
//   nt_probe mptcp ADDR PORT          socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP) + connect
//   nt_probe udp-sendto ADDR PORT     unconnected sendto
//   nt_probe udp-send ADDR PORT       connect + send
//   nt_probe udp-sendmmsg ADDR PORT   connect + sendmmsg (2 messages)
//   nt_probe dns ADDR PORT            a DNS query over UDP, waits 1 s for an answer
//   nt_probe raw | packet             socket(AF_INET, SOCK_RAW, ICMP) / socket(AF_PACKET, ...)
//   nt_probe iouring                  io_uring_setup
//   nt_probe abstract NAME            connect to the abstract unix socket "\0NAME"
//   nt_probe kill PID                 kill(PID, SIGTERM)
//   nt_probe kill0 PID                kill(PID, 0): existence and permission check only
//   nt_probe read PATH                open + read a byte
//   nt_probe serve-connect PORT       listen on 127.0.0.1:PORT, connect to it, exchange a byte
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif

static int report(int rc) {
  if (rc < 0) {
    printf("ERR %s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
  } else {
    printf("OK\n");
  }
  return 0;
}

static socklen_t make_addr(const char* host, int port, struct sockaddr_storage* ss) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in* in = (struct sockaddr_in*)ss;
  struct sockaddr_in6* in6 = (struct sockaddr_in6*)ss;
  if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    return sizeof *in;
  }
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    return sizeof *in6;
  }
  fprintf(stderr, "bad address %s\n", host);
  exit(2);
}

static int tcp(const char* host, int port, int proto) {
  struct sockaddr_storage ss;
  socklen_t len = make_addr(host, port, &ss);
  int s = socket(ss.ss_family, SOCK_STREAM, proto);
  if (s < 0) return -1;
  int rc = connect(s, (struct sockaddr*)&ss, len);
  int err = errno;
  if (rc == 0) {
    // Prove the connection is real: a byte gets through.
    rc = send(s, "x", 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
    err = errno;
  }
  close(s);
  errno = err;
  return rc;
}

static int udp(const char* how, const char* host, int port) {
  struct sockaddr_storage ss;
  socklen_t len = make_addr(host, port, &ss);
  int s = socket(ss.ss_family, SOCK_DGRAM, 0);
  if (s < 0) return -1;
  int rc;
  if (!strcmp(how, "udp-sendto")) {
    rc = sendto(s, "ping", 4, 0, (struct sockaddr*)&ss, len) == 4 ? 0 : -1;
  } else {
    rc = connect(s, (struct sockaddr*)&ss, len);
    if (rc == 0 && !strcmp(how, "udp-send")) rc = send(s, "ping", 4, 0) == 4 ? 0 : -1;
    if (rc == 0 && !strcmp(how, "udp-sendmmsg")) {
      struct iovec iov[2] = {{"ping", 4}, {"pong", 4}};
      struct mmsghdr m[2];
      memset(m, 0, sizeof m);
      m[0].msg_hdr.msg_iov = &iov[0];
      m[0].msg_hdr.msg_iovlen = 1;
      m[1].msg_hdr.msg_iov = &iov[1];
      m[1].msg_hdr.msg_iovlen = 1;
      rc = sendmmsg(s, m, 2, 0) == 2 ? 0 : -1;
    }
  }
  int err = errno;
  close(s);
  errno = err;
  return rc;
}

static int dns(const char* host, int port) {
  struct sockaddr_storage ss;
  socklen_t len = make_addr(host, port, &ss);
  int s = socket(ss.ss_family, SOCK_DGRAM, 0);
  if (s < 0) return -1;
  // Query: id 0x1234, RD, one question: example.test A IN.
  unsigned char q[] = {0x12, 0x34, 1,   0,   0,   1, 0,   0,   0,   0,   0, 0, 7, 'e', 'x',
                       'a',  'm',  'p', 'l', 'e', 4, 't', 'e', 's', 't', 0, 0, 1, 0,   1};
  if (sendto(s, q, sizeof q, 0, (struct sockaddr*)&ss, len) != (ssize_t)sizeof q) {
    int err = errno;
    close(s);
    errno = err;
    return -1;
  }
  struct pollfd p = {s, POLLIN, 0};
  int n = poll(&p, 1, 1000);
  close(s);
  if (n <= 0) {
    errno = ETIMEDOUT;
    return -1;
  }
  return 0;
}

static int abstract_connect(const char* name) {
  struct sockaddr_un un;
  memset(&un, 0, sizeof un);
  un.sun_family = AF_UNIX;
  size_t n = strlen(name);
  if (n > sizeof un.sun_path - 1) n = sizeof un.sun_path - 1;
  memcpy(un.sun_path + 1, name, n);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  if (s < 0) return -1;
  int rc = connect(s, (struct sockaddr*)&un,
                   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n));
  if (rc == 0) rc = send(s, "x", 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
  int err = errno;
  close(s);
  errno = err;
  return rc;
}

static int serve_connect(int port) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  if (l < 0) return -1;
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_storage ss;
  socklen_t len = make_addr("127.0.0.1", port, &ss);
  if (bind(l, (struct sockaddr*)&ss, len) != 0 || listen(l, 4) != 0) return -1;
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (c < 0 || connect(c, (struct sockaddr*)&ss, len) != 0) return -1;
  int a = accept(l, NULL, NULL);
  if (a < 0) return -1;
  char b = 0;
  if (send(c, "y", 1, 0) != 1 || recv(a, &b, 1, 0) != 1 || b != 'y') {
    errno = EPROTO;
    return -1;
  }
  close(a);
  close(c);
  close(l);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* what = argv[1];
  if (!strcmp(what, "tcp") && argc == 4) return report(tcp(argv[2], atoi(argv[3]), 0));
  if (!strcmp(what, "mptcp") && argc == 4)
    return report(tcp(argv[2], atoi(argv[3]), IPPROTO_MPTCP));
  if (!strncmp(what, "udp-", 4) && argc == 4) return report(udp(what, argv[2], atoi(argv[3])));
  if (!strcmp(what, "dns") && argc == 4) return report(dns(argv[2], atoi(argv[3])));
  if (!strcmp(what, "raw")) return report(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
  if (!strcmp(what, "packet")) return report(socket(AF_PACKET, SOCK_RAW, 0));
  if (!strcmp(what, "iouring")) {
    unsigned char params[120];
    memset(params, 0, sizeof params);
    return report((int)syscall(__NR_io_uring_setup, 4, params));
  }
  if (!strcmp(what, "abstract") && argc == 3) return report(abstract_connect(argv[2]));
  if (!strcmp(what, "kill") && argc == 3) return report(kill(atoi(argv[2]), SIGTERM));
  if (!strcmp(what, "kill0") && argc == 3) return report(kill(atoi(argv[2]), 0));
  if (!strcmp(what, "read") && argc == 3) {
    int fd = open(argv[2], O_RDONLY);
    if (fd < 0) return report(-1);
    char b;
    int rc = read(fd, &b, 1) >= 0 ? 0 : -1;
    return report(rc);
  }
  if (!strcmp(what, "serve-connect") && argc == 3) return report(serve_connect(atoi(argv[2])));
  fprintf(stderr, "usage: see the header of nt_probe.c\n");
  return 2;
}
