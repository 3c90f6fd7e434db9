// TLS on the inspecting proxy's two sides, over non-blocking sockets.
//
// Toward the command the proxy is the server: it presents a leaf of the
// run's authority for the CONNECT host. A client's SNI must name that host
// (no domain fronting through an allowed tunnel); without SNI the CONNECT
// host is used. ALPN: only `http/1.1` is ever selected; a client that
// offers only h2 gets no ALPN answer and speaks HTTP/1.1, as RFC 7301
// allows.
//
// Toward the destination the proxy is the client: the certificate is
// verified against the system trust store (plus `network.upstream_ca` when
// set) for the CONNECT host, with SNI set to it (DNS names only) and ALPN
// offering `http/1.1` only.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "tls/authority.h"

namespace rf::tls {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

enum class Io { kOk, kWantRead, kWantWrite, kClosed, kError };

class Session {
 public:
  // Server side of the command's tunnel to `host`.
  static Result<std::unique_ptr<Session>> Server(SSL_CTX* ctx, Authority* authority, int fd,
                                                 const std::string& host);
  // Client side toward the destination `host`.
  static Result<std::unique_ptr<Session>> Client(SSL_CTX* ctx, int fd, const std::string& host);

  Io Handshake();
  Io Read(char* buf, size_t len, size_t* n);
  Io Write(const char* buf, size_t len, size_t* n);
  // Why the last kError happened (verification result, SNI mismatch, alert).
  const std::string& error() const { return error_; }
  std::string alpn() const;

 private:
  Session() = default;
  Io Map(int ret, const char* what);

  std::unique_ptr<SSL, SslFree> ssl_;
  std::string host_;
  std::string error_;
  bool server_ = false;
  // Read by the SNI callback.
  friend int ServerNameCallback(SSL* ssl, int* alert, void* arg);
  Authority* authority_ = nullptr;
  std::string sni_error_;
};

// Contexts: one per proxy, shared by all sessions (SSL_CTX is thread-safe
// once set up). `upstream_ca_file` may be empty.
Result<SslCtxPtr> MakeServerContext();
Result<SslCtxPtr> MakeClientContext(const std::string& upstream_ca_file);

}  // namespace rf::tls
