// libFuzzer target: host strings and IP literals as the proxy sees them, and
// the SSRF classifier.
//
// Input: the same bytes are used
// (a) as a host string, (b) as a CIDR string, (c) as 16 raw address bytes.
// Properties checked beyond "no crash, no leak, no sanitizer report":
//  - ParseIpLiteral accepts canonical forms only: an IPv4 literal is exactly
//    its dotted-quad text, any literal round-trips through ToString;
//  - no host is both a canonical literal and a non-canonical one;
//  - differential against glibc (getaddrinfo AI_NUMERICHOST, i.e. inet_aton
//    and inet_pton6, the lenient parsers a resolver falls back to): a host
//    that passes the proxy's syntax check and normalisation and that glibc
//    reads as an address is either a canonical literal or refused as a
//    non-canonical one, never handed to DNS as a name;
//  - NormalizeHost is idempotent on valid hosts;
//  - a CIDR contains its own base; prefix is in range;
//  - classification is stable under embedding: an IPv4 address has the same
//    class as its IPv4-mapped, NAT64 and 6to4 forms (so ::ffff:127.0.0.1 is
//    loopback), and never-allowed classes stay never-allowed.
#include <netdb.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "policy/cidr.h"
#include "proxy/http.h"
#include "proxy/matcher.h"
#include "proxy/ssrf.h"

namespace {

using rf::IpAddr;
using rf::proxy::AddrClass;
using rf::proxy::Classify;

void Check(bool ok) {
  if (!ok) abort();
}

bool GlibcNumeric(const std::string& host) {
  if (host.find('\0') != std::string::npos) return false;
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (res) freeaddrinfo(res);
  return rc == 0;
}

void CheckHost(const std::string& host) {
  auto ip = rf::ParseIpLiteral(host);
  if (ip) {
    Check(ip->family == AF_INET || ip->family == AF_INET6);
    std::string text = ip->ToString();
    auto again = rf::ParseIpLiteral(text);
    Check(again && *again == *ip);
    if (ip->family == AF_INET) Check(text == host);
    Check(!rf::proxy::IsNonCanonicalIpLiteral(host));
  }
  if (!rf::proxy::ValidHostSyntax(host)) return;
  // What the proxy does with a request's host (src/proxy/proxy.cc Decide).
  std::string h = rf::proxy::NormalizeHost(host);
  Check(rf::proxy::NormalizeHost(h) == h);
  bool literal = rf::ParseIpLiteral(h).has_value();
  bool refused = rf::proxy::IsNonCanonicalIpLiteral(h);
  Check(!(literal && refused));
  if (!literal && !refused) Check(!GlibcNumeric(h));
}

void CheckCidr(const std::string& s) {
  auto c = rf::ParseCidr(s);
  if (!c) return;
  int max = c->base.family == AF_INET ? 32 : 128;
  Check(c->prefix >= 0 && c->prefix <= max);
  Check(c->Contains(c->base));
}

IpAddr V6(const uint8_t* b16) {
  IpAddr a;
  a.family = AF_INET6;
  memcpy(a.bytes.data(), b16, 16);
  return a;
}

void CheckAddress(const uint8_t* raw) {
  IpAddr v4;
  v4.family = AF_INET;
  memcpy(v4.bytes.data(), raw, 4);
  AddrClass c4 = Classify(v4);
  Check(rf::proxy::EmbeddedIpv4(v4) == v4);

  uint8_t b[16] = {};
  b[10] = b[11] = 0xff;
  memcpy(b + 12, raw, 4);
  IpAddr mapped = V6(b);
  Check(rf::proxy::EmbeddedIpv4(mapped) == v4);
  Check(Classify(mapped) == c4);

  uint8_t n[16] = {0x00, 0x64, 0xff, 0x9b};
  memcpy(n + 12, raw, 4);
  Check(Classify(V6(n)) == c4);

  uint8_t s[16] = {0x20, 0x02};
  memcpy(s + 2, raw, 4);
  memcpy(s + 6, raw + 4, 10);
  Check(Classify(V6(s)) == c4);

  IpAddr any = V6(raw);
  AddrClass ca = Classify(any);
  IpAddr inner = rf::proxy::EmbeddedIpv4(any);
  if (inner.family == AF_INET && rf::proxy::NeverAllowed(Classify(inner)))
    Check(rf::proxy::NeverAllowed(ca));
  Check(rf::proxy::ToString(ca)[0] != '?');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string s(reinterpret_cast<const char*>(data), size);
  CheckHost(s);
  CheckCidr(s);
  if (size >= 16) CheckAddress(data);
  return 0;
}
