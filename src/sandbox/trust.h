// What the command trusts when the proxy inspects TLS (docs/l7.md): a
// per-run directory, granted read-only, holding the system roots plus the
// run's CA (PEM) and the same as a Java trust store, named by the
// variables clients read. Made during the plan (the Landlock grant needs the
// directory); the files are written once the proxy has made its CA, before
// the command starts.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "policy/l7_rules.h"
#include "policy/policy.h"
#include "sandbox/private_tmp.h"

namespace rf {
namespace tls {
class Authority;
}

struct SandboxTrust {
  std::unique_ptr<PrivateTmpDir> dir;
  std::string bundle;      // PEM: system roots + the run's CA
  std::string java_store;  // PKCS#12
};

// `owner`: the sandbox's ids when started as root.
Result<SandboxTrust> MakeTrustDir(std::optional<std::pair<uid_t, gid_t>> owner);

// SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, NODE_EXTRA_CA_CERTS,
// GIT_SSL_CAINFO, PIP_CERT, AWS_CA_BUNDLE -> the bundle.
std::vector<std::string> TrustEnvironment(const std::string& bundle);
// The JVM properties for the trust store (appended to JAVA_TOOL_OPTIONS
// after the caller's own, so they hold).
std::string JavaTrustOptions(const std::string& store);

// Writes the bundle and the trust store (mode 0644) for `authority`.
Status WriteTrust(const SandboxTrust& trust, const tls::Authority& authority);

}  // namespace rf
