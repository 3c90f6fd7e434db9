#include "sandbox/trust.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/file.h"
#include "policy/l7_rules.h"
#include "tls/authority.h"

namespace rf {

namespace {

// Not a secret: the store only holds public certificates, and Java insists
// on a password to check the file's integrity.
constexpr char kJavaStorePassword[] = "ringfence";

// The system roots clients use by default on Debian and its relatives.
constexpr const char* kSystemBundles[] = {"/etc/ssl/certs/ca-certificates.crt",
                                          "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"};

Status WriteNew(const std::string& path, const std::string& data) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::Errno("creating " + path);
  if (fchmod(fd.get(), 0644) != 0) return Status::Errno("chmod " + path);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Errno("writing " + path);
    }
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Result<SandboxTrust> MakeTrustDir(std::optional<std::pair<uid_t, gid_t>> owner) {
  auto dir = PrivateTmpDir::Create(owner, "trust-", "the CA trust directory", true);
  if (!dir.ok()) return dir.status();
  SandboxTrust t;
  t.dir = std::move(dir).value();
  t.bundle = t.dir->path() + "/ca-bundle.pem";
  t.java_store = t.dir->path() + "/java-truststore.p12";
  return t;
}

std::vector<std::string> TrustEnvironment(const std::string& bundle) {
  std::vector<std::string> env;
  for (const char* name : {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                           "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO", "PIP_CERT", "AWS_CA_BUNDLE"})
    env.push_back(std::string(name) + "=" + bundle);
  return env;
}

std::string JavaTrustOptions(const std::string& store) {
  return "-Djavax.net.ssl.trustStore=" + store +
         " -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=" +
         kJavaStorePassword;
}

Status WriteTrust(const SandboxTrust& trust, const tls::Authority& authority) {
  std::string roots;
  for (const char* path : kSystemBundles) {
    auto text = ReadSmallFile(path, 16 << 20);
    if (text.ok()) {
      roots = std::move(*text);
      break;
    }
  }
  if (Status s = WriteNew(trust.bundle, authority.TrustBundle(roots)); !s.ok()) return s;
  auto store = authority.JavaTrustStore(roots, kJavaStorePassword);
  if (!store.ok()) return store.status();
  return WriteNew(trust.java_store, *store);
}

}  // namespace rf
