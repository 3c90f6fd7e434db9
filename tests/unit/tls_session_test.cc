#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "common/fd.h"
#include "socket_pair.h"
#include "tls/session.h"

namespace rf::tls {
namespace {

using Pair = test::SocketPair;

Pair SocketPair() { return test::NonBlockingSocketPair(); }

// Drives both handshakes until each is done or fails (bounded: the peers
// are in memory, so a few hundred rounds is far more than enough).
std::pair<Io, Io> HandshakeBoth(Session& server, Session& client) {
  Io s = Io::kWantRead, c = Io::kWantRead;
  for (int round = 0; round < 400; ++round) {
    if (c != Io::kOk && c != Io::kError) c = client.Handshake();
    if (s != Io::kOk && s != Io::kError) s = server.Handshake();
    if ((s == Io::kOk || s == Io::kError) && (c == Io::kOk || c == Io::kError)) break;
  }
  return {s, c};
}

std::string WriteCaFile(const Authority& a) {
  char path[] = "/tmp/rf-tls-unit-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << a.certificate_pem();
  return path;
}

TEST(TlsSession, TerminatesAndVerifies) {
  auto ca = Authority::Create("unit");
  ASSERT_TRUE(ca.ok());
  std::string ca_file = WriteCaFile(**ca);
  auto sctx = MakeServerContext();
  auto cctx = MakeClientContext(ca_file);
  ASSERT_TRUE(sctx.ok() && cctx.ok()) << cctx.status().reason();
  Pair p = SocketPair();
  auto server = Session::Server(sctx->get(), ca->get(), p.near.get(), "api.test");
  auto client = Session::Client(cctx->get(), p.far.get(), "api.test");
  ASSERT_TRUE(server.ok() && client.ok());
  auto [s, c] = HandshakeBoth(**server, **client);
  ASSERT_EQ(s, Io::kOk) << (*server)->error();
  ASSERT_EQ(c, Io::kOk) << (*client)->error();
  EXPECT_EQ((*server)->alpn(), "http/1.1");
  size_t n = 0;
  ASSERT_EQ((*client)->Write("GET / HTTP/1.1\r\n", 16, &n), Io::kOk);
  EXPECT_EQ(n, 16u);
  char buf[64];
  Io r = Io::kWantRead;
  for (int i = 0; i < 100 && r == Io::kWantRead; ++i) r = (*server)->Read(buf, sizeof buf, &n);
  ASSERT_EQ(r, Io::kOk);
  EXPECT_EQ(std::string(buf, n), "GET / HTTP/1.1\r\n");
  unlink(ca_file.c_str());
}

TEST(TlsSession, SniMustNameTheConnectHost) {
  auto ca = Authority::Create("unit");
  std::string ca_file = WriteCaFile(**ca);
  auto sctx = MakeServerContext();
  auto cctx = MakeClientContext(ca_file);
  Pair p = SocketPair();
  // The tunnel was opened to allowed.test; the client's TLS names other.test.
  auto server = Session::Server(sctx->get(), ca->get(), p.near.get(), "allowed.test");
  auto client = Session::Client(cctx->get(), p.far.get(), "other.test");
  auto [s, c] = HandshakeBoth(**server, **client);
  EXPECT_EQ(s, Io::kError);
  EXPECT_EQ(c, Io::kError);
  EXPECT_NE((*server)->error().find("is not the CONNECT host"), std::string::npos)
      << (*server)->error();
  unlink(ca_file.c_str());
}

TEST(TlsSession, UntrustedDestinationRefused) {
  auto ca = Authority::Create("unit");
  auto sctx = MakeServerContext();
  auto cctx = MakeClientContext("");  // system roots only: the run's CA is not among them
  Pair p = SocketPair();
  auto server = Session::Server(sctx->get(), ca->get(), p.near.get(), "api.test");
  auto client = Session::Client(cctx->get(), p.far.get(), "api.test");
  auto [s, c] = HandshakeBoth(**server, **client);
  EXPECT_EQ(c, Io::kError);
  EXPECT_NE((*client)->error().find("is not trusted"), std::string::npos) << (*client)->error();
  EXPECT_FALSE(MakeClientContext("/nonexistent/ca.pem").ok());
}

TEST(TlsSession, H2OnlyClientGetsNoAlpn) {
  auto ca = Authority::Create("unit");
  std::string ca_file = WriteCaFile(**ca);
  auto sctx = MakeServerContext();
  auto cctx = MakeClientContext(ca_file);
  static const unsigned char kH2[] = {2, 'h', '2'};
  ASSERT_EQ(SSL_CTX_set_alpn_protos(cctx->get(), kH2, sizeof kH2), 0);
  Pair p = SocketPair();
  auto server = Session::Server(sctx->get(), ca->get(), p.near.get(), "api.test");
  auto client = Session::Client(cctx->get(), p.far.get(), "api.test");
  auto [s, c] = HandshakeBoth(**server, **client);
  ASSERT_EQ(s, Io::kOk) << (*server)->error();
  ASSERT_EQ(c, Io::kOk) << (*client)->error();
  EXPECT_EQ((*client)->alpn(), "");
  unlink(ca_file.c_str());
}

}  // namespace
}  // namespace rf::tls
