// SSRF filter: classifies a destination address, and recognises host strings
// that are IP literals in a non-canonical form (`0x7f.1`, `0177.0.0.1`,
// `2130706433`, `127.1`), which the proxy refuses instead of interpreting.
#pragma once

#include <optional>
#include <string>

#include "policy/cidr.h"

namespace rf::proxy {

enum class AddrClass {
  kPublic,       // globally routable: allowed by the SSRF filter
  kLoopback,     // 127/8, ::1
  kLinkLocal,    // 169.254/16 (incl. cloud metadata 169.254.169.254), fe80::/10
  kUnspecified,  // 0.0.0.0/8, ::
  kMulticast,    // 224/4, ff00::/8
  kBroadcast,    // 255.255.255.255
  kPrivate,      // RFC 1918, 100.64/10, fc00::/7, 64:ff9b:1::/48, other special-use
  kReserved,     // 240/4, documentation, deprecated IPv4-compatible IPv6, site-local fec0::/10
};

const char* ToString(AddrClass c);

// Unwraps IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64
// (64:ff9b::/96) and 6to4 (2002::/16) addresses to the IPv4 address they carry.
// Returns the address itself otherwise.
IpAddr EmbeddedIpv4(const IpAddr& a);

// The class of `a`. Embedded IPv4 forms take the class of the IPv4 address
// they carry (so ::ffff:127.0.0.1 and 64:ff9b::7f00:1 are loopback).
AddrClass Classify(const IpAddr& a);

// Classes that are never a valid TCP destination, whatever allowed_ips says
// (link-local: the cloud metadata address). Loopback is reachable only
// through an exact host's allowed_ips (Matcher::MatchAddress).
bool NeverAllowed(AddrClass c);
// True when `a` is an address of this host (in this network namespace):
// reaching it goes to the host's own services, whatever it is classified as.
bool IsHostAddress(const IpAddr& a);

// True if `host` (trailing dot already removed) looks like an IPv4 address in
// some form (its last label is a number: decimal, octal or 0x-hex), or like a
// bracketless/zoned IPv6 address, but is not a canonical literal that
// ParseIpLiteral accepts. Such hosts are refused.
bool IsNonCanonicalIpLiteral(const std::string& host);

}  // namespace rf::proxy
