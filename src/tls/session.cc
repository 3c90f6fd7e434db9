#include "tls/session.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/ascii.h"

namespace rf::tls {

namespace {

constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int SessionIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

std::string LastError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char addr[16];
  return inet_pton(AF_INET, host.c_str(), addr) == 1 ||
         inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  for (unsigned i = 0; i < inlen;) {
    unsigned len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == 8 && std::string_view(reinterpret_cast<const char*>(in + i + 1), 8) == "http/1.1") {
      *out = in + i + 1;
      *outlen = 8;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

// Picks the leaf: the SNI must name the CONNECT host (case-insensitively,
// a trailing dot ignored); no SNI means the CONNECT host.
int ServerNameCallback(SSL* ssl, int* alert, void*) {
  auto* s = static_cast<Session*>(SSL_get_ex_data(ssl, SessionIndex()));
  if (!s) return SSL_TLSEXT_ERR_ALERT_FATAL;
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (sni) {
    std::string name = sni;
    if (!name.empty() && name.back() == '.') name.pop_back();
    if (!AsciiIEquals(name, s->host_)) {
      s->sni_error_ = "TLS server name '" + name + "' is not the CONNECT host '" + s->host_ + "'";
      *alert = SSL_AD_ACCESS_DENIED;
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
  }
  auto leaf = s->authority_->LeafFor(s->host_);
  if (!leaf.ok() || SSL_use_certificate(ssl, (*leaf)->cert.get()) != 1 ||
      SSL_use_PrivateKey(ssl, (*leaf)->key) != 1) {
    s->sni_error_ =
        leaf.ok() ? "installing the certificate: " + LastError() : leaf.status().reason();
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

Result<SslCtxPtr> MakeServerContext() {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Status::Error("TLS server context: " + LastError());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // A peer that closes without close_notify (common: servers and clients
  // that simply close) ends the stream; HTTP framing, not TLS, says whether
  // a message was complete.
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // The callback runs for every ClientHello, also those without SNI.
  SSL_CTX_set_tlsext_servername_callback(ctx.get(), ServerNameCallback);
  SSL_CTX_set_alpn_select_cb(ctx.get(), SelectAlpn, nullptr);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  return ctx;
}

Result<SslCtxPtr> MakeClientContext(const std::string& upstream_ca_file) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Status::Error("TLS client context: " + LastError());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // A peer that closes without close_notify (common: servers and clients
  // that simply close) ends the stream; HTTP framing, not TLS, says whether
  // a message was complete.
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1)
    return Status::Error("loading the system trust store: " + LastError());
  if (!upstream_ca_file.empty() &&
      SSL_CTX_load_verify_locations(ctx.get(), upstream_ca_file.c_str(), nullptr) != 1)
    return Status::Error("loading network.upstream_ca " + upstream_ca_file + ": " + LastError());
  if (SSL_CTX_set_alpn_protos(ctx.get(), kAlpnHttp11, sizeof kAlpnHttp11) != 0)
    return Status::Error("TLS client ALPN: " + LastError());
  return ctx;
}

Result<std::unique_ptr<Session>> Session::Server(SSL_CTX* ctx, Authority* authority, int fd,
                                                 const std::string& host) {
  std::unique_ptr<Session> s(new Session());
  s->ssl_.reset(SSL_new(ctx));
  if (!s->ssl_) return Status::Error("TLS session: " + LastError());
  s->server_ = true;
  s->host_ = host;
  s->authority_ = authority;
  SSL_set_ex_data(s->ssl_.get(), SessionIndex(), s.get());
  if (SSL_set_fd(s->ssl_.get(), fd) != 1) return Status::Error("TLS session: " + LastError());
  SSL_set_accept_state(s->ssl_.get());
  return s;
}

Result<std::unique_ptr<Session>> Session::Client(SSL_CTX* ctx, int fd, const std::string& host) {
  std::unique_ptr<Session> s(new Session());
  s->ssl_.reset(SSL_new(ctx));
  if (!s->ssl_) return Status::Error("TLS session: " + LastError());
  s->host_ = host;
  SSL* ssl = s->ssl_.get();
  if (SSL_set_fd(ssl, fd) != 1) return Status::Error("TLS session: " + LastError());
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (IsIpLiteral(host)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1)
      return Status::Error("TLS: bad address " + host);
  } else {
    if (SSL_set1_host(ssl, host.c_str()) != 1 || SSL_set_tlsext_host_name(ssl, host.c_str()) != 1)
      return Status::Error("TLS: bad host name " + host);
  }
  SSL_set_connect_state(ssl);
  return s;
}

Io Session::Map(int ret, const char* what) {
  int err = SSL_get_error(ssl_.get(), ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return Io::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Io::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Io::kClosed;
    default:
      break;
  }
  if (!sni_error_.empty()) {
    error_ = sni_error_;
  } else if (!server_ && SSL_get_verify_result(ssl_.get()) != X509_V_OK) {
    error_ = std::string("the destination's certificate for ") + host_ +
             " is not trusted: " + X509_verify_cert_error_string(SSL_get_verify_result(ssl_.get()));
  } else {
    std::string detail = LastError();
    error_ = std::string(what) + (detail.empty() ? ": connection closed" : ": " + detail);
  }
  ERR_clear_error();
  return Io::kError;
}

Io Session::Handshake() {
  int r = SSL_do_handshake(ssl_.get());
  if (r == 1) return Io::kOk;
  return Map(r, "TLS handshake");
}

Io Session::Read(char* buf, size_t len, size_t* n) {
  *n = 0;
  int r = SSL_read_ex(ssl_.get(), buf, len, n);
  if (r == 1) return Io::kOk;
  return Map(r, "TLS read");
}

Io Session::Write(const char* buf, size_t len, size_t* n) {
  *n = 0;
  int r = SSL_write_ex(ssl_.get(), buf, len, n);
  if (r == 1) return Io::kOk;
  return Map(r, "TLS write");
}

std::string Session::alpn() const {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_.get(), &p, &len);
  return p ? std::string(reinterpret_cast<const char*>(p), len) : "";
}

}  // namespace rf::tls
