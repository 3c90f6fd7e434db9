#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "credentials/setup.h"
#include "credentials/store.h"
#include "l7/inspector.h"
#include "l7/websocket.h"

namespace rf::cred {
namespace {

constexpr char kNonce[] = "0123456789abcdef0123456789abcdef";
constexpr char kSecret[] = "the-real-value";

std::shared_ptr<Store> MakeStore() {
  Credential c;
  c.name = "TOK";
  c.from = "env:SRC";
  c.endpoints.push_back({"api.test", 443, "/v1/**"});
  std::string var = std::string("SRC=") + kSecret;
  std::vector<char*> env = {var.data(), nullptr};
  auto s = Store::Load({c}, {}, env.data(), kNonce);
  EXPECT_TRUE(s.ok()) << s.status().reason();
  // The supervisor's own copy of the variable is wiped.
  EXPECT_EQ(std::string(var.c_str()), "SRC=");
  return *s;
}

std::string Own() { return std::string("ringfence:cred:TOK:") + kNonce; }

TEST(CredentialScanner, FindsEveryForm) {
  auto f = FindPlaceholders("a " + Own() +
                            " b openshell:resolve:env:TOK, provider-OPENSHELL-RESOLVE-ENV-X_1;");
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].name, "TOK");
  EXPECT_EQ(f[0].nonce, kNonce);
  EXPECT_EQ(f[0].len, Own().size());
  EXPECT_EQ(f[1].name, "TOK");
  EXPECT_EQ(f[2].name, "X_1");
  EXPECT_TRUE(FindPlaceholders("openshell:resolve:env: nothing").empty());
  EXPECT_FALSE(MayHoldPlaceholder("ringfence:credential"));
}

TEST(CredentialStore, RewritesOnlyWhereBound) {
  auto s = MakeStore();
  EXPECT_EQ(s->Environment(), std::vector<std::string>{"TOK=" + Own()});
  EXPECT_EQ(s->SourceVariables(), std::vector<std::string>{"SRC"});
  std::string out;
  EXPECT_EQ(s->Rewrite("api.test", 443, "/v1/x", "Bearer " + Own(), &out),
            Store::Outcome::kRewritten);
  EXPECT_EQ(out, std::string("Bearer ") + kSecret);
  EXPECT_EQ(s->Rewrite("API.test", 443, "/v1/x", "k=openshell:resolve:env:TOK", &out),
            Store::Outcome::kRewritten);
  EXPECT_EQ(out, std::string("k=") + kSecret);
  // Another host, port or path; another run's nonce; an unknown name.
  EXPECT_EQ(s->Rewrite("other.test", 443, "/v1/x", Own(), &out), Store::Outcome::kMismatch);
  EXPECT_EQ(s->Rewrite("api.test", 8443, "/v1/x", Own(), &out), Store::Outcome::kMismatch);
  EXPECT_EQ(s->Rewrite("api.test", 443, "/v2/x", Own(), &out), Store::Outcome::kMismatch);
  EXPECT_EQ(s->Rewrite("api.test", 443, "/v1/x",
                       "ringfence:cred:TOK:ffffffffffffffffffffffffffffffff", &out),
            Store::Outcome::kMismatch);
  EXPECT_EQ(s->Rewrite("api.test", 443, "/v1/x", "openshell:resolve:env:OTHER", &out),
            Store::Outcome::kMismatch);
  EXPECT_EQ(s->Rewrite("api.test", 443, "/v1/x", "nothing here", &out), Store::Outcome::kUnchanged);
}

TEST(CredentialStore, EnvironmentDropsSourcesKeepsWhatRingfenceSets) {
  auto s = MakeStore();
  std::string a = "SRC=", b = "KEEP=1", c = "TOK=old";
  std::vector<char*> env = {a.data(), b.data(), c.data(), nullptr};
  auto inherited = InheritedWithoutSources(*s, env.data());
  ASSERT_EQ(inherited.size(), 3u);
  EXPECT_STREQ(inherited[0], "KEEP=1");
  EXPECT_STREQ(inherited[1], "TOK=old");
  EXPECT_EQ(inherited[2], nullptr);
  // What ringfence sets itself (SRC here, as HOME would be) stays; the
  // credential's name gets the placeholder.
  std::vector<std::string> child = {"KEEP=1", "TOK=old", "SRC=set-by-ringfence"};
  ApplyCredentialEnvironment(*s, &child);
  EXPECT_EQ(child, (std::vector<std::string>{"KEEP=1", "SRC=set-by-ringfence", "TOK=" + Own()}));
}

TEST(CredentialStore, MissingVariableNamesItNotAValue) {
  Credential c;
  c.name = "TOK";
  c.from = "env:ABSENT";
  std::vector<char*> env = {nullptr};
  auto s = Store::Load({c}, {}, env.data());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().reason().find("ABSENT is not set"), std::string::npos);
}

l7::InspectorConfig Config(std::shared_ptr<Store> s, bool body_rewrite) {
  l7::InspectorConfig c;
  c.host = "api.test";
  c.port = 443;
  c.tls = true;
  l7::InspectedEndpoint e;
  e.label = "policy p endpoint 0";
  e.rules.access = l7::Access::kFull;
  e.body_rewrite = body_rewrite;
  c.endpoints.push_back(e);
  c.credentials = std::move(s);
  return c;
}

std::string Req(const std::string& method, const std::string& target, const std::string& extra) {
  return method + " " + target + " HTTP/1.1\r\nHost: api.test\r\n" + extra + "\r\n";
}

TEST(CredentialInspector, HeaderAndQueryRewrittenMismatchRefused) {
  l7::Inspector in(Config(MakeStore(), false));
  l7::InspectorOutput out;
  in.FromClient(Req("GET", "/v1/a?k=" + Own(), "Authorization: Bearer " + Own() + "\r\n"), &out);
  EXPECT_EQ(out.to_upstream, Req("GET", std::string("/v1/a?k=") + kSecret,
                                 std::string("Authorization: Bearer ") + kSecret + "\r\n"));
  l7::Inspector in2(Config(MakeStore(), false));
  l7::InspectorOutput out2;
  in2.FromClient(Req("GET", "/v2/a", "x-api-key: " + Own() + "\r\n"), &out2);
  EXPECT_EQ(out2.to_upstream, "");
  EXPECT_NE(out2.to_client.find("403"), std::string::npos);
  EXPECT_NE(out2.to_client.find("credential_endpoint_mismatch"), std::string::npos);
  ASSERT_EQ(out2.events.size(), 1u);
  EXPECT_FALSE(out2.events[0].allowed);
  EXPECT_EQ(out2.events[0].reason.find(Own()), std::string::npos);
  // A placeholder as a field name or in the path: refused, path not shown.
  l7::Inspector in3(Config(MakeStore(), false));
  l7::InspectorOutput out3;
  in3.FromClient(Req("GET", "/v1/" + Own(), ""), &out3);
  EXPECT_EQ(out3.to_upstream, "");
  ASSERT_EQ(out3.events.size(), 1u);
  EXPECT_EQ(out3.events[0].path.find("ringfence:cred"), std::string::npos);
}

TEST(CredentialInspector, BodyScannedAcrossReads) {
  l7::Inspector in(Config(MakeStore(), false));
  l7::InspectorOutput out;
  const std::string body = "{\"t\": \"" + Own() + "\"}";
  in.FromClient(Req("POST", "/v1/a", "Content-Length: " + std::to_string(body.size()) + "\r\n"),
                &out);
  // Split inside the prefix: the first part is held back, nothing of the
  // marker reaches the upstream.
  in.FromClient(body.substr(0, 12), &out);
  EXPECT_EQ(out.to_upstream.find("ringfence:"), std::string::npos);
  in.FromClient(body.substr(12), &out);
  EXPECT_EQ(out.to_upstream.find("ringfence:cr"), std::string::npos);
  EXPECT_TRUE(out.close);
  EXPECT_NE(out.to_client.find("request_body_credential_rewrite"), std::string::npos);
  // Head and body together: nothing of the request goes upstream.
  l7::Inspector whole(Config(MakeStore(), false));
  l7::InspectorOutput out2;
  whole.FromClient(
      Req("POST", "/v1/a", "Content-Length: " + std::to_string(body.size()) + "\r\n") + body,
      &out2);
  EXPECT_EQ(out2.to_upstream, "");
  EXPECT_NE(out2.to_client.find("403"), std::string::npos);
}

TEST(CredentialInspector, BodyRewrittenChunkedAndLimited) {
  l7::Inspector in(Config(MakeStore(), true));
  l7::InspectorOutput out;
  const std::string data = "a=" + Own();
  char size[16];
  snprintf(size, sizeof size, "%zx", data.size());
  in.FromClient(Req("POST", "/v1/a",
                    "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: "
                    "chunked\r\n") +
                    size + "\r\n" + data + "\r\n0\r\n\r\n",
                &out);
  const std::string want = std::string("a=") + kSecret;
  EXPECT_EQ(out.to_upstream,
            "POST /v1/a HTTP/1.1\r\nHost: api.test\r\nContent-Type: "
            "application/x-www-form-urlencoded\r\nContent-Length: " +
                std::to_string(want.size()) + "\r\n\r\n" + want);
  l7::Inspector big(Config(MakeStore(), true));
  l7::InspectorOutput out2;
  const size_t n = l7::kMaxRewriteBody + 1;
  big.FromClient(Req("POST", "/v1/a",
                     "Content-Type: text/plain\r\nContent-Length: " + std::to_string(n) + "\r\n") +
                     std::string(n, 'x'),
                 &out2);
  EXPECT_EQ(out2.to_upstream, "");
  EXPECT_NE(out2.to_client.find("413"), std::string::npos);
}

std::string Masked(uint8_t opcode, bool fin, const std::string& payload) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  f.push_back(static_cast<char>(0x80 | payload.size()));  // < 126 here
  const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
  for (unsigned char m : mask) f.push_back(static_cast<char>(m));
  for (size_t i = 0; i < payload.size(); ++i)
    f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return f;
}

TEST(CredentialWebSocket, PlaceholderInTextNeverRelayed) {
  l7::ClientFrameScanner sc(true);
  sc.ScanForPlaceholders(PlaceholderHoldBack());
  // Fragmented: the placeholder's prefix split across two continuation
  // frames, a ping between them.
  const std::string a = Masked(0x1, false, "hello ringfence:c");
  const std::string ping = Masked(0x9, true, "p");
  const std::string b = Masked(0x0, true, "red:TOK:" + std::string(kNonce));
  auto s1 = sc.Feed(a + ping);
  EXPECT_FALSE(s1.refused);
  auto s2 = sc.Feed(b);
  EXPECT_TRUE(s2.refused);
  EXPECT_TRUE(s2.placeholder);
  EXPECT_EQ(s2.used, 6u);  // the frame header only: none of its payload
  // Binary frames and plain text pass untouched.
  l7::ClientFrameScanner ok(true);
  ok.ScanForPlaceholders(PlaceholderHoldBack());
  const std::string frames =
      Masked(0x2, true, "ringfence:cred:x") + Masked(0x1, true, "plain text");
  auto s3 = ok.Feed(frames);
  EXPECT_FALSE(s3.refused);
  EXPECT_EQ(s3.used, frames.size());
}

TEST(CredentialWebSocket, PlaceholderInControlFrameNeverRelayed) {
  const std::string placeholder = "ringfence:cred:TOK:" + std::string(kNonce);
  for (uint8_t opcode : {uint8_t{0x9}, uint8_t{0xA}, uint8_t{0x8}}) {
    l7::ClientFrameScanner sc(true);
    sc.ScanForPlaceholders(PlaceholderHoldBack());
    const std::string text = Masked(0x1, true, "plain text");
    const std::string control = Masked(opcode, true, placeholder);
    // Sent in two pieces: nothing of the control frame passes before all
    // of it is here and searched.
    auto s1 = sc.Feed(text + control.substr(0, 8));
    EXPECT_FALSE(s1.refused);
    EXPECT_EQ(s1.used, text.size());
    auto s2 = sc.Feed(control);
    EXPECT_TRUE(s2.refused) << int(opcode);
    EXPECT_TRUE(s2.placeholder);
    EXPECT_EQ(s2.used, 0u);
  }
  // Without credentials in play, control frames pass as before.
  l7::ClientFrameScanner plain(true);
  const std::string ping = Masked(0x9, true, placeholder);
  EXPECT_EQ(plain.Feed(ping).used, ping.size());
}

}  // namespace
}  // namespace rf::cred
