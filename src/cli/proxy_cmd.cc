// `ringfence proxy`: runs the egress proxy in the foreground (until SIGTERM or
// SIGINT) on a listening socket it creates itself. Used by tests and
// benchmarks before, and independently of, `ringfence run`. Prints the bound
// address on stdout when ready and the denial summary on stderr at exit.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "audit/audit.h"
#include "cli/commands.h"
#include "common/fd.h"
#include "policy/cidr.h"
#include "policy/l7_rules.h"
#include "policy/loader.h"
#include "proxy/proxy.h"
#include "tls/authority.h"

namespace rf {

namespace {

struct ProxyCmdOptions {
  std::string policy_file;
  std::string listen = "127.0.0.1:0";
  std::string audit_file;
  std::string ca_cert_out;  // where the inspecting proxy's CA certificate goes
  int sandbox_pid = 0;
  bool no_splice = false;
  proxy::ProxyConfig config;
};

Result<UniqueFd> Listen(const std::string& spec) {
  auto colon = spec.rfind(':');
  if (colon == std::string::npos) return Status::Error("--listen needs ADDR:PORT");
  std::string host = spec.substr(0, colon), port_s = spec.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto ip = ParseIpLiteral(host);
  if (!ip || port_s.empty() || port_s.size() > 5 ||
      port_s.find_first_not_of("0123456789") != std::string::npos || std::stoi(port_s) > 65535)
    return Status::Error("--listen '" + spec + "' is not ADDR:PORT");
  uint16_t port = static_cast<uint16_t>(std::stoi(port_s));
  sockaddr_storage ss{};
  socklen_t len;
  if (ip->family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET, in->sin_port = htons(port);
    memcpy(&in->sin_addr, ip->bytes.data(), 4);
    len = sizeof *in;
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6, in6->sin6_port = htons(port);
    memcpy(&in6->sin6_addr, ip->bytes.data(), 16);
    len = sizeof *in6;
  }
  UniqueFd fd(socket(ip->family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::Errno("socket");
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return Status::Errno("bind ", spec);
  if (listen(fd.get(), 4096) != 0) return Status::Errno("listen");
  return fd;
}

int ProxyMain(const ProxyCmdOptions& o) {
  auto policy = LoadPolicyFile(o.policy_file);
  if (!policy.ok()) {
    fprintf(stderr, "%s\n", policy.status().reason().c_str());
    return 1;
  }
  std::unique_ptr<AuditSink> audit;
  if (!o.audit_file.empty()) {
    auto a = AuditSink::Open(o.audit_file);
    if (!a.ok()) {
      fprintf(stderr, "ringfence: %s\n", a.status().reason().c_str());
      return 1;
    }
    audit = std::move(*a);
  }
  // Tunnels need descriptors: raise the soft limit to the hard one.
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  proxy::ProxyConfig cfg = o.config;
  cfg.use_splice = !o.no_splice;
  // Inspected endpoints: clients must trust the CA the proxy makes, and
  // only its certificate can tell them which (docs/l7.md).
  if (PolicyInspects(*policy) && o.ca_cert_out.empty()) {
    fprintf(stderr,
            "ringfence: the policy has inspected endpoints (protocol: rest or websocket): pass "
            "--ca-cert-out FILE, where the proxy writes the CA certificate its clients must "
            "trust\n");
    return 1;
  }
  cfg.ca_label = "proxy " + std::to_string(getpid());
  auto px = proxy::Proxy::Create(cfg, *policy, audit.get());
  if (!px.ok()) {
    fprintf(stderr, "ringfence: %s\n", px.status().reason().c_str());
    return 1;
  }
  if ((*px)->authority() && !o.ca_cert_out.empty()) {
    UniqueFd out(
        open(o.ca_cert_out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
    const std::string& pem = (*px)->authority()->certificate_pem();
    if (!out.valid() ||
        write(out.get(), pem.data(), pem.size()) != static_cast<ssize_t>(pem.size())) {
      fprintf(stderr, "ringfence: --ca-cert-out %s: %s\n", o.ca_cert_out.c_str(), strerror(errno));
      return 1;
    }
  }
  if (o.sandbox_pid > 0) (*px)->SetSandboxRoot(o.sandbox_pid);
  auto lfd = Listen(o.listen);
  if (!lfd.ok()) {
    fprintf(stderr, "ringfence: %s\n", lfd.status().reason().c_str());
    return 1;
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  getsockname(lfd->get(), reinterpret_cast<sockaddr*>(&bound), &blen);
  // The workers inherit this mask; the main thread waits for the signal.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (Status s = (*px)->Start(std::move(*lfd)); !s.ok()) {
    fprintf(stderr, "ringfence: %s\n", s.reason().c_str());
    return 1;
  }
  char addr[INET6_ADDRSTRLEN] = {};
  uint16_t port;
  if (bound.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&bound);
    inet_ntop(AF_INET, &in->sin_addr, addr, sizeof addr);
    port = ntohs(in->sin_port);
    printf("%s:%u\n", addr, port);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&bound);
    inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof addr);
    port = ntohs(in6->sin6_port);
    printf("[%s]:%u\n", addr, port);
  }
  fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  (*px)->Stop();
  std::string summary = proxy::Proxy::FormatDenialSummary((*px)->DenialSummary());
  fputs(summary.c_str(), stderr);
  return 0;
}

}  // namespace

CLI::App* AddProxyCommand(CLI::App& app) {
  auto o = std::make_shared<ProxyCmdOptions>();
  auto* cmd =
      app.add_subcommand("proxy", "Run the egress proxy in the foreground (tests, benchmarks)");
  cmd->add_option("--policy", o->policy_file, "Policy file (YAML)")->required();
  cmd->add_option("--listen", o->listen, "ADDR:PORT to listen on (default 127.0.0.1:0)");
  cmd->add_option("--audit", o->audit_file, "Write audit events (JSON Lines) to FILE");
  cmd->add_option("--ca-cert-out", o->ca_cert_out,
                  "With inspected endpoints: write the CA certificate clients must trust to FILE");
  cmd->add_option("--sandbox-pid", o->sandbox_pid,
                  "Callers are descendants of PID, looked up in its network namespace");
  cmd->add_option("--dns-server", o->config.dns_servers, "DNS server(s) IP:PORT[,...] for c-ares");
  cmd->add_option("--threads", o->config.threads, "Worker threads (default 2)");
  cmd->add_option("--max-connections", o->config.max_connections, "Concurrent connections (1024)");
  cmd->add_option("--max-head-bytes", o->config.max_head_bytes, "Request head limit (8192)");
  cmd->add_option("--header-timeout-ms", o->config.header_timeout_ms, "Request head timeout");
  cmd->add_option("--connect-timeout-ms", o->config.connect_timeout_ms, "Upstream connect timeout");
  cmd->add_option("--idle-timeout-ms", o->config.idle_timeout_ms, "Idle tunnel timeout");
  cmd->add_option("--dns-timeout-ms", o->config.dns_timeout_ms, "DNS lookup timeout");
  cmd->add_option("--pipe-size", o->config.pipe_size,
                  "Tunnel pipe size in bytes (default 1 MiB; 0 = kernel default)");
  cmd->add_flag("!--no-nodelay", o->config.tcp_nodelay, "Leave Nagle on for tunnel sockets");
  cmd->add_flag("--no-splice", o->no_splice, "Move tunnel bytes with read/write instead of splice");
  cmd->add_flag("!--no-identify-always", o->config.identify_always,
                "Look up the calling binary only when a rule depends on it");
  // Runs from within app.parse() and ends the process with the proxy's exit
  // code, so that main() needs a single line for this subcommand.
  cmd->callback([o] {
    int code = ProxyMain(*o);
    fflush(stdout);
    std::exit(code);
  });
  return cmd;
}

}  // namespace rf
