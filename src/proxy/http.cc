#include "proxy/http.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <vector>

#include "common/ascii.h"
#include "policy/cidr.h"

namespace rf::proxy {

namespace {

bool IsTchar(char c) {
  return isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool ParsePort(std::string_view s, uint16_t* out) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (!isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  *out = static_cast<uint16_t>(v);
  return true;
}

// host:port or [v6]:port (port required unless default_port is given).
bool ParseAuthority(std::string_view a, uint16_t default_port, std::string* host, uint16_t* port) {
  std::string_view h, p;
  bool have_port = false;
  if (!a.empty() && a.front() == '[') {
    auto close = a.find(']');
    if (close == std::string_view::npos) return false;
    h = a.substr(1, close - 1);
    auto rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      p = rest.substr(1), have_port = true;
    }
    auto ip = ParseIpLiteral(std::string(h));
    if (!ip || ip->family != AF_INET6) return false;
  } else {
    auto colon = a.rfind(':');
    if (colon != std::string_view::npos) {
      h = a.substr(0, colon), p = a.substr(colon + 1), have_port = true;
    } else {
      h = a;
    }
    if (h.find(':') != std::string_view::npos) return false;  // unbracketed IPv6
  }
  if (h.empty()) return false;
  *host = std::string(h);
  if (have_port) return ParsePort(p, port);
  if (default_port == 0) return false;
  *port = default_port;
  return true;
}

const char* const kMethods[] = {"GET",     "HEAD",  "POST",  "PUT",    "DELETE",
                                "OPTIONS", "PATCH", "TRACE", "CONNECT"};

ParseResult Fail(int status, std::string msg) {
  ParseResult r;
  r.state = ParseState::kError;
  r.status = status;
  r.message = std::move(msg);
  return r;
}

}  // namespace

bool ValidHostSyntax(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  if (host.find(':') != std::string::npos) {
    auto ip = ParseIpLiteral(host);
    return ip && ip->family == AF_INET6;
  }
  std::string h = host;
  if (h.back() == '.') h.pop_back();
  if (h.empty()) return false;
  size_t label = 0;
  for (char c : h) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    if (++label > 63) return false;
  }
  return label > 0;
}

RawHead SplitHead(std::string_view buf, size_t max_head, HeadKind kind) {
  RawHead h;
  auto fail = [&h](int status, std::string msg) {
    h.state = ParseState::kError;
    h.status = status;
    h.message = std::move(msg);
    return h;
  };
  static constexpr std::string_view kH2 = "PRI * HTTP/2.0";
  if (kind == HeadKind::kRequest && buf.substr(0, std::min(buf.size(), kH2.size())) ==
                                        kH2.substr(0, std::min(buf.size(), kH2.size()))) {
    if (buf.size() >= kH2.size())
      return fail(400, "HTTP/2 is not supported by the proxy; use HTTP/1.1");
    return h;
  }
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (buf.size() >= max_head)
      return fail(431, "request head larger than " + std::to_string(max_head) + " bytes");
    // A bare LF line ending in what has arrived so far is an error already.
    for (size_t i = 0; i < buf.size(); ++i)
      if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
        return fail(400, "bare LF in request head");
    return h;
  }
  if (end + 4 > max_head)
    return fail(431, "request head larger than " + std::to_string(max_head) + " bytes");
  std::string_view head = buf.substr(0, end + 2);  // every line ends in CRLF
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < head.size();) {
    size_t eol = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, eol - pos);
    if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos ||
        line.find('\0') != std::string_view::npos)
      return fail(400, "bare CR, LF or NUL in request head");
    lines.push_back(line);
    pos = eol + 2;
  }
  std::string_view first = lines[0];
  if (kind == HeadKind::kResponse) {
    // Status line: version SP 3DIGIT SP reason (the reason may be empty).
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (first.size() < 12 || first.substr(0, 7) != "HTTP/1." ||
        (first[7] != '1' && first[7] != '0') || first[8] != ' ' || !digit(first[9]) ||
        !digit(first[10]) || !digit(first[11]) || (first.size() > 12 && first[12] != ' '))
      return fail(502, "malformed status line from the upstream");
    h.version = first.substr(0, 8);
    h.status_code = (first[9] - '0') * 100 + (first[10] - '0') * 10 + (first[11] - '0');
    if (h.status_code < 100) return fail(502, "malformed status code from the upstream");
  } else {
    // Request line: method SP target SP version.
    auto sp1 = first.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : first.find(' ', sp1 + 1);
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
        first.find(' ', sp2 + 1) != std::string_view::npos)
      return fail(400, "malformed request line");
    h.method = first.substr(0, sp1), h.target = first.substr(sp1 + 1, sp2 - sp1 - 1),
    h.version = first.substr(sp2 + 1);
    if (h.method.empty() || h.target.empty()) return fail(400, "malformed request line");
    for (char c : h.method)
      if (!IsTchar(c)) return fail(400, "malformed method");
    if (h.version != "HTTP/1.1" && h.version != "HTTP/1.0")
      return fail(400, "unsupported HTTP version; the proxy speaks HTTP/1.1");
  }
  h.head_length = end + 4;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (l.empty()) return fail(400, "malformed header");
    if (l.front() == ' ' || l.front() == '\t')
      return fail(400, "obsolete line folding is not accepted");
    auto colon = l.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(400, "malformed header line");
    std::string_view name = l.substr(0, colon);
    for (char c : name)
      if (!IsTchar(c)) return fail(400, "malformed header name");
    h.fields.push_back({name, AsciiTrim(l.substr(colon + 1))});
  }
  h.state = ParseState::kDone;
  return h;
}

BodyFraming ReadBodyFraming(const std::vector<HeadField>& fields) {
  BodyFraming b;
  int64_t content_length = -2;
  bool chunked = false;
  for (const auto& f : fields) {
    if (AsciiIEquals(f.name, "content-length")) {
      if (f.value.empty() || f.value.size() > 15) return {0, 400, "invalid Content-Length"};
      int64_t v = 0;
      for (char c : f.value) {
        if (!isdigit(static_cast<unsigned char>(c))) return {0, 400, "invalid Content-Length"};
        v = v * 10 + (c - '0');
      }
      if (content_length != -2 && content_length != v)
        return {0, 400, "conflicting Content-Length"};
      content_length = v;
    } else if (AsciiIEquals(f.name, "transfer-encoding")) {
      std::string v = AsciiLowered(f.value);
      if (v != "chunked") return {0, 501, "only Transfer-Encoding: chunked is supported"};
      if (chunked) return {0, 400, "repeated Transfer-Encoding"};
      chunked = true;
    }
  }
  if (chunked && content_length != -2) return {0, 400, "both Content-Length and Transfer-Encoding"};
  b.body_length = chunked ? -1 : (content_length == -2 ? 0 : content_length);
  return b;
}

ParseResult ParseRequestHead(std::string_view buf, size_t max_head) {
  RawHead h = SplitHead(buf, max_head, HeadKind::kRequest);
  if (h.state == ParseState::kIncomplete) return {};
  if (h.state == ParseState::kError) return Fail(h.status, std::move(h.message));
  std::string_view method = h.method, target = h.target, version = h.version;
  bool known = false;
  for (const char* m : kMethods) known = known || method == m;
  if (!known) return Fail(405, "method " + std::string(method) + " is not supported by the proxy");

  ParseResult r;
  Request& req = r.request;
  req.method = std::string(method);
  req.head_length = h.head_length;
  const std::vector<HeadField>& fields = h.fields;

  if (method == "CONNECT") {
    req.kind = ReqKind::kConnect;
    if (!ParseAuthority(target, 0, &req.host, &req.port))
      return Fail(400, "CONNECT needs host:port");
    if (!ValidHostSyntax(req.host)) return Fail(400, "invalid host name");
    r.state = ParseState::kDone;
    return r;
  }

  // Forward proxy: absolute-form http:// only.
  req.kind = ReqKind::kForward;
  if (target.size() < 7 || !AsciiIEquals(target.substr(0, 7), "http://")) {
    if (target.size() >= 8 && AsciiIEquals(target.substr(0, 8), "https://"))
      return Fail(400, "https:// requests must use CONNECT");
    return Fail(400, "the proxy needs an absolute-form http:// target or CONNECT");
  }
  std::string_view rest = target.substr(7);
  size_t path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view path =
      path_at == std::string_view::npos ? std::string_view() : rest.substr(path_at);
  if (authority.find('@') != std::string_view::npos)
    return Fail(400, "userinfo in URL is not accepted");
  if (path.find('#') != std::string_view::npos) return Fail(400, "fragment in request target");
  if (!ParseAuthority(authority, 80, &req.host, &req.port))
    return Fail(400, "invalid URL authority");
  if (!ValidHostSyntax(req.host)) return Fail(400, "invalid host name");
  std::string origin =
      path.empty() ? "/" : (path.front() == '?' ? "/" + std::string(path) : std::string(path));

  // Hop-by-hop: Connection and the fields it names, plus the RFC 9110 list
  // and proxy-only fields. Transfer-Encoding stays: the body is relayed as is.
  std::vector<std::string> drop = {
      "connection", "proxy-connection",    "keep-alive",         "te",  "trailer",
      "upgrade",    "proxy-authorization", "proxy-authenticate", "host"};
  for (const auto& f : fields) {
    if (!AsciiIEquals(f.name, "connection")) continue;
    std::string_view v = f.value;
    while (!v.empty()) {
      auto comma = v.find(',');
      std::string_view tok = AsciiTrim(v.substr(0, comma));
      // Dropping a framing field would hide the body from the upstream,
      // which would then read it as a second request (smuggling).
      if (AsciiIEquals(tok, "content-length") || AsciiIEquals(tok, "transfer-encoding"))
        return Fail(400, "Connection header names " + std::string(tok));
      if (!tok.empty()) drop.push_back(AsciiLowered(tok));
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  BodyFraming framing = ReadBodyFraming(fields);
  if (framing.status != 0) return Fail(framing.status, framing.error);
  req.body_length = framing.body_length;

  std::string& out = req.upstream_head;
  out.reserve(h.head_length + 64);
  out += req.method + " " + origin + " " + std::string(version) + "\r\n";
  std::string host_field =
      req.host.find(':') != std::string::npos ? "[" + req.host + "]" : req.host;
  if (req.port != 80) host_field += ":" + std::to_string(req.port);
  out += "Host: " + host_field + "\r\n";
  for (const auto& f : fields) {
    std::string lname = AsciiLowered(f.name);
    bool hop = false;
    for (const auto& d : drop) hop = hop || d == lname;
    if (hop) continue;
    out += std::string(f.name) + ": " + std::string(f.value) + "\r\n";
  }
  out += "Connection: close\r\n\r\n";
  r.state = ParseState::kDone;
  return r;
}

const char* StatusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
  }
  return "Error";
}

ChunkDecoder::Step ChunkDecoder::Error(std::string why, size_t used) {
  state_ = State::kError;
  error_ = std::move(why);
  return {State::kError, used};
}

ChunkDecoder::Step ChunkDecoder::Feed(std::string_view in) {
  if (state_ != State::kMore) return {state_, 0};
  size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    auto uc = static_cast<unsigned char>(c);
    bool ctl = uc < 0x20 || uc == 0x7f;
    switch (phase_) {
      case Phase::kSize:
        if (isxdigit(uc)) {
          if (++digits_ > 16) return Error("chunk size has more than 16 hex digits", i);
          uint64_t v = isdigit(uc) ? uc - '0' : (tolower(uc) - 'a' + 10);
          if (size_ > (UINT64_MAX >> 4)) return Error("chunk size overflows", i);
          size_ = (size_ << 4) | v;
        } else if (digits_ > 0 && c == ';') {
          phase_ = Phase::kExt;
        } else if (digits_ > 0 && c == '\r') {
          phase_ = Phase::kSizeLF;
        } else {
          return Error(digits_ == 0 ? "chunk size expected" : "malformed chunk size", i);
        }
        if (++line_ > kMaxLine) return Error("chunk line too long", i);
        ++i;
        break;
      case Phase::kExt:
        if (c == '\r') {
          phase_ = Phase::kSizeLF;
        } else if (ctl && c != '\t') {
          return Error("control character in chunk extension", i);
        }
        if (++line_ > kMaxLine) return Error("chunk line too long", i);
        ++i;
        break;
      case Phase::kSizeLF:
        if (c != '\n') return Error("bare CR in chunk line", i);
        ++i;
        line_ = 0;
        digits_ = 0;
        phase_ = size_ == 0 ? Phase::kFieldStart : Phase::kData;
        break;
      case Phase::kData: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(size_, in.size() - i));
        size_ -= n;
        i += n;
        if (size_ == 0) phase_ = Phase::kDataCR;
        break;
      }
      case Phase::kDataCR:
        if (c != '\r') return Error("chunk data longer than its size", i);
        phase_ = Phase::kDataLF;
        ++i;
        break;
      case Phase::kDataLF:
        if (c != '\n') return Error("bare CR after chunk data", i);
        phase_ = Phase::kSize;
        ++i;
        break;
      case Phase::kFieldStart:
      case Phase::kFieldName:
      case Phase::kFieldValue:
      case Phase::kFieldLF:
      case Phase::kEndLF:
        if (++trailers_ > kMaxTrailers) return Error("trailer section too long", i);
        if (phase_ == Phase::kFieldStart) {
          if (c == '\r') {
            phase_ = Phase::kEndLF;
          } else if (c == ' ' || c == '\t') {
            return Error("obsolete line folding in trailers", i);
          } else if (IsTchar(c)) {
            phase_ = Phase::kFieldName;
          } else {
            return Error("malformed trailer field", i);
          }
        } else if (phase_ == Phase::kFieldName) {
          if (c == ':') {
            phase_ = Phase::kFieldValue;
          } else if (!IsTchar(c)) {
            return Error("malformed trailer field name", i);
          }
        } else if (phase_ == Phase::kFieldValue) {
          if (c == '\r') {
            phase_ = Phase::kFieldLF;
          } else if (ctl && c != '\t') {
            return Error("control character in trailer field", i);
          }
        } else if (phase_ == Phase::kFieldLF) {
          if (c != '\n') return Error("bare CR in trailers", i);
          phase_ = Phase::kFieldStart;
        } else {  // kEndLF
          if (c != '\n') return Error("bare CR at end of chunked body", i);
          state_ = State::kDone;
          return {State::kDone, i + 1};
        }
        ++i;
        break;
    }
  }
  return {State::kMore, in.size()};
}

std::string Response(int status, const std::string& content_type, const std::string& body) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + StatusText(status) + "\r\n";
  r += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) +
       "\r\nConnection: close\r\n";
  if (status == 405) r += "Allow: CONNECT, GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, TRACE\r\n";
  r += "\r\n" + body;
  return r;
}

}  // namespace rf::proxy
