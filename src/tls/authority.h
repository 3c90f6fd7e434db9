// The per-run certificate authority of the inspecting proxy.
//
// Made at start, in memory: an ECDSA P-256 key that never leaves the
// supervisor (only the certificate is written, for the command's trust
// bundle). Leaf certificates are minted per SNI name on first use, signed
// by it, and cached; all leaves share one key pair made with the CA, so a
// new name costs one signature, not a key generation. A leaf lives 30 days
// and is re-minted when it nears its end; the CA is valid for a year (a run
// that long is unusual, and the CA dies with the run anyway).
//
// The command trusts it through a bundle of the system roots plus this CA
// (PEM) and, for Java, a PKCS#12 store holding the same certificates as
// trusted entries.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

namespace rf::tls {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A leaf certificate and the shared leaf key (the key is owned by the
// authority; a Leaf holds a reference).
struct Leaf {
  X509Ptr cert;
  EVP_PKEY* key = nullptr;
  long not_after = 0;  // seconds since the epoch
};

class Authority {
 public:
  // `label` goes into the CA's subject (a run id), so two runs' CAs are told
  // apart in a client's error message.
  static Result<std::unique_ptr<Authority>> Create(const std::string& label);

  // The leaf for a host name or IP literal (SAN DNS or IP), thread-safe.
  Result<std::shared_ptr<const Leaf>> LeafFor(const std::string& host);

  const std::string& certificate_pem() const { return ca_pem_; }
  X509* certificate() const { return ca_cert_.get(); }

  // `system_roots` (a PEM bundle's contents, may be empty) followed by this
  // CA.
  std::string TrustBundle(const std::string& system_roots) const;
  // The same certificates as a PKCS#12 trust store Java reads (each a
  // trusted-certificate entry), protected by `password`.
  Result<std::string> JavaTrustStore(const std::string& system_roots,
                                     const std::string& password) const;

  size_t cached_leaves() const;
  static constexpr size_t kMaxCachedLeaves = 1024;

 private:
  Authority() = default;
  Result<std::shared_ptr<const Leaf>> Mint(const std::string& host) const;

  PkeyPtr ca_key_, leaf_key_;
  X509Ptr ca_cert_;
  std::string ca_pem_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Leaf>> leaves_;
};

}  // namespace rf::tls
