#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "common/fd.h"
#include "l7/tunnel.h"
#include "socket_pair.h"

namespace rf::l7 {
namespace {

using Pair = test::SocketPair;

Pair SocketPair() { return test::NonBlockingSocketPair(); }

InspectorConfig Rules(const std::string& host, uint16_t port) {
  InspectorConfig c;
  c.host = host;
  c.port = port;
  InspectedEndpoint e;
  e.label = "policy p endpoint 0";
  e.rules.access = Access::kReadOnly;
  c.endpoints.push_back(e);
  return c;
}

std::string Drain(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Pumps with every side marked ready, as a level-triggered loop would.
Tunnel::Step PumpAll(Tunnel& t, std::vector<RequestEvent>* events) {
  Readiness r{true, true, true, true};
  return t.Pump(r, events);
}

TEST(L7Tunnel, PlainHttpInspected) {
  Pair cmd = SocketPair(), dst = SocketPair();
  TunnelSetup s;
  s.client_fd = cmd.near.get();
  s.upstream_fd = dst.near.get();
  s.inspector = Rules("api.test", 80);
  Tunnel t(std::move(s));
  std::string get = "GET /ok HTTP/1.1\r\nHost: api.test\r\n\r\n";
  std::string post = "POST /no HTTP/1.1\r\nHost: api.test\r\n\r\n";
  ASSERT_EQ(send(cmd.far.get(), (get + post).data(), get.size() + post.size(), 0),
            static_cast<ssize_t>(get.size() + post.size()));
  std::vector<RequestEvent> events;
  EXPECT_EQ(PumpAll(t, &events), Tunnel::Step::kContinue);
  EXPECT_FALSE(t.tls());
  EXPECT_EQ(Drain(dst.far.get()), get);  // the POST never reaches the destination
  ASSERT_EQ(events.size(), 2u);
  std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  ASSERT_EQ(send(dst.far.get(), resp.data(), resp.size(), 0), static_cast<ssize_t>(resp.size()));
  EXPECT_EQ(PumpAll(t, &events), Tunnel::Step::kContinue);
  std::string got = Drain(cmd.far.get());
  EXPECT_EQ(got.rfind(resp, 0), 0u) << got;
  EXPECT_NE(got.find("HTTP/1.1 403 Forbidden", resp.size()), std::string::npos);
  // The destination closes: the tunnel ends once the command has it all.
  dst.far.reset();
  EXPECT_EQ(PumpAll(t, &events), Tunnel::Step::kDone);
}

// Refused requests cost nothing upstream but each gets a 403: a command that
// sends them and never reads the answers must not make the proxy buffer
// without end. The tunnel stops reading it instead.
TEST(L7Tunnel, RefusalsUnreadStopTheReading) {
  Pair cmd = SocketPair(), dst = SocketPair();
  int big = 4 << 20;
  setsockopt(cmd.far.get(), SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
  setsockopt(cmd.near.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  TunnelSetup s;
  s.client_fd = cmd.near.get();
  s.upstream_fd = dst.near.get();
  s.inspector = Rules("api.test", 80);
  Tunnel t(std::move(s));
  std::string one = "DELETE /x HTTP/1.1\r\nHost: api.test\r\n\r\n", flood;
  for (int i = 0; i < 20000; ++i) flood += one;
  size_t sent = 0;
  for (int i = 0; i < 1000 && sent < flood.size(); ++i) {
    ssize_t n = send(cmd.far.get(), flood.data() + sent, flood.size() - sent, MSG_DONTWAIT);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  ASSERT_GT(sent, 300000u);
  std::vector<RequestEvent> events;
  for (int i = 0; i < 50; ++i) PumpAll(t, &events);
  int unread = 0;
  ASSERT_EQ(ioctl(cmd.near.get(), FIONREAD, &unread), 0);
  EXPECT_GT(unread, 0) << "the tunnel kept reading a command that reads none of its answers";
  EXPECT_LT(events.size(), 20000u);
  EXPECT_EQ(Drain(dst.far.get()), "");  // nothing refused went upstream
}

std::string CaFile(const tls::Authority& a, const char* name) {
  std::string path = std::string("/tmp/rf-tunnel-unit-") + name + "-" + std::to_string(getpid());
  std::ofstream(path) << a.certificate_pem();
  return path;
}

// The three parties of a TLS-inspected tunnel over socket pairs: the
// command (trusting the run's CA), the tunnel, and the destination (with a
// CA of its own, which the proxy trusts only when `trust_destination`).
struct TlsRig {
  explicit TlsRig(bool trust_destination, const char* name) {
    run_ca = std::move(tls::Authority::Create("run")).value();
    dest_ca = std::move(tls::Authority::Create("destination")).value();
    run_file = CaFile(*run_ca, name);
    dest_file = CaFile(*dest_ca, (std::string(name) + "-dest").c_str());
    proxy_server = std::move(tls::MakeServerContext()).value();
    proxy_client = std::move(tls::MakeClientContext(trust_destination ? dest_file : "")).value();
    cmd_ctx = std::move(tls::MakeClientContext(run_file)).value();
    dest_ctx = std::move(tls::MakeServerContext()).value();
    TunnelSetup s;
    s.client_fd = cmd.near.get();
    s.upstream_fd = dst.near.get();
    s.inspector = Rules("api.test", 443);
    s.tls_server = proxy_server.get();
    s.tls_client = proxy_client.get();
    s.authority = run_ca.get();
    tunnel = std::make_unique<Tunnel>(std::move(s));
    command = std::move(tls::Session::Client(cmd_ctx.get(), cmd.far.get(), "api.test")).value();
    destination =
        std::move(tls::Session::Server(dest_ctx.get(), dest_ca.get(), dst.far.get(), "api.test"))
            .value();
  }
  ~TlsRig() {
    unlink(run_file.c_str());
    unlink(dest_file.c_str());
  }
  std::unique_ptr<tls::Authority> run_ca, dest_ca;
  std::string run_file, dest_file;
  tls::SslCtxPtr proxy_server, proxy_client, cmd_ctx, dest_ctx;
  Pair cmd = SocketPair(), dst = SocketPair();
  std::unique_ptr<Tunnel> tunnel;
  std::unique_ptr<tls::Session> command, destination;
};

TEST(L7Tunnel, TlsTerminatedBothWays) {
  TlsRig rig(true, "both");
  Tunnel& t = *rig.tunnel;
  auto& command = rig.command;
  auto& destination = rig.destination;
  std::vector<RequestEvent> events;
  tls::Io c = tls::Io::kWantRead, d = tls::Io::kWantRead;
  for (int i = 0; i < 400 && (c != tls::Io::kOk || d != tls::Io::kOk); ++i) {
    if (c != tls::Io::kOk) c = command->Handshake();
    if (d != tls::Io::kOk) d = destination->Handshake();
    ASSERT_NE(c, tls::Io::kError) << command->error();
    ASSERT_NE(d, tls::Io::kError) << destination->error();
    ASSERT_EQ(PumpAll(t, &events), Tunnel::Step::kContinue) << t.error();
  }
  ASSERT_EQ(c, tls::Io::kOk);
  ASSERT_EQ(d, tls::Io::kOk);
  EXPECT_TRUE(t.tls());

  std::string req =
      "GET /a HTTP/1.1\r\nHost: api.test\r\n\r\nDELETE /b HTTP/1.1\r\nHost: api.test\r\n\r\n";
  size_t n = 0;
  ASSERT_EQ(command->Write(req.data(), req.size(), &n), tls::Io::kOk);
  std::string at_dest;
  char buf[4096];
  for (int i = 0; i < 100 && at_dest.find("\r\n\r\n") == std::string::npos; ++i) {
    PumpAll(t, &events);
    if (destination->Read(buf, sizeof buf, &n) == tls::Io::kOk) at_dest.append(buf, n);
  }
  EXPECT_EQ(at_dest, "GET /a HTTP/1.1\r\nHost: api.test\r\n\r\n");
  std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
  ASSERT_EQ(destination->Write(resp.data(), resp.size(), &n), tls::Io::kOk);
  std::string at_cmd;
  for (int i = 0; i < 100 && at_cmd.find("403") == std::string::npos; ++i) {
    PumpAll(t, &events);
    if (command->Read(buf, sizeof buf, &n) == tls::Io::kOk) at_cmd.append(buf, n);
  }
  EXPECT_EQ(at_cmd.rfind(resp, 0), 0u) << at_cmd;
  EXPECT_NE(at_cmd.find("HTTP/1.1 403 Forbidden"), std::string::npos);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].allowed);
  EXPECT_FALSE(events[1].allowed);
}

TEST(L7Tunnel, UntrustedDestinationAnswered502) {
  TlsRig rig(false, "untrusted");
  Tunnel& t = *rig.tunnel;
  auto& command = rig.command;
  auto& destination = rig.destination;
  std::vector<RequestEvent> events;
  std::string at_cmd;
  char buf[4096];
  size_t n = 0;
  tls::Io c = tls::Io::kWantRead;
  Tunnel::Step step = Tunnel::Step::kContinue;
  for (int i = 0; i < 400 && step == Tunnel::Step::kContinue; ++i) {
    if (c != tls::Io::kOk) c = command->Handshake();
    destination->Handshake();
    step = PumpAll(t, &events);
    if (c == tls::Io::kOk && command->Read(buf, sizeof buf, &n) == tls::Io::kOk)
      at_cmd.append(buf, n);
  }
  for (int i = 0; i < 10 && command->Read(buf, sizeof buf, &n) == tls::Io::kOk; ++i)
    at_cmd.append(buf, n);
  EXPECT_NE(at_cmd.find("HTTP/1.1 502"), std::string::npos) << at_cmd;
  EXPECT_NE(at_cmd.find("not trusted"), std::string::npos) << at_cmd;
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].status, 502);
}

}  // namespace
}  // namespace rf::l7
