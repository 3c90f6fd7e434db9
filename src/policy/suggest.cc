#include "policy/suggest.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>

#include "policy/cidr.h"
#include "proxy/ssrf.h"

namespace rf {

namespace {

// Bounds: a log is read line by line; a line longer than this is not an
// event of ours (FormatWithin keeps events far below it on streams).
constexpr size_t kMaxLine = 1 << 20;

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int Int(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return -1;
  if (it->is_number_integer()) return it->get<int>();
  return -1;
}

// Why a host must not be proposed, or "" when an exact entry for it is fine.
// Names are judged as written: what a name resolves to is decided again at
// every connection by the SSRF filter.
std::string HostRefusal(const std::string& host) {
  if (host.empty()) return "no host in the event";
  if (host.find_first_of("*?[") != std::string::npos) return "a wildcard";
  if (auto ip = ParseIpLiteral(host)) {
    if (ip->family == AF_INET && host == "169.254.169.254") return "the cloud metadata address";
    auto cls = proxy::Classify(*ip);
    if (cls == proxy::AddrClass::kPublic) return "";
    return std::string("a ") + proxy::ToString(cls) + " address";
  }
  if (proxy::IsNonCanonicalIpLiteral(host)) return "an IP address in a non-canonical form";
  std::string lower = host;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "localhost" || (lower.size() > 10 && lower.ends_with(".localhost")))
    return "a loopback name";
  if (lower == "metadata" || lower == "metadata.google.internal") return "a cloud metadata name";
  if (lower.find('.') == std::string::npos)
    return "a single-label name (a top-level domain or a local name)";
  return "";
}

// Hosts under one registrable name share an entry: the last two labels
// (github.com for api.github.com). An IP literal is its own group.
std::string GroupOf(const std::string& host) {
  if (ParseIpLiteral(host)) return host;
  size_t last = host.rfind('.');
  if (last == std::string::npos || last == 0) return host;
  size_t prev = host.rfind('.', last - 1);
  return prev == std::string::npos ? host : host.substr(prev + 1);
}

std::string KeyOf(const std::string& name) {
  std::string out = "suggested_";
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

void AddNotProposed(std::vector<NotProposed>& list, const std::string& what,
                    const std::string& why) {
  for (auto& n : list)
    if (n.what == what && n.why == why) {
      ++n.count;
      return;
    }
  list.push_back({what, why, 1});
}

// The ringfence event of a line: the event itself, or the `unmapped` part
// of an OCSF record.
bool EventOf(const nlohmann::json& j, nlohmann::json* out) {
  if (!j.is_object()) return false;
  if (j.contains("layer")) {
    *out = j;
    return true;
  }
  auto u = j.find("unmapped");
  if (u == j.end() || !u->is_object() || !u->contains("ringfence")) return false;
  *out = (*u)["ringfence"];
  if (!out->is_object()) return false;
  (*out)["reason"] = Str(j, "status_detail");
  return true;
}

// The next line of `in` into `line`, of which at most kMaxLine + 1 bytes
// are kept: a log holding a huge line (the command's own, on a shared
// stderr) costs no more memory than that. False at the end.
bool ReadLine(std::istream& in, std::string* line) {
  line->clear();
  std::streambuf* buf = in.rdbuf();
  bool any = false;
  for (int c = buf->sbumpc(); c != std::char_traits<char>::eof(); c = buf->sbumpc()) {
    any = true;
    if (c == '\n') return true;
    if (line->size() <= kMaxLine) line->push_back(static_cast<char>(c));
  }
  return any;
}

// Quoted as a YAML double-quoted scalar: JSON's escapes are YAML's.
std::string Q(const std::string& s) { return nlohmann::json(s).dump(); }

std::string PortsText(const std::set<int>& ports) {
  std::string out;
  for (int p : ports) out += (out.empty() ? "" : ", ") + std::to_string(p);
  return out;
}

}  // namespace

Suggestion SuggestFromLog(std::istream& log, const SuggestContext& ctx) {
  Suggestion s;
  // host -> binaries -> ports, with counts, before grouping.
  struct Seen {
    std::set<int> ports;
    uint64_t count = 0;
  };
  std::map<std::pair<std::string, std::string>, Seen> by_host_binary;
  std::map<std::tuple<std::string, std::string, int, std::string, std::string>, uint64_t> rules;
  std::string line;
  while (ReadLine(log, &line)) {
    ++s.lines;
    if (line.empty()) continue;
    nlohmann::json e;
    if (line.size() > kMaxLine || !EventOf(nlohmann::json::parse(line, nullptr, false), &e)) {
      ++s.unreadable;
      continue;
    }
    const std::string layer = Str(e, "layer"), action = Str(e, "action");
    if (action != "deny") continue;
    ++s.denials;
    const std::string subject = Str(e, "subject");
    if (layer == "proxy") {
      const std::string host = Str(e, "host");
      const int port = Int(e, "port");
      const std::string binary = Str(e, "binary");
      const std::string address = Str(e, "address");
      const std::string what = host + ":" + std::to_string(port);
      if (std::string why = HostRefusal(host); !why.empty()) {
        AddNotProposed(s.not_proposed, what, why);
      } else if (port <= 0 || port > 65535) {
        AddNotProposed(s.not_proposed, what, "no port in the event");
      } else if (!address.empty()) {
        // Refused by the SSRF filter: the name resolved to an address no
        // suggestion opens (allowed_ips is a person's decision).
        AddNotProposed(s.not_proposed, what,
                       "it resolved to " + address +
                           " (SSRF filter): allowed_ips for it is a decision to make by hand");
      } else if (binary.empty() || binary == "unknown") {
        AddNotProposed(s.not_proposed, what, "the calling binary is unknown");
      } else if (binary.find_first_of("*?[") != std::string::npos || binary[0] != '/') {
        AddNotProposed(s.not_proposed, what, "the binary path is not an exact absolute path");
      } else {
        Seen& seen = by_host_binary[{host, binary}];
        seen.ports.insert(port);
        ++seen.count;
      }
    } else if (layer == "http") {
      const std::string host = Str(e, "host"), method = Str(e, "method"), path = Str(e, "path"),
                        policy = Str(e, "policy");
      const int port = Int(e, "port");
      const std::string what = method + " " + host + ":" + std::to_string(port) + path;
      if (policy.empty() || method.empty() || path.empty() || path[0] != '/' || port <= 0) {
        AddNotProposed(s.not_proposed, what, "the request is not tied to a policy endpoint");
      } else if (path.find_first_of("*?[]{}\\") != std::string::npos) {
        AddNotProposed(s.not_proposed, what,
                       "the path holds glob characters: a rule for it would match more");
      } else {
        ++rules[{policy, host, port, method, path}];
      }
    } else if (layer == "network") {
      AddNotProposed(s.not_proposed, subject.rfind("unix:", 0) == 0 ? "unix sockets" : subject,
                     subject.rfind("unix:", 0) == 0
                         ? "unix sockets are granted by network.unix_sockets, a static part"
                         : "a direct connection, not through the proxy: the client should use "
                           "HTTP_PROXY/HTTPS_PROXY (or network.loopback_ports for a server "
                           "the sandbox runs itself)");
    } else {
      AddNotProposed(s.not_proposed, layer + " refusals",
                     "file system and system call grants are static, not network_policies");
    }
  }

  // host -> its binaries; then hosts of one group with the same binaries
  // make one entry.
  std::map<std::string, std::set<std::string>> binaries_of;
  std::map<std::string, std::set<int>> ports_of;
  std::map<std::string, uint64_t> count_of;
  for (const auto& [hb, seen] : by_host_binary) {
    binaries_of[hb.first].insert(hb.second);
    ports_of[hb.first].insert(seen.ports.begin(), seen.ports.end());
    count_of[hb.first] += seen.count;
  }
  std::map<std::pair<std::string, std::set<std::string>>, SuggestedPolicy> groups;
  for (const auto& [host, bins] : binaries_of) {
    SuggestedPolicy& p = groups[{GroupOf(host), bins}];
    p.hosts[host] = ports_of[host];
    p.binaries = bins;
    p.count += count_of[host];
    // The current policy pins the name to an address of its own choosing:
    // the entry must carry it for the SSRF filter to let it through.
    if (auto pin = ctx.pinned_hosts.find(host); pin != ctx.pinned_hosts.end()) {
      auto ip = ParseIpLiteral(pin->second);
      if (ip && proxy::Classify(*ip) != proxy::AddrClass::kPublic &&
          !proxy::NeverAllowed(proxy::Classify(*ip)))
        p.pinned[host] = pin->second;
    }
  }
  std::set<std::string> taken = ctx.taken_keys;
  for (auto& [key, p] : groups) {
    std::string name = p.hosts.size() == 1 ? p.hosts.begin()->first : key.first;
    std::string k = KeyOf(name);
    for (int i = 2; taken.count(k) && i < 1000; ++i) k = KeyOf(name) + "_" + std::to_string(i);
    taken.insert(k);
    p.key = k;
    s.policies.push_back(p);
  }
  for (const auto& [k, count] : rules)
    s.rules.push_back(
        {std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k), std::get<4>(k), count});
  return s;
}

std::string RenderSuggestion(const Suggestion& s, const std::string& source) {
  std::string out = "# ringfence policy suggest: " + source + ": " + std::to_string(s.denials) +
                    " refusal(s) in " + std::to_string(s.lines) + " line(s)\n";
  out += "# Nothing is applied: review, then `--write NEW_FILE` writes the policy with it.\n";
  if (s.policies.empty() && s.rules.empty()) out += "# nothing to propose\n";
  if (!s.policies.empty() || !s.rules.empty()) out += "network_policies:\n";
  for (const auto& p : s.policies) {
    std::string bins;
    for (const auto& b : p.binaries) bins += (bins.empty() ? "" : ", ") + b;
    std::string hosts;
    for (const auto& [h, ports] : p.hosts)
      hosts += (hosts.empty() ? "" : "; ") + h + " port " + PortsText(ports);
    out += "  # " + std::to_string(p.count) + " refusal(s): would open " + hosts + " to " + bins +
           "\n";
    for (const auto& [h, a] : p.pinned)
      out += "  # " + h + " is pinned to " + a +
             " by network.hosts of the current policy: allowed_ips names that address only\n";
    out += "  " + p.key + ":\n    name: " + p.key + "\n    endpoints:\n";
    for (const auto& [h, ports] : p.hosts)
      for (int port : ports) {
        out += "      - {host: " + Q(h) + ", port: " + std::to_string(port);
        if (auto pin = p.pinned.find(h); pin != p.pinned.end())
          out += ", allowed_ips: [" + Q(pin->second) + "]";
        out += "}\n";
      }
    out += "    binaries:\n";
    for (const auto& b : p.binaries) out += "      - {path: " + Q(b) + "}\n";
  }
  // Rules by endpoint of an existing entry.
  std::string last;
  for (const auto& r : s.rules) {
    const std::string at = r.policy + "\n" + r.host + ":" + std::to_string(r.port);
    if (at != last) {
      out += "  # existing entry: add to its endpoint " + r.host + ":" + std::to_string(r.port) +
             "\n  " + r.policy + ":\n    endpoints:\n      - host: " + Q(r.host) +
             "\n        port: " + std::to_string(r.port) + "\n        rules:\n";
      last = at;
    }
    out += "          # " + std::to_string(r.count) + " refusal(s): would allow " + r.method + " " +
           r.path + " (this path only)\n";
    out += "          - allow: {method: " + Q(r.method) + ", path: " + Q(r.path) + "}\n";
  }
  if (!s.not_proposed.empty()) out += "# not proposed:\n";
  for (const auto& n : s.not_proposed)
    out += "#   " + n.what + " (" + std::to_string(n.count) + "): not proposed: " + n.why + "\n";
  if (s.unreadable) out += "# " + std::to_string(s.unreadable) + " line(s) were not events\n";
  return out;
}

namespace {

// The method set of an `access` preset (docs/l7.md), as rules: an endpoint
// that gains a rule keeps what its preset allowed (access and rules are
// mutually exclusive).
std::vector<std::string> PresetMethods(const std::string& access) {
  if (access == "read-only") return {"GET", "HEAD", "OPTIONS"};
  if (access == "read-write") return {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"};
  if (access == "full") return {"*"};
  return {};
}

bool EndpointHasPort(const YAML::Node& ep, int port) {
  if (ep["port"] && ep["port"].IsScalar())
    return ep["port"].as<std::string>() == std::to_string(port);
  if (ep["ports"] && ep["ports"].IsSequence())
    for (const auto& p : ep["ports"])
      if (p.IsScalar() && p.as<std::string>() == std::to_string(port)) return true;
  return false;
}

YAML::Node FlowMap(std::initializer_list<std::pair<const char*, YAML::Node>> kv) {
  YAML::Node n(YAML::NodeType::Map);
  for (const auto& [k, v] : kv) n[k] = v;
  n.SetStyle(YAML::EmitterStyle::Flow);
  return n;
}

}  // namespace

Result<std::string> MergeSuggestion(const std::string& current, const Suggestion& s) {
  YAML::Node root;
  try {
    root = YAML::Load(current);
  } catch (const YAML::Exception& ex) {
    return Status::Error(std::string("the current policy is not YAML: ") + ex.what());
  }
  if (!root.IsMap()) return Status::Error("the current policy is not a YAML mapping");
  YAML::Node pols = root["network_policies"];
  if (!pols || pols.IsNull()) {
    root["network_policies"] = YAML::Node(YAML::NodeType::Map);
    pols = root["network_policies"];
  }
  if (!pols.IsMap())
    return Status::Error("network_policies of the current policy is not a mapping");
  for (const auto& p : s.policies) {
    YAML::Node entry(YAML::NodeType::Map);
    entry["name"] = p.key;
    YAML::Node eps(YAML::NodeType::Sequence);
    for (const auto& [h, ports] : p.hosts)
      for (int port : ports) {
        YAML::Node ep = FlowMap({{"host", YAML::Node(h)}, {"port", YAML::Node(port)}});
        if (auto pin = p.pinned.find(h); pin != p.pinned.end()) {
          YAML::Node ips(YAML::NodeType::Sequence);
          ips.push_back(pin->second);
          ips.SetStyle(YAML::EmitterStyle::Flow);
          ep["allowed_ips"] = ips;
        }
        eps.push_back(ep);
      }
    entry["endpoints"] = eps;
    YAML::Node bins(YAML::NodeType::Sequence);
    for (const auto& b : p.binaries) bins.push_back(FlowMap({{"path", YAML::Node(b)}}));
    entry["binaries"] = bins;
    pols[p.key] = entry;
  }
  for (const auto& r : s.rules) {
    YAML::Node pol = pols[r.policy];
    if (!pol || !pol.IsMap() || !pol["endpoints"] || !pol["endpoints"].IsSequence())
      return Status::Error("network_policies." + r.policy +
                           " of the current policy has no endpoints: the log is of another policy");
    bool done = false;
    for (YAML::Node ep : pol["endpoints"]) {
      if (!ep.IsMap() || !ep["host"] || ep["host"].as<std::string>() != r.host ||
          !EndpointHasPort(ep, r.port))
        continue;
      YAML::Node rules = ep["rules"];
      if (!rules || !rules.IsSequence()) {
        rules = YAML::Node(YAML::NodeType::Sequence);
        if (ep["access"]) {
          for (const auto& m : PresetMethods(ep["access"].as<std::string>()))
            rules.push_back(FlowMap(
                {{"allow",
                  FlowMap({{"method", YAML::Node(m)}, {"path", YAML::Node(std::string("**"))}})}}));
          ep.remove("access");
        }
        ep["rules"] = rules;
      }
      rules.push_back(FlowMap(
          {{"allow", FlowMap({{"method", YAML::Node(r.method)}, {"path", YAML::Node(r.path)}})}}));
      done = true;
      break;
    }
    if (!done)
      return Status::Error("network_policies." + r.policy + " has no endpoint " + r.host + ":" +
                           std::to_string(r.port) + ": the log is of another policy");
  }
  YAML::Emitter out;
  out << root;
  if (!out.good()) return Status::Error(std::string("cannot write YAML: ") + out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

}  // namespace rf
