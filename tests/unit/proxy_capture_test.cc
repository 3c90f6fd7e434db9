// Transparent TCP and capture without sockets (src/proxy/capture.h): which
// way a direct connect to a policy name goes, and the name a captured
// connection's first bytes ask for (a real ClientHello made by OpenSSL, an
// HTTP head), including truncated and malformed ones.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <string>

#include "policy/loader.h"
#include "proxy/capture.h"

namespace rf::proxy {
namespace {

const char* kPolicy = R"(version: 1
network_policies:
  db:
    endpoints:
      - { host: redis.test, port: 6379, protocol: tcp }
      - { host: web.test, ports: [443, 8080] }
      - { host: api.test, port: 8443, protocol: rest, access: read-only }
    binaries:
      - { path: /usr/bin/redis-cli }
      - { path: /usr/bin/node }
)";

Policy Load() {
  auto p = LoadPolicyString(kPolicy, "p.yaml");
  EXPECT_TRUE(p.ok()) << p.status().reason();
  return p.ok() ? *p : Policy{};
}

TEST(Capture, DecidesHowADirectConnectIsCarried) {
  Matcher m(Load().network_policies);
  auto d = DecideCapture(m, "redis.test", 6379, {"/usr/bin/redis-cli"});
  EXPECT_TRUE(d.allowed && d.raw) << d.reason;
  d = DecideCapture(m, "redis.test", 6380, {"/usr/bin/redis-cli"});
  EXPECT_FALSE(d.allowed);
  d = DecideCapture(m, "redis.test", 6379, {"/usr/bin/python3"});  // the binary rule
  EXPECT_FALSE(d.allowed);
  d = DecideCapture(m, "web.test", 443, {"/usr/bin/node"});
  EXPECT_TRUE(d.allowed && !d.raw) << d.reason;
  d = DecideCapture(m, "web.test", 8080, {"/usr/bin/node"});  // L4, not 80/443: proxy only
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.hint.find("protocol: tcp"), std::string::npos) << d.hint;
  d = DecideCapture(m, "api.test", 8443, {"/usr/bin/node"});  // inspected: HTTP(S) path
  EXPECT_TRUE(d.allowed && !d.raw) << d.reason;
  d = DecideCapture(m, "other.test", 443, {"/usr/bin/node"});
  EXPECT_FALSE(d.allowed);
}

TEST(Capture, AllocatesExactNamesInPolicyOrder) {
  dns::SyntheticNames names;
  auto list = AllocatePolicyNames(Load(), names);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].name, "redis.test");
  EXPECT_EQ(list[0].carried, "tcp");
  EXPECT_EQ(list[1].carried, "http");
  EXPECT_EQ(names.NameFor(list[2].address).value_or(""), "api.test");
  dns::SyntheticNames again;
  EXPECT_EQ(AllocatePolicyNames(Load(), again)[1].address.s_addr, list[1].address.s_addr);
}

std::string ClientHello(const char* sni) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* rd = BIO_new(BIO_s_mem());
  BIO* wr = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rd, wr);
  if (sni) SSL_set_tlsext_host_name(ssl, sni);
  SSL_set_connect_state(ssl);
  SSL_do_handshake(ssl);  // wants to read: the hello is written
  char* data = nullptr;
  long n = BIO_get_mem_data(wr, &data);
  std::string out(data, static_cast<size_t>(n));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return out;
}

TEST(Capture, ReadsTheSniOfARealClientHello) {
  const std::string hello = ClientHello("Web.Test");
  auto f = ReadFirstBytes(hello, 16389);
  EXPECT_EQ(f.kind, FirstBytes::Kind::kName);
  EXPECT_TRUE(f.tls);
  EXPECT_EQ(f.name, "web.test");
  for (size_t cut : {1ul, 5ul, 40ul, hello.size() - 1})
    EXPECT_EQ(ReadFirstBytes(hello.substr(0, cut), 16389).kind, FirstBytes::Kind::kNeedMore) << cut;
  EXPECT_EQ(ReadFirstBytes(ClientHello(nullptr), 16389).kind, FirstBytes::Kind::kNoName);
  std::string bad = hello;
  bad[5] = 2;  // not a client_hello
  EXPECT_EQ(ReadFirstBytes(bad, 16389).kind, FirstBytes::Kind::kInvalid);
  EXPECT_EQ(ReadFirstBytes(hello, 64).kind, FirstBytes::Kind::kInvalid);  // over the limit
}

TEST(Capture, ReadsTheHostHeader) {
  auto f = ReadFirstBytes("GET / HTTP/1.1\r\nUser-Agent: x\r\nHOST:  Web.Test:80 \r\n\r\n", 8192);
  EXPECT_EQ(f.kind, FirstBytes::Kind::kName);
  EXPECT_FALSE(f.tls);
  EXPECT_EQ(f.name, "web.test");
  EXPECT_EQ(ReadFirstBytes("GET / HTTP/1.1\r\nHost: web", 8192).kind, FirstBytes::Kind::kNeedMore);
  EXPECT_EQ(ReadFirstBytes("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 8192).kind,
            FirstBytes::Kind::kNoName);
  EXPECT_EQ(ReadFirstBytes("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 8192).kind,
            FirstBytes::Kind::kInvalid);
  EXPECT_EQ(ReadFirstBytes(std::string(9000, 'a'), 8192).kind, FirstBytes::Kind::kInvalid);
}

}  // namespace
}  // namespace rf::proxy
