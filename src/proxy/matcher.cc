#include "proxy/matcher.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>

#include "policy/glob.h"
#include "policy/l7_rules.h"
#include "proxy/ssrf.h"

namespace rf::proxy {

std::string NormalizeHost(const std::string& host) {
  std::string h = host;
  for (char& c : h) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  if (!h.empty() && h.back() == '.' && h.find(':') == std::string::npos) h.pop_back();
  if (h.find(':') != std::string::npos) {
    if (auto ip = ParseIpLiteral(h)) return ip->ToString();
  }
  return h;
}

namespace {

// An endpoint's host as messages show it.
std::string Shown(const CompiledEndpoint& e) {
  return e.host.empty() ? "any host (allowed_ips only)" : e.host;
}

std::string Join(const std::vector<uint16_t>& v) {
  std::string out;
  for (auto x : v) out += (out.empty() ? "" : ",") + std::to_string(x);
  return out;
}

}  // namespace

Matcher::Matcher(const std::vector<NetworkPolicy>& policies) {
  for (const auto& np : policies) {
    int pi = static_cast<int>(policies_.size());
    CompiledPolicy cp;
    cp.name = np.name.empty() ? np.key : np.name;
    for (const auto& b : np.binaries) {
      cp.binaries.push_back(b.path);
      // /proc/<pid>/exe names the resolved file (/usr/bin/python3 ->
      // /usr/bin/python3.11): an exact path also matches its target.
      if (b.path.find_first_of("*?") != std::string::npos) continue;
      char real[PATH_MAX];
      if (realpath(b.path.c_str(), real) && b.path != real) cp.binaries.push_back(real);
    }
    policies_.push_back(std::move(cp));
    int index_in_policy = 0;
    for (const auto& ep : np.endpoints) {
      CompiledEndpoint ce;
      ce.policy = pi;
      ce.label = "policy " + policies_[pi].name + " endpoint " + std::to_string(index_in_policy++);
      if (Inspected(ep)) {
        ce.inspect = true;
        ce.tls_skip = ep.tls == "skip";
        ce.path_selector = ep.path;
        ce.rules = ToL7Rules(ep, ce.label);
        ce.body_credential_rewrite = ep.credentials.body_rewrite;
      }
      ce.transparent = ep.protocol == "tcp";
      ce.ports = ep.ports;
      std::sort(ce.ports.begin(), ce.ports.end());
      for (const auto& c : ep.allowed_ips)
        if (auto cidr = ParseCidr(c)) ce.allowed_ips.push_back(*cidr);
      int ei = static_cast<int>(endpoints_.size());
      std::string h = NormalizeHost(ep.host);
      ce.host = h;
      const size_t first_dot = h.find('.');
      if (h.empty()) {
        ce.exact = false;
        hostless_.push_back(ei);
      } else if (h.rfind("**.", 0) == 0) {
        ce.exact = false;
        any_depth_[h.substr(3)].push_back(ei);
      } else if (h.rfind("*.", 0) == 0) {
        ce.exact = false;
        one_label_[h.substr(2)].push_back(ei);
      } else if (h.find('*') < first_dot) {
        ce.exact = false;
        label_glob_[h.substr(first_dot + 1)].push_back(ei);
      } else {
        exact_[h].push_back(ei);
      }
      endpoints_.push_back(std::move(ce));
    }
  }
}

bool Matcher::Inspects(const std::vector<int>& endpoints) const {
  for (int i : endpoints)
    if (endpoints_[i].inspect) return true;
  return false;
}

std::vector<int> Matcher::HostCandidates(const std::string& host) const {
  std::vector<int> out;
  if (auto it = exact_.find(host); it != exact_.end()) out = it->second;
  bool first = true;
  for (size_t dot = host.find('.'); dot != std::string::npos; dot = host.find('.', dot + 1)) {
    if (dot == 0) break;
    std::string suffix = host.substr(dot + 1);
    if (first) {
      if (auto it = one_label_.find(suffix); it != one_label_.end())
        out.insert(out.end(), it->second.begin(), it->second.end());
      if (auto it = label_glob_.find(suffix); it != label_glob_.end()) {
        // A label holds no '/', so the path glob's `*` is the label glob.
        const std::string label = host.substr(0, dot);
        for (int i : it->second) {
          const std::string& pattern = endpoints_[i].host;
          if (GlobMatch(pattern.substr(0, pattern.find('.')), label)) out.push_back(i);
        }
      }
      first = false;
    }
    if (auto it = any_depth_.find(suffix); it != any_depth_.end())
      out.insert(out.end(), it->second.begin(), it->second.end());
  }
  out.insert(out.end(), hostless_.begin(), hostless_.end());
  return out;
}

Matcher::Named Matcher::NamesHost(const std::string& host) const {
  Named n;
  for (int i : HostCandidates(host)) {
    const CompiledEndpoint& e = endpoints_[i];
    if (e.host.empty()) continue;
    if (e.exact) {
      n.exact = true;
      continue;
    }
    const std::string suffix = e.host.substr(e.host.find('.') + 1);
    const size_t labels = static_cast<size_t>(std::count(suffix.begin(), suffix.end(), '.')) + 1;
    if (!n.wildcard || labels > n.suffix_labels) {
      n.suffix_labels = labels;
      n.pattern = e.host;
    }
    n.wildcard = true;
  }
  return n;
}

namespace {

// The allowed_ips a loopback host needs (the SSRF rule refuses loopback
// without them), as written in an endpoint; empty for any other host.
std::string LoopbackAllowedIps(const std::string& host) {
  if (host == "localhost") return "127.0.0.1/32, ::1/128";  // it may resolve to both
  auto ip = ParseIpLiteral(host);
  if (!ip || Classify(*ip) != AddrClass::kLoopback) return "";
  return ip->ToString() + (ip->family == AF_INET ? "/32" : "/128");
}

}  // namespace

Stage Matcher::MatchHostPort(const std::string& host, uint16_t port) const {
  Stage s;
  auto cands = HostCandidates(host);
  if (cands.empty()) {
    s.reason = "no network policy allows host " + host;
    const std::string ips = LoopbackAllowedIps(host);
    s.hint = "add an endpoint {host: " + host + ", port: " + std::to_string(port) +
             (ips.empty() ? "" : ", allowed_ips: [" + ips + "]") +
             "} to an entry of network_policies";
    return s;
  }
  for (int i : cands) {
    const auto& ps = endpoints_[i].ports;
    if (std::binary_search(ps.begin(), ps.end(), port)) s.endpoints.push_back(i);
  }
  if (s.endpoints.empty()) {
    const auto& e = endpoints_[cands.front()];
    s.reason = "port " + std::to_string(port) + " is not allowed for host " + host;
    s.hint = "policy '" + policies_[e.policy].name + "' allows " + Shown(e) + " on port(s) " +
             Join(e.ports) + "; add " + std::to_string(port) + " to its ports";
  }
  return s;
}

bool Matcher::AnyBinary(const std::vector<int>& endpoints) const {
  for (int i : endpoints)
    if (policies_[endpoints_[i].policy].binaries.empty()) return true;
  return false;
}

Stage Matcher::MatchBinary(const std::vector<int>& endpoints, const std::vector<std::string>& exes,
                           const std::string& caller) const {
  Stage s;
  for (int i : endpoints) {
    const auto& bins = policies_[endpoints_[i].policy].binaries;
    bool ok = bins.empty();
    for (size_t b = 0; !ok && b < bins.size(); ++b)
      for (const auto& exe : exes)
        if (GlobMatch(bins[b], exe)) {
          ok = true;
          break;
        }
    if (ok) s.endpoints.push_back(i);
  }
  if (s.endpoints.empty() && !endpoints.empty()) {
    const auto& e = endpoints_[endpoints.front()];
    const auto& p = policies_[e.policy];
    std::string list;
    for (const auto& b : p.binaries) list += (list.empty() ? "" : ", ") + b;
    s.reason = (caller.empty() ? std::string("the calling binary could not be identified")
                               : "binary " + caller + " is not allowed") +
               " to reach " + Shown(e);
    // Ancestors whose grant was stripped (a loader variable in their
    // environment, identity.cc): say so, or the refusal looks arbitrary.
    std::string stripped;
    for (size_t k = 1; k < exes.size(); ++k)
      if (exes[k].find(" (") != std::string::npos && exes[k].back() == ')')
        stripped += (stripped.empty() ? "" : ", ") + exes[k];
    if (!stripped.empty()) s.reason += "; ancestors not counted as their binary: " + stripped;
    s.hint = "policy '" + p.name + "' allows " + Shown(e) + " only for binaries [" + list +
             "]; add {path: " + (caller.empty() ? std::string("<binary>") : caller) +
             "} to its binaries";
  }
  return s;
}

int Matcher::MatchAddress(const std::vector<int>& endpoints, const std::string& host,
                          const IpAddr& addr, std::string* reason, std::string* hint,
                          bool host_address) const {
  IpAddr a = EmbeddedIpv4(addr);
  const bool embedded = a.family != addr.family;
  AddrClass cls = Classify(addr);
  std::string shown = addr.ToString();
  if (NeverAllowed(cls)) {
    *reason = shown + " is a " + std::string(ToString(cls)) + " address";
    *hint = "no policy can allow a " + std::string(ToString(cls)) + " destination";
    return -1;
  }
  for (int i : endpoints) {
    const auto& e = endpoints_[i];
    if (e.allowed_ips.empty()) {
      if (host_address) continue;
      // OpenShell: a host the policy names exactly may be anywhere but loopback.
      if (cls == AddrClass::kPublic || (e.exact && cls != AddrClass::kLoopback)) return i;
      continue;
    }
    // The loopback opt-in names one host: a pattern could reach any local service.
    if (!e.exact && (cls == AddrClass::kLoopback || host_address)) continue;
    // An address that embeds an IPv4 one (::ffff:a.b.c.d...) is reached as
    // that IPv4 address: only that form is matched, so an IPv6 CIDR such as
    // ::/0 does not grant 127.0.0.1.
    for (const auto& c : e.allowed_ips)
      if (embedded ? c.Contains(a) : c.Contains(addr)) return i;
  }
  const auto& e = endpoints_[endpoints.front()];
  std::string prefix = addr.family == AF_INET ? "/32" : "/128";
  if (cls != AddrClass::kPublic) {
    *reason = host + " resolves to " + shown + ", a " + ToString(cls) + " address (SSRF filter)";
  } else if (host_address) {
    *reason = host + " resolves to " + shown + ", an address of this host (SSRF filter)";
  } else {
    *reason = host + " resolves to " + shown + ", outside the endpoint's allowed_ips";
  }
  *hint = "an endpoint {host: " + host + "} in policy '" + policies_[e.policy].name +
          "' with allowed_ips: [" + shown + prefix + "] would allow it";
  return -1;
}

}  // namespace rf::proxy
