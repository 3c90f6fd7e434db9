// HTTP/1.x request-head parsing for the proxy (RFC 9110/9112), strict:
//   CONNECT host:port HTTP/1.1           -> tunnel
//   GET http://host[:port]/path HTTP/1.1 -> forward (plain HTTP)
// Everything else is refused: origin-form and `*` targets, https:// in
// absolute form (use CONNECT), userinfo, HTTP/2 preface and other versions
// (400), unknown methods (405), a head past the size limit (431), obsolete
// line folding, bare LF, conflicting Content-Length / Transfer-Encoding (400).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rf::proxy {

enum class ReqKind { kConnect, kForward };

struct Request {
  ReqKind kind = ReqKind::kConnect;
  std::string method;
  std::string host;  // without brackets; not yet normalised
  uint16_t port = 0;
  // Forward only: the head to send upstream (origin-form target, Host set to
  // the target authority, hop-by-hop headers removed, `Connection: close`).
  std::string upstream_head;
  // Forward only: request body bytes that follow the head; -1 = chunked
  // (relayed as is until the upstream closes).
  int64_t body_length = 0;
  size_t head_length = 0;  // bytes of the client buffer the head used
};

enum class ParseState { kIncomplete, kDone, kError };

struct ParseResult {
  ParseState state = ParseState::kIncomplete;
  Request request;
  int status = 0;  // on kError: 400, 405, 431, 501
  std::string message;
};

ParseResult ParseRequestHead(std::string_view buf, size_t max_head);

// Valid host syntax: a DNS name (letters, digits, '-', '_', '.') or an IP
// literal. Says nothing about policy.
bool ValidHostSyntax(const std::string& host);

std::string Response(int status, const std::string& content_type, const std::string& body);
const char* StatusText(int status);

}  // namespace rf::proxy
