#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "common/fd.h"
#include "l7/tunnel.h"

namespace rf::l7 {
namespace {

struct Pair {
  UniqueFd near, far;
};

Pair SocketPair() {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

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

std::string CaFile(const tls::Authority& a, const char* name) {
  std::string path = std::string("/tmp/rf-tunnel-unit-") + name + "-" + std::to_string(getpid());
  std::ofstream(path) << a.certificate_pem();
  return path;
}

TEST(L7Tunnel, TlsTerminatedBothWays) {
  // The run's authority (what the command trusts) and the destination's own CA.
  auto run_ca = tls::Authority::Create("run");
  auto dest_ca = tls::Authority::Create("destination");
  ASSERT_TRUE(run_ca.ok() && dest_ca.ok());
  std::string run_file = CaFile(**run_ca, "run"), dest_file = CaFile(**dest_ca, "dest");
  auto proxy_server = tls::MakeServerContext();
  auto proxy_client = tls::MakeClientContext(dest_file);
  auto cmd_ctx = tls::MakeClientContext(run_file);
  auto dest_ctx = tls::MakeServerContext();
  ASSERT_TRUE(proxy_server.ok() && proxy_client.ok() && cmd_ctx.ok() && dest_ctx.ok());

  Pair cmd = SocketPair(), dst = SocketPair();
  TunnelSetup s;
  s.client_fd = cmd.near.get();
  s.upstream_fd = dst.near.get();
  s.inspector = Rules("api.test", 443);
  s.tls_server = proxy_server->get();
  s.tls_client = proxy_client->get();
  s.authority = run_ca->get();
  Tunnel t(std::move(s));

  auto command = tls::Session::Client(cmd_ctx->get(), cmd.far.get(), "api.test");
  auto destination =
      tls::Session::Server(dest_ctx->get(), dest_ca->get(), dst.far.get(), "api.test");
  ASSERT_TRUE(command.ok() && destination.ok());
  std::vector<RequestEvent> events;
  tls::Io c = tls::Io::kWantRead, d = tls::Io::kWantRead;
  for (int i = 0; i < 400 && (c != tls::Io::kOk || d != tls::Io::kOk); ++i) {
    if (c != tls::Io::kOk) c = (*command)->Handshake();
    if (d != tls::Io::kOk) d = (*destination)->Handshake();
    ASSERT_NE(c, tls::Io::kError) << (*command)->error();
    ASSERT_NE(d, tls::Io::kError) << (*destination)->error();
    ASSERT_EQ(PumpAll(t, &events), Tunnel::Step::kContinue) << t.error();
  }
  ASSERT_EQ(c, tls::Io::kOk);
  ASSERT_EQ(d, tls::Io::kOk);
  EXPECT_TRUE(t.tls());

  std::string req =
      "GET /a HTTP/1.1\r\nHost: api.test\r\n\r\nDELETE /b HTTP/1.1\r\nHost: api.test\r\n\r\n";
  size_t n = 0;
  ASSERT_EQ((*command)->Write(req.data(), req.size(), &n), tls::Io::kOk);
  std::string at_dest;
  char buf[4096];
  for (int i = 0; i < 100 && at_dest.find("\r\n\r\n") == std::string::npos; ++i) {
    PumpAll(t, &events);
    if ((*destination)->Read(buf, sizeof buf, &n) == tls::Io::kOk) at_dest.append(buf, n);
  }
  EXPECT_EQ(at_dest, "GET /a HTTP/1.1\r\nHost: api.test\r\n\r\n");
  std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
  ASSERT_EQ((*destination)->Write(resp.data(), resp.size(), &n), tls::Io::kOk);
  std::string at_cmd;
  for (int i = 0; i < 100 && at_cmd.find("403") == std::string::npos; ++i) {
    PumpAll(t, &events);
    if ((*command)->Read(buf, sizeof buf, &n) == tls::Io::kOk) at_cmd.append(buf, n);
  }
  EXPECT_EQ(at_cmd.rfind(resp, 0), 0u) << at_cmd;
  EXPECT_NE(at_cmd.find("HTTP/1.1 403 Forbidden"), std::string::npos);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].allowed);
  EXPECT_FALSE(events[1].allowed);
  unlink(run_file.c_str());
  unlink(dest_file.c_str());
}

TEST(L7Tunnel, UntrustedDestinationAnswered502) {
  auto run_ca = tls::Authority::Create("run");
  auto dest_ca = tls::Authority::Create("destination");
  std::string run_file = CaFile(**run_ca, "run2");
  auto proxy_server = tls::MakeServerContext();
  auto proxy_client = tls::MakeClientContext("");  // does not trust the destination's CA
  auto cmd_ctx = tls::MakeClientContext(run_file);
  auto dest_ctx = tls::MakeServerContext();
  Pair cmd = SocketPair(), dst = SocketPair();
  TunnelSetup s;
  s.client_fd = cmd.near.get();
  s.upstream_fd = dst.near.get();
  s.inspector = Rules("api.test", 443);
  s.tls_server = proxy_server->get();
  s.tls_client = proxy_client->get();
  s.authority = run_ca->get();
  Tunnel t(std::move(s));
  auto command = tls::Session::Client(cmd_ctx->get(), cmd.far.get(), "api.test");
  auto destination =
      tls::Session::Server(dest_ctx->get(), dest_ca->get(), dst.far.get(), "api.test");
  std::vector<RequestEvent> events;
  std::string at_cmd;
  char buf[4096];
  size_t n = 0;
  tls::Io c = tls::Io::kWantRead;
  Tunnel::Step step = Tunnel::Step::kContinue;
  for (int i = 0; i < 400 && step == Tunnel::Step::kContinue; ++i) {
    if (c != tls::Io::kOk) c = (*command)->Handshake();
    (*destination)->Handshake();
    step = PumpAll(t, &events);
    if (c == tls::Io::kOk && (*command)->Read(buf, sizeof buf, &n) == tls::Io::kOk)
      at_cmd.append(buf, n);
  }
  for (int i = 0; i < 10 && (*command)->Read(buf, sizeof buf, &n) == tls::Io::kOk; ++i)
    at_cmd.append(buf, n);
  EXPECT_NE(at_cmd.find("HTTP/1.1 502"), std::string::npos) << at_cmd;
  EXPECT_NE(at_cmd.find("not trusted"), std::string::npos) << at_cmd;
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].status, 502);
  unlink(run_file.c_str());
}

}  // namespace
}  // namespace rf::l7
