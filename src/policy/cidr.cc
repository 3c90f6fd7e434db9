#include "policy/cidr.h"

#include <arpa/inet.h>

namespace rf {

std::string IpAddr::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpAddr> ParseIpLiteral(const std::string& s) {
  // inet_pton reads a C string: "1.2.3.4\0junk" must not pass as 1.2.3.4.
  if (s.find('\0') != std::string::npos) return std::nullopt;
  IpAddr a;
  // glibc's inet_pton(AF_INET) accepts only four decimal parts without
  // leading zeros, which is exactly the canonical form.
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (s.find(':') != std::string::npos && s.find('%') == std::string::npos &&
      inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return std::nullopt;
}

std::optional<Cidr> ParseCidr(const std::string& s) {
  Cidr c;
  auto slash = s.find('/');
  auto addr = ParseIpLiteral(s.substr(0, slash));
  if (!addr) return std::nullopt;
  c.base = *addr;
  int max = addr->family == AF_INET ? 32 : 128;
  if (slash == std::string::npos) {
    c.prefix = max;
    return c;
  }
  std::string len = s.substr(slash + 1);
  if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  c.prefix = std::stoi(len);
  if (c.prefix > max) return std::nullopt;
  return c;
}

bool Cidr::Contains(const IpAddr& a) const {
  if (a.family != base.family) return false;
  int full = prefix / 8, rest = prefix % 8;
  for (int i = 0; i < full; ++i)
    if (a.bytes[i] != base.bytes[i]) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (base.bytes[full] & mask);
}

}  // namespace rf
