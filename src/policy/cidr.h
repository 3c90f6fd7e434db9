// Strict IP literal and CIDR parsing (canonical forms only: no `127.1`,
// `0x7f.1`, `0177.0.0.1` or `2130706433`; those are refused, not interpreted).
#pragma once

#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace rf {

struct IpAddr {
  int family = 0;                   // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4 bytes
  bool operator==(const IpAddr&) const = default;
  std::string ToString() const;
};

struct Cidr {
  IpAddr base;
  int prefix = 0;
  bool Contains(const IpAddr& a) const;
};

std::optional<IpAddr> ParseIpLiteral(const std::string& s);
// "10.0.0.0/8", "fd00::/8" or a bare address (host prefix).
std::optional<Cidr> ParseCidr(const std::string& s);

}  // namespace rf
