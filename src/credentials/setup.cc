#include "credentials/setup.h"

#include <limits.h>
#include <stdlib.h>

#include <algorithm>

#include "policy/credential_check.h"
#include "policy/loader.h"

namespace rf::cred {

namespace {

bool Under(const std::string& path, const std::string& grant) {
  if (grant == "/") return true;
  return path == grant || (path.size() > grant.size() &&
                           path.compare(0, grant.size(), grant) == 0 && path[grant.size()] == '/');
}

}  // namespace

Status AddCredentialFlags(const std::vector<std::string>& specs, Policy* p) {
  for (const auto& spec : specs) {
    const std::string what = "--credential '" + spec + "'";
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0)
      return Status::Invalid(what +
                             ": expected NAME=env:VAR or NAME=file:PATH[@HOST[:PORT][/PATH]]");
    Credential c;
    c.name = spec.substr(0, eq);
    std::string rest = spec.substr(eq + 1);
    const size_t at = rest.rfind('@');
    std::string bind = at == std::string::npos ? "" : rest.substr(at + 1);
    c.from = rest.substr(0, at);
    for (char ch : c.name)
      if (!(isalnum(static_cast<unsigned char>(ch)) || ch == '_') || isdigit(c.name[0]))
        return Status::Invalid(what +
                               ": NAME must be letters, digits and '_', not starting with "
                               "a digit");
    if (Status st = CheckCredentialSource(c.from); !st.ok())
      return Status::Invalid(what + ": " + st.reason());
    if (at != std::string::npos) {
      CredentialEndpoint b;
      const size_t slash = bind.find('/');
      if (slash != std::string::npos) b.path = bind.substr(slash);
      std::string hostport = bind.substr(0, slash);
      b.port = 443;
      const size_t colon = hostport.rfind(':');
      if (colon != std::string::npos && hostport.find(']') == std::string::npos) {
        const std::string port = hostport.substr(colon + 1);
        char* end = nullptr;
        long v = strtol(port.c_str(), &end, 10);
        if (port.empty() || *end || v < 1 || v > 65535)
          return Status::Invalid(what + ": port '" + port + "' is not 1-65535");
        b.port = static_cast<uint16_t>(v);
        hostport = hostport.substr(0, colon);
      }
      if (!ValidHostPattern(hostport))
        return Status::Invalid(what + ": '" + hostport + "' is not a host name or address");
      b.host = hostport;
      c.endpoints.push_back(b);
    }
    auto same = std::find_if(p->credentials.begin(), p->credentials.end(),
                             [&](const Credential& x) { return x.name == c.name; });
    if (same == p->credentials.end()) {
      p->credentials.push_back(std::move(c));
    } else if (same->from != c.from) {
      return Status::Invalid(what + ": " + c.name + " already comes from '" + same->from + "'");
    } else {
      same->endpoints.insert(same->endpoints.end(), c.endpoints.begin(), c.endpoints.end());
    }
  }
  return Status::Ok();
}

Status CheckCredentialPolicy(const Policy& p) {
  std::string errors;
  for (const auto& problem : CredentialProblems(p, true))
    if (!problem.warning) errors += (errors.empty() ? "" : "\n") + problem.message;
  if (!errors.empty()) return Status::Invalid(errors);
  return Status::Ok();
}

Status CheckCredentialFiles(const Policy& effective) {
  for (const auto& c : effective.credentials) {
    if (c.from.rfind("file:", 0) != 0) continue;
    const std::string path = c.from.substr(5);
    char real[PATH_MAX];
    const std::string resolved = realpath(path.c_str(), real) ? std::string(real) : path;
    for (const auto* grants : {&effective.filesystem.read_only, &effective.filesystem.read_write})
      for (const auto& g : *grants)
        if (Under(resolved, g) || Under(path, g))
          return Status::Invalid("credential " + c.name + ": " + path +
                                 " is inside the sandbox's grant " + g +
                                 ": the command could read the value itself. Keep the file "
                                 "outside every grant");
  }
  return Status::Ok();
}

std::vector<char*> InheritedWithoutSources(const Store& store, char** environ_in) {
  const std::vector<std::string> sources = store.SourceVariables();
  std::vector<char*> out;
  for (char** e = environ_in; e && *e; ++e) {
    const std::string_view kv = *e;
    const std::string name(kv.substr(0, kv.find('=')));
    if (std::find(sources.begin(), sources.end(), name) == sources.end()) out.push_back(*e);
  }
  out.push_back(nullptr);
  return out;
}

void ApplyCredentialEnvironment(const Store& store, std::vector<std::string>* env) {
  std::vector<std::string> drop;
  for (const auto& kv : store.Environment()) drop.push_back(kv.substr(0, kv.find('=')));
  std::erase_if(*env, [&](const std::string& kv) {
    const std::string name = kv.substr(0, kv.find('='));
    return std::find(drop.begin(), drop.end(), name) != drop.end();
  });
  for (const auto& kv : store.Environment()) env->push_back(kv);
}

}  // namespace rf::cred
