// The SigV4 signer against AWS's published test suite
// (tests/unit/data/sigv4/SOURCES) and hand-checked edge cases.
#include "credentials/sigv4.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

namespace rf::credentials {
namespace {

const char* const kDataDir = RF_UNIT_DATA_DIR "/sigv4";
const char* const kBotocoreScript = RF_UNIT_DATA_DIR "/../sigv4_botocore.py";

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Vector {
  SigV4Request request;
  std::string body;
};

// A test-suite .req: "METHOD TARGET HTTP/1.1" (the target may hold a
// space: get-space), header lines (a line starting with whitespace
// continues the previous value: obs-fold, which a proxy unfolds to one
// space), an empty line, the body.
Vector ParseReq(const std::string& text) {
  Vector v;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  const size_t first = line.find(' ');
  const size_t last = line.rfind(' ');
  v.request.method = line.substr(0, first);
  const std::string target = line.substr(first + 1, last - first - 1);
  const size_t q = target.find('?');
  v.request.path = target.substr(0, q);
  if (q != std::string::npos) v.request.query = target.substr(q + 1);
  bool in_body = false;
  while (std::getline(in, line)) {
    if (in_body) {
      if (!v.body.empty()) v.body.push_back('\n');
      v.body += line;
      continue;
    }
    if (line.empty()) {
      in_body = true;
      continue;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !v.request.headers.empty()) {
      v.request.headers.back().second += " " + line;
      continue;
    }
    const size_t colon = line.find(':');
    v.request.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  v.request.payload_sha256 = Sha256Hex(v.body);
  return v;
}

const SigV4Key kKey{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const SigV4Scope kScope{"service", "us-east-1", "20150830T123600Z"};

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// The session token a case's .req carries (the -before variant and
// get-vanilla-with-session-token sign it); the signer adds it itself, so it
// is moved from the headers to the key.
SigV4Key KeyFor(Vector& v, const std::string& name) {
  SigV4Key key = kKey;
  for (auto it = v.request.headers.begin(); it != v.request.headers.end(); ++it) {
    if (it->first == "X-Amz-Security-Token") {
      key.session_token = it->second;
      v.request.headers.erase(it);
      break;
    }
  }
  // These two .req files leave the token out (the .sreq shows it added).
  if (name == "get-vanilla-with-session-token")
    key.session_token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
  if (name == "post-sts-header-after")
    key.session_token =
        "AQoDYXdzEPT//////////"
        "wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUu"
        "wthAx7mSEI/qkPpKPi/"
        "kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9H"
        "FvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"
        "scqKmlzm8FDrypNC9Yjc8fPOLn9"
        "FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
  return key;
}

TEST(SigV4, PublishedTestSuite) {
  size_t cases = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(kDataDir)) {
    if (entry.path().extension() != ".req") continue;
    const std::filesystem::path dir = entry.path().parent_path();
    const std::string name = entry.path().stem().string();
    SCOPED_TRACE(name);
    Vector v = ParseReq(ReadFile(entry.path()));
    const SigV4Key key = KeyFor(v, name);
    SigV4Options options;
    options.sign_session_token = name != "post-sts-header-after";
    Result<SigV4Signature> sig = SignV4(v.request, key, kScope, options);
    ASSERT_TRUE(sig.ok()) << sig.status().reason();
    EXPECT_EQ(sig->canonical_request, Trimmed(ReadFile(dir / (name + ".creq"))));
    EXPECT_EQ(sig->string_to_sign, Trimmed(ReadFile(dir / (name + ".sts"))));
    EXPECT_EQ(sig->set_headers.at(0).first, "Authorization");
    EXPECT_EQ(sig->set_headers.at(0).second, Trimmed(ReadFile(dir / (name + ".authz"))));
    ++cases;
  }
  // The suite holds 34 cases; a missing data directory must not pass.
  EXPECT_GE(cases, 30u);
}

SigV4Request Simple() {
  SigV4Request r;
  r.method = "GET";
  r.path = "/";
  r.headers = {{"Host", "example.amazonaws.com"}};
  r.payload_sha256 = Sha256Hex("");
  return r;
}

TEST(SigV4, SetsTheHeadersTheModeNeeds) {
  SigV4Request r = Simple();
  SigV4Options o;
  o.content_sha256_header = true;
  SigV4Key k = kKey;
  k.session_token = "TOKEN";
  Result<SigV4Signature> sig = SignV4(r, k, kScope, o);
  ASSERT_TRUE(sig.ok());
  ASSERT_EQ(sig->set_headers.size(), 4u);
  EXPECT_EQ(sig->set_headers[1],
            (std::pair<std::string, std::string>{"X-Amz-Date", kScope.amz_date}));
  EXPECT_EQ(sig->set_headers[2].first, "X-Amz-Content-Sha256");
  EXPECT_EQ(sig->set_headers[2].second, r.payload_sha256);
  EXPECT_EQ(sig->set_headers[3],
            (std::pair<std::string, std::string>{"X-Amz-Security-Token", "TOKEN"}));
  EXPECT_EQ(sig->signed_headers, "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
}

TEST(SigV4, ClientCopiesOfSignerHeadersAreIgnored) {
  SigV4Request plain = Simple();
  SigV4Request forged = Simple();
  forged.headers.emplace_back("X-Amz-Date", "20000101T000000Z");
  forged.headers.emplace_back("authorization", "AWS4-HMAC-SHA256 Credential=placeholder");
  forged.headers.emplace_back("X-Amz-Security-Token", "client-chosen");
  Result<SigV4Signature> a = SignV4(plain, kKey, kScope, {});
  Result<SigV4Signature> b = SignV4(forged, kKey, kScope, {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->signature, b->signature);
  EXPECT_EQ(b->set_headers.size(), 2u);  // no token: none is set
}

TEST(SigV4, S3PathRulesKeepThePathAndItsEscapes) {
  SigV4Request r = Simple();
  r.path = "/my-object//example//photo%20one.user";
  SigV4Options s3;
  s3.s3_path_rules = true;
  Result<SigV4Signature> a = SignV4(r, kKey, kScope, s3);
  Result<SigV4Signature> b = SignV4(r, kKey, kScope, {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->canonical_request.substr(0, a->canonical_request.find('\n', 4)),
            "GET\n/my-object//example//photo%20one.user");
  // Every other service: normalised, and the escape on the wire encoded again.
  EXPECT_EQ(b->canonical_request.substr(0, b->canonical_request.find('\n', 4)),
            "GET\n/my-object/example/photo%2520one.user");
  r.path = "/a$b";  // a byte outside the unreserved set is escaped once
  a = SignV4(r, kKey, kScope, s3);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->canonical_request.substr(0, a->canonical_request.find('\n', 4)), "GET\n/a%24b");
}

TEST(SigV4, UnsignedPayloadAccepted) {
  SigV4Request r = Simple();
  r.payload_sha256 = std::string(kUnsignedPayload);
  Result<SigV4Signature> sig = SignV4(r, kKey, kScope, {});
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(sig->canonical_request.ends_with("\nUNSIGNED-PAYLOAD"));
}

TEST(SigV4, BadInputIsNamed) {
  struct Case {
    const char* field;
    void (*spoil)(SigV4Request&, SigV4Key&, SigV4Scope&);
  };
  const Case cases[] = {
      {"method", [](SigV4Request& r, SigV4Key&, SigV4Scope&) { r.method = ""; }},
      {"path", [](SigV4Request& r, SigV4Key&, SigV4Scope&) { r.path = "relative"; }},
      {"payload hash", [](SigV4Request& r, SigV4Key&, SigV4Scope&) { r.payload_sha256 = "abc"; }},
      {"Host", [](SigV4Request& r, SigV4Key&, SigV4Scope&) { r.headers.clear(); }},
      {"control character",
       [](SigV4Request& r, SigV4Key&, SigV4Scope&) { r.headers.emplace_back("X-A", "a\r\nb"); }},
      {"access key id", [](SigV4Request&, SigV4Key& k, SigV4Scope&) { k.access_key_id = "a b"; }},
      {"secret", [](SigV4Request&, SigV4Key& k, SigV4Scope&) { k.secret_access_key = ""; }},
      {"session token", [](SigV4Request&, SigV4Key& k, SigV4Scope&) { k.session_token = "a\nb"; }},
      {"service", [](SigV4Request&, SigV4Key&, SigV4Scope& s) { s.service = ""; }},
      {"region", [](SigV4Request&, SigV4Key&, SigV4Scope& s) { s.region = "US EAST"; }},
      {"amz_date", [](SigV4Request&, SigV4Key&, SigV4Scope& s) { s.amz_date = "2015-08-30"; }},
  };
  for (const Case& c : cases) {
    SigV4Request r = Simple();
    SigV4Key k = kKey;
    SigV4Scope s = kScope;
    c.spoil(r, k, s);
    Result<SigV4Signature> sig = SignV4(r, k, s, {});
    ASSERT_FALSE(sig.ok()) << c.field;
    EXPECT_EQ(sig.status().code(), Status::Code::kInvalid);
    EXPECT_NE(sig.status().reason().find(c.field), std::string::npos) << sig.status().reason();
  }
}

TEST(SigV4, EndpointFromHost) {
  struct Case {
    const char* host;
    const char* service;
    const char* region;
  };
  const Case cases[] = {
      {"bedrock-runtime.us-east-1.amazonaws.com", "bedrock", "us-east-1"},
      {"bedrock-agent-runtime.eu-central-1.amazonaws.com", "bedrock", "eu-central-1"},
      {"s3.eu-west-2.amazonaws.com", "s3", "eu-west-2"},
      {"bucket.s3.us-west-2.amazonaws.com", "s3", "us-west-2"},
      {"Bucket.S3.US-WEST-2.amazonaws.com.", "s3", "us-west-2"},
      {"my.dotted.bucket.s3.dualstack.ap-southeast-1.amazonaws.com", "s3", "ap-southeast-1"},
      {"bucket.s3-us-west-1.amazonaws.com", "s3", "us-west-1"},
      {"s3.amazonaws.com", "s3", "us-east-1"},
      {"sts.amazonaws.com", "sts", "us-east-1"},
      {"sts.us-gov-west-1.amazonaws.com", "sts", "us-gov-west-1"},
      {"kms-fips.us-east-2.amazonaws.com", "kms", "us-east-2"},
      {"runtime.sagemaker.us-east-1.amazonaws.com", "sagemaker", "us-east-1"},
      {"ec2.cn-north-1.amazonaws.com.cn", "ec2", "cn-north-1"},
  };
  for (const Case& c : cases) {
    std::optional<AwsEndpoint> e = EndpointFromHost(c.host);
    ASSERT_TRUE(e.has_value()) << c.host;
    EXPECT_EQ(e->service, c.service) << c.host;
    EXPECT_EQ(e->region, c.region) << c.host;
    EXPECT_EQ(RegionFromHost(c.host), std::optional<std::string>(c.region));
  }
  for (const char* other :
       {"example.com", "amazonaws.com", "evilamazonaws.com", "s3.amazonaws.com.evil.test",
        "a..s3.amazonaws.com", "ec2.amazonaws.com.cn", ""}) {
    EXPECT_FALSE(EndpointFromHost(other).has_value()) << other;
    EXPECT_FALSE(RegionFromHost(other).has_value()) << other;
  }
}

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// The same requests signed by botocore (the AWS SDK for Python, Debian's
// python3-botocore) and by SignV4 must give the same canonical request and
// Authorization: 300 seeded requests with escapes, dot segments, repeated
// slashes, odd header whitespace, session tokens, S3 and non-S3 rules.
TEST(SigV4, AgreesWithBotocore) {
  const std::string command = std::string("/usr/bin/python3 ") + kBotocoreScript;
  struct PipeClose {
    void operator()(FILE* f) const { status = pclose(f); }
    int& status;
  };
  int status = -1;
  std::string output;
  {
    std::unique_ptr<FILE, PipeClose> pipe(popen(command.c_str(), "r"), PipeClose{status});
    ASSERT_NE(pipe, nullptr);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, pipe.get())) > 0) output.append(buf, n);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
    GTEST_SKIP() << "python3-botocore is not installed (scripts/install-deps.sh test)";
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command << ": " << status;
  std::istringstream lines(output);
  std::string line;
  size_t compared = 0;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::istringstream words(line);
    std::string w;
    while (std::getline(words, w, ' ')) f.push_back(FromHex(w));
    if (line.ends_with(' ')) f.emplace_back();  // an empty last field
    ASSERT_EQ(f.size(), 11u) << line;
    SigV4Request r;
    r.method = f[0];
    r.path = f[1];
    r.query = f[2];
    std::istringstream hs(f[3]);
    std::string name, value;
    while (std::getline(hs, name) && std::getline(hs, value)) r.headers.emplace_back(name, value);
    r.payload_sha256 = Sha256Hex(f[4]);
    SigV4Options o;
    o.s3_path_rules = o.content_sha256_header = f[8] == "1";
    Result<SigV4Signature> sig = SignV4(r, {kKey.access_key_id, kKey.secret_access_key, f[7]},
                                        {f[5], f[6], "20261203T170509Z"}, o);
    ASSERT_TRUE(sig.ok()) << sig.status().reason();
    EXPECT_EQ(sig->canonical_request, f[9]) << r.method << " " << r.path << "?" << r.query;
    EXPECT_EQ(sig->set_headers.at(0).second, f[10]);
    ++compared;
  }
  EXPECT_EQ(compared, 300u);
}

}  // namespace
}  // namespace rf::credentials
