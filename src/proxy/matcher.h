// The network_policies compiled once into a matcher for the proxy.
//
// Host patterns (case-insensitive, a trailing dot ignored):
//   exact         api.github.com
//   `*.` wildcard *.example.com  matches exactly one more whole label
//                 (a.example.com; not example.com, a.b.example.com, badexample.com)
//   `**.`         **.example.com matches one or more more labels
//   in-label `*`  *-aiplatform.googleapis.com: `*` in the first label matches
//                 any characters of that one label (OpenShell's form)
//   hostless      an endpoint with allowed_ips and no host matches every
//                 host on its ports; the addresses decide (OpenShell's legacy form)
// Lookups cost O(number of labels of the host): exact names and wildcard
// suffixes live in hash maps, so the cost does not grow with the rule count.
// Binaries: `path` matches an executable exactly or as a glob where `*` and
// `?` stay within one path component and `**` crosses `/`. An exact path that
// is a symlink also matches its target (resolved once, when compiling).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "l7/rules.h"
#include "policy/cidr.h"
#include "policy/policy.h"

namespace rf::proxy {

// Lower-case, trailing dot removed, IPv6 literals canonicalised.
std::string NormalizeHost(const std::string& host);

struct CompiledEndpoint {
  int policy = 0;    // index into the matcher's policies
  std::string host;  // empty: hostless
  bool exact = true;
  std::vector<uint16_t> ports;
  std::vector<Cidr> allowed_ips;
  // L7 (docs/l7.md): an endpoint with a protocol has its requests inspected.
  bool inspect = false;
  bool tls_skip = false;
  // protocol: tcp: reached by a direct connect to the name's synthetic
  // address, its bytes carried uninspected (docs/transparent-tcp.md).
  bool transparent = false;
  std::string path_selector;
  l7::EndpointRules rules;
  bool body_credential_rewrite = false;  // request_body_credential_rewrite
  std::string label;                     // "policy NAME endpoint N"
};

struct CompiledPolicy {
  std::string name;
  std::vector<std::string> binaries;  // empty = any binary
};

// Outcome of one matching stage. `endpoints` are the indexes still in play.
struct Stage {
  std::vector<int> endpoints;
  std::string reason;  // why nothing is left (empty when something is)
  std::string hint;    // which policy entry would allow it
};

class Matcher {
 public:
  explicit Matcher(const std::vector<NetworkPolicy>& policies);

  // Endpoints whose host and port both match.
  Stage MatchHostPort(const std::string& host, uint16_t port) const;
  // True if any of `endpoints` belongs to a policy without `binaries`, so the
  // decision does not depend on the caller's identity.
  bool AnyBinary(const std::vector<int>& endpoints) const;
  // Keeps endpoints whose policy lists one of `exes` (the caller first, then
  // its ancestors). `caller` names the binary in messages.
  Stage MatchBinary(const std::vector<int>& endpoints, const std::vector<std::string>& exes,
                    const std::string& caller) const;
  // The SSRF rule: index of the endpoint that permits connecting to `addr`,
  // or -1 with `reason`/`hint` filled in. Without allowed_ips a pattern or
  // hostless endpoint reaches public addresses, an exact host any address but
  // loopback (as in OpenShell: private and reserved ones too); with
  // allowed_ips only the addresses inside them. Never: NeverAllowed classes. `host_address`:
  // `addr` is one of this host's own addresses (IsHostAddress), allowed, like
  // loopback, only by an exact-host endpoint's allowed_ips.
  int MatchAddress(const std::vector<int>& endpoints, const std::string& host, const IpAddr& addr,
                   std::string* reason, std::string* hint, bool host_address = false) const;

  // For the sandbox's DNS (src/dns/resolver.h): whether an endpoint names
  // `host` (hostless endpoints name none), exactly or through a wildcard;
  // `suffix_labels`: labels of the longest wildcard suffix that matched.
  struct Named {
    bool exact = false;
    bool wildcard = false;
    size_t suffix_labels = 0;
    std::string pattern;  // that wildcard endpoint's host
  };
  Named NamesHost(const std::string& host) const;

  // Whether any of `endpoints` has its requests inspected (L7).
  bool Inspects(const std::vector<int>& endpoints) const;

  const CompiledEndpoint& endpoint(int i) const { return endpoints_[i]; }
  const CompiledPolicy& policy(int i) const { return policies_[i]; }
  size_t size() const { return endpoints_.size(); }

 private:
  std::vector<int> HostCandidates(const std::string& host) const;

  std::vector<CompiledPolicy> policies_;
  std::vector<CompiledEndpoint> endpoints_;
  std::unordered_map<std::string, std::vector<int>> exact_;
  std::unordered_map<std::string, std::vector<int>> one_label_;  // key: suffix after "*."
  std::unordered_map<std::string, std::vector<int>> any_depth_;  // key: suffix after "**."
  // In-label wildcards by the suffix after their first label.
  std::unordered_map<std::string, std::vector<int>> label_glob_;
  std::vector<int> hostless_;
};

}  // namespace rf::proxy
