#include "proxy/proxy.h"

#include <ares.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "common/terminal_text.h"
#include "policy/l7_rules.h"
#include "proxy/capture.h"
#include "proxy/shared.h"
#include "proxy/worker.h"

namespace rf::proxy {

Proxy::Proxy(const ProxyConfig& config, const Policy& policy, AuditSink* audit)
    : shared_(std::make_unique<Shared>(config, policy)) {
  shared_->audit = audit ? audit : &null_audit_;
  for (const auto& [name, addr] : policy.network.hosts) shared_->hosts[NormalizeHost(name)] = addr;
}

namespace {

// The caller's environment (network.upstream_proxy: from_env reads it).
std::map<std::string, std::string> CallerEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

}  // namespace

Result<std::unique_ptr<Proxy>> Proxy::Create(const ProxyConfig& config, const Policy& policy,
                                             AuditSink* audit) {
  if (config.threads < 1 || config.threads > 64)
    return Status::Error("proxy threads must be 1..64");
  if (config.max_head_bytes < 256) return Status::Error("proxy max_head_bytes must be >= 256");
  if (config.max_connections < 1) return Status::Error("proxy max_connections must be >= 1");
  if (config.header_timeout_ms <= 0 || config.connect_timeout_ms <= 0 ||
      config.idle_timeout_ms <= 0 || config.dns_timeout_ms <= 0)
    return Status::Error("proxy timeouts must be positive");
  if (int rc = ares_library_init(ARES_LIB_INIT_ALL); rc != ARES_SUCCESS)
    return Status::Error(std::string("c-ares: ") + ares_strerror(rc));
  auto upstream = ConfigureUpstreamProxy(policy.network.upstream_proxy, CallerEnvironment(),
                                         config.dns_servers, config.dns_timeout_ms);
  if (!upstream.ok()) return upstream.status();
  std::unique_ptr<Proxy> proxy(new Proxy(config, policy, audit));
  proxy->shared_->upstream = std::move(*upstream);
  if (PolicyInspects(policy)) {
    Shared& sh = *proxy->shared_;
    auto authority = tls::Authority::Create(config.ca_label);
    if (!authority.ok()) return authority.status().With("the inspecting proxy's CA");
    sh.authority = std::move(*authority);
    auto server = tls::MakeServerContext();
    if (!server.ok()) return server.status();
    auto client = tls::MakeClientContext(policy.network.upstream_ca);
    if (!client.ok()) return client.status();
    sh.tls_server = std::move(*server);
    sh.tls_client = std::move(*client);
  }
  return proxy;
}

Proxy::~Proxy() { Stop(); }

const tls::Authority* Proxy::authority() const {
  return shared_->authority.get();
}  // Worker and Shared are complete here

Status Proxy::Start(UniqueFd listener) {
  if (!threads_.empty()) return Status::Error("proxy already started");
  if (!listener.valid()) return Status::Error("proxy: no listening socket");
  int fl = fcntl(listener.get(), F_GETFL);
  if (fl < 0 || fcntl(listener.get(), F_SETFL, fl | O_NONBLOCK) != 0)
    return Status::Errno("proxy: listener O_NONBLOCK");
  listener_ = std::move(listener);
  for (int i = 0; i < shared_->config.threads; ++i) {
    auto w = std::make_unique<Worker>(shared_.get(), listener_.get());
    if (Status s = w->Init(); !s.ok()) {
      Stop();
      return s.With("proxy");
    }
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) threads_.emplace_back([wp = w.get()] { wp->Run(); });
  return Status::Ok();
}

void Proxy::SetSandboxRoot(pid_t root) { shared_->sandbox_root.store(root); }

void Proxy::SetConnectLedger(std::shared_ptr<ConnectLedger> ledger) {
  shared_->ledger = std::move(ledger);
}

CaptureDecision Proxy::DecideCapture(const std::string& host, uint16_t port,
                                     const std::vector<std::string>& caller) const {
  // The rules in force now (a live policy change swaps them).
  const std::shared_ptr<const Matcher> rules = shared_->matcher.load();
  return proxy::DecideCapture(*rules, host, port, caller);
}

void Proxy::Stop() {
  shared_->stopping.store(true);
  for (auto& w : workers_) w->Wake();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  workers_.clear();
  listener_.reset();
}

Status Proxy::ReplaceNetworkPolicies(const Policy& policy) {
  if (!shared_->authority && PolicyInspects(policy))
    return Status::Error(
        "the new network_policies inspect requests (an endpoint with a protocol) but this "
        "sandbox was started without inspection: the command trusts the inspecting proxy's "
        "CA only from its start; restart it with the new policy");
  auto next = std::make_shared<const Matcher>(policy.network_policies);
  shared_->matcher.store(std::move(next));
  shared_->generation.fetch_add(1);
  return Status::Ok();
}

std::vector<DenialCount> Proxy::DenialSummary() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  std::vector<DenialCount> out;
  for (const auto& [k, n] : shared_->denials) out.push_back({k.first, k.second, n});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
  return out;
}

std::string Proxy::FormatDenialSummary(const std::vector<DenialCount>& d) {
  if (d.empty()) return "";
  uint64_t total = 0;
  for (const auto& x : d) total += x.count;
  std::string out = "ringfence: proxy denied " + std::to_string(total) + " connection(s):\n";
  for (const auto& x : d)
    out += "  " + TerminalText(x.target, false) + "  " + TerminalText(x.binary, false) + "  x" +
           std::to_string(x.count) + "\n";
  return out;
}

ProxyCounters Proxy::Counters() const {
  ProxyCounters c;
  c.accepted = shared_->accepted, c.allowed = shared_->allowed, c.denied = shared_->denied;
  c.errors = shared_->errors, c.over_capacity = shared_->over_capacity;
  c.active = shared_->active;
  return c;
}

}  // namespace rf::proxy
