#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include <string>

#include "tls/authority.h"

namespace rf::tls {
namespace {

// Verifies `leaf` for `host` against a store holding only `ca`, as a TLS
// client would (chain, purpose, host or IP name).
int VerifyFor(X509* ca, X509* leaf, const std::string& host) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  if (host.find_first_not_of("0123456789.:abcdef") == std::string::npos &&
      host.find_first_of(".:") != std::string::npos &&
      (host.find(':') != std::string::npos || host.find_first_of("abcdef") == std::string::npos))
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  else
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  int ok = X509_verify_cert(ctx);
  int err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return err;
}

TEST(TlsAuthority, LeavesVerifyForTheirNameOnly) {
  auto ca = Authority::Create("unit");
  ASSERT_TRUE(ca.ok()) << ca.status().reason();
  auto& a = **ca;
  EXPECT_NE(a.certificate_pem().find("BEGIN CERTIFICATE"), std::string::npos);
  for (std::string host : {"api.github.com", "127.0.0.1", "::1", "x-y_z.test"}) {
    auto leaf = a.LeafFor(host);
    ASSERT_TRUE(leaf.ok()) << leaf.status().reason();
    EXPECT_EQ(VerifyFor(a.certificate(), (*leaf)->cert.get(), host), X509_V_OK) << host;
    EXPECT_EQ(X509_check_private_key((*leaf)->cert.get(), (*leaf)->key), 1);
  }
  auto leaf = a.LeafFor("api.github.com");
  EXPECT_EQ(VerifyFor(a.certificate(), (*leaf)->cert.get(), "evil.test"),
            X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(VerifyFor(a.certificate(), (*leaf)->cert.get(), "x.api.github.com"),
            X509_V_ERR_HOSTNAME_MISMATCH);
  // Cached: the same certificate object comes back.
  EXPECT_EQ(a.LeafFor("api.github.com")->get(), leaf->get());
  EXPECT_EQ(a.cached_leaves(), 4u);
  // A leaf of another run's CA is not trusted by this one.
  auto other = Authority::Create("other");
  ASSERT_TRUE(other.ok());
  auto foreign = (*other)->LeafFor("api.github.com");
  EXPECT_NE(VerifyFor(a.certificate(), (*foreign)->cert.get(), "api.github.com"), X509_V_OK);
}

TEST(TlsAuthority, LeafCannotSignAndCaIsConstrained) {
  auto ca = Authority::Create("unit");
  ASSERT_TRUE(ca.ok());
  auto leaf = (*ca)->LeafFor("a.test");
  ASSERT_TRUE(leaf.ok());
  EXPECT_EQ(X509_check_ca((*leaf)->cert.get()), 0);
  EXPECT_NE(X509_check_ca((*ca)->certificate()), 0);
  EXPECT_EQ(X509_get_pathlen((*ca)->certificate()), 0);
}

TEST(TlsAuthority, TrustBundleAndJavaStore) {
  auto ca = Authority::Create("unit");
  ASSERT_TRUE(ca.ok());
  std::string roots = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
  std::string bundle = (*ca)->TrustBundle(roots);
  EXPECT_EQ(bundle.rfind(roots + "\n", 0), 0u);
  EXPECT_NE(bundle.find((*ca)->certificate_pem()), std::string::npos);

  auto store = (*ca)->JavaTrustStore((*ca)->certificate_pem(), "changeit");
  ASSERT_TRUE(store.ok()) << store.status().reason();
  const auto* p = reinterpret_cast<const unsigned char*>(store->data());
  PKCS12* p12 = d2i_PKCS12(nullptr, &p, static_cast<long>(store->size()));
  ASSERT_NE(p12, nullptr);
  EXPECT_EQ(PKCS12_verify_mac(p12, "changeit", -1), 1);
  EXPECT_EQ(PKCS12_verify_mac(p12, "wrong", -1), 0);
  PKCS12_free(p12);
}

}  // namespace
}  // namespace rf::tls
