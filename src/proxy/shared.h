// What a Proxy's worker threads share (internal to src/proxy/): the
// configuration and compiled policy, read-only once started, and the
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
  Matcher matcher;
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
  explicit Shared(const ProxyConfig& c, const Policy& p) : config(c), matcher(p.network_policies) {}

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
