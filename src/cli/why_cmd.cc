// `ringfence why PATH | HOST:PORT`: which rule of the effective policy
// allows or refuses an access, and what to add. It builds the same plan as
// `policy show --effective` (nothing is run) and asks the same code the
// sandbox uses: the grants Landlock gets, the protected entries the scan
// found, and the proxy's matcher.
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/terminal_text.h"
#include "policy/cidr.h"
#include "policy/loader.h"
#include "proxy/matcher.h"
#include "proxy/ssrf.h"
#include "sandbox/plan.h"

namespace rf {

namespace {

constexpr int kAllowed = 0, kRefused = 1, kUsage = 2;

struct WhyOptions {
  std::string target, policy_file, binary, mode;
  bool write = false;
};

void Say(const std::string& line) { printf("%s\n", TerminalText(line).c_str()); }

// "." and ".." removed lexically, repeated '/' collapsed.
std::string Normalize(const std::string& abs) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= abs.size()) {
    size_t j = abs.find('/', i);
    if (j == std::string::npos) j = abs.size();
    std::string c = abs.substr(i, j - i);
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!c.empty() && c != ".") {
      parts.push_back(c);
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

// The path as Landlock sees it: symbolic links of the part that exists are
// resolved (rules attach to the file they lead to), the rest is kept.
std::string Resolve(const std::string& abs) {
  std::string head = abs, tail;
  for (int guard = 0; guard < 4096; ++guard) {
    char real[PATH_MAX];
    if (realpath(head.c_str(), real)) {
      std::string r = real;
      if (tail.empty()) return r;
      return (r == "/" ? "" : r) + tail;
    }
    size_t slash = head.rfind('/');
    if (slash == std::string::npos || head == "/") break;
    tail = head.substr(slash) + tail;
    head = slash == 0 ? "/" : head.substr(0, slash);
  }
  return abs;
}

bool Under(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

// The grants of `list` that cover `path` (a grant's own symbolic links are
// followed, as Landlock opens it).
std::vector<std::string> Covering(const std::vector<std::string>& list, const std::string& path) {
  std::vector<std::string> out;
  for (const auto& g : list) {
    if (Under(path, g) || Under(path, Resolve(g))) out.push_back(g);
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// What a refused path should be granted as: the path when it exists, else
// its nearest existing ancestor (a grant must exist when the run starts).
std::string GrantFor(const std::string& path) {
  std::string p = path;
  struct stat st;
  for (int guard = 0; guard < 4096 && p != "/" && lstat(p.c_str(), &st) != 0; ++guard) {
    size_t slash = p.rfind('/');
    p = slash == 0 ? "/" : p.substr(0, slash);
  }
  return p;
}

int WhyPath(const WhyOptions& o, const Plan& plan, const std::string& cwd) {
  const std::string given = o.target[0] == '/' ? o.target : cwd + "/" + o.target;
  const std::string path = Resolve(Normalize(given));
  const auto& fs = plan.effective.policy.filesystem;
  const bool mount_ns = (plan.init_namespaces & CLONE_NEWNS) != 0;
  Say("path: " + path + (path != Normalize(given) ? " (" + Normalize(given) + ")" : ""));
  Say("policy: " + plan.effective.policy.source);
  if (plan.effective.policy.network.mode == NetMode::kHost || !plan.landlock_fs) {
    Say("filesystem: not confined (" +
        std::string(plan.effective.policy.network.mode == NetMode::kHost
                        ? "network.mode host"
                        : "Landlock is not available here") +
        "): only the file's own permissions decide");
    return kAllowed;
  }
  const auto rw = Covering(fs.read_write, path);
  const auto ro = Covering(fs.read_only, path);
  std::string grant;
  if (!rw.empty()) {
    grant = "read-write";
    Say("grant: read-write, by filesystem_policy.read_write: " + Join(rw));
    if (!ro.empty())
      Say("       (also read-only by filesystem_policy.read_only: " + Join(ro) + ")");
  } else if (!ro.empty()) {
    grant = "read-only";
    Say("grant: read-only, by filesystem_policy.read_only: " + Join(ro));
  } else {
    grant = "none";
    Say("grant: none: no entry of filesystem_policy.read_only or read_write covers it");
  }
  if (Under(path, "/tmp") && grant == "none")
    Say("note: the sandbox's /tmp is its own (" +
        std::string(mount_ns ? "a tmpfs" : "a per-run directory, exported as TMPDIR") +
        "); the host's /tmp is reached only where the policy lists it");

  // Protected and deny_read entries the scan found (what the run holds).
  const ProtectedEntry* prot = nullptr;
  const ProtectedEntry* deny = nullptr;
  if (plan.protection) {
    for (const auto& e : plan.protection->entries()) {
      if (!Under(path, e.path)) continue;
      if (e.kind == ProtectedEntry::Kind::kDenyRead && !deny) deny = &e;
      if (e.kind == ProtectedEntry::Kind::kProtected && !prot) prot = &e;
    }
  }
  if (prot)
    Say("protected: " + prot->path + " (pattern '" + prot->pattern +
        "' of filesystem_policy.protected, inside grant " + prot->grant + "): " +
        (mount_ns ? "read-only (bind mount) for the run"
                  : "a write succeeds but is undone after the run (snapshot, platform mode)"));
  if (deny)
    Say("deny_read: " + deny->path + " (pattern '" + deny->pattern +
        "' of filesystem_policy.deny_read, inside grant " + deny->grant + "): cannot be read");
  if (!prot && !rw.empty()) {
    // A protected pattern the scan did not find a file for (absent, or
    // past its depth): say so, rather than let the name look writable.
    for (const auto& g : rw) {
      const std::string root = Resolve(g);
      if (!Under(path, root)) continue;
      const std::string rel = path.size() > root.size() ? path.substr(root.size() + 1) : "";
      std::string prefix;
      for (size_t i = 0; i <= rel.size() && !rel.empty(); ++i) {
        if (i < rel.size() && rel[i] != '/') continue;
        prefix = rel.substr(0, i);
        for (const auto& p : fs.protected_paths)
          if (MatchProtectPattern(p, prefix, (root == "/" ? "" : root) + "/" + prefix)) {
            Say("note: '" + prefix + "' matches pattern '" + p +
                "' of filesystem_policy.protected, but nothing is held there for this run "
                "(it does not exist, or is past the scan's depth); a file created there "
                "would not be protected");
            i = rel.size();
            break;
          }
      }
    }
  }

  bool allowed;
  std::string fix;
  const std::string want = o.write ? "write" : "read";
  if (deny) {
    allowed = false;
    fix = "remove '" + deny->pattern + "' from filesystem_policy.deny_read (it hides " +
          deny->path + " inside every grant)";
  } else if (grant == "none") {
    allowed = false;
    fix = "add " + GrantFor(path) + " to filesystem_policy." +
          (o.write ? "read_write" : "read_only (read_write only if the program must write there)");
  } else if (o.write && grant == "read-only") {
    allowed = false;
    fix = "add " + GrantFor(path) + " to filesystem_policy.read_write (now read-only through " +
          Join(ro) + ")";
  } else if (o.write && prot) {
    allowed = false;
    fix = "list " + prot->path +
          " by name in filesystem_policy.read_write (a path listed by name is the user's to "
          "write), or leave '" +
          prot->pattern + "' out of filesystem_policy.protected";
  } else {
    allowed = true;
  }
  Say(std::string("verdict: ") + want + " " + (allowed ? "allowed" : "refused"));
  if (!allowed) Say("fix: " + fix);
  if (allowed && !o.write && grant == "read-only")
    Say("note: writing is refused (read-only grant); ask with --write");
  if (allowed) Say("note: the file's own permissions still apply to the sandbox user");
  return allowed ? kAllowed : kRefused;
}

// "host:port" or "[v6]:port"; false if `s` has no such form.
bool SplitHostPort(const std::string& s, std::string* host, uint16_t* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= s.size()) return false;
  const std::string p = s.substr(colon + 1);
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  unsigned long v = std::stoul(p);
  if (v == 0 || v > 65535) return false;
  std::string h = s.substr(0, colon);
  if (h.front() == '[') {
    if (h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string::npos || h.find('/') != std::string::npos) {
    return false;
  }
  if (h.empty()) return false;
  *host = h;
  *port = static_cast<uint16_t>(v);
  return true;
}

int WhyNet(const WhyOptions& o, const Plan& plan, const std::string& host_in, uint16_t port) {
  const Policy& pol = plan.effective.policy;
  const std::string host = proxy::NormalizeHost(host_in);
  Say("destination: " + host + ":" + std::to_string(port));
  Say("policy: " + pol.source);
  switch (plan.net.mode) {
    case NetMode::kHost:
      Say("network: not confined (network.mode host): allowed");
      return kAllowed;
    case NetMode::kNone:
      Say("network: none (network.mode none): every connection is refused");
      Say("fix: use network.mode auto (or --mode namespace/platform) and add an endpoint {host: " +
          host + ", port: " + std::to_string(port) + "} to an entry of network_policies");
      return kRefused;
    default:
      break;
  }
  if (proxy::IsNonCanonicalIpLiteral(host)) {
    Say("refused: " + host + " is a non-canonical IP literal (the proxy refuses it)");
    Say("fix: write the address in its canonical form");
    return kRefused;
  }
  proxy::Matcher m(pol.network_policies);
  proxy::Stage s = m.MatchHostPort(host, port);
  if (s.endpoints.empty()) {
    Say("refused: " + s.reason);
    Say("fix: " + s.hint);
    return kRefused;
  }
  const auto& first = m.endpoint(s.endpoints.front());
  Say("endpoint: " +
      (first.host.empty() ? std::string("any host (allowed_ips only)") : first.host) +
      " in network_policies entry '" + m.policy(first.policy).name + "'");
  std::vector<int> eps = s.endpoints;
  if (!o.binary.empty()) {
    std::vector<std::string> exes{o.binary};
    char real[PATH_MAX];
    if (realpath(o.binary.c_str(), real) && o.binary != real) exes.insert(exes.begin(), real);
    proxy::Stage b = m.MatchBinary(eps, exes, o.binary);
    if (b.endpoints.empty()) {
      Say("refused: " + b.reason);
      Say("fix: " + b.hint);
      return kRefused;
    }
    eps = b.endpoints;
    Say("binary: " + o.binary + " is allowed by entry '" +
        m.policy(m.endpoint(eps.front()).policy).name + "'");
  } else if (!m.AnyBinary(eps)) {
    const auto& p = m.policy(first.policy);
    Say("binaries: only [" + Join(p.binaries) +
        "] (other programs are refused; give --binary B to check one)");
  }
  // The SSRF rule, where the address is known without asking DNS: a
  // literal, localhost, or a static name in network.hosts.
  std::vector<std::string> addrs;
  if (ParseIpLiteral(host)) {
    addrs.push_back(host);
  } else if (host == "localhost") {
    addrs = {"127.0.0.1", "::1"};
  } else if (auto it = pol.network.hosts.find(host); it != pol.network.hosts.end()) {
    addrs.push_back(it->second);
    Say("address: " + it->second + " (network.hosts)");
  }
  bool any_ok = addrs.empty();
  for (const auto& a : addrs) {
    auto ip = ParseIpLiteral(a);
    if (!ip) continue;
    std::string reason, hint;
    int i = m.MatchAddress(eps, host, *ip, &reason, &hint, proxy::IsHostAddress(*ip));
    if (i >= 0) {
      any_ok = true;
      Say("address " + ip->ToString() + ": allowed (SSRF rule" +
          (m.endpoint(i).allowed_ips.empty() ? std::string(": a public address")
                                             : std::string(": inside the endpoint's allowed_ips")) +
          ")");
    } else {
      Say("address " + ip->ToString() + ": refused: " + reason);
      Say("fix: " + hint);
    }
  }
  if (addrs.empty()) {
    bool ips = false;
    for (int i : eps) ips = ips || !m.endpoint(i).allowed_ips.empty();
    if (!ips)
      Say("note: the proxy resolves " + host +
          " when connecting; a loopback, private or link-local address is refused unless the "
          "endpoint lists it in allowed_ips (SSRF rule)");
  }
  // Clients that honour NO_PROXY go to a name in it directly, not through
  // the proxy whose rules are shown above.
  for (const auto& env : plan.env_additions) {
    if (env.rfind("NO_PROXY=", 0) != 0) continue;
    const std::string list = "," + env.substr(9) + ",";
    if (list.find("," + host + ",") != std::string::npos)
      Say("note: " + host + " is in the sandbox's NO_PROXY (" + env.substr(9) +
          "): clients that honour it connect directly, not through the proxy, and reach " +
          (plan.net.listener_channel.valid() ? "the sandbox's own loopback (namespace mode)"
                                             : "only ports in network.loopback_ports (platform "
                                               "mode)"));
  }
  Say(std::string("verdict: ") + (any_ok ? "allowed" : "refused"));
  return any_ok ? kAllowed : kRefused;
}

int WhyMain(const WhyOptions& o) {
  if (o.target.empty()) {
    fprintf(stderr, "ringfence: why: give a PATH or HOST:PORT\n");
    return kUsage;
  }
  if (!o.mode.empty() && !ParseNetMode(o.mode)) {
    fprintf(stderr, "ringfence: --mode must be auto, namespace, platform, none or host, not '%s'\n",
            TerminalText(o.mode).c_str());
    return kUsage;
  }
  std::string host;
  uint16_t port = 0;
  // A path is anything with a '/' or without a ":PORT" ending (./a:80 is a
  // file named "a:80").
  const bool is_path = o.target.find('/') == 0 || o.target.rfind("./", 0) == 0 ||
                       o.target.rfind("../", 0) == 0 || !SplitHostPort(o.target, &host, &port);
  if (!is_path && o.write) {
    fprintf(stderr, "ringfence: why: --write applies to a PATH, not to HOST:PORT\n");
    return kUsage;
  }
  if (is_path && !o.binary.empty()) {
    fprintf(stderr, "ringfence: why: --binary applies to HOST:PORT, not to a PATH\n");
    return kUsage;
  }
  Result<Policy> p = DefaultPolicy();
  if (!o.policy_file.empty()) {
    auto text = ReadPolicyText(o.policy_file);
    if (!text.ok()) {
      fprintf(stderr, "ringfence: %s\n", TerminalText(text.status().reason()).c_str());
      return kUsage;
    }
    p = LoadPolicyString(*text, o.policy_file);
  }
  if (!p.ok()) {
    fprintf(stderr, "%s\n", TerminalText(p.status().reason()).c_str());
    return kUsage;
  }
  char cwd[PATH_MAX];
  std::string wd = getcwd(cwd, sizeof cwd) ? cwd : "/";
  PlanOptions popts{wd, o.mode, nullptr};
  popts.default_processes = o.policy_file.empty();
  auto probe = ProbeHostFor(*p, popts);
  auto plan = probe.ok() ? BuildPlan(*p, popts, *probe) : Result<Plan>(probe.status());
  if (!plan.ok()) {
    fprintf(stderr, "ringfence: %s\n", TerminalText(plan.status().reason()).c_str());
    return kUsage;
  }
  return is_path ? WhyPath(o, *plan, wd) : WhyNet(o, *plan, host, port);
}

}  // namespace

CLI::App* AddWhyCommand(CLI::App& app) {
  auto o = std::make_shared<WhyOptions>();
  auto* cmd = app.add_subcommand(
      "why", "Which rule of the effective policy allows or refuses a PATH or HOST:PORT");
  cmd->add_option("target", o->target, "PATH (absolute or relative to here) or HOST:PORT")
      ->required();
  cmd->add_option("--policy", o->policy_file, "Policy file; default: embedded policy");
  cmd->add_option("--binary", o->binary, "HOST:PORT: the program that connects");
  cmd->add_option("--mode", o->mode, "Network mode override, as for run");
  cmd->add_flag("--write", o->write, "PATH: ask about writing (default: reading)");
  cmd->footer("Exit codes: 0 allowed, 1 refused, 2 usage error or unusable policy.");
  cmd->callback([o]() {
    fflush(nullptr);
    int rc = WhyMain(*o);
    fflush(nullptr);
    exit(rc);
  });
  return cmd;
}

}  // namespace rf
