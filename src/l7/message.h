// HTTP/1.1 on an inspected connection: each request head parsed and
// rebuilt for the upstream, the length of every body and every response
// known, so requests can be checked one by one on a keep-alive connection
// and a refusal can be answered in order (pipelining).
//
// Requests (RFC 9112): origin-form targets only, normalised (l7/target.h);
// exactly one Host field (the caller checks it against the CONNECT
// authority: no domain fronting); CONNECT inside a tunnel refused; framing
// by Content-Length or chunked (validated as relayed). An `Upgrade` other
// than a WebSocket upgrade on GET is removed (no h2c or other protocol
// switch behind the inspector's back); WebSocket extensions are removed
// (no compression on inspected connections, so text frames stay readable).
// Proxy-* fields are dropped.
//
// Responses: the length rules of RFC 9112 6.3 (HEAD, 1xx, 204, 304, chunked,
// Content-Length, else until close); a 101 to a WebSocket upgrade ends HTTP
// on the connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "l7/target.h"
#include "proxy/http.h"

namespace rf::l7 {

struct InspectedRequest {
  std::string method;
  Target target;
  std::string host;         // the Host field as sent
  int64_t body_length = 0;  // -1: chunked
  bool websocket_upgrade = false;
  bool expect_continue = false;
  bool accepts_event_stream = false;  // Accept lists text/event-stream (an SSE stream)
  bool close = false;                 // the client asked to close after this exchange
  std::string forward_head;
  size_t head_length = 0;
};

struct RequestParse {
  proxy::ParseState state = proxy::ParseState::kIncomplete;
  int status = 0;  // on kError: 400, 405, 431, 501
  std::string message;
  InspectedRequest request;
};

RequestParse ParseInspectedRequest(std::string_view buf, size_t max_head, bool allow_encoded_slash);

// Counts the bytes of one message body as they pass: Content-Length or
// chunked (validated), or until the connection closes.
class BodyCounter {
 public:
  static constexpr int64_t kChunked = -1;
  static constexpr int64_t kUntilClose = -2;
  explicit BodyCounter(int64_t length) : left_(length) {}

  struct Step {
    size_t used = 0;  // bytes of the input that belong to the body
    bool done = false;
    bool error = false;
  };
  Step Feed(std::string_view in);
  bool done() const { return done_; }
  const std::string& error() const { return chunks_.error(); }

 private:
  int64_t left_;
  bool done_ = false;
  proxy::ChunkDecoder chunks_;
};

struct ResponseInfo {
  int status = 0;
  int64_t body_length = 0;  // BodyCounter's convention
  bool interim = false;     // 1xx other than 101: another head follows
  bool switched = false;    // 101 to a WebSocket upgrade
  bool close = false;
  size_t head_length = 0;
};

struct ResponseParse {
  proxy::ParseState state = proxy::ParseState::kIncomplete;
  std::string message;  // on kError
  ResponseInfo response;
};

ResponseParse ParseResponseHead(std::string_view buf, size_t max_head,
                                std::string_view request_method, bool websocket_upgrade);

// A complete response the proxy itself gives on an inspected connection
// (403 for a refused request), with a JSON body; `close` adds
// `Connection: close`.
std::string LocalResponse(int status, const std::string& json_body, bool close);

}  // namespace rf::l7
