// Passing a descriptor over a unix socket (SCM_RIGHTS). SendFd is
// async-signal-safe (one sendmsg, no allocation): the command's process uses
// it between fork and exec to hand descriptors to the supervisor.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "common/fd.h"
#include "common/status.h"

namespace rf {

// Returns 0 or an errno value. Async-signal-safe.
// A message of one byte with room for one descriptor, the same for both
// ends. Async-signal-safe.
struct OneFdMessage {
  char byte = 'F';
  struct iovec iov;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg;
  OneFdMessage() noexcept {
    memset(control, 0, sizeof control);
    memset(&msg, 0, sizeof msg);
    iov = {&byte, 1};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
  }
  OneFdMessage(const OneFdMessage&) = delete;
  OneFdMessage& operator=(const OneFdMessage&) = delete;
};

inline int SendFd(int sock, int fd) noexcept {
  OneFdMessage m;
  struct msghdr& msg = m.msg;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  for (;;) {
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n == 1) return 0;
    if (n < 0 && errno == EINTR) continue;
    return n < 0 ? errno : EIO;
  }
}

// Receives one descriptor (made O_CLOEXEC). Blocks unless `sock` is
// non-blocking.
inline Result<UniqueFd> ReceiveFd(int sock) {
  OneFdMessage m;
  struct msghdr& msg = m.msg;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::Errno("receiving a descriptor");
  if (n == 0) return Status::Error("receiving a descriptor: the sender closed the socket");
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
      c->cmsg_len != CMSG_LEN(sizeof(int)))
    return Status::Error("receiving a descriptor: no descriptor in the message");
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return UniqueFd(fd);
}

}  // namespace rf
