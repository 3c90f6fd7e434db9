// The network layer: the mode's set-up on src/net/ (the namespace step or
// the platform listener), the connect guard's configuration, the proxy
// environment, and the decision the Landlock and seccomp layers take as
// input (NetworkDecision, src/sandbox/layers.h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "dns/resolver.h"
#include "dns/sandbox_files.h"
#include "net/mode.h"
#include "net/netns.h"
#include "sandbox/layers.h"
#include "sandbox/plan.h"

namespace rf {

namespace {

Result<UniqueFd> PlatformListener(uint16_t port, uint16_t* bound) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::Errno("proxy socket");
  // A fixed proxy_port must be reusable while earlier connections linger in
  // TIME_WAIT; SO_REUSEADDR never lets two listeners share it.
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd.get(), reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0)
    return Status::Errno("proxy listener on 127.0.0.1:" + std::to_string(port) +
                         (port ? " (network.proxy_port in use? use 0 for an ephemeral port)" : ""));
  if (listen(fd.get(), 4096) != 0) return Status::Errno("proxy listen");
  socklen_t len = sizeof a;
  getsockname(fd.get(), reinterpret_cast<struct sockaddr*>(&a), &len);
  *bound = ntohs(a.sin_port);
  return fd;
}

// What `policy show --effective` says of namespace mode's DNS.
nlohmann::json NamespaceDnsStatus(const Policy& p, const std::vector<std::string>& skipped) {
  nlohmann::json d = {
      {"resolver",
       "127.0.0.1:53 in the sandbox's network namespace (UDP), served by the supervisor"},
      {"resolv_conf",
       "the sandbox's own /etc/resolv.conf (nameserver 127.0.0.1) and /etc/hosts "
       "(localhost), bound read-only over the host's"},
      {"answers",
       "names the policy reaches get a synthetic address (198.18.0.0/15, A records "
       "only; AAAA: no data); every other name NXDOMAIN, audited (layer dns)"},
      {"names", dns::Resolver::PolicyNames(p)}};
  if (!skipped.empty()) d["not_bound"] = skipped;
  std::vector<std::string> warnings;
  for (const auto& name : dns::Resolver::PolicyNames(p))
    if (name.find('*') != std::string::npos)
      warnings.push_back(name +
                         ": every name under it resolves; new names are budgeted (60 a minute, 6 "
                         "exfiltration-shaped: a label over 40 characters or more than 6 labels "
                         "under the wildcard), REFUSED beyond, audited");
  if (!warnings.empty()) d["wildcard_warnings"] = warnings;
  return d;
}

}  // namespace

Result<NetworkDecision> AddNetworkLayer(const LayerInput& in, const ModeDecision& d,
                                        bool none_in_namespace, Plan& plan) {
  const Policy& p = in.policy;
  NetworkSetup& net = plan.net;
  NetworkDecision out;
  net.mode = d.mode;
  nlohmann::json st = {{"mode", ToString(d.mode)}, {"decision", d.why}};
  switch (d.mode) {
    case NetMode::kNamespace:
    case NetMode::kNone: {
      if (d.mode == NetMode::kNone && !none_in_namespace) {
        out.landlock_connect_ports = std::vector<uint16_t>{};
        out.landlock_bind_ports = std::vector<uint16_t>{};
        out.notify_connect = true;
        // No inet socket at all: nothing to connect or bind, and no listen()
        // whose implicit bind Landlock would not check.
        out.inet_sockets = false;
        net.guard = true;
        net.guard_config.check_inet =
            true;  // no proxy, no loopback port: every inet connect refused
        st["status"] = "enforced (no TCP connect or bind: Landlock; no inet sockets: seccomp)";
        break;
      }
      int sp[2];
      if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
        return Status::Errno("socketpair");
      net.listener_channel.reset(sp[0]);
      UniqueFd child_end(sp[1]);
      net.proxy = d.mode == NetMode::kNamespace;
      net.proxy_port = net.proxy ? NamespaceProxyPort(p.network.proxy_port) : 0;
      // Policy DNS comes with the proxy: a resolver on the namespace's
      // loopback and the sandbox's own resolv.conf and hosts.
      net.dns_socket_in_namespace = net.proxy;
      auto step = NamespaceStep::Create(net.proxy_port, std::move(child_end), net.proxy, net.proxy);
      // init is PID 1 of the sandbox's namespaces (and owns the user
      // namespace when ringfence is not privileged).
      plan.init_namespaces = kInitNamespaces | (d.use_userns ? CLONE_NEWUSER : 0);
      plan.uid_map = IdentityMap(in.host.uid);
      plan.gid_map = IdentityMap(in.host.gid);
      out.proc_remounted = true;
      out.mount_namespace = true;
      out.own_netns = true;
      // Unix connects are checked by the supervisor here too (inet ones are
      // made on the command's own socket: the namespace confines them).
      out.notify_connect = true;
      net.guard = true;
      net.guard_config.check_inet = false;
      net.guard_config.proxy_port = net.proxy_port;
      if (!step.ok()) return step.status();
      plan.privileged_steps.push_back(std::move(step).value());
      if (net.proxy) {
        std::vector<std::string> skipped;
        auto files = dns::SandboxFilesStep::Create(&skipped);
        if (!files.ok()) return files.status().With("the sandbox's DNS files");
        plan.privileged_steps.push_back(std::move(files).value());
        st["dns"] = NamespaceDnsStatus(p, skipped);
      }
      st["status"] =
          net.proxy ? "enforced (fresh network namespace: loopback only; egress through the proxy)"
                    : "enforced (empty network namespace: loopback only)";
      st["ipc_namespace"] = true;
      st["pid_namespace"] = "own /proc: host processes are invisible";
      if (d.use_userns) st["user_namespace"] = "uid/gid mapped 1:1 (no root inside)";
      break;
    }
    case NetMode::kPlatform: {
      auto l = PlatformListener(p.network.proxy_port, &net.proxy_port);
      if (!l.ok()) return l.status();
      net.listener = std::move(l).value();
      net.proxy = true;
      std::vector<uint16_t> connect_ports = p.network.loopback_ports;
      connect_ports.push_back(net.proxy_port);
      out.landlock_connect_ports = connect_ports;
      out.landlock_bind_ports = p.network.bind_ports;
      // connect() goes to the supervisor's ConnectGuard (src/net/connect_guard.h).
      out.notify_connect = true;
      net.guard = true;
      net.guard_config.check_inet = true;
      net.guard_config.proxy_port = net.proxy_port;
      net.guard_config.loopback_ports = p.network.loopback_ports;
      st["status"] = "enforced (proxy on 127.0.0.1, Landlock TCP port rules, seccomp socket rules)";
      st["dns"] = {
          {"status",
           "not served: UDP stays refused (seccomp), so no name resolves inside the sandbox; "
           "clients reach policy names through the proxy (HTTP_PROXY), which resolves them"},
          {"why",
           "glibc, musl and Go accept an answer only from the name server's own address, "
           "which the supervisor cannot answer from without a network namespace (docs/dns.md)"}};
      net.guard_config.notify_listen = true;  // the profile's listen rule (platform)
      // Landlock (ABI <= 7) does not check the implicit bind of listen():
      // the guard refuses it, on the command's socket where it can take it,
      // else on the socket it bound itself (src/net/bind_guard.cc).
      st["listen"] = in.host.pidfd_getfd
                         ? "checked by the supervisor: refused on a TCP socket never bound"
                         : "checked by the supervisor (pidfd_getfd refused here: made on the "
                           "socket the supervisor bound): refused on a TCP socket never bound";
      st["bind"] =
          "made by the supervisor with the sandbox's Landlock rules and credentials; abstract unix "
          "names under a per-run prefix unless network.unix_sockets lists them, autobound ones "
          "too (bind() with the family alone; SO_PASSCRED/SO_PASSPIDFD named by the supervisor "
          "first)";
      break;
    }
    case NetMode::kHost:
      st["status"] = "not enforced (network.mode host: unrestricted network)";
      plan.effective.warnings.push_back(
          "network: mode host: the sandbox has unrestricted network access");
      break;
    case NetMode::kAuto:
      return Status::Error("internal: unresolved network mode");
  }
  // The host probe's answer, also where namespace mode chose by it.
  net.guard_config.pidfd_getfd_works = in.host.pidfd_getfd;
  if (net.guard) {
    // The connect guard needs seccomp user notification with on-behalf
    // connects. Where it cannot exist (old kernel, a container profile that
    // refuses the listener) the mode runs degraded only under best_effort,
    // with the residual gap said in a warning and the effective policy.
    if (const Status& n = in.host.user_notification; !n.ok()) {
      const int abi = in.host.landlock.used;
      std::vector<std::string> residual;
      if (d.mode == NetMode::kPlatform) {
        if (abi < 4)
          return Status::Error(
              "platform mode cannot confine TCP here: seccomp user notification is unavailable (" +
              n.reason() + ") and Landlock has no TCP port rules (ABI " + std::to_string(abi) +
              " < 4); use namespace mode (root or unprivileged user namespaces)");
        residual.push_back(
            "connect() is confined by Landlock's TCP port rules only: the proxy port and "
            "network.loopback_ports are reachable on every address (127.0.0.2, ::1, other local "
            "and remote hosts), not only on 127.0.0.1/::1");
        if (abi < 6)
          residual.push_back(
              "host abstract unix sockets are reachable (no Landlock scope below ABI 6)");
        // What the guard's bind() and listen() handling closes.
        residual.push_back(
            "abstract unix names the command binds are the host's (host clients connecting to "
            "a well-known name reach them)");
        residual.push_back(
            "listen() on a TCP socket never bound gets an ephemeral port on every address");
      }
      residual.push_back(abi >= 9
                             ? "host pathname unix sockets: refused by Landlock RESOLVE_UNIX only"
                             : "host pathname unix sockets (docker.sock, D-Bus, X11, agents) are "
                               "NOT refused (Landlock ABI < 9 cannot, and the connect check "
                               "is missing)");
      std::string gap;
      for (const auto& r : residual) gap += "; " + r;
      if (p.compatibility == Compatibility::kHardRequirement)
        return Status::Error("seccomp user notification is unavailable (" + n.reason() +
                             "): the connect() check cannot run" + gap +
                             "; landlock.compatibility is hard_requirement");
      net.guard = false;
      out.notify_connect = false;
      st["degraded"] = "best_effort: seccomp user notification unavailable: " + n.reason();
      st["residual"] = residual;
      st["unix_sockets"] = {{"allowed", p.network.unix_sockets}, {"mechanism", residual.back()}};
      plan.effective.warnings.push_back(
          "network: degraded: seccomp user notification unavailable (" + n.reason() + ")" + gap);
    }
  }
  if (net.guard) {
    auto& g = net.guard_config;
    g.unix_allowed = p.network.unix_sockets;
    g.visible_roots = p.filesystem.read_only;
    g.visible_roots.insert(g.visible_roots.end(), p.filesystem.read_write.begin(),
                           p.filesystem.read_write.end());
    if (in.run_as) {
      g.switch_creds = true;
      g.uid = in.run_as->uid;
      g.gid = in.run_as->gid;
    }
    st["unix_sockets"] = {
        {"allowed", p.network.unix_sockets},
        {"rule",
         "host pathname sockets only when listed in network.unix_sockets; sockets bound "
         "by the sandbox itself are allowed; abstract sockets: see 'abstract'"},
        {"mechanism",
         "seccomp user notification on connect(): the supervisor resolves the path "
         "itself (no magic links) and connects on the command's behalf (Landlock ABI "
         "< 9 cannot refuse it)"},
        {"datagram", p.network.unix_datagram ? "allowed (network.unix_datagram: weakened boundary)"
                                             : "AF_UNIX SOCK_DGRAM refused (seccomp)"}};
    if (p.network.unix_datagram)
      plan.effective.warnings.push_back(
          "network.unix_datagram: true: datagrams can reach any host pathname socket the sandbox's "
          "uid may write (e.g. /dev/log)");
  }
  if (net.proxy) net.synthetic_names = std::make_shared<dns::SyntheticNames>();
  if (net.proxy) {
    st["proxy"] = "http://127.0.0.1:" + std::to_string(net.proxy_port);
    auto env = ProxyEnvironment(net.proxy_port, LoopbackHostsCarried(p.network_policies),
                                getenv("JAVA_TOOL_OPTIONS"));
    plan.env_additions.insert(plan.env_additions.end(), env.begin(), env.end());
  }
  const bool own_pid_ns = (plan.init_namespaces & CLONE_NEWPID) != 0;
  plan.status.push_back([st = std::move(st), own_pid_ns](nlohmann::json& e) {
    e["network"] = st;
    e["process"]["visibility"] =
        own_pid_ns ? "own PID namespace and /proc: only the sandbox's processes are visible"
                   : "host processes are visible in /proc (pids, command lines, status); their "
                     "environ, mem and fds are refused by Landlock's ptrace restriction, signals "
                     "by its scope";
  });
  plan.summary += std::string(", network: ") + d.why;
  return out;
}

}  // namespace rf
