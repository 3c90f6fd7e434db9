#include "l7/target.h"

#include <cctype>
#include <string>

namespace rf::l7 {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool RawByteOk(char c) {
  auto uc = static_cast<unsigned char>(c);
  return uc > 0x20 && uc < 0x7f && c != '#';
}

// Characters RFC 3986 allows unencoded in a path segment, but `;`: a decoded
// `%3B` forwarded as `;` would start path parameters the rules never saw.
bool SegmentSafe(unsigned char c) {
  return isalnum(c) ||
         std::string_view("-._~!$&'()*+,=:@").find(static_cast<char>(c)) != std::string_view::npos;
}

constexpr char kHex[] = "0123456789ABCDEF";

void AppendEncoded(std::string* out, unsigned char c) {
  out->push_back('%');
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 15]);
}

// Decodes %XX (and '+' as space) in a query name or value.
Result<std::string> DecodeQueryPart(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return Status::Error("malformed percent-encoding in the query");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

Result<Target> NormalizeTarget(std::string_view raw, bool allow_encoded_slash) {
  if (raw.empty() || raw.front() != '/')
    return Status::Error("request target must be a path starting with '/'");
  for (char c : raw)
    if (!RawByteOk(c))
      return Status::Error(c == '#' ? "fragment in request target"
                                    : "space, control or non-ASCII byte in request target");
  Target t;
  std::string_view path = raw;
  if (auto q = raw.find('?'); q != std::string_view::npos) {
    path = raw.substr(0, q);
    t.raw_query = std::string(raw.substr(q + 1));
    t.has_query = true;
  }

  // Decode segment by segment; a decoded '/' never splits a segment.
  std::vector<std::string> segments;
  bool trailing_slash = false;
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    std::string_view seg =
        path.substr(pos, slash == std::string_view::npos ? path.npos : slash - pos);
    bool last = slash == std::string_view::npos;
    // Path parameters (`/a;v=1/b`, `/..;/admin`): servers such as Tomcat
    // drop them before resolving dot segments, so the rules could see a
    // path the server never acts on. Dropped here too, before anything
    // else, and not forwarded (as OpenShell does).
    if (size_t semi = seg.find(';'); semi != std::string_view::npos) seg = seg.substr(0, semi);
    std::string dec;
    dec.reserve(seg.size());
    for (size_t i = 0; i < seg.size(); ++i) {
      char c = seg[i];
      if (c == '%') {
        int hi = i + 2 < seg.size() ? HexValue(seg[i + 1]) : -1;
        int lo = i + 2 < seg.size() ? HexValue(seg[i + 2]) : -1;
        if (hi < 0 || lo < 0) return Status::Error("malformed percent-encoding in the path");
        c = static_cast<char>(hi * 16 + lo);
        i += 2;
        if (c == '/' && !allow_encoded_slash)
          return Status::Error(
              "encoded '/' (%2F) in the path is refused (the endpoint can set "
              "allow_encoded_slash: true)");
      }
      if (c == ';')  // only from %3B: a raw one ended the segment above
        return Status::Error("an encoded ';' in the path is refused (servers disagree on it)");
      auto uc = static_cast<unsigned char>(c);
      if (uc < 0x20 || uc == 0x7f) return Status::Error("control character in the decoded path");
      if (c == '\\') return Status::Error("backslash in the path is refused");
      dec.push_back(c);
    }
    if (dec.find('/') != std::string::npos) {
      // An encoded slash (allowed by the endpoint) must not hide a dot
      // segment from us that a server decoding %2F would resolve.
      std::string_view rest = dec;
      while (true) {
        size_t cut = rest.find('/');
        std::string_view piece = rest.substr(0, cut);
        if (piece == "." || piece == "..")
          return Status::Error("a dot segment behind an encoded '/' in the path is refused");
        if (cut == std::string_view::npos) break;
        rest.remove_prefix(cut + 1);
      }
    }
    if (dec == ".") {
      trailing_slash = last;
    } else if (dec == "..") {
      if (segments.empty()) return Status::Error("path climbs above the root ('..')");
      segments.pop_back();
      trailing_slash = last;
    } else if (dec.empty()) {
      trailing_slash = last && !segments.empty();
    } else {
      segments.push_back(std::move(dec));
      trailing_slash = false;
    }
    if (last) break;
    pos = slash + 1;
  }

  t.path = "/";
  t.forward = "/";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) t.path += '/', t.forward += '/';
    for (char c : segments[i]) {
      auto uc = static_cast<unsigned char>(c);
      if (c == '/' || c == '%') {
        AppendEncoded(&t.path, uc);
      } else {
        t.path.push_back(c);
      }
      if (SegmentSafe(uc)) {
        t.forward.push_back(c);
      } else {
        AppendEncoded(&t.forward, uc);
      }
    }
  }
  if (trailing_slash && !segments.empty()) t.path += '/', t.forward += '/';

  if (t.has_query) {
    std::string_view q = t.raw_query;
    while (!q.empty()) {
      size_t amp = q.find('&');
      std::string_view pair = q.substr(0, amp);
      if (!pair.empty()) {
        size_t eq = pair.find('=');
        auto name = DecodeQueryPart(pair.substr(0, eq));
        if (!name.ok()) return name.status();
        std::string value;
        if (eq != std::string_view::npos) {
          auto v = DecodeQueryPart(pair.substr(eq + 1));
          if (!v.ok()) return v.status();
          value = std::move(*v);
        }
        t.query.push_back({std::move(*name), std::move(value)});
      }
      if (amp == std::string_view::npos) break;
      q.remove_prefix(amp + 1);
    }
    t.forward += '?';
    t.forward += t.raw_query;
  }
  return t;
}

}  // namespace rf::l7
