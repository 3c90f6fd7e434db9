// The steps of `run` that concern credentials (docs/credentials.md), in its
// order: the --credential flags merged into the policy and every binding
// checked; no credential file readable inside the sandbox; the command's
// environment with placeholders in place of values.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "credentials/store.h"
#include "policy/policy.h"

namespace rf::cred {

// NAME=env:VAR|file:PATH[@HOST[:PORT][/PATH]]: PORT defaults to 443, no
// PATH binds every path; no '@' adds no binding (credential_binding in the
// policy may name it). A NAME the policy has too must come from the same
// source; its binding is added.
Status AddCredentialFlags(const std::vector<std::string>& specs, Policy* p);

// After --credential: every binding resolves, every bound endpoint is
// inspected (or opts out). Errors name the field.
Status CheckCredentialPolicy(const Policy& p);

// A file: credential the sandbox could read is no secret: refused when a
// read grant (read_only or read_write of the effective policy) covers it.
Status CheckCredentialFiles(const Policy& effective);

// The caller's environment without the credentials' source variables (what
// the command inherits; a variable ringfence sets itself, such as HOME, is
// set as usual even when a credential was read from it). Null-terminated.
std::vector<char*> InheritedWithoutSources(const Store& store, char** environ_in);

// NAME=<placeholder> in place of any variable of that name in `env`.
void ApplyCredentialEnvironment(const Store& store, std::vector<std::string>* env);

}  // namespace rf::cred
