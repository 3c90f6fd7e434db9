#include "proxy/ssrf.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstring>

namespace rf::proxy {

const char* ToString(AddrClass c) {
  switch (c) {
    case AddrClass::kPublic:
      return "public";
    case AddrClass::kLoopback:
      return "loopback";
    case AddrClass::kLinkLocal:
      return "link-local";
    case AddrClass::kUnspecified:
      return "unspecified";
    case AddrClass::kMulticast:
      return "multicast";
    case AddrClass::kBroadcast:
      return "broadcast";
    case AddrClass::kPrivate:
      return "private";
    case AddrClass::kReserved:
      return "reserved";
  }
  return "?";
}

namespace {

bool AllZero(const IpAddr& a, int from, int to) {
  for (int i = from; i < to; ++i)
    if (a.bytes[i] != 0) return false;
  return true;
}

IpAddr V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddr r;
  r.family = AF_INET;
  r.bytes[0] = a, r.bytes[1] = b, r.bytes[2] = c, r.bytes[3] = d;
  return r;
}

AddrClass ClassifyV4(const IpAddr& a) {
  const uint8_t* b = a.bytes.data();
  if (b[0] == 0) return AddrClass::kUnspecified;  // "this network" 0/8
  if (b[0] == 127) return AddrClass::kLoopback;
  if (b[0] == 169 && b[1] == 254) return AddrClass::kLinkLocal;
  if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255) return AddrClass::kBroadcast;
  if (b[0] >= 224 && b[0] <= 239) return AddrClass::kMulticast;
  if (b[0] >= 240) return AddrClass::kReserved;
  if (b[0] == 10) return AddrClass::kPrivate;
  if (b[0] == 172 && (b[1] & 0xf0) == 16) return AddrClass::kPrivate;
  if (b[0] == 192 && b[1] == 168) return AddrClass::kPrivate;
  if (b[0] == 100 && (b[1] & 0xc0) == 64) return AddrClass::kPrivate;     // 100.64/10 CGNAT
  if (b[0] == 192 && b[1] == 0 && b[2] == 0) return AddrClass::kPrivate;  // 192.0.0/24 IETF
  if (b[0] == 198 && (b[1] & 0xfe) == 18) return AddrClass::kPrivate;     // 198.18/15
  // Documentation (TEST-NET-1/2/3), like 2001:db8::/32: never a destination.
  if ((b[0] == 192 && b[1] == 0 && b[2] == 2) || (b[0] == 198 && b[1] == 51 && b[2] == 100) ||
      (b[0] == 203 && b[1] == 0 && b[2] == 113))
    return AddrClass::kReserved;
  return AddrClass::kPublic;
}

}  // namespace

IpAddr EmbeddedIpv4(const IpAddr& a) {
  if (a.family != AF_INET6) return a;
  const uint8_t* b = a.bytes.data();
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, but not :: or ::1).
  if (AllZero(a, 0, 10) && b[10] == 0xff && b[11] == 0xff) return V4(b[12], b[13], b[14], b[15]);
  if (AllZero(a, 0, 12) && !AllZero(a, 12, 15)) return V4(b[12], b[13], b[14], b[15]);
  // NAT64 well-known prefix 64:ff9b::/96.
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && AllZero(a, 4, 12))
    return V4(b[12], b[13], b[14], b[15]);
  // 6to4 2002:AABB:CCDD::/48.
  if (b[0] == 0x20 && b[1] == 0x02) return V4(b[2], b[3], b[4], b[5]);
  return a;
}

AddrClass Classify(const IpAddr& a) {
  if (a.family == AF_INET) return ClassifyV4(a);
  if (a.family != AF_INET6) return AddrClass::kReserved;
  const uint8_t* b = a.bytes.data();
  if (AllZero(a, 0, 16)) return AddrClass::kUnspecified;
  if (AllZero(a, 0, 15) && b[15] == 1) return AddrClass::kLoopback;
  IpAddr v4 = EmbeddedIpv4(a);
  if (v4.family == AF_INET) {
    AddrClass c = ClassifyV4(v4);
    // The deprecated IPv4-compatible form has no legitimate use.
    bool compatible = AllZero(a, 0, 12);
    if (compatible && c == AddrClass::kPublic) return AddrClass::kReserved;
    return c;
  }
  if (b[0] == 0xff) return AddrClass::kMulticast;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddrClass::kLinkLocal;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return AddrClass::kReserved;  // site-local
  if ((b[0] & 0xfe) == 0xfc) return AddrClass::kPrivate;                   // fc00::/7
  // NAT64 local-use prefix 64:ff9b:1::/48.
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1)
    return AddrClass::kPrivate;
  // Discard-only 100::/64, documentation 2001:db8::/32.
  if (b[0] == 0x01 && b[1] == 0x00 && AllZero(a, 2, 8)) return AddrClass::kReserved;
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return AddrClass::kReserved;
  return AddrClass::kPublic;
}

bool IsHostAddress(const IpAddr& a) {
  // The addresses of this host's interfaces (a bind test would also pass for
  // any address with net.ipv4.ip_nonlocal_bind=1). When they cannot be
  // listed, every address counts as the host's: refused unless allowed_ips
  // names it.
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return true;
  bool found = false;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != a.family) continue;
    if (a.family == AF_INET)
      found =
          memcmp(&reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, a.bytes.data(), 4) == 0;
    else
      found =
          memcmp(&reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, a.bytes.data(), 16) == 0;
  }
  freeifaddrs(list);
  return found;
}

bool NeverAllowed(AddrClass c) {
  return c == AddrClass::kUnspecified || c == AddrClass::kMulticast || c == AddrClass::kBroadcast ||
         c == AddrClass::kLinkLocal;
}

bool IsNonCanonicalIpLiteral(const std::string& host) {
  if (host.empty()) return false;
  if (ParseIpLiteral(host)) return false;
  if (host.find(':') != std::string::npos || host.find('%') != std::string::npos) return true;
  // WHATWG URL rule: a host whose last label is a number is an IPv4 address.
  auto dot = host.rfind('.');
  std::string last = dot == std::string::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  std::string digits = last;
  if (digits.size() >= 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    digits = digits.substr(2);
    if (digits.empty()) return true;  // "0x" alone
    for (char ch : digits)
      if (!isxdigit(static_cast<unsigned char>(ch))) return false;
    return true;
  }
  for (char ch : digits)
    if (!isdigit(static_cast<unsigned char>(ch))) return false;
  return true;
}

}  // namespace rf::proxy
