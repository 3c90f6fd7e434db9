// What a Proxy's worker threads share (internal to src/proxy/): the
// configuration, read-only once started; the compiled network_policies,
// replaced whole on a live policy change (docs/live-policy.md); and the
// counters, atomics or under `mu`.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "audit/audit.h"
#include "policy/policy.h"
#include "process/caller.h"
#include "proxy/matcher.h"
#include "proxy/proxy.h"
#include "proxy/upstream.h"
#include "tls/authority.h"
#include "tls/session.h"

namespace rf::proxy {

struct Proxy::Shared {
  ProxyConfig config;
  // The network_policies in force. A connection takes the one current at its
  // decision and keeps it (its verdict's endpoint indexes point into it); a
  // live change stores a new one, so later connections use the new rules.
  std::atomic<std::shared_ptr<const Matcher>> matcher;
  // Bumped with every change of `matcher`: an inspected connection compares
  // it before each request and takes the new rules when it moved.
  std::atomic<uint64_t> generation{0};
  std::map<std::string, std::string> hosts;  // normalised name -> address
  std::optional<UpstreamProxy> upstream;     // network.upstream_proxy
  AuditSink* audit = nullptr;
  std::atomic<pid_t> sandbox_root{0};
  std::shared_ptr<ConnectLedger> ledger;
  std::atomic<int> active{0};
  std::atomic<uint64_t> accepted{0}, allowed{0}, denied{0}, errors{0}, over_capacity{0};
  std::atomic<bool> stopping{false};
  // L7 inspection (docs/l7.md), made only when some endpoint inspects: the
  // run's certificate authority and the TLS contexts of both sides.
  std::unique_ptr<tls::Authority> authority;
  tls::SslCtxPtr tls_server, tls_client;
  mutable std::mutex mu;
  std::map<std::pair<std::string, std::string>, uint64_t> denials;
  explicit Shared(const ProxyConfig& c, const Policy& p)
      : config(c), matcher(std::make_shared<const Matcher>(p.network_policies)) {}

  // Distinct (target, binary) pairs the summary keeps: the sandbox chooses
  // host names and request paths, so past this many the rest are counted
  // under one line instead of growing the map.
  static constexpr size_t kMaxDenialKeys = 1000;
  void CountDenial(std::string target, std::string binary) {
    std::lock_guard<std::mutex> lock(mu);
    std::pair<std::string, std::string> key{std::move(target), std::move(binary)};
    if (denials.size() >= kMaxDenialKeys && !denials.count(key))
      key = {"(further destinations and requests)", "-"};
    denials[std::move(key)]++;
  }
};

}  // namespace rf::proxy
