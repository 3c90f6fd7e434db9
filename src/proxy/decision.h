// The proxy's policy decision for one connection, as pure functions of the
// destination (host, port), the caller and the destination's addresses: no
// socket, no clock, no /proc. The worker gathers the inputs (the caller
// from the connect ledger or /proc, the addresses from network.hosts or
// DNS) and acts on the verdict; tests/unit/proxy_decision_test.cc checks
// the rules without sockets.
//
// Two stages, because the addresses are looked up only for a destination
// the policy allows (no DNS query leaks a refused name):
//   1. DecideTarget: the sandbox-only rule, IP literals in a non-canonical
//      form, host and port, then the calling binary;
//   2. DecideAddresses: the SSRF rule for every address of the host (all
//      must pass: the proxy connects only to addresses it checked).
// Decide runs both. L7 rules extend the verdict: an endpoint with a
// `protocol` will yield an action that inspects the connection's requests,
// each then decided the same way (method, path, query -> verdict).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/cidr.h"
#include "proxy/matcher.h"

namespace rf::proxy {

// Who asked for the connection.
struct Caller {
  // The connection is known to be the sandboxed command's (a connect-guard
  // record, or a process found below the sandbox root).
  bool attributed = false;
  std::vector<std::string> exes;  // the caller's executable first, then its ancestors'
  std::string binary;             // named in messages; "" when unknown
};

// One address of the destination.
struct Address {
  IpAddr ip;
  // One of this host's own addresses (IsHostAddress): it reaches the host's
  // services like loopback does.
  bool host_address = false;
};

enum class Action {
  kDeny,
  kAllow,  // a TCP tunnel (CONNECT) or one forwarded request
};

struct Verdict {
  Action action = Action::kDeny;
  std::string reason;          // kDeny: why
  std::string hint;            // kDeny: which policy entry would allow it
  std::string address;         // kDeny by the SSRF rule: the refused address
  std::string policy;          // the network_policies entry involved ("" when none matched)
  std::vector<int> endpoints;  // kAllow: the matcher's endpoints still in play

  bool allowed() const { return action == Action::kAllow; }
};

// True when stage 1's answer depends on the caller: the binary rule applies,
// or the refusal names the caller. The worker looks the caller up only then
// (unless it always does, for the audit log).
bool CallerMatters(const Matcher& m, const std::string& host, uint16_t port);

// Stage 1. `host` is normalised (NormalizeHost). `sandbox_only`: only
// connections attributed to the sandbox are served.
Verdict DecideTarget(const Matcher& m, const std::string& host, uint16_t port, const Caller& caller,
                     bool sandbox_only);

// Stage 2, for a stage-1 verdict that allowed: kAllow when every address
// passes, else kDeny naming the first that does not. A refused `target`, or
// no addresses, leaves the verdict as it is.
Verdict DecideAddresses(const Matcher& m, Verdict target, const std::string& host,
                        const std::vector<Address>& addresses);

struct DecisionInput {
  std::string host;  // normalised
  uint16_t port = 0;
  Caller caller;
  bool sandbox_only = false;
  std::vector<Address> addresses;
};

// Both stages.
Verdict Decide(const Matcher& m, const DecisionInput& in);

// `ip` with host_address filled in for this host (reads its interfaces:
// not pure; the worker calls it, tests build Address directly).
Address LocalView(const IpAddr& ip);

}  // namespace rf::proxy
