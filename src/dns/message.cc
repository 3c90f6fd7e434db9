#include "dns/message.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

namespace rf::dns {

namespace {

constexpr size_t kHeader = 12;
constexpr uint16_t kFlagQr = 0x8000;
constexpr uint16_t kFlagAa = 0x0400;
constexpr uint16_t kFlagTc = 0x0200;
constexpr uint16_t kFlagRd = 0x0100;
constexpr uint16_t kFlagRa = 0x0080;

uint16_t Get16(std::span<const uint8_t> m, size_t at) {
  return static_cast<uint16_t>((m[at] << 8) | m[at + 1]);
}

void Put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v & 0xff));
}

void Put32(std::vector<uint8_t>& out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v & 0xffff));
}

bool HostnameByte(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

void Header(std::vector<uint8_t>& out, uint16_t id, bool rd, Rcode rcode, uint16_t qd, uint16_t an,
            uint16_t ar) {
  Put16(out, id);
  Put16(out, static_cast<uint16_t>(kFlagQr | kFlagAa | (rd ? kFlagRd : 0) | kFlagRa |
                                   static_cast<uint16_t>(rcode)));
  Put16(out, qd);
  Put16(out, an);
  Put16(out, 0);
  Put16(out, ar);
}

// An OPT record: root name, our payload size, no extended flags.
void Opt(std::vector<uint8_t>& out) {
  out.push_back(0);
  Put16(out, kTypeOpt);
  Put16(out, static_cast<uint16_t>(kMaxMessage));
  Put32(out, 0);
  Put16(out, 0);
}

}  // namespace

Parsed ParseQuery(std::span<const uint8_t> m) {
  Parsed p;
  if (m.size() < kHeader || m.size() > kMaxMessage) {
    p.error.what = m.size() < kHeader ? "shorter than a header" : "longer than a query can be";
    return p;
  }
  const uint16_t flags = Get16(m, 2);
  p.error.id = Get16(m, 0);
  p.error.recursion_desired = (flags & kFlagRd) != 0;
  if (flags & kFlagQr) {
    p.error.what = "a response, not a query";
    return p;
  }
  auto fail = [&](ParseError::Kind kind, const char* what) {
    p.error.kind = kind;
    p.error.what = what;
    return p;
  };
  const unsigned opcode = (flags >> 11) & 0xf;
  if (opcode != 0) return fail(ParseError::kNotImp, "not a standard query");
  if (flags & kFlagTc) return fail(ParseError::kFormErr, "a truncated query");
  const uint16_t qd = Get16(m, 4), an = Get16(m, 6), ns = Get16(m, 8), ar = Get16(m, 10);
  if (qd != 1) return fail(ParseError::kFormErr, "not exactly one question");
  if (an != 0 || ns != 0) return fail(ParseError::kFormErr, "records in a query's answer section");
  if (ar > 1) return fail(ParseError::kFormErr, "more than one additional record");
  Query q;
  q.id = p.error.id;
  q.recursion_desired = p.error.recursion_desired;
  size_t at = kHeader;
  size_t name_length = 1;  // the root label
  bool syntax = true;
  for (;;) {
    if (at >= m.size()) return fail(ParseError::kFormErr, "the question's name runs past the end");
    const uint8_t len = m[at];
    if ((len & 0xc0) != 0)
      return fail(ParseError::kFormErr, "a compression pointer or extended label in the question");
    ++at;
    if (len == 0) break;
    if (at + len > m.size()) return fail(ParseError::kFormErr, "a label runs past the end");
    name_length += len + 1u;
    if (name_length > kMaxName) return fail(ParseError::kFormErr, "a name longer than 255 bytes");
    std::string label(reinterpret_cast<const char*>(m.data() + at), len);
    for (char& c : label) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (!HostnameByte(static_cast<uint8_t>(c))) syntax = false;
    }
    if (!q.name.empty() || !q.labels.empty()) q.name += '.';
    q.name += label;
    q.labels.push_back(std::move(label));
    at += len;
  }
  if (at + 4 > m.size()) return fail(ParseError::kFormErr, "the question has no type and class");
  q.qtype = Get16(m, at);
  q.qclass = Get16(m, at + 2);
  at += 4;
  q.question.assign(m.begin() + kHeader, m.begin() + static_cast<std::ptrdiff_t>(at));
  q.hostname_syntax = syntax && !q.labels.empty();
  if (ar == 1) {
    // Only an OPT record (root name) is expected from a stub resolver.
    if (at + 11 > m.size() || m[at] != 0 || Get16(m, at + 1) != kTypeOpt)
      return fail(ParseError::kFormErr, "an additional record that is not EDNS0 OPT");
    const uint16_t rdlength = Get16(m, at + 9);
    at += 11;
    if (at + rdlength > m.size())
      return fail(ParseError::kFormErr, "an OPT record runs past the end");
    at += rdlength;
    q.edns = true;
  }
  if (at != m.size()) return fail(ParseError::kFormErr, "bytes after the last record");
  p.query = std::move(q);
  return p;
}

std::vector<uint8_t> WriteAnswer(const Query& q, Rcode rcode, std::optional<in_addr> address,
                                 uint32_t ttl) {
  std::vector<uint8_t> out;
  out.reserve(kHeader + q.question.size() + 16 + 11);
  Header(out, q.id, q.recursion_desired, rcode, 1, address ? 1 : 0, q.edns ? 1 : 0);
  out.insert(out.end(), q.question.begin(), q.question.end());
  if (address) {
    Put16(out, 0xc000 | kHeader);  // the question's name
    Put16(out, kTypeA);
    Put16(out, kClassIn);
    Put32(out, ttl);
    Put16(out, 4);
    const auto* b = reinterpret_cast<const uint8_t*>(&address->s_addr);
    out.insert(out.end(), b, b + 4);
  }
  if (q.edns) Opt(out);
  return out;
}

std::vector<uint8_t> WriteError(const ParseError& e) {
  std::vector<uint8_t> out;
  Header(out, e.id, e.recursion_desired,
         e.kind == ParseError::kNotImp ? Rcode::kNotImp : Rcode::kFormErr, 0, 0, 0);
  return out;
}

std::vector<uint8_t> WriteQuery(uint16_t id, const std::string& name, uint16_t qtype, bool edns) {
  std::vector<uint8_t> out;
  Put16(out, id);
  Put16(out, kFlagRd);
  Put16(out, 1);
  Put16(out, 0);
  Put16(out, 0);
  Put16(out, edns ? 1 : 0);
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    const size_t len = dot - start;
    out.push_back(static_cast<uint8_t>(len > 255 ? 255 : len));
    out.insert(out.end(), name.begin() + static_cast<std::ptrdiff_t>(start),
               name.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  out.push_back(0);
  Put16(out, qtype);
  Put16(out, kClassIn);
  if (edns) Opt(out);
  return out;
}

std::optional<AnswerView> ReadAnswer(std::span<const uint8_t> m) {
  if (m.size() < kHeader) return std::nullopt;
  AnswerView v;
  v.id = Get16(m, 0);
  v.rcode = static_cast<Rcode>(Get16(m, 2) & 0xf);
  const uint16_t qd = Get16(m, 4);
  v.answers = Get16(m, 6);
  size_t at = kHeader;
  auto skip_name = [&]() -> bool {
    for (int hops = 0; hops < 128; ++hops) {
      if (at >= m.size()) return false;
      const uint8_t len = m[at];
      if ((len & 0xc0) == 0xc0) {
        at += 2;
        return at <= m.size();
      }
      ++at;
      if (len == 0) return true;
      at += len;
    }
    return false;
  };
  for (uint16_t i = 0; i < qd; ++i) {
    if (!skip_name() || at + 4 > m.size()) return std::nullopt;
    at += 4;
  }
  for (uint16_t i = 0; i < v.answers; ++i) {
    if (!skip_name() || at + 10 > m.size()) return std::nullopt;
    const uint16_t type = Get16(m, at), rdlength = Get16(m, at + 8);
    at += 10;
    if (at + rdlength > m.size()) return std::nullopt;
    if (type == kTypeA && rdlength == 4) {
      in_addr a{};
      memcpy(&a.s_addr, m.data() + at, 4);
      v.addresses.push_back(a);
    }
    at += rdlength;
  }
  return v;
}

std::string Printable(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (c > 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      snprintf(buf, sizeof buf, "\\%03u", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace rf::dns
