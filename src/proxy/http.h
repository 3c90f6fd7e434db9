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
#include <vector>

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
  // (validated by a ChunkDecoder as it is relayed; relaying stops at its end).
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

// The syntax layer under ParseRequestHead, shared with the inspected-HTTP
// relay (l7/): a head split into its first line and fields, strictly (the
// refusals listed at the top, except method and target checks, which are
// the caller's). A response head has a status line instead of a request
// line (errors are then 502: the upstream is at fault). Views point into
// `buf`.
enum class HeadKind { kRequest, kResponse };
struct HeadField {
  std::string_view name, value;  // value without surrounding whitespace
};
struct RawHead {
  ParseState state = ParseState::kIncomplete;
  int status = 0;  // on kError
  std::string message;
  std::string_view method, target, version;
  int status_code = 0;  // responses
  std::vector<HeadField> fields;
  size_t head_length = 0;
};
RawHead SplitHead(std::string_view buf, size_t max_head, HeadKind kind);

// Body framing from the fields (RFC 9112 6.3): Content-Length (repeats must
// agree) or `Transfer-Encoding: chunked` (nothing else), never both.
struct BodyFraming {
  int64_t body_length = 0;  // -1: chunked
  int status = 0;           // non-zero: refused with this status
  std::string error;
};
BodyFraming ReadBodyFraming(const std::vector<HeadField>& fields);

// Incremental, strict validator of a chunked request body (RFC 9112 7.1).
// Feed it the bytes that follow the head, in order. It says how many of them
// belong to the body and whether the body is complete or malformed; bytes
// past the end belong to no request (the proxy does not pipeline) and must
// never be relayed, or the upstream would read them as a second request.
// Refused: a chunk size that is not 1-16 hex digits, whitespace around it,
// control characters in an extension, a chunk line or trailer section past
// the limits, chunk data longer than its size, bare CR or LF, obs-fold or a
// malformed field in the trailers.
class ChunkDecoder {
 public:
  enum class State { kMore, kDone, kError };
  struct Step {
    State state = State::kMore;
    size_t used = 0;  // bytes of the input that belong to the body
  };
  static constexpr size_t kMaxLine = 4096;      // chunk-size line incl. extensions
  static constexpr size_t kMaxTrailers = 8192;  // whole trailer section

  Step Feed(std::string_view in);
  State state() const { return state_; }
  const std::string& error() const { return error_; }

 private:
  enum class Phase {
    kSize,        // hex digits of the chunk size
    kExt,         // ";..." up to CR
    kSizeLF,      // LF after the size line
    kData,        // chunk data
    kDataCR,      // CR after the data
    kDataLF,      // LF after the data
    kFieldStart,  // start of a trailer line (or the final CRLF)
    kFieldName,
    kFieldValue,
    kFieldLF,
    kEndLF,  // LF of the final CRLF
  };
  Step Error(std::string why, size_t used);

  State state_ = State::kMore;
  Phase phase_ = Phase::kSize;
  uint64_t size_ = 0;  // of the current chunk; bytes left in kData
  size_t digits_ = 0, line_ = 0, trailers_ = 0;
  std::string error_;
};

// Valid host syntax: a DNS name (letters, digits, '-', '_', '.') or an IP
// literal. Says nothing about policy.
bool ValidHostSyntax(const std::string& host);

std::string Response(int status, const std::string& content_type, const std::string& body);
const char* StatusText(int status);

}  // namespace rf::proxy
