// Checks of a policy's credentials that need more than one section: every
// `credential_binding.provider` names a credential, and every credential
// endpoint is reached only through inspected endpoints (else the proxy
// could not keep the placeholder to its binding) unless the endpoint opts
// in with `allow_uninspected_credentials`. Pure functions: `policy
// validate` runs them on the file, `run` again once --credential is added.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "policy/policy.h"

namespace rf {

struct CredentialProblem {
  std::string field;  // "credentials.NAME.endpoints[0]", for the file:line:col
  bool warning = false;
  std::string message;
};

// `bindings_must_resolve`: a binding naming no credential is an error (at
// run, after --credential), else a warning (the file alone).
std::vector<CredentialProblem> CredentialProblems(const Policy& p, bool bindings_must_resolve);

// "env:VAR" (a variable name) or "file:PATH" (absolute, no '..').
Status CheckCredentialSource(const std::string& from);

// Whether `credential_binding.provider: provider` selects `c` (its name or
// its `provider`).
bool CredentialProvides(const Credential& c, const std::string& provider);

// An endpoint host pattern's match, for credential bindings (exact, `*.`,
// `**.`, in-label `*`; empty: every host), case-insensitive.
bool HostMatchesPattern(const std::string& host, const std::string& pattern);

}  // namespace rf
