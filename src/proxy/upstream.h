// Chaining to an upstream (corporate) HTTP proxy: `network.upstream_proxy`.
//
// The policy decision, the one DNS lookup and the SSRF rule stay as they are;
// only the final dial changes: the proxy connects to the upstream proxy and
// asks it, with CONNECT, for the address that passed the checks (the upstream
// proxy resolves nothing, so DNS pinning holds), then tunnels as before.
// Plain-HTTP requests go the same way (CONNECT to port 80, then the request).
// Loopback destinations and those NO_PROXY names are dialed directly. The
// upstream's credentials stay in the supervisor: the sandbox's environment
// points at ringfence's own proxy.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "policy/cidr.h"

namespace rf::proxy {

struct UpstreamProxy {
  std::string host;  // as configured (a name or an IP literal)
  uint16_t port = 0;
  std::vector<IpAddr> addrs;          // host resolved once, at start
  std::string authorization;          // "Basic ..." from the URL's user:password, or ""
  std::vector<std::string> no_proxy;  // NO_PROXY entries, lower case
  std::string Shown() const;          // "host:port", never the credentials
};

// `http://[user[:password]@]host[:port][/]` (port 1080 when absent, as curl
// does). Anything else is an error naming `what`.
Result<UpstreamProxy> ParseUpstreamProxyUrl(const std::string& url, const std::string& what);

// The upstream proxy for the policy's `network.upstream_proxy` ("" or "off":
// none; "from_env": the caller's https_proxy/HTTPS_PROXY and
// no_proxy/NO_PROXY from `env`, none when unset; else a URL), its host
// resolved (`dns_servers` as for the proxy's own lookups). Fail-closed: a
// malformed setting is an error, never a direct dial.
Result<std::optional<UpstreamProxy>> ConfigureUpstreamProxy(
    const std::string& setting, const std::map<std::string, std::string>& env,
    const std::string& dns_servers, int timeout_ms);

// Whether a connection to `host` (normalised) at `addr` is dialed directly:
// loopback addresses, and NO_PROXY matches (`*`; a name and its subdomains,
// with or without a leading dot; an IP literal or CIDR containing `addr`).
bool BypassesUpstream(const UpstreamProxy& up, const std::string& host, const IpAddr& addr);

// The CONNECT request for `addr`:`port`.
std::string UpstreamConnectRequest(const UpstreamProxy& up, const IpAddr& addr, uint16_t port);

// The status code of a response head ("HTTP/1.1 200 ..."), or -1.
int UpstreamStatus(const std::string& head);

}  // namespace rf::proxy
