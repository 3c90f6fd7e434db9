#include "policy/effective.h"

#include <dirent.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "common/path.h"
#include "gpu/devices.h"

namespace rf {

namespace {

// An MCP / JSON-RPC endpoint's rules and options, so that what is shown
// loads again (such an endpoint is invalid without its rules).
void AddRpcFields(const Endpoint& ep, nlohmann::json& e) {
  if (ep.protocol != "mcp" && ep.protocol != "json-rpc") return;
  auto rule = [](const L7Rule& r) {
    nlohmann::json j = nlohmann::json::object();
    if (!r.method.empty()) j["method"] = r.method;
    if (!r.tool.empty()) j["tool"] = {{"any", r.tool}};
    if (!r.params_name.empty()) j["params"] = {{"name", {{"any", r.params_name}}}};
    return j;
  };
  nlohmann::json allow = nlohmann::json::array(), deny = nlohmann::json::array();
  for (const auto& r : ep.rules) allow.push_back({{"allow", rule(r)}});
  for (const auto& r : ep.deny_rules) deny.push_back(rule(r));
  if (!allow.empty()) e["rules"] = allow;
  if (!deny.empty()) e["deny_rules"] = deny;
  if (ep.protocol == "mcp")
    e["mcp"] = {{"max_body_bytes", ep.rpc.max_body_bytes},
                {"strict_tool_names", ep.rpc.strict_tool_names},
                {"allow_all_known_mcp_methods", ep.rpc.allow_all_known_methods}};
  else
    e["json_rpc"] = {{"max_body_bytes", ep.rpc.max_body_bytes}};
}

// Removes from `v` the repeats and what `exclude` holds, keeping the first
// of each in order. Policies list tens of paths: a linear search.
void Dedup(std::vector<std::string>& v, const std::vector<std::string>& exclude) {
  auto in = [](const std::vector<std::string>& list, size_t n, const std::string& s) {
    return std::find(list.begin(), list.begin() + static_cast<long>(n), s) !=
           list.begin() + static_cast<long>(n);
  };
  size_t kept = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (in(exclude, exclude.size(), v[i]) || in(v, kept, v[i])) continue;
    if (kept != i) v[kept] = std::move(v[i]);
    ++kept;
  }
  v.resize(kept);
}

bool ExistsUnder(const std::string& root, const std::string& path) {
  struct stat st;
  return stat(UnderRoot(root, path).c_str(), &st) == 0;
}

// Entries of `dir` (host path, looked up under root) starting with `prefix`.
std::vector<std::string> ListPrefixed(const std::string& root, const std::string& dir,
                                      const std::string& prefix) {
  std::vector<std::string> out;
  DIR* d = opendir(UnderRoot(root, dir).c_str());
  if (!d) return out;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind(prefix, 0) == 0) out.push_back(dir + "/" + name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// Proxy baseline: what any program needs to start and to reach the proxy.
void AddProxyBaseline(FilesystemPolicy& fs, const std::string& root) {
  for (const char* p : {"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/proc", "/dev/urandom"})
    if (ExistsUnder(root, p)) fs.read_only.push_back(p);
  // Not /tmp: the sandbox gets its own (src/sandbox/private_tmp.h); the
  // host's only when the policy lists it.
  if (ExistsUnder(root, "/dev/null")) fs.read_write.push_back("/dev/null");
}

// GPU baseline; docs/gpu.md explains each path.
void AddGpuBaseline(FilesystemPolicy& fs, const std::string& root, bool own_proc) {
  for (const auto& node : FindGpuDeviceNodes(root)) fs.read_write.push_back(node.path);
  // CUDA writes /proc/<pid>/task/<tid>/comm in cuInit (and fails when it
  // cannot). A rule binds an inode, so only /proc itself covers every
  // sandboxed process; on the host's /proc that also opens the per-process
  // files of every other process of the sandbox's uid (oom_score_adj,
  // clear_refs...), so there only the command's own task directory is
  // writable, by a rule the command adds before confining itself.
  if (ExistsUnder(root, "/proc")) {
    if (own_proc) {
      fs.read_write.push_back("/proc");
    } else {
      fs.read_only.push_back("/proc");
      fs.own_task_dir_writable = true;
    }
  }
  std::vector<std::string> ro = {"/run/nvidia-persistenced", "/usr/lib/wsl",
                                 "/sys/bus/pci/devices",     "/sys/devices/system/cpu",
                                 "/sys/devices/system/node", "/sys/module/nvidia",
                                 "/sys/module/nvidia_uvm",   "/sys/class/kfd",
                                 "/sys/devices/virtual/kfd", "/sys/class/drm"};
  // /sys/bus/pci/devices/* are symlinks into the PCI roots; Landlock checks
  // the resolved path.
  for (auto& p : ListPrefixed(root, "/sys/devices", "pci")) ro.push_back(p);
  for (const auto& p : ro)
    if (ExistsUnder(root, p)) fs.read_only.push_back(p);
}

void EmitYaml(YAML::Emitter& out, const nlohmann::json& j) {
  if (j.is_object()) {
    out << (j.empty() ? YAML::Flow : YAML::Block) << YAML::BeginMap;
    for (auto it = j.begin(); it != j.end(); ++it) {
      out << YAML::Key << it.key() << YAML::Value;
      EmitYaml(out, it.value());
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    bool flat = std::all_of(j.begin(), j.end(), [](const auto& x) { return x.is_primitive(); });
    out << (flat ? YAML::Flow : YAML::Block) << YAML::BeginSeq;
    for (const auto& x : j) EmitYaml(out, x);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    // YAML 1.1 readers take these as booleans or null: `gpu: off` must stay
    // the string it is for any tool that reads the output.
    static const char* kAmbiguous[] = {"y",   "n",    "yes",   "no",   "on",
                                       "off", "true", "false", "null", "~"};
    std::string s = j.get<std::string>();
    std::string lower = s;
    for (auto& ch : lower) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    bool quote = std::any_of(std::begin(kAmbiguous), std::end(kAmbiguous),
                             [&](const char* a) { return lower == a; });
    if (quote) out << YAML::DoubleQuoted;
    out << s;
  } else if (j.is_boolean()) {
    out << j.get<bool>();
  } else if (j.is_number_integer()) {
    out << j.get<long long>();
  } else if (j.is_number()) {
    out << j.get<double>();
  } else {
    out << YAML::Null;
  }
}

}  // namespace

EffectivePolicy Enrich(Policy p, const EnrichContext& ctx) {
  EffectivePolicy e;
  e.policy = std::move(p);
  const Policy& in = e.policy;
  auto& fs = e.policy.filesystem;
  if (fs.include_workdir && !ctx.workdir.empty()) fs.read_write.push_back(ctx.workdir);
  if (ctx.mode == NetMode::kNamespace || ctx.mode == NetMode::kPlatform)
    AddProxyBaseline(fs, ctx.root);
  if (in.gpu == GpuMode::kOn || (in.gpu == GpuMode::kAuto && GpuPresent(ctx.root))) {
    AddGpuBaseline(fs, ctx.root, ctx.own_proc);
    if (FindGpuDeviceNodes(ctx.root).empty())
      e.warnings.push_back("gpu: on, but no GPU device node was found");
    if (fs.own_task_dir_writable)
      e.warnings.push_back(
          "gpu: /proc is the host's here (no PID namespace): only the command's own threads can "
          "be named through /proc/<pid>/task/<tid>/comm; CUDA (driver 570+) in a process the "
          "command starts fails in cuInit (docs/gpu.md)");
  }
  Dedup(fs.read_write, {});
  Dedup(fs.read_only, fs.read_write);
  // Credentials carried where the proxy cannot see them (docs/credentials.md).
  nlohmann::json weakened = nlohmann::json::array();
  for (const auto& np : in.network_policies)
    for (size_t k = 0; k < np.endpoints.size(); ++k)
      if (np.endpoints[k].credentials.allow_uninspected)
        weakened.push_back("network_policies." + np.key + ".endpoints[" + std::to_string(k) + "]");
  if (!in.credentials.empty() || !weakened.empty()) {
    nlohmann::json names = nlohmann::json::array();
    for (const auto& c : in.credentials) names.push_back(c.name);
    e.layers["credentials"] = {
        {"names", names},
        {"values", "in the supervisor's memory only; the command sees placeholders"},
        {"allow_uninspected_credentials",
         weakened.empty() ? nlohmann::json("none") : nlohmann::json(weakened)}};
    for (const auto& w : weakened)
      e.warnings.push_back(w.get<std::string>() +
                           ": allow_uninspected_credentials: true (weakened boundary: a "
                           "credential placeholder there is neither rewritten nor refused)");
  }
  return e;
}

nlohmann::json PolicyToJson(const Policy& p) {
  using nlohmann::json;
  json j;
  j["version"] = p.version;
  j["filesystem_policy"] = {{"include_workdir", p.filesystem.include_workdir},
                            {"read_only", p.filesystem.read_only},
                            {"read_write", p.filesystem.read_write},
                            {"protected", p.filesystem.protected_paths},
                            {"deny_read", p.filesystem.deny_read}};
  if (!p.filesystem.tmp_size.empty()) j["filesystem_policy"]["tmp_size"] = p.filesystem.tmp_size;
  j["landlock"] = {{"compatibility", ToString(p.compatibility)}};
  j["process"] = {{"run_as_user", p.process.run_as_user},
                  {"run_as_group", p.process.run_as_group},
                  {"sysv_ipc", p.process.sysv_ipc},
                  {"home", p.process.home}};
  if (!p.process.limits.empty()) {
    // Bytes and seconds: what the loader reads back unchanged.
    const ProcessLimits& l = p.process.limits;
    json limits = json::object();
    if (l.memory) limits["memory"] = *l.memory;
    if (l.processes) limits["processes"] = *l.processes;
    if (l.cpu) limits["cpu"] = *l.cpu;
    if (l.wall_time) limits["wall_time"] = *l.wall_time;
    if (l.file_size) limits["file_size"] = *l.file_size;
    if (l.open_files) limits["open_files"] = *l.open_files;
    j["process"]["limits"] = limits;
  }
  if (p.process.environment != EnvironmentPolicy{})
    j["process"]["environment"] = {{"inherit", ToString(p.process.environment.inherit)},
                                   {"include", p.process.environment.include},
                                   {"exclude", p.process.environment.exclude}};
  json net = {{"mode", ToString(p.network.mode)},
              {"proxy_port", p.network.proxy_port},
              {"loopback_ports", p.network.loopback_ports},
              {"bind_ports", p.network.bind_ports},
              {"hosts", p.network.hosts},
              {"unix_sockets", p.network.unix_sockets},
              {"unix_datagram", p.network.unix_datagram}};
  // The URL's credentials are never shown (the sandbox may run `policy show`).
  std::string upstream = p.network.upstream_proxy.empty() ? "off" : p.network.upstream_proxy;
  if (size_t at = upstream.rfind('@'); at != std::string::npos)
    upstream = "http://<credentials>@" + upstream.substr(at + 1);
  net["upstream_proxy"] = upstream;
  j["network"] = net;
  j["gpu"] = ToString(p.gpu);
  json nps = json::object();
  for (const auto& np : p.network_policies) {
    json eps = json::array();
    for (const auto& ep : np.endpoints) {
      // A hostless endpoint (allowed_ips alone) has no host to show: an
      // empty one would not load again.
      json e = {{"ports", ep.ports}};
      if (!ep.host.empty()) e["host"] = ep.host;
      if (!ep.allowed_ips.empty()) e["allowed_ips"] = ep.allowed_ips;
      if (!ep.protocol.empty()) e["protocol"] = ep.protocol;
      if (!ep.enforcement.empty()) e["enforcement"] = ep.enforcement;
      if (!ep.access.empty()) e["access"] = ep.access;
      if (!ep.tls.empty()) e["tls"] = ep.tls;
      if (!ep.path.empty()) e["path"] = ep.path;
      if (!ep.credentials.binding.empty())
        e["credential_binding"] = {{"provider", ep.credentials.binding}};
      if (ep.credentials.allow_uninspected) e["allow_uninspected_credentials"] = true;
      if (ep.credentials.body_rewrite) e["request_body_credential_rewrite"] = true;
      AddRpcFields(ep, e);
      eps.push_back(e);
    }
    json bins = json::array();
    for (const auto& b : np.binaries) bins.push_back({{"path", b.path}});
    nps[np.key] = {{"name", np.name}, {"endpoints", eps}, {"binaries", bins}};
  }
  j["network_policies"] = nps;
  if (!p.credentials.empty()) {
    json creds = json::object();
    for (const auto& c : p.credentials) {
      json eps = json::array();
      for (const auto& b : c.endpoints) {
        json e = {{"host", b.host}, {"port", b.port}};
        if (!b.path.empty()) e["path"] = b.path;
        eps.push_back(e);
      }
      creds[c.name] = {{"from", c.from}, {"endpoints", eps}};
      if (!c.provider.empty()) creds[c.name]["provider"] = c.provider;
    }
    j["credentials"] = creds;
  }
  return j;
}

nlohmann::json EffectiveToJson(const EffectivePolicy& e) {
  nlohmann::json j = PolicyToJson(e.policy);
  j["source"] = e.policy.source;
  j["enforcement"] = e.layers;
  if (!e.warnings.empty()) j["warnings"] = e.warnings;
  return j;
}

std::string JsonToYaml(const nlohmann::json& j) {
  YAML::Emitter out;
  EmitYaml(out, j);
  return std::string(out.c_str()) + "\n";
}

}  // namespace rf
