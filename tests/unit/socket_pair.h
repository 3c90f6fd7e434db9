// A connected, non-blocking AF_UNIX stream pair for unit tests that drive
// protocol code over real sockets (TLS sessions, inspected tunnels).
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "common/fd.h"

namespace rf::test {

struct SocketPair {
  UniqueFd near, far;  // the side under test, and the test's own side
};

inline SocketPair NonBlockingSocketPair() {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

}  // namespace rf::test
