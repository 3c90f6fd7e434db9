#include "proxy/decision.h"

#include <utility>

#include "proxy/ssrf.h"

namespace rf::proxy {

namespace {

Verdict Deny(std::string reason, std::string hint) {
  Verdict v;
  v.reason = std::move(reason);
  v.hint = std::move(hint);
  return v;
}

}  // namespace

bool CallerMatters(const Matcher& m, const std::string& host, uint16_t port) {
  if (IsNonCanonicalIpLiteral(host)) return false;
  Stage hp = m.MatchHostPort(host, port);
  // A refusal names the caller; an allowed endpoint needs it unless one of
  // them allows every binary.
  return hp.endpoints.empty() || !m.AnyBinary(hp.endpoints);
}

Verdict DecideTarget(const Matcher& m, const std::string& host, uint16_t port, const Caller& caller,
                     bool sandbox_only) {
  if (sandbox_only && !caller.attributed)
    return Deny("the connection was not made by the sandboxed command",
                "this proxy serves only the sandbox it was started for; another local process "
                "needs its own policy");
  if (IsNonCanonicalIpLiteral(host))
    return Deny(
        "'" + host + "' is an IP literal in a non-canonical form; it is refused, not interpreted",
        "use the canonical dotted-quad or RFC 5952 form, allowed by an exact host endpoint");
  Stage hp = m.MatchHostPort(host, port);
  if (hp.endpoints.empty()) return Deny(std::move(hp.reason), std::move(hp.hint));
  Stage bin = m.MatchBinary(hp.endpoints, caller.exes, caller.binary);
  if (bin.endpoints.empty()) {
    Verdict v = Deny(std::move(bin.reason), std::move(bin.hint));
    v.policy = m.policy(m.endpoint(hp.endpoints.front()).policy).name;
    return v;
  }
  Verdict v;
  v.action = Action::kAllow;
  v.policy = m.policy(m.endpoint(bin.endpoints.front()).policy).name;
  v.endpoints = std::move(bin.endpoints);
  return v;
}

Verdict DecideAddresses(const Matcher& m, Verdict target, const std::string& host,
                        const std::vector<Address>& addresses) {
  if (!target.allowed()) return target;
  for (const Address& a : addresses) {
    std::string reason, hint;
    if (m.MatchAddress(target.endpoints, host, a.ip, &reason, &hint, a.host_address) < 0) {
      target.action = Action::kDeny;
      target.reason = std::move(reason);
      target.hint = std::move(hint);
      target.address = a.ip.ToString();
      target.endpoints.clear();
      return target;
    }
  }
  return target;
}

Verdict Decide(const Matcher& m, const DecisionInput& in) {
  return DecideAddresses(m, DecideTarget(m, in.host, in.port, in.caller, in.sandbox_only), in.host,
                         in.addresses);
}

Address LocalView(const IpAddr& ip) {
  // Only a public address needs the look at the interfaces: the SSRF rule
  // treats the other classes by class already.
  return {ip, Classify(ip) == AddrClass::kPublic && IsHostAddress(EmbeddedIpv4(ip))};
}

}  // namespace rf::proxy
