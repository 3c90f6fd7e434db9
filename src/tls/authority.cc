#include "tls/authority.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <ctime>

namespace rf::tls {

namespace {

constexpr long kCaLifetime = 365L * 86400;
constexpr long kLeafLifetime = 30L * 86400;
constexpr long kBackdate = 3600;  // clients whose clocks lag a little
constexpr long kRenewBefore = 86400;

Status OpenSslError(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return Status::Error(what + ": " + buf);
}

PkeyPtr NewKey() { return PkeyPtr(EVP_EC_gen("P-256")); }

bool RandomSerial(X509* x) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
  bytes[0] &= 0x7f;  // positive
  bytes[0] |= 0x01;  // and never zero-length when encoded
  BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
  if (!bn) return false;
  bool ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != nullptr;
  BN_free(bn);
  return ok;
}

bool AddExt(X509* issuer, X509* subject, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, subject, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return false;
  bool ok = X509_add_ext(subject, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool AddName(X509_NAME* name, const char* field, const std::string& value) {
  return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(value.data()),
                                    static_cast<int>(value.size()), -1, 0) == 1;
}

// subjectAltName built from values, not from a configuration string, so no
// host spelling can add a name of its own.
bool AddSubjectAltName(X509* x, const std::string& host) {
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  GENERAL_NAME* gn = GENERAL_NAME_new();
  if (!names || !gn) {
    GENERAL_NAME_free(gn);
    sk_GENERAL_NAME_free(names);
    return false;
  }
  bool ok = false;
  unsigned char addr[16];
  int family = host.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  int addr_len = family == AF_INET6 ? 16 : 4;
  if (inet_pton(family, host.c_str(), addr) == 1) {
    ASN1_OCTET_STRING* ip = ASN1_OCTET_STRING_new();
    if (ip && ASN1_OCTET_STRING_set(ip, addr, addr_len) == 1) {
      GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
      ok = true;
    } else {
      ASN1_OCTET_STRING_free(ip);
    }
  } else {
    ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
    if (dns && ASN1_STRING_set(dns, host.data(), static_cast<int>(host.size())) == 1) {
      GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
      ok = true;
    } else {
      ASN1_IA5STRING_free(dns);
    }
  }
  if (ok) ok = sk_GENERAL_NAME_push(names, gn) > 0;
  if (!ok) GENERAL_NAME_free(gn);
  if (ok) ok = X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, 0) == 1;
  GENERAL_NAMES_free(names);
  return ok;
}

Result<std::string> ToPem(X509* x) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio || PEM_write_bio_X509(bio, x) != 1) {
    BIO_free(bio);
    return OpenSslError("writing a certificate");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

}  // namespace

Result<std::unique_ptr<Authority>> Authority::Create(const std::string& label) {
  std::unique_ptr<Authority> a(new Authority());
  a->ca_key_ = NewKey();
  a->leaf_key_ = NewKey();
  if (!a->ca_key_ || !a->leaf_key_) return OpenSslError("making the CA key");
  a->ca_cert_.reset(X509_new());
  X509* x = a->ca_cert_.get();
  if (!x || X509_set_version(x, 2) != 1 || !RandomSerial(x) ||
      !X509_gmtime_adj(X509_getm_notBefore(x), -kBackdate) ||
      !X509_gmtime_adj(X509_getm_notAfter(x), kCaLifetime))
    return OpenSslError("making the CA certificate");
  X509_NAME* name = X509_get_subject_name(x);
  if (!AddName(name, "O", "ringfence") ||
      !AddName(name, "CN", ("ringfence sandbox CA " + label).substr(0, 64)) ||
      X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, a->ca_key_.get()) != 1 ||
      !AddExt(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !AddExt(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExt(x, x, NID_subject_key_identifier, "hash") ||
      X509_sign(x, a->ca_key_.get(), EVP_sha256()) == 0)
    return OpenSslError("making the CA certificate");
  auto pem = ToPem(x);
  if (!pem.ok()) return pem.status();
  a->ca_pem_ = std::move(*pem);
  return a;
}

Result<std::shared_ptr<const Leaf>> Authority::Mint(const std::string& host) const {
  auto leaf = std::make_shared<Leaf>();
  leaf->cert.reset(X509_new());
  leaf->key = leaf_key_.get();
  X509* x = leaf->cert.get();
  X509* ca = ca_cert_.get();
  if (!x || X509_set_version(x, 2) != 1 || !RandomSerial(x) ||
      !X509_gmtime_adj(X509_getm_notBefore(x), -kBackdate) ||
      !X509_gmtime_adj(X509_getm_notAfter(x), kLeafLifetime))
    return OpenSslError("minting a certificate for " + host);
  X509_NAME* name = X509_get_subject_name(x);
  // CN is limited to 64 characters; the name that counts is the SAN.
  if ((host.size() <= 64 && !AddName(name, "CN", host)) ||
      X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
      X509_set_pubkey(x, leaf_key_.get()) != 1 ||
      !AddExt(ca, x, NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExt(ca, x, NID_key_usage, "critical,digitalSignature") ||
      !AddExt(ca, x, NID_ext_key_usage, "serverAuth") ||
      !AddExt(ca, x, NID_authority_key_identifier, "keyid:always") || !AddSubjectAltName(x, host) ||
      X509_sign(x, ca_key_.get(), EVP_sha256()) == 0)
    return OpenSslError("minting a certificate for " + host);
  leaf->not_after = static_cast<long>(time(nullptr)) + kLeafLifetime;
  return std::shared_ptr<const Leaf>(std::move(leaf));
}

Result<std::shared_ptr<const Leaf>> Authority::LeafFor(const std::string& host) {
  long now = static_cast<long>(time(nullptr));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = leaves_.find(host);
    if (it != leaves_.end() && it->second->not_after - now > kRenewBefore) return it->second;
  }
  // Minted outside the lock: a signature is the slow part, and two threads
  // minting the same name at once both get a valid certificate.
  auto leaf = Mint(host);
  if (!leaf.ok()) return leaf.status();
  std::lock_guard<std::mutex> lock(mu_);
  // The names come from the sandbox (a wildcard endpoint allows many): the
  // cache is bounded by starting over, which costs one signature per name.
  if (leaves_.size() >= kMaxCachedLeaves) leaves_.clear();
  leaves_[host] = *leaf;
  return *leaf;
}

size_t Authority::cached_leaves() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leaves_.size();
}

std::string Authority::TrustBundle(const std::string& system_roots) const {
  std::string out = system_roots;
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  return out + ca_pem_;
}

Result<std::string> Authority::JavaTrustStore(const std::string& system_roots,
                                              const std::string& password) const {
  // Java reads a PKCS#12 certificate as a trusted entry only when it carries
  // Oracle's trusted-key-usage attribute (what keytool -importcert writes).
  static constexpr char kJavaTrusted[] = "2.16.840.1.113894.746875.1.1";
  STACK_OF(PKCS12_SAFEBAG)* bags = sk_PKCS12_SAFEBAG_new_null();
  if (!bags) return OpenSslError("making the Java trust store");
  auto add = [&](X509* cert, const std::string& alias) {
    PKCS12_SAFEBAG* bag = PKCS12_SAFEBAG_create_cert(cert);
    if (!bag) return false;
    bool ok = PKCS12_add_friendlyname_utf8(bag, alias.c_str(), -1) == 1 &&
              PKCS12_add1_attr_by_txt(
                  bag, kJavaTrusted, V_ASN1_OBJECT,
                  reinterpret_cast<const unsigned char*>(OBJ_nid2obj(NID_anyExtendedKeyUsage)),
                  -1) == 1 &&
              sk_PKCS12_SAFEBAG_push(bags, bag) > 0;
    if (!ok) PKCS12_SAFEBAG_free(bag);
    return ok;
  };
  bool ok = add(ca_cert_.get(), "ringfence-sandbox-ca");
  BIO* roots = BIO_new_mem_buf(system_roots.data(), static_cast<int>(system_roots.size()));
  for (int i = 0; ok && roots; ++i) {
    X509* c = PEM_read_bio_X509(roots, nullptr, nullptr, nullptr);
    if (!c) break;
    ok = add(c, "system-" + std::to_string(i));
    X509_free(c);
  }
  BIO_free(roots);
  ERR_clear_error();  // the end of the PEM stream reads as an error
  std::string out;
  if (ok) {
    STACK_OF(PKCS7)* safes = sk_PKCS7_new_null();
    PKCS7* p7 = PKCS12_pack_p7data(bags);
    PKCS12* p12 = nullptr;
    if (safes && p7 && sk_PKCS7_push(safes, p7) > 0) {
      p7 = nullptr;
      p12 = PKCS12_add_safes(safes, 0);
    }
    PKCS7_free(p7);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    if (p12 && PKCS12_set_mac(p12, password.c_str(), -1, nullptr, 0, 2048, EVP_sha256()) == 1) {
      unsigned char* der = nullptr;
      int n = i2d_PKCS12(p12, &der);
      if (n > 0) out.assign(reinterpret_cast<char*>(der), static_cast<size_t>(n));
      OPENSSL_free(der);
    }
    PKCS12_free(p12);
  }
  sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
  if (out.empty()) return OpenSslError("making the Java trust store");
  return out;
}

}  // namespace rf::tls
