// libFuzzer target: the proxy's HTTP/1.x request-head parser.
//
// Input: the first byte picks the head-size limit (256..8447 bytes, so the
// 431 path is reached by small inputs too); the rest is the client's bytes.
// Properties checked beyond "no crash, no leak, no sanitizer report":
//  - the verdict is one of the documented ones (400, 405, 431, 501 on error);
//  - an accepted head lies inside the buffer and the limit, its host has
//    valid syntax, its port is not 0;
//  - parsing is prefix-consistent: no strict prefix of an accepted head is
//    already accepted, and the head alone gives the same request;
//  - a forward request's upstream head is one clean head (every line CRLF,
//    no CR/LF/NUL inside a line, nothing after the blank line), starts with
//    an origin-form request line, ends with `Connection: close`, and its
//    body framing agrees with body_length: at most one Content-Length, never
//    both Content-Length and Transfer-Encoding, chunked iff body_length < 0,
//    a Content-Length equal to body_length. Anything else lets bytes the
//    proxy counts as body reach the upstream as a second (smuggled) request.
//  - a chunked body after the head gets the same verdict and the same end
//    whether the decoder sees it whole, in two pieces split at a point the
//    input picks, or byte by byte; a complete body ends with CRLF.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ascii.h"
#include "fuzz_check.h"
#include "proxy/http.h"

namespace {

using rf::proxy::ChunkDecoder;
using rf::proxy::ParseRequestHead;
using rf::proxy::ParseResult;
using rf::proxy::ParseState;
using rf::proxy::ReqKind;

using rf::fuzz::Check;

bool Same(const ParseResult& a, const ParseResult& b) {
  return a.state == b.state && a.status == b.status && a.request.kind == b.request.kind &&
         a.request.method == b.request.method && a.request.host == b.request.host &&
         a.request.port == b.request.port && a.request.upstream_head == b.request.upstream_head &&
         a.request.body_length == b.request.body_length &&
         a.request.head_length == b.request.head_length;
}

void CheckUpstreamHead(const rf::proxy::Request& req) {
  std::vector<std::string_view> lines = rf::fuzz::CleanHeadLines(req.upstream_head);
  Check(lines.size() >= 3);  // request line, Host, Connection: close
  Check(lines[0].rfind(req.method + " /", 0) == 0);
  Check(lines.back() == "Connection: close");
  int content_length = 0, transfer_encoding = 0, host = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    Check(colon != std::string_view::npos && colon > 0);
    std::string name = rf::AsciiLowered(lines[i].substr(0, colon));
    std::string_view value = lines[i].substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    Check(name.find_first_of(" \t") == std::string::npos);
    if (name == "host") ++host;
    if (name == "transfer-encoding") {
      ++transfer_encoding;
      Check(rf::AsciiLowered(value) == "chunked");
    }
    if (name == "content-length") {
      ++content_length;
      Check(req.body_length >= 0 &&
            std::string(value).find_first_not_of("0123456789") == std::string::npos);
      Check(!value.empty() && value.size() <= 15);
      Check(std::stoll(std::string(value)) == req.body_length);
    }
  }
  Check(host == 1);
  Check(!(content_length > 0 && transfer_encoding > 0));
  Check(transfer_encoding <= 1);
  Check((req.body_length < 0) == (transfer_encoding == 1));
  Check(req.body_length >= -1);
  // A body is framed in the head the upstream sees, or there is none.
  if (req.body_length > 0) Check(content_length >= 1);
}

// Feeds `body` to a fresh decoder in the given pieces; returns (state, used).
std::pair<ChunkDecoder::State, size_t> Decode(std::string_view body,
                                              const std::vector<size_t>& cuts) {
  ChunkDecoder d;
  size_t used = 0, at = 0;
  ChunkDecoder::State st = ChunkDecoder::State::kMore;
  for (size_t i = 0; i <= cuts.size() && st == ChunkDecoder::State::kMore; ++i) {
    size_t end = i < cuts.size() ? cuts[i] : body.size();
    auto step = d.Feed(body.substr(at, end - at));
    Check(step.used <= end - at);
    if (step.state == ChunkDecoder::State::kMore) Check(step.used == end - at);
    used += step.used;
    st = step.state;
    at = end;
  }
  return {st, used};
}

void CheckChunked(std::string_view body, uint8_t split) {
  auto whole = Decode(body, {});
  size_t cut = body.empty() ? 0 : split % (body.size() + 1);
  Check(Decode(body, {cut}) == whole);
  std::vector<size_t> every;
  for (size_t i = 1; i < body.size() && i < 4096; ++i) every.push_back(i);
  if (body.size() < 4096) Check(Decode(body, every) == whole);
  if (whole.first == ChunkDecoder::State::kDone) {
    Check(whole.second >= 5 && body.substr(whole.second - 2, 2) == "\r\n");
    Check(Decode(body.substr(0, whole.second), {}) == whole);  // ends where it said
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t max_head = 256 + static_cast<size_t>(data[0]) * 32;
  std::string_view buf(reinterpret_cast<const char*>(data + 1), size - 1);
  ParseResult r = ParseRequestHead(buf, max_head);
  switch (r.state) {
    case ParseState::kIncomplete:
      Check(r.status == 0);
      return 0;
    case ParseState::kError:
      Check(r.status == 400 || r.status == 405 || r.status == 431 || r.status == 501);
      Check(!r.message.empty());
      return 0;
    case ParseState::kDone:
      break;
  }
  const rf::proxy::Request& req = r.request;
  Check(req.head_length >= 4 && req.head_length <= buf.size() && req.head_length <= max_head);
  Check(buf.substr(req.head_length - 4, 4) == "\r\n\r\n");
  Check(!req.host.empty() && rf::proxy::ValidHostSyntax(req.host));
  Check(req.port != 0);
  // Prefix consistency.
  Check(Same(ParseRequestHead(buf.substr(0, req.head_length), max_head), r));
  ParseResult shorter = ParseRequestHead(buf.substr(0, req.head_length - 1), max_head);
  Check(shorter.state != ParseState::kDone);
  if (req.kind == ReqKind::kConnect) {
    Check(req.method == "CONNECT");
    Check(req.upstream_head.empty());
    return 0;
  }
  Check(req.method != "CONNECT");
  CheckUpstreamHead(req);
  if (req.body_length < 0) CheckChunked(buf.substr(req.head_length), data[0]);
  return 0;
}
