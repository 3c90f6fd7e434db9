#include "net/mode.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/fd.h"
#include "common/file.h"
#include "net/netns.h"

namespace rf {

namespace {

long ReadSysctl(const char* path, long missing) {
  auto text = ReadSmallFile(path, 64);
  if (!text.ok()) return missing;
  char* end = nullptr;
  errno = 0;
  long v = strtol(text->c_str(), &end, 10);
  return end == text->c_str() || errno != 0 ? missing : v;
}

// The throwaway child of TrySandboxNamespaces: the namespaces `run` makes,
// in its order (init: user, PID, network, IPC and mount namespaces with the id maps; the
// command: EnterSandboxNamespaces as the PID namespace's first process).
// Reports an NsSetup over `report`. Async-signal-safe after fork.
[[noreturn]] void ProbeChild(bool userns, const char* uid_map, const char* gid_map, int report) {
  auto fail = [&](int err, const char* step) {
    NsSetup r{err, step};
    (void)!write(report, &r, sizeof r);
    _exit(0);
  };
  if (unshare(kInitNamespaces | (userns ? CLONE_NEWUSER : 0)) != 0)
    fail(errno, userns ? "unshare(CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWNS)"
                       : "unshare(CLONE_NEWPID|CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWNS)");
  if (userns) {
    // As init does: our /proc files must be ours to write the maps.
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    const char* files[] = {"/proc/self/setgroups", "/proc/self/uid_map", "/proc/self/gid_map"};
    const char* texts[] = {"deny", uid_map, gid_map};
    for (int i = 0; i < 3; ++i) {
      int fd = open(files[i], O_WRONLY | O_CLOEXEC);
      bool ok = fd >= 0 && write(fd, texts[i], strlen(texts[i])) >= 0;
      int err = errno;
      if (fd >= 0) close(fd);
      if (!ok) fail(err, "writing the user namespace's id maps");
    }
  }
  pid_t first = fork();
  if (first < 0) fail(errno, "fork");
  if (first == 0) {
    NsSetup r = EnterSandboxNamespaces();
    (void)!write(report, &r, sizeof r);
    _exit(0);
  }
  int status = 0;
  while (waitpid(first, &status, 0) < 0 && errno == EINTR) {
  }
  _exit(0);
}

// Runs the namespace set-up of `run` in a throwaway child. Empty: it works;
// else what failed and why.
std::string TrySandboxNamespaces(bool userns) {
  const std::string uid_map = IdentityMap(geteuid()), gid_map = IdentityMap(getegid());
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Errno("pipe").reason();
  UniqueFd r(fds[0]), w(fds[1]);
  pid_t pid = fork();
  if (pid < 0) return Status::Errno("fork").reason();
  if (pid == 0) ProbeChild(userns, uid_map.c_str(), gid_map.c_str(), w.get());
  w.reset();
  NsSetup result{EINVAL, "the probe"};
  ssize_t n;
  do {
    n = read(r.get(), &result, sizeof result);
  } while (n < 0 && errno == EINTR);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof result)) return "the namespace probe died";
  if (result.err == 0) return "";
  // `step` points into this binary's constants, the same in parent and child.
  return std::string(result.step) + " fails here (" + strerror(result.err) + ")";
}

}  // namespace

NamespaceSupport ProbeNamespaceSetup(bool privileged) {
  NamespaceSupport s;
  if (!privileged) {
    s.needs_userns = true;
    if (ReadSysctl("/proc/sys/kernel/unprivileged_userns_clone", 1) == 0) {
      s.reason = "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0)";
      return s;
    }
    if (ReadSysctl("/proc/sys/user/max_user_namespaces", 1) == 0) {
      s.reason = "user namespaces are disabled (user.max_user_namespaces=0)";
      return s;
    }
    if (ReadSysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", 0) == 1) {
      s.reason =
          "AppArmor restricts unprivileged user namespaces "
          "(kernel.apparmor_restrict_unprivileged_userns=1)";
      return s;
    }
  }
  // The definitive check: container runtimes refuse parts of the set-up
  // without any sysctl saying so (a seccomp profile refusing unshare; a
  // masked /proc that forbids mounting a new one), so do all of it.
  s.reason = TrySandboxNamespaces(s.needs_userns);
  s.possible = s.reason.empty();
  return s;
}

NamespaceSupport NamespaceModeSupport(const NamespaceSupport& setup, bool pidfd_getfd, bool root,
                                      bool cap_sys_ptrace) {
  NamespaceSupport s = setup;
  if (!s.possible) return s;
  if (!pidfd_getfd) {
    s.possible = false;
    s.reason =
        "the connect guard cannot take the command's sockets (pidfd_getfd refused, or "
        "kernel.yama.ptrace_scope too strict)";
    return s;
  }
  if (root && !cap_sys_ptrace) {
    s.possible = false;
    s.reason = "the connect guard cannot take the command's sockets (no CAP_SYS_PTRACE)";
  }
  return s;
}

bool NeedsNamespaceProbe(NetMode requested) {
  return requested == NetMode::kAuto || requested == NetMode::kNamespace ||
         requested == NetMode::kNone;
}

Result<ModeDecision> ResolveMode(NetMode requested, const NamespaceSupport& ns) {
  ModeDecision d{requested, false, ""};
  if (requested != NetMode::kAuto && requested != NetMode::kNamespace) {
    d.why = std::string(ToString(requested)) + " (requested)";
    return d;
  }
  if (ns.possible) {
    d.mode = NetMode::kNamespace;
    d.use_userns = ns.needs_userns;
    d.why = std::string(requested == NetMode::kAuto ? "auto: " : "") + "namespace" +
            (ns.needs_userns ? " (unprivileged user namespace)" : " (root)");
    return d;
  }
  if (requested == NetMode::kNamespace)
    return Status::Error("network.mode namespace cannot be set up: " + ns.reason);
  d.mode = NetMode::kPlatform;
  d.why = "auto: platform (no network namespace: " + ns.reason + ")";
  return d;
}

namespace {

constexpr const char* kLoopbackNames[] = {"localhost", "127.0.0.1", "::1"};

bool Carried(const std::vector<std::string>& carried, const char* name) {
  return std::find(carried.begin(), carried.end(), name) != carried.end();
}

}  // namespace

std::vector<std::string> LoopbackHostsCarried(const std::vector<NetworkPolicy>& policies) {
  std::vector<std::string> out;
  for (const char* name : kLoopbackNames) {
    bool named = false;
    for (const auto& p : policies)
      for (const auto& e : p.endpoints) {
        std::string host = e.host;
        for (auto& ch : host) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
        if (host == "[::1]") host = "::1";
        named = named || host == name;
      }
    if (named) out.push_back(name);
  }
  return out;
}

std::vector<std::string> ProxyEnvironment(uint16_t proxy_port,
                                          const std::vector<std::string>& carried,
                                          const char* java_tool_options) {
  const std::string url = "http://127.0.0.1:" + std::to_string(proxy_port);
  // Loopback bypasses the proxy: the sandbox's own servers are there
  // (namespace mode: its own loopback; platform mode: the policy's
  // loopback_ports). A loopback name an endpoint names is the host's service
  // instead, which only the proxy reaches (namespace mode) or may reach
  // (platform mode: direct connects are refused outside loopback_ports), so
  // it is left out. NO_PROXY has no port syntax all clients understand: a
  // name is carried on every port.
  std::string no_proxy, java_non_proxy;
  for (const char* name : kLoopbackNames) {
    if (Carried(carried, name)) continue;
    no_proxy += (no_proxy.empty() ? "" : ",") + std::string(name);
    const std::string java_name = std::string(name) == "::1" ? "[::1]" : name;
    java_non_proxy += (java_non_proxy.empty() ? "" : "|") + java_name;
  }
  std::vector<std::string> env;
  for (const char* name : {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                           "all_proxy", "FTP_PROXY", "ftp_proxy", "GRPC_PROXY", "grpc_proxy"}) {
    env.push_back(std::string(name) + "=" + url);
  }
  env.push_back("NO_PROXY=" + no_proxy);
  env.push_back("no_proxy=" + no_proxy);
  env.push_back("NODE_USE_ENV_PROXY=1");     // Node.js >= 24 fetch/http
  env.push_back("npm_config_proxy=" + url);  // npm
  env.push_back("npm_config_https_proxy=" + url);
  env.push_back("PIP_PROXY=" + url);        // pip
  env.push_back("YARN_HTTP_PROXY=" + url);  // yarn >= 2 ignores the variables above
  env.push_back("YARN_HTTPS_PROXY=" + url);
  env.push_back("CARGO_HTTP_PROXY=" + url);  // cargo (also reads https_proxy; explicit wins)
  // The JVM reads no proxy variable: its properties, after the caller's own
  // options (the last definition of a property wins, so these hold).
  const std::string port = std::to_string(proxy_port);
  std::string java = java_tool_options && *java_tool_options ? std::string(java_tool_options) + " "
                                                             : std::string();
  java += "-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=" + port +
          " -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=" + port +
          " -Dhttp.nonProxyHosts=" + java_non_proxy;  // empty: none (unset: the JVM's 127.*)
  env.push_back("JAVA_TOOL_OPTIONS=" + java);
  env.push_back("RINGFENCE_PROXY=" + url);
  return env;
}

}  // namespace rf
