// The `credentials` section and the credential fields of endpoints
// (docs/credentials.md). Values are never read here: only where they come
// from, so `policy validate` and `policy show` never touch a secret.
#include <algorithm>
#include <functional>
#include <set>
#include <string>

#include "l7/glob.h"
#include "policy/credential_check.h"
#include "policy/l7_rules.h"
#include "policy/loader.h"
#include "policy/sections.h"

namespace rf {

namespace {

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  if (!(isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char ch) { return isalnum(static_cast<unsigned char>(ch)) || ch == '_'; });
}

// Whether a credential endpoint's host falls under an endpoint host pattern
// (exact, `*.` one label, `**.` any depth, in-label `*`), case-insensitive.
bool HostUnder(std::string host, std::string pattern) {
  auto lower = [](std::string& s) {
    for (auto& ch : s) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    if (!s.empty() && s.back() == '.') s.pop_back();
  };
  lower(host), lower(pattern);
  if (pattern.empty()) return true;  // hostless: every host
  if (host == pattern) return true;
  if (pattern.rfind("**.", 0) == 0) {
    const std::string suffix = pattern.substr(2);
    return host.size() > suffix.size() &&
           host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  const size_t pdot = pattern.find('.'), hdot = host.find('.');
  if (pattern.find('*') < pdot && hdot != std::string::npos && pdot != std::string::npos)
    return host.substr(hdot) == pattern.substr(pdot) &&
           l7::GlobMatch(pattern.substr(0, pdot), host.substr(0, hdot));
  return false;
}

bool Carries(const Endpoint& e, const CredentialEndpoint& b) {
  return HostUnder(b.host, e.host) &&
         std::find(e.ports.begin(), e.ports.end(), b.port) != e.ports.end();
}

bool Uninspected(const Endpoint& e) { return !Inspected(e) || e.tls == "skip"; }

}  // namespace

bool CredentialProvides(const Credential& c, const std::string& provider) {
  return c.name == provider || c.provider == provider;
}

bool HostMatchesPattern(const std::string& host, const std::string& pattern) {
  return HostUnder(host, pattern);
}

std::vector<CredentialProblem> CredentialProblems(const Policy& p, bool bindings_must_resolve) {
  std::vector<CredentialProblem> out;
  for (const auto& np : p.network_policies) {
    for (size_t j = 0; j < np.endpoints.size(); ++j) {
      const Endpoint& e = np.endpoints[j];
      if (e.credentials.binding.empty()) continue;
      const std::string where =
          "network_policies." + np.key + ".endpoints[" + std::to_string(j) + "].credential_binding";
      bool found = std::any_of(p.credentials.begin(), p.credentials.end(), [&](const auto& c) {
        return CredentialProvides(c, e.credentials.binding);
      });
      if (!found)
        out.push_back({where, !bindings_must_resolve,
                       where + ".provider '" + e.credentials.binding +
                           "' names no credential (a `credentials` entry's name or provider" +
                           (bindings_must_resolve ? ", or a --credential"
                                                  : "; give it with --credential at run") +
                           ")"});
    }
  }
  for (const auto& c : p.credentials) {
    for (size_t i = 0; i < c.endpoints.size(); ++i) {
      const CredentialEndpoint& b = c.endpoints[i];
      const std::string where = "credentials." + c.name + ".endpoints[" + std::to_string(i) + "]";
      bool carried = false;
      for (const auto& np : p.network_policies) {
        for (size_t j = 0; j < np.endpoints.size(); ++j) {
          const Endpoint& e = np.endpoints[j];
          if (!Carries(e, b)) continue;
          carried = true;
          if (Uninspected(e) && !e.credentials.allow_uninspected)
            out.push_back({where, false,
                           where + " (" + b.host + ":" + std::to_string(b.port) +
                               ") is reached through network_policies." + np.key + ".endpoints[" +
                               std::to_string(j) + "], which is " +
                               (Inspected(e) ? "`tls: skip`" : "not inspected (no protocol)") +
                               ": the proxy could not keep the credential's placeholder to its "
                               "binding there. Give that endpoint `protocol: rest`, or set "
                               "allow_uninspected_credentials: true on it (a weakened boundary)"});
        }
      }
      if (!carried)
        out.push_back({where, true,
                       where + " (" + b.host + ":" + std::to_string(b.port) +
                           ") is not reachable through any network_policies endpoint: the "
                           "credential can never be used there"});
    }
  }
  return out;
}

namespace load {

void LoadCredentials(Checker& c, const YAML::Node& n, Policy& p) {
  c.ForEachKey(
      n, "credentials", {}, [&](const std::string& name, const YAML::Node& k, const YAML::Node& v) {
        const std::string where = "credentials." + name;
        if (!ValidName(name)) {
          c.Error(k.Mark(), where +
                                ": a credential's name is the variable the command sees: letters, "
                                "digits and '_', not starting with a digit");
          return;
        }
        Credential cred;
        cred.name = name;
        c.ForEachKey(v, where, {"from", "provider", "endpoints"},
                     [&](const std::string& f, const YAML::Node&, const YAML::Node& fv) {
                       if (f == "from") {
                         auto s = c.String(fv, where + ".from");
                         if (!s) return;
                         if (Status st = CheckCredentialSource(*s); !st.ok()) {
                           c.Error(fv.Mark(), where + ".from " + st.reason());
                           return;
                         }
                         cred.from = *s;
                       } else if (f == "provider") {
                         if (auto s = c.String(fv, where + ".provider")) cred.provider = *s;
                       } else {
                         int i = 0;
                         c.Sequence(fv, where + ".endpoints", [&](const YAML::Node& item) {
                           const std::string ew = where + ".endpoints[" + std::to_string(i++) + "]";
                           CredentialEndpoint b;
                           bool have_host = false, have_port = false;
                           c.ForEachKey(
                               item, ew, {"host", "port", "path"},
                               [&](const std::string& ef, const YAML::Node&, const YAML::Node& ev) {
                                 if (ef == "host") {
                                   auto s = c.String(ev, ew + ".host");
                                   if (!s) return;
                                   if (!ValidHostPattern(*s)) {
                                     c.Error(ev.Mark(), ew + ".host '" + *s +
                                                            "' is not a host name, IP address or "
                                                            "'*.'-wildcard of one");
                                     return;
                                   }
                                   b.host = *s, have_host = true;
                                 } else if (ef == "port") {
                                   if (auto port = c.Port(ev, ew + ".port")) b.port = *port;
                                   have_port = true;
                                 } else {
                                   auto s = c.String(ev, ew + ".path");
                                   if (!s) return;
                                   if (Status g = l7::ValidateGlob(*s); !g.ok()) {
                                     c.Error(ev.Mark(), ew + ".path: " + g.reason());
                                     return;
                                   }
                                   b.path = *s;
                                 }
                               });
                           if (item.IsMap() && (!have_host || !have_port))
                             c.Error(item.Mark(), ew + " needs a host and a port");
                           cred.endpoints.push_back(std::move(b));
                         });
                       }
                     });
        if (v.IsMap() && !v["from"])
          c.Error(v.Mark(), where + " needs `from: env:VAR` or `from: file:PATH`");
        p.credentials.push_back(std::move(cred));
      });
}

void LoadCredentialBinding(Checker& c, const YAML::Node& n, const std::string& where, Endpoint& e) {
  bool have = false;
  c.ForEachKey(n, where, {"provider"},
               [&](const std::string&, const YAML::Node&, const YAML::Node& v) {
                 if (auto s = c.String(v, where + ".provider")) e.credentials.binding = *s;
                 have = true;
               });
  if (n.IsMap() && !have) c.Error(n.Mark(), where + " needs a provider");
}

void CheckEndpointCredentials(Checker& c, const YAML::Node& n, const std::string& where,
                              const Endpoint& e) {
  if (!n.IsMap()) return;
  if (e.credentials.body_rewrite && e.protocol != "rest")
    c.Error(n["request_body_credential_rewrite"].Mark(),
            where + ".request_body_credential_rewrite needs protocol: rest");
  if (!e.credentials.binding.empty() && Uninspected(e) && !e.credentials.allow_uninspected)
    c.Error(n["credential_binding"].Mark(),
            where + ".credential_binding on an endpoint that is " +
                (Inspected(e) ? "`tls: skip`" : "not inspected (no protocol)") +
                ": the proxy could not keep the credential's placeholder to its binding. Give "
                "it `protocol: rest`, or set allow_uninspected_credentials: true (a weakened "
                "boundary)");
}

void CheckCredentials(Checker& c, const YAML::Node& root, Policy& p) {
  for (const auto& problem : CredentialProblems(p, false)) {
    // The mark of the field the problem names, found again in the YAML
    // (const nodes: indexing them never adds a key).
    YAML::Mark mark = root.Mark();
    std::function<void(const YAML::Node&, std::string)> walk = [&](const YAML::Node& at,
                                                                   std::string rest) {
      if (!at.IsDefined() || rest.empty()) return;
      mark = at.Mark();
      const size_t dot = rest.find('.');
      std::string part = rest.substr(0, dot);
      rest = dot == std::string::npos ? "" : rest.substr(dot + 1);
      const size_t br = part.find('[');
      if (!at.IsMap()) return;
      const YAML::Node next = at[part.substr(0, br)];
      if (!next.IsDefined()) return;
      mark = next.Mark();
      if (br == std::string::npos) return walk(next, rest);
      const size_t index = std::stoul(part.substr(br + 1));
      if (!next.IsSequence() || index >= next.size()) return;
      const YAML::Node item = next[index];
      mark = item.Mark();
      walk(item, rest);
    };
    walk(root, problem.field);
    if (problem.warning)
      c.Warning(mark, problem.message);
    else
      c.Error(mark, problem.message);
  }
}

}  // namespace load

Status CheckCredentialSource(const std::string& from) {
  if (from.rfind("env:", 0) == 0) {
    if (!ValidName(from.substr(4)))
      return Status::Invalid("'" + from + "': env:VAR needs a variable name");
    return Status::Ok();
  }
  if (from.rfind("file:", 0) == 0) {
    const std::string path = from.substr(5);
    if (path.empty() || path[0] != '/' || path.find("/../") != std::string::npos ||
        path.find('\0') != std::string::npos ||
        (path.size() >= 3 && path.compare(path.size() - 3, 3, "/..") == 0))
      return Status::Invalid("'" + from + "': file:PATH needs an absolute path without '..'");
    return Status::Ok();
  }
  return Status::Invalid("'" + from + "' must be env:VAR or file:PATH");
}

}  // namespace rf
