#include "policy/sections.h"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/status.h"
#include "l7/glob.h"
#include "l7/rules.h"
#include "policy/cidr.h"
#include "policy/l7_rules.h"
#include "policy/loader.h"
#include "proxy/ssrf.h"
#include "proxy/upstream.h"

namespace rf {
namespace load {
namespace {

// Why `h` is refused as an address-looking name ("" when it is not one).
// Resolvers read `127.1`, `0x7f.1`, `0177.0.0.1` and `2130706433` as
// 127.0.0.1 (inet_aton's forms), so such a "name" would reach an address the
// policy never spells; and no top-level domain is all digits.
std::string AddressLikeNote(const std::string& h) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1)
    return "";
  struct in_addr a;
  if (h.find('\0') == std::string::npos && inet_aton(h.c_str(), &a) == 1) {
    char canonical[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &a, canonical, sizeof canonical);
    return "is an IPv4 address in a non-canonical form; write it as " + std::string(canonical);
  }
  std::string rest = h;
  if (!rest.empty() && rest.back() == '.') rest.pop_back();
  const std::string last =
      rest.substr(rest.rfind('.') == std::string::npos ? 0 : rest.rfind('.') + 1);
  if (!last.empty() && last.find_first_not_of("0123456789") == std::string::npos)
    return "is neither an IP address nor a host name (its last label is all digits)";
  return "";
}

bool ValidLabel(const std::string& label, bool wildcard_ok) {
  if (label.empty() || label.size() > 63) return false;
  if (wildcard_ok && (label == "*" || label == "**")) return true;
  if (label.find("**") != std::string::npos) return false;
  for (char c : label) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
          (wildcard_ok && c == '*')))
      return false;
  }
  return true;
}

// Why an allowed_ips range deserves a second look (empty: it does not). Such
// ranges are no real destination on most networks, yet some use them (a
// VPN's fake-IP DNS answers from 198.18.0.0/15, test registries from the
// documentation ranges), so naming them allows them.
std::string ReservedRangeNote(const Cidr& c) {
  using proxy::AddrClass;
  const bool v4 = c.base.family == AF_INET;
  if (c.prefix < (v4 ? 4 : 10)) return "";  // a wide range: mostly ordinary addresses
  const IpAddr a = proxy::EmbeddedIpv4(c.base);
  const uint8_t* b = a.bytes.data();
  if (a.family == AF_INET && b[0] == 198 && (b[1] & 0xfe) == 18)
    return "the benchmarking range 198.18.0.0/15: allowed because the policy names it";
  const AddrClass cls = proxy::Classify(c.base);
  if (cls == AddrClass::kReserved)
    return "a reserved range (documentation, future use or deprecated): allowed because the "
           "policy names it";
  if (proxy::NeverAllowed(cls))
    return std::string("a ") + proxy::ToString(cls) +
           " range: never reachable, whatever allowed_ips says";
  return "";
}

// What ringfence does not implement yet, by the OpenShell endpoint key that
// asks for it, with the issue that tracks it.
struct NotYet {
  const char* key;
  const char* feature;
};
constexpr NotYet kEndpointNotYet[] = {
    {"websocket_credential_rewrite",
     "credential rewriting in WebSocket messages (issue 26: credentials)"},
    {"credential_signing", "credential signing, SigV4 (issue 26: credentials)"},
    {"signing_service", "credential signing, SigV4 (issue 26: credentials)"},
    {"signing_region", "credential signing, SigV4 (issue 26: credentials)"},
};

// The inspected protocols OpenShell documents, with the issue that brings
// each here (tcp, not inspected, is handled by ValidateTransparentEndpoint).
const char* ProtocolIssue(const std::string& protocol) {
  if (protocol == "rest" || protocol == "websocket") return "issue 25: L7 policy";
  if (protocol == "graphql" || protocol == "mcp" || protocol == "json-rpc")
    return "issue 27: agent protocols";
  return nullptr;
}

// A protected or deny_read pattern: a relative glob (matched at any depth
// below a grant) or an absolute one; no '..' or '.' component, no NUL, no
// empty component but a trailing '/' (a directory).
std::optional<std::string> ProtectPattern(Checker& c, const YAML::Node& n,
                                          const std::string& what) {
  auto s = c.String(n, what);
  if (!s) return std::nullopt;
  const std::string& p = *s;
  std::string body = p;
  if (body.size() > 1 && body.back() == '/') body.pop_back();
  bool bad = p.find('\0') != std::string::npos || body == "/";
  std::istringstream parts(body[0] == '/' ? body.substr(1) : body);
  std::string comp;
  while (!bad && std::getline(parts, comp, '/')) bad = comp.empty() || comp == "." || comp == "..";
  if (bad) {
    c.Error(n.Mark(),
            what + " '" + p + "' must be a path or glob without empty, '.' or '..' components");
    return std::nullopt;
  }
  return p;
}

// tmpfs's size= syntax, kept to what is unambiguous: digits, then k, m, g
// (any case) or %; never zero (tmpfs reads size=0 as "unlimited").
bool ValidTmpSize(const std::string& s) {
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0 || digits > 12) return false;
  if (s.find_first_not_of('0') >= digits) return false;
  const std::string rest = s.substr(digits);
  if (rest == "%") return std::stol(s.substr(0, digits)) <= 100;
  return rest.empty() ||
         (rest.size() == 1 && std::string("kKmMgG").find(rest) != std::string::npos);
}

}  // namespace

void LoadFilesystem(Checker& c, const YAML::Node& n, Policy& p) {
  p.filesystem.include_workdir = false;  // OpenShell: false once the section exists
  std::vector<std::string> extra;
  c.ForEachKey(
      n, "filesystem_policy",
      {"include_workdir", "read_only", "read_write", "protected", "protected_extra", "deny_read",
       "tmp_size"},
      [&](const std::string& key, const YAML::Node&, const YAML::Node& v) {
        if (key == "include_workdir") {
          if (auto b = c.Bool(v, "filesystem_policy.include_workdir"))
            p.filesystem.include_workdir = *b;
          return;
        }
        if (key == "tmp_size") {
          auto s = c.String(v, "filesystem_policy.tmp_size");
          if (!s) return;
          if (!ValidTmpSize(*s)) {
            c.Error(v.Mark(),
                    "filesystem_policy.tmp_size must be a positive size with an optional k, m, "
                    "g suffix or a percentage of RAM (512m, 2g, 25%), not '" +
                        *s + "'");
            return;
          }
          p.filesystem.tmp_size = *s;
          return;
        }
        if (key == "protected" || key == "protected_extra" || key == "deny_read") {
          std::vector<std::string>* list = &extra;
          if (key == "protected") {
            list = &p.filesystem.protected_paths;
            list->clear();
          } else if (key == "deny_read") {
            list = &p.filesystem.deny_read;
          }
          c.Sequence(v, "filesystem_policy." + key, [&](const YAML::Node& item) {
            if (!c.Within(c.paths, kMaxPaths, item.Mark(),
                          "paths and patterns in filesystem_policy"))
              return;
            if (auto pat = ProtectPattern(c, item, "filesystem_policy." + key + " entry"))
              list->push_back(*pat);
          });
          return;
        }
        auto& list = key == "read_only" ? p.filesystem.read_only : p.filesystem.read_write;
        c.Sequence(v, "filesystem_policy." + key, [&](const YAML::Node& item) {
          if (!c.Within(c.paths, kMaxPaths, item.Mark(),
                        "paths in filesystem_policy read_only and read_write"))
            return;
          auto path = c.Path(item, "filesystem_policy." + key + " entry");
          if (!path) return;
          if (key == "read_write") {
            for (const auto& r : RefusedReadWritePaths()) {
              if (*path != r.path) continue;
              c.Error(item.Mark(), "filesystem_policy.read_write must not grant '" +
                                       std::string(r.path) + "' (" + r.why + ")");
              return;
            }
          }
          list.push_back(*path);
        });
      });
  for (auto& e : extra)
    if (std::find(p.filesystem.protected_paths.begin(), p.filesystem.protected_paths.end(), e) ==
        p.filesystem.protected_paths.end())
      p.filesystem.protected_paths.push_back(std::move(e));
}

void LoadLandlock(Checker& c, const YAML::Node& n, Policy& p) {
  c.ForEachKey(n, "landlock", {"compatibility"},
               [&](const std::string&, const YAML::Node&, const YAML::Node& v) {
                 auto s = c.String(v, "landlock.compatibility");
                 if (!s) return;
                 if (*s == "best_effort") {
                   p.compatibility = Compatibility::kBestEffort;
                 } else if (*s == "hard_requirement") {
                   p.compatibility = Compatibility::kHardRequirement;
                 } else {
                   c.Error(v.Mark(),
                           "landlock.compatibility must be best_effort or hard_requirement, not '" +
                               *s + "'");
                 }
               });
}

namespace {

void LoadLimits(Checker& c, const YAML::Node& n, Policy& p) {
  c.ForEachKey(n, "process.limits",
               {"memory", "processes", "cpu", "wall_time", "file_size", "open_files"},
               [&](const std::string& key, const YAML::Node&, const YAML::Node& v) {
                 auto s = c.String(v, "process.limits." + key);
                 if (!s) return;
                 Status st = ParseLimit(key, *s, p.process.limits);
                 if (!st.ok()) c.Error(v.Mark(), "process.limits." + key + " " + st.reason());
               });
}

// process.environment (ringfence): inherit, include, exclude. A pattern is a
// glob on names (l7/glob.h syntax), without '=' (no name holds one).
void LoadEnvironment(Checker& c, const YAML::Node& n, Policy& p) {
  EnvironmentPolicy& env = p.process.environment;
  c.ForEachKey(n, "process.environment", {"inherit", "include", "exclude"},
               [&](const std::string& key, const YAML::Node&, const YAML::Node& v) {
                 const std::string where = "process.environment." + key;
                 if (key == "inherit") {
                   auto s = c.String(v, where);
                   if (!s) return;
                   if (auto e = ParseEnvInherit(*s))
                     env.inherit = *e;
                   else
                     c.Error(v.Mark(), where + " must be all, core or none, not '" + *s + "'");
                   return;
                 }
                 std::vector<std::string>& list = key == "include" ? env.include : env.exclude;
                 c.Sequence(v, where, [&](const YAML::Node& item) {
                   auto s = c.String(item, where + " entry");
                   if (!s) return;
                   if (s->find('=') != std::string::npos) {
                     c.Error(item.Mark(),
                             where + " entry '" + *s +
                                 "' must be a variable name or a glob on names, without '='");
                     return;
                   }
                   if (Status ok = l7::ValidateGlob(*s); !ok.ok()) {
                     c.Error(item.Mark(), where + " entry '" + *s + "': " + ok.reason());
                     return;
                   }
                   list.push_back(*s);
                 });
               });
}

}  // namespace

void LoadProcess(Checker& c, const YAML::Node& n, Policy& p) {
  c.ForEachKey(
      n, "process", {"run_as_user", "run_as_group", "sysv_ipc", "home", "limits", "environment"},
      [&](const std::string& key, const YAML::Node&, const YAML::Node& v) {
        if (key == "limits") {
          LoadLimits(c, v, p);
          return;
        }
        if (key == "environment") {
          LoadEnvironment(c, v, p);
          return;
        }
        if (key == "sysv_ipc") {
          if (auto b = c.Bool(v, "process.sysv_ipc")) p.process.sysv_ipc = *b;
          return;
        }
        if (key == "home") {
          auto s = c.String(v, "process.home");
          if (!s) return;
          if (Status ok = CheckHomeSetting(*s); !ok.ok()) {
            c.Error(v.Mark(), ok.reason());
            return;
          }
          p.process.home = *s;
          p.marks.at["process.home"] = c.Where(v.Mark());
          return;
        }
        auto s = c.String(v, "process." + key);
        if (!s) return;
        if (*s == "root" || *s == "0") {
          c.Error(v.Mark(),
                  "process." + key + " must not be root: the sandbox never runs as uid/gid 0");
          return;
        }
        (key == "run_as_user" ? p.process.run_as_user : p.process.run_as_group) = *s;
        (key == "run_as_user" ? p.process.run_as_user_given : p.process.run_as_group_given) = true;
        p.marks.at["process." + key] = c.Where(v.Mark());
      });
}

void LoadNetwork(Checker& c, const YAML::Node& n, Policy& p) {
  auto& net = p.network;
  c.ForEachKey(
      n, "network",
      {"mode", "proxy_port", "loopback_ports", "bind_ports", "hosts", "unix_sockets",
       "unix_datagram", "upstream_proxy", "upstream_ca"},
      [&](const std::string& key, const YAML::Node&, const YAML::Node& v) {
        if (key == "mode") {
          auto s = c.String(v, "network.mode");
          if (!s) return;
          auto m = ParseNetMode(*s);
          if (!m) {
            c.Error(
                v.Mark(),
                "network.mode must be auto, namespace, platform, none or host, not '" + *s + "'");
            return;
          }
          net.mode = *m;
        } else if (key == "proxy_port") {
          if (auto port = c.Integer(v, "network.proxy_port", 0, 65535))
            net.proxy_port = static_cast<uint16_t>(*port);
        } else if (key == "loopback_ports") {
          net.loopback_ports = c.PortList(v, "network.loopback_ports");
        } else if (key == "bind_ports") {
          net.bind_ports = c.PortList(v, "network.bind_ports");
        } else if (key == "hosts") {
          c.ForEachKey(v, "network.hosts", {},
                       [&](const std::string& name, const YAML::Node& k, const YAML::Node& addr) {
                         if (std::string note = AddressLikeNote(name); !note.empty()) {
                           c.Error(k.Mark(), "network.hosts key '" + name + "' " + note);
                           return;
                         }
                         if (!ValidHostPattern(name) || name.find('*') != std::string::npos) {
                           c.Error(k.Mark(), "network.hosts key '" + name + "' is not a host name");
                           return;
                         }
                         auto a = c.String(addr, "network.hosts." + name);
                         if (!a) return;
                         if (!ParseIpLiteral(*a)) {
                           c.Error(addr.Mark(), "network.hosts." + name +
                                                    " must be an IPv4 or IPv6 address, not '" + *a +
                                                    "'");
                           return;
                         }
                         net.hosts[name] = *a;
                       });
        } else if (key == "upstream_proxy") {
          auto u = c.String(v, "network.upstream_proxy");
          if (!u) return;
          if (*u != "off" && *u != "from_env") {
            auto parsed = proxy::ParseUpstreamProxyUrl(*u, "network.upstream_proxy");
            if (!parsed.ok()) {
              c.Error(v.Mark(), parsed.status().reason() + " (or off, from_env)");
              return;
            }
          }
          net.upstream_proxy = *u == "off" ? "" : *u;
        } else if (key == "upstream_ca") {
          if (auto path = c.Path(v, "network.upstream_ca")) net.upstream_ca = *path;
        } else if (key == "unix_datagram") {
          if (auto b = c.Bool(v, "network.unix_datagram")) net.unix_datagram = *b;
        } else if (key == "unix_sockets") {
          c.Sequence(v, "network.unix_sockets", [&](const YAML::Node& item) {
            // "@name": an abstract socket (docs/unix-sockets.md); else a path.
            if (item.IsScalar() && item.Scalar().size() > 1 && item.Scalar()[0] == '@') {
              if (auto name = c.String(item, "network.unix_sockets entry")) {
                if (name->find('\0') != std::string::npos)
                  c.Error(item.Mark(), "network.unix_sockets entry contains a NUL byte");
                else
                  net.unix_sockets.push_back(*name);
              }
            } else if (auto path = c.Path(item, "network.unix_sockets entry")) {
              net.unix_sockets.push_back(*path);
            }
          });
        }
      });
}

namespace {

// A matcher written as one glob or `{any: [globs]}` (query values, MCP
// tool names).
void LoadGlobMatcher(Checker& c, const YAML::Node& m, const std::string& at,
                     std::vector<std::string>& globs) {
  if (m.IsMap()) {
    c.ForEachKey(m, at, {"any"},
                 [&](const std::string&, const YAML::Node&, const YAML::Node& list) {
                   c.Sequence(list, at + ".any", [&](const YAML::Node& g) {
                     if (auto s = c.String(g, at + ".any entry")) globs.push_back(*s);
                   });
                 });
    if (globs.empty()) c.Error(m.Mark(), at + " needs a glob or any: [globs]");
  } else if (auto s = c.String(m, at)) {
    globs.push_back(*s);
  }
}

// A GraphQL rule field into `r`; false when `key` is not one.
bool LoadGraphqlRuleField(Checker& c, const std::string& key, const YAML::Node& v,
                          const std::string& at, L7Rule& r) {
  if (key == "operation_type") {
    if (auto s = c.String(v, at + ".operation_type")) r.operation_type = *s;
  } else if (key == "operation_name") {
    if (auto s = c.String(v, at + ".operation_name")) r.operation_name = *s;
  } else if (key == "fields") {
    if (v.IsSequence() && v.size() == 0)
      c.Error(v.Mark(), at + ".fields: an empty list matches nothing (remove it to match any)");
    c.Sequence(v, at + ".fields", [&](const YAML::Node& f) {
      if (auto s = c.String(f, at + ".fields entry")) r.fields.push_back(*s);
    });
  } else {
    return false;
  }
  r.graphql = true;
  return true;
}

// `graphql_persisted_queries: {HASH: {operation_type, operation_name, fields}}`.
void LoadPersistedQueries(Checker& c, const YAML::Node& n, const std::string& where, Endpoint& e) {
  c.ForEachKey(n, where, {}, [&](const std::string& key, const YAML::Node&, const YAML::Node& v) {
    const std::string at = where + "." + key;
    L7PersistedQuery q;
    q.key = key;
    c.ForEachKey(v, at, {"operation_type", "operation_name", "fields"},
                 [&](const std::string& field, const YAML::Node&, const YAML::Node& fv) {
                   (void)LoadGraphqlRuleField(c, field, fv, at, q.operation);
                 });
    if (v.IsMap() && q.operation.operation_type.empty())
      c.Error(v.Mark(), at + " needs an operation_type");
    e.graphql.registry.push_back(std::move(q));
  });
}

// `rules: [{allow: {method, path, query}}]` (allow) or
// `deny_rules: [{method, path, query}]`. Query values: a glob or {any: [..]}.
// On MCP endpoints `tool` and `params: {name}` instead of path and query
// (l7/jsonrpc.h checks the combinations); `protocol` is the endpoint's.
void LoadL7Rules(Checker& c, const YAML::Node& n, const std::string& where, bool allow,
                 const std::string& protocol, std::vector<L7Rule>& out) {
  const bool rpc = protocol == "mcp" || protocol == "json-rpc";
  if (n.IsSequence() && n.size() == 0) {
    c.Error(n.Mark(), where + ": an empty list is invalid (" +
                          (allow ? "use access: full, or remove rules" : "remove deny_rules") +
                          ")");
    return;
  }
  int i = 0;
  c.Sequence(n, where, [&](const YAML::Node& item) {
    const std::string at = where + "[" + std::to_string(i++) + "]";
    YAML::Node body = item;
    std::string body_at = at;
    if (allow) {
      bool have = false;
      c.ForEachKey(item, at, {"allow"},
                   [&](const std::string&, const YAML::Node&, const YAML::Node& v) {
                     body.reset(v);  // rebinds; `=` would overwrite the item in the document
                     have = true;
                   });
      if (!have) {
        if (item.IsMap()) c.Error(item.Mark(), at + " needs an allow entry");
        return;
      }
      body_at = at + ".allow";
    }
    L7Rule r;
    bool have_method = false, have_path = false, not_yet = false, have_http = false;
    c.ForEachKey(
        body, body_at,
        {"method", "path", "query", "operation_type", "operation_name", "fields", "tool", "params"},
        [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) {
          if (key == "method" || key == "path" || key == "query") have_http = true;
          if (key == "tool" || key == "params") {
            if (protocol != "mcp") {
              c.Error(k.Mark(), body_at + "." + key + " is an MCP rule field (protocol: mcp)");
            } else if (key == "tool") {
              LoadGlobMatcher(c, v, body_at + ".tool", r.tool);
            } else {
              c.ForEachKey(v, body_at + ".params", {"name"},
                           [&](const std::string&, const YAML::Node&, const YAML::Node& m) {
                             LoadGlobMatcher(c, m, body_at + ".params.name", r.params_name);
                           });
              if (v.IsMap() && r.params_name.empty())
                c.Error(v.Mark(), body_at + ".params needs name (MCP matches only params.name)");
            }
          } else if (LoadGraphqlRuleField(c, key, v, body_at, r)) {
            // operation_type, operation_name, fields
          } else if (key == "method") {
            if (auto s = c.String(v, body_at + ".method")) r.method = *s, have_method = true;
          } else if (key == "path") {
            if (auto s = c.String(v, body_at + ".path")) r.path = *s, have_path = true;
          } else {
            c.ForEachKey(v, body_at + ".query", {},
                         [&](const std::string& name, const YAML::Node&, const YAML::Node& m) {
                           L7QueryMatcher q;
                           q.name = name;
                           LoadGlobMatcher(c, m, body_at + ".query." + name, q.globs);
                           r.query.push_back(std::move(q));
                         });
          }
        });
    if (r.graphql && have_http) {
      // One rule judges either the HTTP request or the GraphQL operation.
      c.Error(body.Mark(), body_at +
                               ": method/path/query cannot be combined with "
                               "operation_type/operation_name/fields in one rule");
    } else if (body.IsMap() && !not_yet && !r.graphql) {
      // MCP and JSON-RPC rules have no path; whether an MCP rule may omit its
      // method depends on the endpoint's options (l7::ValidateRpc).
      if (!have_method && protocol != "mcp") c.Error(body.Mark(), body_at + " needs a method");
      if (!have_path && !rpc) c.Error(body.Mark(), body_at + " needs a path");
    }
    out.push_back(std::move(r));
  });
}

// `mcp: {max_body_bytes, strict_tool_names, allow_all_known_mcp_methods}`
// or `json_rpc: {max_body_bytes}`.
void LoadRpcOptions(Checker& c, const YAML::Node& v, const std::string& where,
                    const std::string& key, Endpoint& e) {
  e.rpc.section = key;
  std::vector<std::string> keys = {"max_body_bytes"};
  if (key == "mcp") keys.insert(keys.end(), {"strict_tool_names", "allow_all_known_mcp_methods"});
  c.ForEachKey(v, where, std::set<std::string>(keys.begin(), keys.end()),
               [&](const std::string& f, const YAML::Node&, const YAML::Node& fv) {
                 // The body is held in memory per request until it is judged.
                 if (f == "max_body_bytes") {
                   if (auto n = c.Integer(fv, where + ".max_body_bytes", 1, 16 << 20))
                     e.rpc.max_body_bytes = *n;
                 } else if (f == "strict_tool_names") {
                   if (auto b = c.Bool(fv, where + ".strict_tool_names"))
                     e.rpc.strict_tool_names = *b;
                 } else if (auto b = c.Bool(fv, where + ".allow_all_known_mcp_methods")) {
                   e.rpc.allow_all_known_methods = *b;
                 }
               });
}

// protocol: tcp (docs/transparent-tcp.md), validated as OpenShell does: a
// DNS host name (the sandbox reaches it through policy DNS and capture, so
// an address or a hostless entry has nothing to resolve), ports, and none
// of the fields that only mean something to an inspected endpoint (the
// bytes are carried uninspected: a rule there would be silently ignored).
void ValidateTransparentEndpoint(Checker& c, const YAML::Node& n, const std::string& where,
                                 const Endpoint& e, const YAML::Mark& protocol_mark) {
  if (!n["host"]) {
    c.Error(protocol_mark, where +
                               ": protocol: tcp needs a host (a DNS name, reached through "
                               "policy DNS); hostless allowed_ips entries are for the proxy");
  } else if (!e.host.empty() && (ParseIpLiteral(e.host) || e.host.back() == '.' ||
                                 e.host.find(':') != std::string::npos)) {
    c.Error(n["host"].Mark(), where + ".host '" + e.host +
                                  "': protocol: tcp needs a DNS host name (no address, no "
                                  "trailing dot)");
  } else if (e.host.find('*') != std::string::npos) {
    c.Warning(n["host"].Mark(),
              where + ".host '" + e.host +
                  "': a wildcard with protocol: tcp lets the sandbox resolve every matching "
                  "name, a channel for data in DNS labels; prefer exact names");
  }
  for (const char* key :
       {"path", "enforcement", "access", "rules", "deny_rules", "allow_encoded_slash", "mcp",
        "json_rpc", "request_body_credential_rewrite", "websocket_credential_rewrite",
        "credential_signing", "signing_service", "signing_region", "persisted_queries",
        "graphql_persisted_queries", "graphql_max_body_bytes"}) {
    if (n[key])
      c.Error(n[key].Mark(), where + "." + key +
                                 ": not valid with protocol: tcp (its bytes are carried "
                                 "without inspection)");
  }
}

void LoadEndpoint(Checker& c, const YAML::Node& n, const std::string& where, Endpoint& e) {
  bool have_port = false;
  YAML::Mark l7_mark, protocol_mark;
  std::string l7_field;
  std::set<std::string> keys = {"host",
                                "port",
                                "ports",
                                "allowed_ips",
                                "protocol",
                                "enforcement",
                                "access",
                                "tls",
                                "path",
                                "rules",
                                "deny_rules",
                                "allow_encoded_slash",
                                "credential_binding",
                                "allow_uninspected_credentials",
                                "request_body_credential_rewrite",
                                "mcp",
                                "json_rpc",
                                "persisted_queries",
                                "graphql_persisted_queries",
                                "graphql_max_body_bytes"};
  // The rules' fields depend on the protocol, wherever it stands in the map.
  std::string protocol_for_rules;
  if (n.IsMap() && n["protocol"] && n["protocol"].IsScalar())
    protocol_for_rules = n["protocol"].Scalar();
  for (const auto& ny : kEndpointNotYet) keys.insert(ny.key);
  c.ForEachKey(
      n, where, keys, [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) {
        for (const auto& ny : kEndpointNotYet) {
          if (key == ny.key) {
            c.Error(k.Mark(), where + "." + key + ": not supported yet: " + ny.feature);
            return;
          }
        }
        if (key == "host") {
          auto s = c.String(v, where + ".host");
          if (!s) return;
          if (std::string note = AddressLikeNote(*s); !note.empty()) {
            c.Error(v.Mark(), where + ".host '" + *s + "' " + note);
            return;
          }
          if (!ValidHostPattern(*s)) {
            c.Error(v.Mark(), where + ".host '" + *s +
                                  "' is not a host name, IP address or '*.'-wildcard of one");
            return;
          }
          e.host = *s;
        } else if ((key == "port" && n["ports"]) || (key == "ports" && n["port"])) {
          // Both: which one the author meant is unknown; merging them
          // would grant ports nobody wrote down on purpose.
          if (key == "ports")
            c.Error(k.Mark(),
                    where + " has both port and ports: give one (ports: [A, B] for several)");
          have_port = true;
        } else if (key == "port") {
          if (auto port = c.Port(v, where + ".port")) e.ports.push_back(*port);
          have_port = true;
        } else if (key == "ports") {
          auto ports = c.PortList(v, where + ".ports");
          e.ports.insert(e.ports.end(), ports.begin(), ports.end());
          have_port = true;
        } else if (key == "allowed_ips") {
          c.Sequence(v, where + ".allowed_ips", [&](const YAML::Node& item) {
            auto s = c.String(item, where + ".allowed_ips entry");
            if (!s) return;
            auto cidr = ParseCidr(*s);
            if (!cidr) {
              c.Error(item.Mark(),
                      where + ".allowed_ips entry '" + *s + "' is not an address or CIDR");
              return;
            }
            if (auto note = ReservedRangeNote(*cidr); !note.empty())
              c.Warning(item.Mark(), where + ".allowed_ips entry '" + *s + "' is " + note);
            e.allowed_ips.push_back(*s);
          });
        } else if (key == "enforcement") {
          auto s = c.String(v, where + ".enforcement");
          if (!s) return;
          if (*s != "enforce" && *s != "audit") {
            c.Error(v.Mark(), where + ".enforcement must be enforce or audit");
            return;
          }
          e.enforcement = *s;
        } else if (key == "rules" || key == "deny_rules") {
          e.has_l7_rules = true;
          if (l7_field.empty()) l7_field = key, l7_mark = k.Mark();
          LoadL7Rules(c, v, where + "." + key, key == "rules", protocol_for_rules,
                      key == "rules" ? e.rules : e.deny_rules);
        } else if (key == "credential_binding") {
          LoadCredentialBinding(c, v, where + ".credential_binding", e);
        } else if (key == "allow_uninspected_credentials" ||
                   key == "request_body_credential_rewrite") {
          auto b = c.Bool(v, where + "." + key);
          if (!b) return;
          (key == "allow_uninspected_credentials" ? e.credentials.allow_uninspected
                                                  : e.credentials.body_rewrite) = *b;
        } else if (key == "mcp" || key == "json_rpc") {
          LoadRpcOptions(c, v, where + "." + key, key, e);
        } else if (key == "persisted_queries") {
          auto s = c.String(v, where + ".persisted_queries");
          if (!s) return;
          if (*s != "deny" && *s != "allow_registered") {
            c.Error(v.Mark(), where + ".persisted_queries must be deny or allow_registered");
            return;
          }
          e.graphql.persisted_queries = *s;
          if (l7_field.empty()) l7_field = key, l7_mark = k.Mark();
        } else if (key == "graphql_persisted_queries") {
          LoadPersistedQueries(c, v, where + ".graphql_persisted_queries", e);
          if (l7_field.empty()) l7_field = key, l7_mark = k.Mark();
        } else if (key == "graphql_max_body_bytes") {
          // Bounded: the proxy holds this much per inspected request.
          if (auto b = c.Integer(v, where + ".graphql_max_body_bytes", 1, 16 << 20))
            e.graphql.max_body_bytes = *b;
          if (l7_field.empty()) l7_field = key, l7_mark = k.Mark();
        } else if (key == "allow_encoded_slash") {
          if (auto b = c.Bool(v, where + ".allow_encoded_slash")) e.allow_encoded_slash = *b;
          if (l7_field.empty()) l7_field = key, l7_mark = k.Mark();
        } else {
          auto s = c.String(v, where + "." + key);
          if (!s) return;
          if (key == "protocol") {
            if (*s != "tcp" && !ProtocolIssue(*s)) {
              c.Error(v.Mark(), where +
                                    ".protocol must be rest, websocket, graphql, "
                                    "mcp, json-rpc or tcp, not '" +
                                    *s + "'");
              return;
            }
            e.protocol = *s;
            protocol_mark = k.Mark();
          }
          if (key == "access") {
            if (*s != "read-only" && *s != "read-write" && *s != "full") {
              c.Error(v.Mark(), where + ".access must be read-only, read-write or full");
              return;
            }
            e.access = *s;
          }
          if (key == "tls") {
            if (*s == "terminate" || *s == "passthrough") {
              c.Warning(v.Mark(), where + ".tls: " + *s +
                                      " is deprecated and has no effect (TLS is detected; "
                                      "`skip` turns detection off)");
            } else if (*s != "skip") {
              c.Error(v.Mark(), where +
                                    ".tls must be skip (terminate and passthrough are "
                                    "deprecated no-ops)");
              return;
            }
            e.tls = *s;
          }
          if (key == "path") {
            if (Status g = l7::ValidateGlob(*s); !g.ok()) {
              c.Error(v.Mark(), where + ".path: " + g.reason());
              return;
            }
            e.path = *s;
          }
          if ((key == "protocol" || key == "access" || key == "path") && l7_field.empty())
            l7_field = key, l7_mark = k.Mark();
        }
      });
  if (!n.IsMap()) return;
  // OpenShell's legacy hostless form: allowed_ips alone names the destinations.
  if (e.host.empty() && !n["host"] && !n["allowed_ips"])
    c.Error(n.Mark(), where + " needs a host, or allowed_ips for any host");
  if (!have_port) c.Error(n.Mark(), where + " needs a port or ports");
  const std::string wants = e.rpc.section == "mcp" ? "mcp" : "json-rpc";
  if (!e.rpc.section.empty() && e.protocol != wants)
    c.Error(n[e.rpc.section].Mark(), where + "." + e.rpc.section + " needs protocol: " + wants);
  if (e.protocol == "mcp" && e.host.empty() && n["allowed_ips"])
    c.Error(n.Mark(), where +
                          ": protocol: mcp needs a concrete host (not a hostless allowed_ips "
                          "endpoint)");
  if (e.protocol != "graphql" && e.protocol != "websocket" &&
      (!e.graphql.persisted_queries.empty() || n["graphql_persisted_queries"] ||
       n["graphql_max_body_bytes"]))
    c.Error(l7_mark, where +
                         ": persisted_queries, graphql_persisted_queries and "
                         "graphql_max_body_bytes need protocol: graphql (or websocket)");
  if (Inspected(e)) {
    if (Status st = l7::Validate(ToL7Rules(e, where)); !st.ok())
      c.Error(l7_mark.is_null() ? n.Mark() : l7_mark, st.reason());
  } else if (e.protocol.empty() &&
             (e.has_l7_rules || !e.access.empty() || e.allow_encoded_slash || !e.path.empty())) {
    c.Error(l7_mark,
            where +
                ": access, rules, deny_rules, path and allow_encoded_slash need a protocol "
                "(rest, websocket, graphql, mcp or json-rpc)");
  }
  CheckEndpointCredentials(c, n, where, e);
  if (e.protocol == "tcp") {
    ValidateTransparentEndpoint(c, n, where, e, protocol_mark);
  } else if (!l7_field.empty() && e.enforcement != "audit" && !e.protocol.empty() &&
             !Inspected(e)) {
    const std::string issue =
        e.protocol.empty() ? "issue 25: L7 policy" : ProtocolIssue(e.protocol);
    c.Error(l7_mark, where + "." + l7_field + ": not supported yet: L7 inspection (" + issue +
                         "); the endpoint would be silently widened to L4. Remove the L7 "
                         "fields or set `enforcement: audit`");
  }
}

}  // namespace

void LoadNetworkPolicies(Checker& c, const YAML::Node& n, Policy& p) {
  c.ForEachKey(
      n, "network_policies", {},
      [&](const std::string& key, const YAML::Node&, const YAML::Node& v) {
        NetworkPolicy np;
        np.key = key;
        np.name = key;
        const std::string where = "network_policies." + key;
        bool have_endpoints = false;
        c.ForEachKey(
            v, where, {"name", "endpoints", "binaries"},
            [&](const std::string& f, const YAML::Node&, const YAML::Node& fv) {
              if (f == "name") {
                if (auto s = c.String(fv, where + ".name")) np.name = *s;
              } else if (f == "endpoints") {
                have_endpoints = true;
                int i = 0;
                c.Sequence(fv, where + ".endpoints", [&](const YAML::Node& item) {
                  if (!c.Within(c.endpoints, kMaxEndpoints, item.Mark(),
                                "endpoints in network_policies (all policies together)"))
                    return;
                  Endpoint e;
                  LoadEndpoint(c, item, where + ".endpoints[" + std::to_string(i++) + "]", e);
                  np.endpoints.push_back(std::move(e));
                });
              } else {
                int i = 0;
                c.Sequence(fv, where + ".binaries", [&](const YAML::Node& item) {
                  if (!c.Within(c.binaries, kMaxBinaries, item.Mark(),
                                "binaries in network_policies (all policies together)"))
                    return;
                  Binary b;
                  const std::string bw = where + ".binaries[" + std::to_string(i++) + "]";
                  c.ForEachKey(item, bw, {"path"},
                               [&](const std::string&, const YAML::Node&, const YAML::Node& pv) {
                                 if (auto path = c.Path(pv, bw + ".path")) b.path = *path;
                               });
                  if (item.IsMap() && !item["path"]) c.Error(item.Mark(), bw + " needs a path");
                  np.binaries.push_back(std::move(b));
                });
              }
            });
        if (v.IsMap() && !have_endpoints) c.Error(v.Mark(), where + " needs endpoints");
        // OpenShell documents an empty list as "any binary" (docs/sandboxes/
        // policies.mdx) and ringfence follows that; OpenShell's engine with
        // binary identity required, its default, matches no binary instead.
        if (v.IsMap() && np.binaries.empty())
          c.Warning(v.Mark(), where +
                                  " has no binaries: any binary in the sandbox may use it "
                                  "(OpenShell's default engine lets none; list the binaries)");
        p.network_policies.push_back(std::move(np));
      });
}

}  // namespace load

// A DNS name, an IP literal, or (OpenShell's rule) a name with wildcards in
// its first label only: `*.`/`**.` as the whole label, or `*` inside it
// (`*-aiplatform.googleapis.com`). A wildcard must leave at least two labels
// (no `*.com`).
bool ValidHostPattern(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  unsigned char buf[16];
  if (inet_pton(AF_INET6, h.c_str(), buf) == 1) return true;
  std::string rest = h;
  if (rest.back() == '.') rest.pop_back();
  if (!load::AddressLikeNote(h).empty()) return false;
  std::vector<std::string> labels;
  std::istringstream in(rest);
  for (std::string label; std::getline(in, label, '.');) labels.push_back(label);
  if (labels.empty() || rest.empty() || rest.back() == '.') return false;
  for (size_t i = 0; i < labels.size(); ++i)
    if (!load::ValidLabel(labels[i], i == 0)) return false;
  return labels[0].find('*') == std::string::npos || labels.size() >= 3;
}

namespace {

// Digits with an optional fraction (cpu only), then a suffix from
// `suffixes` (each with its multiplier). Bounded so nothing overflows.
std::optional<double> ParseNumber(const std::string& text, bool fraction,
                                  const std::vector<std::pair<std::string, double>>& suffixes,
                                  double max) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == 0 || i > 15) return std::nullopt;
  size_t end = i;
  if (fraction && end < text.size() && text[end] == '.') {
    size_t f = end + 1;
    while (f < text.size() && text[f] >= '0' && text[f] <= '9') ++f;
    if (f == end + 1 || f - end > 7) return std::nullopt;
    end = f;
  }
  double v = std::stod(text.substr(0, end));
  std::string rest = text.substr(end);
  double mult = rest.empty() ? 1 : 0;
  for (const auto& [suffix, m] : suffixes)
    if (rest.size() == suffix.size() &&
        std::equal(rest.begin(), rest.end(), suffix.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
      mult = m;
  if (mult == 0 || v <= 0 || v * mult > max) return std::nullopt;
  return v * mult;
}

}  // namespace

Status ParseLimit(const std::string& key, const std::string& text, ProcessLimits& out) {
  const std::vector<std::pair<std::string, double>> sizes = {
      {"k", 1024.0}, {"m", 1048576.0}, {"g", 1073741824.0}, {"t", 1099511627776.0}};
  if (key == "memory" || key == "file_size") {
    // At least a page: anything less is a typo for a bigger unit.
    auto v = ParseNumber(text, false, sizes, 1125899906842624.0);  // 1 PiB
    if (!v || *v < 4096)
      return Status::Error(
          "must be a size of at least 4k with an optional k, m, g or t suffix "
          "(512m, 2g), not '" +
          text + "'");
    (key == "memory" ? out.memory : out.file_size) = static_cast<uint64_t>(*v);
    return Status::Ok();
  }
  if (key == "processes" || key == "open_files") {
    // The kernel's own ceilings: pid_max's and nr_open's largest values.
    const double max = key == "processes" ? 4194304 : 1048576;
    auto v = ParseNumber(text, false, {}, max);
    if (!v || (key == "open_files" && *v < 16))
      return Status::Error("must be a whole number from " +
                           std::string(key == "processes" ? "1" : "16") + " to " +
                           std::to_string(static_cast<long long>(max)) + ", not '" + text + "'");
    (key == "processes" ? out.processes : out.open_files) = static_cast<uint64_t>(*v);
    return Status::Ok();
  }
  if (key == "cpu") {
    // cpu.max cannot take less than a hundredth of a CPU (1 ms per 100 ms).
    auto v = ParseNumber(text, true, {}, 4096);
    if (!v || *v < 0.01)
      return Status::Error("must be a number of CPUs from 0.01 to 4096 (1, 1.5, 0.25), not '" +
                           text + "'");
    out.cpu = *v;
    return Status::Ok();
  }
  if (key == "wall_time") {
    auto v =
        ParseNumber(text, false, {{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}}, 366.0 * 86400);
    if (!v)
      return Status::Error(
          "must be a duration in seconds, or with an s, m, h or d suffix "
          "(3600, 90m, 1h), of at most 366d, not '" +
          text + "'");
    out.wall_time = static_cast<uint64_t>(*v);
    return Status::Ok();
  }
  return Status::Error(
      "is not a limit (memory, processes, cpu, wall_time, file_size, "
      "open_files)");
}

}  // namespace rf
