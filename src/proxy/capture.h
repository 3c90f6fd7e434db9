// Transparent TCP and capture (docs/transparent-tcp.md): the policy side of
// a connect the guard redirected from a policy name's synthetic address to
// the proxy, and the first bytes of a captured HTTP(S) connection. Pure
// functions: tests/unit/proxy_capture_test.cc checks them without sockets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dns/synthetic.h"
#include "policy/policy.h"
#include "process/caller.h"
#include "proxy/matcher.h"

namespace rf::proxy {

// Which way a connect to `host`:`port` by `caller` (its executable first,
// then its ancestors') is carried, decided as the proxy decides a CONNECT
// (host, port, calling binary): an endpoint with `protocol: tcp` carries
// the bytes as they are; an inspected endpoint, or any endpoint on port 80
// or 443, takes the proxy's HTTP(S) path; any other allowed endpoint is
// reached only through the proxy (the client must use HTTP_PROXY), so the
// direct connect is refused with a hint.
CaptureDecision DecideCapture(const Matcher& m, const std::string& host, uint16_t port,
                              const std::vector<std::string>& caller);

// The name a captured connection's first bytes ask for: the SNI of a TLS
// ClientHello, or the Host header (without port) of an HTTP request.
struct FirstBytes {
  enum class Kind { kNeedMore, kName, kNoName, kInvalid } kind = Kind::kNeedMore;
  std::string name;  // kName: lower-cased, a trailing dot removed
  bool tls = false;
};
// `limit`: bytes past which an incomplete head or ClientHello is kInvalid.
FirstBytes ReadFirstBytes(std::string_view data, size_t limit);

// The policy names a run hands synthetic addresses out for before the
// command starts: every exact DNS host name of network_policies, in policy
// order (so the same policy gives the same addresses, which
// `policy show --effective` shows), with its ports and how each is carried.
struct CaptureName {
  std::string name;
  in_addr address{};
  std::vector<uint16_t> ports;
  std::string carried;  // "tcp", "http" (80/443 or inspected) or "proxy only"
};
std::vector<CaptureName> AllocatePolicyNames(const Policy& p, dns::SyntheticNames& names);

}  // namespace rf::proxy
